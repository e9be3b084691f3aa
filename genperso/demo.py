"""The demo: the whole product on the embedded default, on one machine, with no server.

fetch Big Buck Bunny → ingest + analyse once → load the bundled music → personalize sample users
(histories, devices, times of day, maturity profiles) → generate their assets per angle through
the same pipeline the API and workers use (safety-gated, content-addressed, cached) → a second
request per user is served from the cache → an HTML gallery with pictures, video and audio players,
safety verdicts and lineage → how to open the review UI.
"""

from __future__ import annotations

import html
import json
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import Settings, get_settings
from .logs import get_logger
from .types import Context

__all__ = ["DemoUser", "SAMPLE_USERS", "DemoReport", "run_demo", "write_gallery", "TITLE_ID"]

log = get_logger("genperso.demo")
TITLE_ID = "big-buck-bunny"
KINDS = ("artwork", "trailer", "titles", "remix")
# every artwork format a front-end needs; the other kinds use the pipeline's defaults
PARAMS = {"artwork": {"formats": ["16:9", "2:3", "1:1", "9:16"]}}


@dataclass(frozen=True)
class DemoUser:
    user_id: str
    persona: str
    history: tuple[str, ...] | None
    context: Context


SAMPLE_USERS: tuple[DemoUser, ...] = (
    DemoUser("maya", "Action fan, living-room TV, Friday 21:00",
             ("Mad Max: Fury Road", "John Wick", "high-speed car chases and explosions", "Action", "Thriller"),
             Context(hour=21.0, weekday=4, device="tv", maturity="adult", session_id="maya-s1")),
    DemoUser("leo", "Kids profile on a tablet after school",
             ("Toy Story", "Finding Nemo", "Animation", "Children's", "cute animals and friendship"),
             Context(hour=17.0, weekday=2, device="tablet", maturity="kids", session_id="leo-s1")),
    DemoUser("ana", "Romance and drama viewer on the web, late evening",
             ("Before Sunrise", "Pride and Prejudice", "Romance", "Drama", "a tender love story"),
             Context(hour=22.5, weekday=5, device="web", maturity="adult", session_id="ana-s1")),
    DemoUser("sam", "Comedy lover on a phone, morning run",
             ("Comedy", "The Grand Budapest Hotel", "silly slapstick and funny animals"),
             Context(hour=7.0, weekday=1, device="mobile", maturity="teen", activity="morning run", session_id="sam-s1")),
    DemoUser("newcomer", "Cold start: no history at all", None,
             Context(hour=20.0, weekday=6, device="tv", maturity="adult", session_id="new-s1")),
)


@dataclass
class DemoReport:
    title_id: str
    users: list[dict[str, Any]] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    gallery: Path | None = None
    reviewer_key: str | None = None


Say = Callable[[str], None]


def run_demo(settings: Settings | None = None, *, say: Say = print, progress: Any = None,
             users: Sequence[DemoUser] = SAMPLE_USERS, film: Path | None = None,
             timeout_s: float = 1800.0) -> DemoReport:
    from .angles.users import build_user
    from .catalog import session_scope
    from .catalog.assets import create_api_key
    from .ingest import ingest_title
    from .music import ingest_bundled
    from .pipeline import get_pipeline
    from .sample import SAMPLE_META, fetch_sample_film

    settings = settings or get_settings()
    report = DemoReport(TITLE_ID)
    t0 = time.perf_counter()
    if film is None:
        say("1/6 fetching the demo title (Big Buck Bunny, CC-BY-3.0, Blender Foundation)")
        film = fetch_sample_film(settings, progress=say).path
    report.timings["fetch_s"] = time.perf_counter() - t0

    t = time.perf_counter()
    say("2/6 ingesting and analysing it once (shots, keyframes, faces, motion, audio, beats, speech)")
    res = ingest_title(film, title_id=TITLE_ID, meta=SAMPLE_META, settings=settings, progress=progress)
    say(f"    {res.status}: v{res.version}, {res.n_shots} shots, {res.duration:.0f} s")
    report.timings["ingest_s"] = time.perf_counter() - t

    t = time.perf_counter()
    say("3/6 loading the bundled music library")
    tracks = ingest_bundled(settings)
    say("    " + ", ".join(f"{r['title']} ({r['tempo_bpm']:.0f} BPM)" for r in tracks))
    report.timings["music_s"] = time.perf_counter() - t

    say("4/6 personalizing sample users (angle per user and context; generation queued on misses)")
    pipe = get_pipeline(settings)
    profiles = {u.user_id: build_user(u.user_id, history=list(u.history) if u.history else None, settings=settings)
                for u in users}
    first: dict[str, Any] = {}
    jobs: set[str] = set()
    for u in users:
        r = pipe.personalize(profiles[u.user_id], TITLE_ID, list(KINDS), u.context, params=PARAMS)
        first[u.user_id] = r
        jobs |= {kr.job_id for kr in r.results.values() if kr.job_id}
        say(f"    {u.user_id:<9} → {r.decision.angle_id:<10} p={r.decision.propensity:.2f}  "
            + " ".join(f"{k}:{kr.status}" for k, kr in r.results.items()))

    t = time.perf_counter()
    say(f"5/6 generating {len(jobs)} distinct assets (one per title × angle × kind, shared by every user)")
    _wait_for_jobs(pipe, sorted(jobs), timeout_s, progress)
    report.timings["generate_s"] = time.perf_counter() - t

    say("6/6 the same requests again: now served from the cache")
    for u in users:
        t1 = time.perf_counter()
        r = pipe.personalize(profiles[u.user_id], TITLE_ID, list(KINDS), u.context, params=PARAMS)
        ms = (time.perf_counter() - t1) * 1000
        report.users.append(_user_entry(u, r, first[u.user_id], ms, pipe))
        say(f"    {u.user_id:<9} → {r.decision.angle_id:<10} " + " ".join(f"{k}:{kr.status}" for k, kr in r.results.items())
            + f"  ({ms:.1f} ms)")

    with session_scope(settings) as s:
        report.reviewer_key = create_api_key(s, "reviewer", name="demo reviewer")
    report.timings["total_s"] = time.perf_counter() - t0
    report.gallery = write_gallery(report, settings, pipe)
    return report


def _wait_for_jobs(pipe: Any, job_ids: Sequence[str], timeout_s: float, progress: Any) -> None:
    deadline = time.monotonic() + timeout_s
    done: dict[str, str] = {}
    while len(done) < len(job_ids) and time.monotonic() < deadline:
        for jid in job_ids:
            if jid in done:
                continue
            st = pipe.job(jid).get("status", "")
            if st in ("succeeded", "failed", "blocked", "done", "error"):
                done[jid] = st
        if progress:
            progress("generating assets", len(done) / max(1, len(job_ids)))
        if len(done) < len(job_ids):
            time.sleep(0.5)
    failed = {j: s for j, s in done.items() if s not in ("succeeded", "done")}
    if failed:
        log.warning("demo.jobs_not_succeeded", jobs=failed)


def _user_entry(u: DemoUser, r: Any, first: Any, ms: float, pipe: Any) -> dict[str, Any]:
    d = r.decision
    assets = {}
    for kind, kr in r.results.items():
        assets[kind] = {"status": kr.status, "record": dict(kr.asset.data) if kr.asset else None,
                        "job_id": kr.job_id or first.results[kind].job_id}
    return {
        "user_id": u.user_id, "persona": u.persona, "history": list(u.history or []), "context": u.context.to_dict(),
        "angle": d.angle_id, "propensity": d.propensity, "decision_id": d.decision_id,
        "explanation": d.explanation, "scores": dict(d.scores), "first_statuses": {k: kr.status for k, kr in first.results.items()},
        "cached_ms": ms, "assets": assets,
    }


# ---------------------------------------------------------------------------------------------
# gallery
# ---------------------------------------------------------------------------------------------

_CSS = """
body{font:15px/1.45 system-ui,sans-serif;margin:0;background:#111418;color:#e8eaed}
header{padding:24px 32px;background:#1b1f24;border-bottom:1px solid #2a2f36}
h1{margin:0 0 4px;font-size:24px} h2{margin:0;font-size:20px} h3{margin:18px 0 8px;font-size:15px;color:#9aa4af}
.user{margin:24px 32px;padding:20px;background:#1b1f24;border-radius:12px;border:1px solid #2a2f36}
.meta{color:#9aa4af;font-size:13px} .angle{display:inline-block;padding:2px 10px;border-radius:99px;background:#2d6cdf;color:#fff;font-weight:600}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(220px,1fr));gap:12px;align-items:start}
figure{margin:0;background:#0c0e10;border-radius:8px;overflow:hidden} figure img,video{width:100%;display:block}
figcaption{padding:6px 8px;font-size:12px;color:#9aa4af} .ok{color:#7bd389} .warn{color:#ffb703} .bad{color:#ef476f}
ol{margin:4px 0 0 18px;padding:0} details{margin-top:8px} pre{white-space:pre-wrap;font-size:11px;color:#9aa4af;max-height:260px;overflow:auto}
footer{padding:16px 32px;color:#6b7580;font-size:12px}
"""


def write_gallery(report: DemoReport, settings: Settings, pipe: Any) -> Path:
    out = settings.data_dir / "demo"
    files_dir = out / "files"
    if out.exists():
        shutil.rmtree(out)
    files_dir.mkdir(parents=True)
    parts = [f"<!doctype html><html lang=en><meta charset=utf-8><title>genperso demo</title><style>{_CSS}</style>",
             "<header><h1>genperso — personalized assets for <em>Big Buck Bunny</em></h1>",
             f"<div class=meta>{len(report.users)} sample users · analysis once, generation per angle · "
             f"total {report.timings.get('total_s', 0):.0f} s (generation {report.timings.get('generate_s', 0):.0f} s)"
             "</div></header>"]
    for u in report.users:
        parts.append(_user_html(u, pipe, files_dir))
    parts.append("<footer>Big Buck Bunny — (c) copyright 2008, Blender Foundation / www.bigbuckbunny.org — CC-BY-3.0. "
                 "Music: Sectoid (Carlos Viola Iborra), MIT-style licence. Font: Libre Baskerville, SIL OFL 1.1.</footer>")
    index = out / "index.html"
    index.write_text("\n".join(parts), encoding="utf-8")
    (out / "report.json").write_text(json.dumps({"users": report.users, "timings": report.timings}, indent=2,
                                                default=str), encoding="utf-8")
    return index


def _copy(pipe: Any, rel: str, files_dir: Path) -> str | None:
    src = pipe.storage.local_path(rel)
    dest = files_dir / rel.replace("/", "_")
    try:
        if src is not None and Path(src).exists():
            shutil.copyfile(src, dest)
        else:
            dest.write_bytes(pipe.storage.read_bytes(rel))
    except Exception:  # noqa: BLE001 - a missing file shows as missing in the gallery
        return None
    return f"files/{dest.name}"


def _verdict_html(safety: Any) -> str:
    if not safety:
        return ""
    decision = str(safety.get("decision", "?"))
    cls = {"allow": "ok", "review": "warn", "block": "bad"}.get(decision, "warn")
    return f"<span class={cls}>safety: {html.escape(decision)}</span>"


def _user_html(u: dict[str, Any], pipe: Any, files_dir: Path) -> str:
    e = html.escape
    ctx = u["context"]
    hist = ", ".join(u["history"]) or "— (cold start)"
    out = [f"<section class=user><h2>{e(u['user_id'])} <span class=angle>{e(u['angle'])}</span></h2>",
           f"<div class=meta>{e(u['persona'])} · {e(ctx['device'])} at {ctx['hour']:.1f} h · profile {e(ctx['maturity'])}"
           f" · history: {e(hist)}</div>",
           f"<div class=meta>propensity {u['propensity']:.2f} · {e(u['explanation'])} · second request served in "
           f"{u['cached_ms']:.1f} ms</div>"]
    poster = ""
    for kind, a in u["assets"].items():
        rec = a.get("record")
        out.append(f"<h3>{e(kind)} — {e(a['status'])} {(_verdict_html(rec.get('safety')) if rec else '')}</h3>")
        if not rec:
            out.append("<div class=meta>not available (see the job log)</div>")
            continue
        files = rec.get("files") or []
        if kind == "artwork":
            out.append("<div class=grid>")
            for f in files:
                if str(f.get("mime", "")).startswith("image/") and str(f.get("role", "")).endswith(".jpg"):
                    src = _copy(pipe, f["path"], files_dir)
                    if src and (not poster or str(f.get("role", "")).startswith("hero")):
                        poster = poster or src
                    if src:
                        out.append(f"<figure><img src='{src}' loading=lazy><figcaption>{e(f.get('role', ''))} "
                                   f"{f.get('width')}x{f.get('height')}</figcaption></figure>")
            out.append("</div>")
        elif kind == "trailer":
            for f in files:
                if str(f.get("mime", "")).startswith("video/"):
                    src = _copy(pipe, f["path"], files_dir)
                    if src:
                        out.append(f"<video controls preload=metadata src='{src}' poster='{poster}' "
                                   "style='max-width:720px'></video>")
        elif kind == "remix":
            for f in files:
                if str(f.get("mime", "")).startswith("audio/"):
                    src = _copy(pipe, f["path"], files_dir)
                    if src:
                        r = (rec.get("record") or {}).get("chosen") or {}
                        bpm = (r.get("output_tempo") or {}).get("bpm") or r.get("target_bpm")
                        tracks = ", ".join(str(t.get("title") or t.get("track")) for t in r.get("sources", []))
                        out.append(f"<audio controls preload=metadata src='{src}'></audio> "
                                   f"<span class=meta>{float(bpm or 0):.1f} BPM (measured) · {e(tracks)}</span>")
        elif kind == "titles":
            texts = [c.get("text") for c in (rec.get("record") or {}).get("candidates", []) if c.get("text")]
            if not texts and (rec.get("record") or {}).get("text"):
                texts = [rec["record"]["text"]]
            out.append("<ol>" + "".join(f"<li>{e(t)}</li>" for t in texts) + "</ol>")
        out.append("<details><summary class=meta>record and lineage</summary><pre>"
                   + e(json.dumps(rec.get("record"), indent=1, default=str)[:6000]) + "</pre></details>")
    out.append("</section>")
    return "\n".join(out)
