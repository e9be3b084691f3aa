"""Presentation of an asset for reviewers: file URLs by type, text candidates, tempo, safety
verdicts and lineage (source shots with timecodes and keyframe thumbnails, models, seeds, config,
generation time). Used by both the JSON detail endpoint and the HTML pages.

Generator records are free-form JSON; this module reads the fields the generators document
(``source_shots``/``shots``/``frames``, ``seed``/``seeds``, ``timings``, ``tempo_bpm``,
``candidates``...) and shows the whole record too, so nothing is hidden.
"""

from __future__ import annotations

import json
from pathlib import PurePosixPath
from typing import Any, Mapping
from urllib.parse import quote

from genperso.catalog import session_scope
from genperso.catalog.assets import AssetRow
from genperso.catalog.titles import TitleRepo
from genperso.config import Settings
from genperso.errors import GenPersoError
from genperso.review import asset_summary, safety_decision
from genperso.storage import get_storage
from genperso.types import Shot

__all__ = ["asset_view", "timecode", "keyframe_url", "analysis_shots"]


def timecode(seconds: float | None) -> str:
    if seconds is None:
        return ""
    s = max(0.0, float(seconds))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{int(h):02d}:{int(m):02d}:{sec:06.3f}"


def keyframe_url(rel: str | None, base: str) -> str | None:
    if not rel:
        return None
    p = PurePosixPath(str(rel))
    if p.is_absolute() or ".." in p.parts:
        return None
    return f"{base}/keyframes/{quote(str(p))}"


_SHOTS: dict[tuple[str, str, int], tuple[Shot, ...]] = {}


def analysis_shots(title_id: str, version: int, settings: Settings) -> tuple[Shot, ...]:
    """Shots of a title version. A stored analysis never changes, so found ones are memoised."""
    k = (settings.db_url, title_id, int(version or 0))
    hit = _SHOTS.get(k)
    if hit is not None:
        return hit
    try:
        with session_scope(settings) as s:
            shots = TitleRepo(s).analysis(title_id, version or None).shots
    except GenPersoError:
        return ()
    if version:
        if len(_SHOTS) > 64:
            _SHOTS.clear()
        _SHOTS[k] = shots
    return shots


def _file_url(rel: str, settings: Settings) -> str:
    return get_storage(settings).url_for(rel, base_url="/")  # same-origin path for local files


def _files(row: AssetRow, settings: Settings) -> list[dict[str, Any]]:
    out = []
    for f in row.files or []:
        if not isinstance(f, Mapping) or not f.get("path"):
            continue
        mime = str(f.get("mime") or "")
        out.append({
            "role": f.get("role") or PurePosixPath(str(f["path"])).name,
            "path": f["path"], "mime": mime, "url": _file_url(str(f["path"]), settings),
            "width": f.get("width"), "height": f.get("height"), "format": f.get("format"),
            "size_bytes": f.get("size_bytes"), "ext": PurePosixPath(str(f["path"])).suffix.lstrip(".").lower(),
        })
    return out


def _image_groups(files: list[dict[str, Any]], record: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One entry per artwork format (``hero.jpg`` + ``hero.webp`` -> "hero"), shown with its first
    file and links to every encoding."""
    formats = record.get("formats") if isinstance(record.get("formats"), Mapping) else {}
    groups: dict[str, dict[str, Any]] = {}
    for f in files:
        if not f["mime"].startswith("image/"):
            continue
        stem = str(f["role"]).rsplit(".", 1)[0]
        g = groups.get(stem)
        if g is None:
            meta = formats.get(stem) if isinstance(formats.get(stem), Mapping) else {}
            g = groups[stem] = {**f, "name": stem, "aspect": meta.get("format") or "", "variants": []}
        size = f.get("size_bytes")
        g["variants"].append({"ext": f["ext"], "url": f["url"],
                              "size": f"{size / 1024:.0f} KB" if isinstance(size, int) else ""})
    return list(groups.values())


def _first(d: Mapping[str, Any], *names: str) -> Any:
    for n in names:
        if n in d and d[n] not in (None, "", [], {}):
            return d[n]
    return None


def _texts(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    items = _first(record, "candidates", "texts", "lines")
    out: list[dict[str, Any]] = []
    if isinstance(items, list):
        for i, it in enumerate(items):
            if isinstance(it, str):
                out.append({"text": it, "score": None, "role": None, "chosen": i == 0})
            elif isinstance(it, Mapping) and isinstance(it.get("text"), str):
                score = it.get("score")
                out.append({"text": it["text"], "score": float(score) if isinstance(score, (int, float)) else None,
                            "role": it.get("role") or it.get("type"), "chosen": bool(it.get("chosen", i == 0))})
    for name in ("title", "tagline", "text"):
        if not out and isinstance(record.get(name), str):
            out.append({"text": record[name], "score": None, "role": name, "chosen": True})
    return out


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def _tempo(record: Mapping[str, Any]) -> str | None:
    """``target_bpm`` (remix generator) or ``tempo_bpm``, with the measured output tempo."""
    bpm = _num(_first(record, "target_bpm", "tempo_bpm", "bpm"))
    if bpm is None:
        return None
    label = f"{bpm:.1f} BPM"
    out = record.get("output_tempo")
    measured = _num(out.get("bpm")) if isinstance(out, Mapping) else None
    if measured is not None:
        label += f" (measured {measured:.1f})"
    return label


def _sources(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Remix source tracks with their tempos."""
    out = []
    for src in record.get("sources") or []:
        if not isinstance(src, Mapping):
            continue
        name = src.get("title") or src.get("track") or "track"
        artist = src.get("artist")
        out.append({"name": f"{name} — {artist}" if artist else str(name), "licence": src.get("licence") or "",
                    "source_bpm": _num(src.get("source_bpm")), "ratio": _num(src.get("stretch_ratio"))})
    return out


def _verdicts(safety: Mapping[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
    """Flat rows (check, score, tier, reasons) from the gate result: the chosen candidate's
    verdict when recorded, else a list of verdicts, else a bare verdict."""
    verdicts: list[Any]
    if isinstance(safety.get("verdict"), Mapping):
        verdicts = [safety["verdict"]]
    elif isinstance(safety.get("verdicts"), list):
        verdicts = [v for v in safety["verdicts"] if isinstance(v, Mapping)]
    elif isinstance(safety.get("scores"), Mapping):
        verdicts = [safety]
    else:
        verdicts = []
    rows: list[dict[str, Any]] = []
    for v in verdicts:
        label = str(v.get("label") or v.get("modality") or "gate")
        tiers = v.get("tier") if isinstance(v.get("tier"), Mapping) else {}
        reasons = [str(r) for r in v.get("reasons") or []]
        scores = [(c, float(x)) for c, x in sorted((v.get("scores") or {}).items()) if isinstance(x, (int, float))]
        for i, (cat, score) in enumerate(scores):
            tier = tiers.get(cat)
            rows.append({"name": f"{label} · {cat}", "score": max(0.0, min(1.0, score)), "tier": tier,
                         "flagged": bool(tier and tier not in ("low", "none", "allow")),
                         "reasons": reasons if i == 0 else []})
        if not scores:
            rows.append({"name": label, "score": None, "tier": None, "flagged": False, "reasons": reasons})
    gate_reasons = [str(r) for r in safety.get("reasons") or []] if "verdict" in safety or "verdicts" in safety else []
    return rows, gate_reasons


def _shot_items(record: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Source shots/frames a generator used: trailer ``shots`` (source_in/out, timeline_in/out),
    artwork ``source`` (shot_index, time), or generic ``source_shots`` (indices or dicts)."""
    used = _first(record, "shots", "source_shots", "source_frames", "shot_indices")
    if isinstance(used, list):
        return [u if isinstance(u, Mapping) else {"index": u} for u in used]
    src = record.get("source")
    if isinstance(src, Mapping) and ("shot_index" in src or "time" in src):
        return [{"index": src.get("shot_index"), "time": src.get("time"), "pinned": src.get("pinned")}]
    return []


def _safety_models(safety: Mapping[str, Any]) -> list[tuple[str, str]]:
    v = safety.get("verdict")
    models = v.get("models") if isinstance(v, Mapping) else None
    return sorted((str(k), str(x)) for k, x in models.items()) if isinstance(models, Mapping) else []


def _lineage(row: AssetRow, record: Mapping[str, Any], top: Mapping[str, Any], settings: Settings,
             base: str) -> dict[str, Any]:
    key = row.key or {}
    shots_by_index = {s.index: s for s in analysis_shots(row.title_id, row.title_version, settings)}
    shots: list[dict[str, Any]] = []
    for info in _shot_items(record):
        idx = info.get("index", info.get("shot_index"))
        shot = shots_by_index.get(int(idx)) if _num(idx) is not None else None
        start = _num(info.get("source_in", info.get("start")))
        end = _num(info.get("source_out", info.get("end")))
        frame = _num(info.get("time"))
        if frame is not None:
            span = f"frame at {timecode(frame)}"
        elif start is not None:
            span = timecode(start) + (f" – {timecode(end)}" if end is not None else "")
        elif shot is not None:
            span = f"{timecode(shot.start)} – {timecode(shot.end)}"
        else:
            span = ""
        kf = shot.keyframes[0] if shot is not None and shot.keyframes else None
        t_in, t_out = _num(info.get("timeline_in")), _num(info.get("timeline_out"))
        used = f"{t_in:.2f}–{t_out:.2f} s in output" if t_in is not None and t_out is not None else ""
        if info.get("pinned"):
            used = (used + " · pinned").strip(" ·")
        shots.append({"index": int(idx) if _num(idx) is not None else "?", "timecode": span,
                      "keyframe_url": keyframe_url(kf, base), "used": used})
    seeds = _first(record, "seeds", "seed")
    if seeds is None and isinstance((key.get("params") or {}).get("seed"), int):
        seeds = key["params"]["seed"]
    seeds_list = [seeds] if isinstance(seeds, (int, str)) else list(seeds or [])
    models = dict(key.get("model_revisions") or {})
    for src in (top, record):
        revs = src.get("model_revisions")
        if isinstance(revs, Mapping):
            models.update({str(k): str(v) for k, v in revs.items()})
    timings = top.get("timings") if isinstance(top.get("timings"), Mapping) and top.get("timings") else (
        record.get("timings") if isinstance(record.get("timings"), Mapping) else {})
    total = _num(timings.get("total_s", timings.get("total"))) if timings else None
    if total is None and timings:
        total = sum(v for v in (_num(x) for x in timings.values()) if v is not None)
    config = key.get("config") or record.get("config")
    return {
        "generator": key.get("generator") or top.get("generator"),
        "generator_version": key.get("generator_version") or top.get("version"),
        "title_version_hash": row.title_version_hash or key.get("title_version_hash", ""),
        "safety_policy_version": key.get("safety_policy_version"),
        "params": dict(key.get("params") or {}),
        "seeds": seeds_list,
        "models": sorted(models.items()),
        "shots": shots,
        "sources": _sources(record),
        "timings": [(k, f"{float(v):.2f} s") for k, v in timings.items() if _num(v) is not None],
        "generation_time": f"{total:.2f} s" if total is not None else None,
        "config": json.dumps(config, indent=2, sort_keys=True) if config else "",
    }


def asset_view(row: AssetRow, settings: Settings, base: str = "/review",
               angle_names: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Everything a reviewer sees about one asset (JSON-ready; also the template context)."""
    files = _files(row, settings)
    record = dict(row.record or {})
    chosen = record.get("chosen")
    lineage_src = {**record, **chosen} if isinstance(chosen, Mapping) else record  # the candidate's own lineage
    verdicts, gate_reasons = _verdicts(dict(row.safety or {}))
    view = asset_summary(row)
    duration = _first(lineage_src, "duration", "duration_s")
    lineage = _lineage(row, lineage_src, record, settings, base)
    view.update({
        "id": row.asset_id,
        "poster_url": next((s["keyframe_url"] for s in lineage["shots"] if s["keyframe_url"]), None),
        "angle_name": (angle_names or {}).get(row.angle_id, row.angle_id),
        "files": files,
        "images": _image_groups(files, lineage_src),
        "video": next((f for f in files if f["mime"].startswith("video/")), None),
        "audio": next((f for f in files if f["mime"].startswith("audio/")), None),
        "texts": _texts(lineage_src) if row.kind == "titles" or not files else [],
        "tempo_label": _tempo(lineage_src),
        "tempo_short": (_tempo(lineage_src) or "").split(" (")[0] or None,
        "duration": duration if isinstance(duration, (int, float)) else None,
        "safety_decision": safety_decision(dict(row.safety or {})),
        "verdicts": verdicts,
        "safety_reasons": gate_reasons,
        "safety_models": _safety_models(dict(row.safety or {})),
        "lineage": lineage,
        "record": record,
        "record_json": json.dumps(record, indent=2, sort_keys=True, default=str),
    })
    return view
