"""Tempo-matched remixes: library tracks (or files) stretched to one tempo and crossfaded on beats.

Pipeline per track: tempo estimate with octave handling (``media.tempo``; the metrical level is
chosen inside the stretchable range around the target), time-stretch (``media.stretch``: Rubber
Band when available), then beat-aligned crossfades (``media.beatmix``), loudness to -14 LUFS with
a -1 dBTP ceiling and encoding with tags (``media.master``). The output tempo is re-measured
independently (librosa's beat tracker on the encoded file) and recorded with everything else.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidInput, MediaError, NotFound
from ..logs import get_logger
from ..types import canonical_json, sha256_hex, validate_id
from .base import Candidate, GenerationOutput, GenerationRequest, Generator, GeneratorConfig, register

__all__ = ["RemixConfig", "TrackSource", "RemixResult", "resolve_tracks", "choose_level", "remix",
           "RemixGenerator", "BPM_LIMITS", "target_from_context", "pick_library_tracks", "library_fingerprint"]

log = get_logger("genperso.generators.remix")
Progress = Callable[[str, float], None]
BPM_LIMITS: tuple[float, float] = (40.0, 240.0)
RUNNING_CADENCE: tuple[float, float] = (150.0, 180.0)  # steps per minute


@dataclass(frozen=True)
class RemixConfig(GeneratorConfig):
    crossfade_beats: int = 8
    ratio_limits: tuple[float, float] = (0.8, 1.25)  # tempo factor limits; beyond: other level or skip
    engine: str = "auto"
    target_lufs: float = -14.0
    true_peak_ceiling: float = -1.0
    max_track_seconds: float | None = None
    sample_rate: int = 44100


@dataclass(frozen=True)
class TrackSource:
    path: Path
    track_id: str | None = None
    title: str = ""
    artist: str = ""
    licence: str = ""
    attribution: str = ""

    def label(self) -> str:
        return self.track_id or self.path.name


@dataclass(frozen=True)
class RemixResult:
    path: Path
    record: Mapping[str, Any]
    record_path: Path
    timings: Mapping[str, float] = field(default_factory=dict)


def resolve_tracks(refs: Sequence[str | Path]) -> list[TrackSource]:
    """Each reference is a file path or a music-library track id."""
    if not refs:
        raise InvalidInput("no tracks given: pass audio files or music-library track ids")
    out: list[TrackSource] = []
    for ref in refs:
        p = Path(ref).expanduser()
        if p.exists():
            if not p.is_file():
                raise MediaError(f"not a regular file: {p}", path=str(p))
            out.append(TrackSource(p.resolve(), title=p.stem))
            continue
        ref_s = str(ref)
        if "/" in ref_s or "\\" in ref_s or Path(ref_s).suffix.lower() in {".mp3", ".ogg", ".wav", ".m4a", ".flac"}:
            raise MediaError(f"file not found: {ref_s}", path=ref_s)
        validate_id(ref_s, "music track id")
        from ..catalog import session_scope
        from ..catalog.titles import MusicRepo

        with session_scope() as s:
            try:
                row = MusicRepo(s).get(ref_s)
            except NotFound:
                raise NotFound(f"{ref_s!r} is neither an existing file nor a music-library track id") from None
            out.append(TrackSource(Path(row.path), row.id, row.title, row.artist, row.licence, row.attribution))
    return out


def choose_level(bpm: float, target: float, limits: tuple[float, float]) -> tuple[float, float, str] | None:
    """(source tempo at the chosen metrical level, tempo ratio, level name) or None when no level
    (x1, x2, x1/2, x4, x1/4) can reach ``target`` within the ratio ``limits``."""
    if bpm <= 0:
        return None
    options = []
    for mult, name in ((1.0, "x1"), (2.0, "x2"), (0.5, "x1/2"), (4.0, "x4"), (0.25, "x1/4")):
        ratio = target / (bpm * mult)
        if limits[0] <= ratio <= limits[1]:
            options.append((abs(math.log(ratio)) + (0.0 if mult == 1.0 else 0.01), bpm * mult, ratio, name))
    if not options:
        return None
    _, level_bpm, ratio, name = min(options)
    return level_bpm, ratio, name


def target_from_context(angle_style_bpm: tuple[float, float] | None, context: Mapping[str, Any] | None,
                        params: Mapping[str, Any]) -> tuple[float, float]:
    """The target tempo range: explicit ``bpm`` > running/jogging/cycling cadence > angle style."""
    if params.get("bpm") is not None:
        b = _check_bpm(params["bpm"])
        return b, b
    activity = str((context or {}).get("activity") or "").lower()
    if any(w in activity for w in ("run", "jog", "sprint")):
        return RUNNING_CADENCE
    if angle_style_bpm:
        lo, hi = angle_style_bpm
        return float(lo), float(hi)
    return 100.0, 130.0


def pick_library_tracks(target: tuple[float, float], energy: float, limits: tuple[float, float], *,
                        n: int = 2, maturity: str = "adult") -> list[str]:
    """Music-library track ids for a remix when the request names none: tracks whose tempo reaches
    the target range within the stretch limits (at some metrical level), closest in energy to the
    angle first, least stretch next; explicit tracks only for adult profiles."""
    from ..catalog import session_scope
    from ..catalog.titles import MusicRepo

    mid = (target[0] + target[1]) / 2.0
    ranked: list[tuple[float, str]] = []
    with session_scope() as s:
        for row in MusicRepo(s).list():
            if not row.tempo_bpm or (row.explicit and maturity != "adult"):
                continue
            level = choose_level(float(row.tempo_bpm), mid, limits)
            if level is None:
                continue
            stretch = abs(math.log(level[1]))
            ranked.append((abs(float(row.energy or 0.5) - energy) + 0.5 * stretch, row.id))
    if not ranked:
        raise InvalidInput(
            f"the music library has no track that reaches {target[0]:.0f}-{target[1]:.0f} BPM within the stretch "
            "limits: ingest music (genperso ingest-music) or pass params.tracks"
        )
    return [tid for _, tid in sorted(ranked)[:n]]


_fingerprint_cache: dict[str, tuple[float, str]] = {}


def library_fingerprint(ttl_s: float = 30.0) -> str:
    """A short hash of the music library's tracks (ids and content): part of the remix asset key,
    so a changed library yields new remixes. Cached briefly per database (it sits on the request path)."""
    import hashlib
    import time

    from ..catalog import session_scope
    from ..catalog.titles import MusicRepo
    from ..config import get_settings

    db = get_settings().db_url
    hit = _fingerprint_cache.get(db)
    if hit is not None and time.monotonic() - hit[0] < ttl_s:
        return hit[1]
    with session_scope() as s:
        rows = sorted((r.id, r.content_hash, bool(r.explicit)) for r in MusicRepo(s).list())
    fp = hashlib.sha256(repr(rows).encode()).hexdigest()[:16]
    _fingerprint_cache[db] = (time.monotonic(), fp)
    return fp


def _check_bpm(value: Any) -> float:
    try:
        b = float(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"target tempo must be a number of BPM, got {value!r}") from None
    if not (BPM_LIMITS[0] <= b <= BPM_LIMITS[1]) or math.isnan(b):
        raise InvalidInput(f"target tempo {b:g} BPM is out of range {BPM_LIMITS[0]:g}..{BPM_LIMITS[1]:g}")
    return b


def remix(refs: Sequence[str | Path] | Sequence[TrackSource], target_bpm: float | tuple[float, float],
          out_path: str | Path, config: RemixConfig | None = None, *, progress: Progress | None = None,
          seed: int = 0) -> RemixResult:
    """Stretch ``refs`` to ``target_bpm`` (a value, or a (lo, hi) range: the tempo in range that
    needs the least stretching) and crossfade them on beats into ``out_path`` (.m4a/.mp3/.wav)."""
    from ..media.beatmix import MixTrack, beat_mix
    from ..media.master import CODECS, master_audio
    from ..media.stretch import pick_engine, stretch_file
    from ..media.tempo import autocorr_tempo, estimate_tempo, load_audio

    cfg = config or RemixConfig()
    out = Path(out_path).expanduser()
    if out.suffix.lower() not in CODECS:
        raise InvalidInput(f"output must end in one of {', '.join(CODECS)}; got {out.name!r}")
    lo_t, hi_t = (target_bpm, target_bpm) if isinstance(target_bpm, (int, float)) else target_bpm
    lo_t, hi_t = _check_bpm(lo_t), _check_bpm(hi_t)
    if lo_t > hi_t:
        raise InvalidInput(f"target tempo range {lo_t:g}..{hi_t:g} is reversed")
    r_lo, r_hi = cfg.ratio_limits
    if not (0.5 <= r_lo <= 1.0 <= r_hi <= 2.0):
        raise InvalidInput(f"ratio limits {cfg.ratio_limits} must satisfy 0.5 <= low <= 1 <= high <= 2")
    engine = pick_engine(cfg.engine)
    sources = [r if isinstance(r, TrackSource) else None for r in refs]
    if any(s is None for s in sources):
        sources = resolve_tracks([r for r in refs])  # type: ignore[arg-type]
    timings: dict[str, float] = {}
    step = (lambda name, frac: progress(name, frac)) if progress else (lambda name, frac: None)

    # 1. natural tempo of every source (perceptual prior); the level (x1, x2, x1/2) is chosen below
    t0 = time.perf_counter()
    estimates = []
    for i, src in enumerate(sources):
        step(f"tempo {src.label()}", i / max(len(sources), 1) * 0.3)
        y, sr = load_audio(src.path, sr=22050)
        estimates.append(estimate_tempo(y, sr))
    timings["tempo_s"] = time.perf_counter() - t0
    target = _pick_target(lo_t, hi_t, [e.bpm for e in estimates], cfg.ratio_limits)

    # 2. stretch what can be stretched; record what cannot
    t0 = time.perf_counter()
    tracks: list[MixTrack] = []
    used: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    for i, (src, est) in enumerate(zip(sources, estimates)):
        step(f"stretch {src.label()}", 0.3 + i / max(len(sources), 1) * 0.4)
        level = choose_level(est.bpm, target, cfg.ratio_limits)
        info = {"track": src.label(), "title": src.title, "artist": src.artist, "licence": src.licence,
                "attribution": src.attribution, "source_bpm": round(est.bpm, 3),
                "tempo_confidence": round(est.confidence, 3), "tempo_candidates": est.candidates[:5]}
        if level is None:
            reason = ("no steady beat found" if est.bpm <= 0 else
                      f"{est.bpm:.1f} BPM cannot reach {target:.1f} BPM within ratio {r_lo}..{r_hi} at any level")
            skipped.append(info | {"reason": reason})
            log.info("remix.track_skipped", track=src.label(), reason=reason)
            continue
        level_bpm, ratio, level_name = level
        st = stretch_file(src.path, ratio, sr=cfg.sample_rate, channels=2, engine=engine)
        beat_scale = level_bpm / est.bpm  # beats of the chosen level (x2: add off-beats; x1/2: every other)
        beats = _beats_at_level(np.asarray(est.beats), beat_scale) / ratio
        tracks.append(MixTrack(st.y, st.sr, beats, src.label()))
        used.append(info | {"level": level_name, "level_bpm": round(level_bpm, 3), "stretch_ratio": round(ratio, 5),
                            "engine": st.engine, "stretch_s": round(st.seconds, 3)})
    timings["stretch_s"] = time.perf_counter() - t0
    if not tracks:
        raise InvalidInput(
            f"no track can be stretched to {target:.1f} BPM within ratio {r_lo}..{r_hi}: "
            + "; ".join(f"{s['track']}: {s['reason']}" for s in skipped)
        )

    # 3. crossfade on beats, 4. master, 5. verify
    t0 = time.perf_counter()
    step("crossfade", 0.7)
    mix = beat_mix(tracks, target, n_beats=cfg.crossfade_beats, max_track_seconds=cfg.max_track_seconds)
    timings["mix_s"] = time.perf_counter() - t0
    step("master", 0.8)
    tags = {
        "title": f"genperso remix at {target:.1f} BPM",
        "artist": ", ".join(dict.fromkeys(u["artist"] for u in used if u["artist"])) or "various",
        "comment": "; ".join(f"{u['title'] or u['track']} ({u['licence'] or 'licence unknown'}) "
                             f"{u['source_bpm']}->{target:.1f} BPM x{u['stretch_ratio']}" for u in used),
        "encoder": "genperso remix",
    }
    mastered = master_audio(mix.y, mix.sr, out, target_lufs=cfg.target_lufs,
                            true_peak_ceiling=cfg.true_peak_ceiling, tags=tags)
    timings["master_s"] = mastered.seconds
    step("verify", 0.92)
    t0 = time.perf_counter()
    if mastered.decoded is not None:  # the encoded file as master_audio decoded it to measure it
        import librosa

        y_out, sr_out = librosa.resample(mastered.decoded.mean(axis=0), orig_sr=mix.sr, target_sr=22050), 22050
    else:
        y_out, sr_out = load_audio(out, sr=22050)
    measured = autocorr_tempo(y_out, sr_out, target)
    timings["verify_s"] = time.perf_counter() - t0
    record: dict[str, Any] = {
        "kind": "remix",
        "target_bpm": round(target, 3),
        "target_range": [lo_t, hi_t],
        "engine": engine,
        "ratio_limits": list(cfg.ratio_limits),
        "crossfade_beats": cfg.crossfade_beats,
        "sources": [{k: v for k, v in u.items() if v is not None} for u in used],
        "skipped": skipped,
        "transitions": [t.to_dict() for t in mix.transitions],
        "duration_s": round(mix.y.shape[1] / mix.sr, 3),
        "output": mastered.to_dict() | {"file": out.name},
        "output_tempo": {"bpm": round(measured, 3),
                         "error_pct": round(100 * (measured / target - 1), 3) if measured > 0 else None,
                         "method": "librosa onset-strength autocorrelation peak at a 16-beat lag, "
                                   "parabolic interpolation (re-measured on the encoded file)"},
        "seed": seed,
        "timings": {k: round(v, 3) for k, v in timings.items()},
    }
    record["record_id"] = sha256_hex(canonical_json({k: record[k] for k in ("target_bpm", "sources", "engine")}))[:16]
    rec_path = out.with_suffix(".json")
    tmp = rec_path.with_name(f".{rec_path.name}.tmp{os.getpid()}")
    tmp.write_text(json.dumps(record, indent=2, default=str), encoding="utf-8")
    os.replace(tmp, rec_path)
    step("done", 1.0)
    log.info("remix.done", out=str(out), target=target, measured=measured, engine=engine, tracks=len(tracks))
    return RemixResult(out, record, rec_path, timings)


def _beats_at_level(beats: np.ndarray, scale: float) -> np.ndarray:
    if len(beats) < 2 or abs(scale - 1.0) < 1e-6:
        return beats
    if scale > 1.5:  # x2 / x4: subdivide each beat interval
        k = int(round(scale))
        parts = [beats[:-1] + (beats[1:] - beats[:-1]) * j / k for j in range(k)]
        return np.sort(np.concatenate([*parts, beats[-1:]]))
    step = int(round(1.0 / scale))  # x1/2 / x1/4: every n-th beat
    return beats[::step]


def _pick_target(lo: float, hi: float, bpms: Sequence[float], limits: tuple[float, float]) -> float:
    """The tempo in [lo, hi] that the most tracks reach with the least stretching."""
    if lo == hi:
        return lo
    grid = np.exp(np.linspace(math.log(lo), math.log(hi), 61))
    best, best_cost = float(grid[len(grid) // 2]), float("inf")
    for t in grid:
        cost = 0.0
        for b in bpms:
            lvl = choose_level(b, float(t), limits)
            cost += abs(math.log(lvl[1])) if lvl else 1.0
        if cost < best_cost - 1e-9:
            best, best_cost = float(t), cost
    return best


@register
class RemixGenerator(Generator):
    """Asset kind "remix": ``params`` = {"tracks": [paths or ids], "bpm"?: float,
    "max_track_seconds"?: float, "format"?: "m4a" | "mp3"}; the tempo comes from ``bpm``, else the
    context's activity (running cadence 150-180), else the angle's ``style.tempo_bpm``."""

    name = "remix"
    version = "1"
    kind = "remix"
    config_cls = RemixConfig

    def generate(self, request: GenerationRequest) -> GenerationOutput:
        params = dict(request.params)
        tracks = params.get("tracks")
        if tracks is not None and (not isinstance(tracks, (list, tuple)) or not tracks):
            raise InvalidInput("remix params.tracks must be a non-empty list of audio files or music-library ids")
        cfg0: RemixConfig = self.config  # type: ignore[assignment]
        target = target_from_context(request.angle.style.tempo_bpm, params.get("context"), params)
        if tracks is None:  # serving path: the library tracks that suit the angle and context
            tracks = pick_library_tracks(target, request.angle.style.music_energy, cfg0.ratio_limits,
                                         maturity=str(params.get("maturity", "adult")))
        fmt = str(params.get("format", "m4a")).lower().lstrip(".")
        if fmt not in ("m4a", "mp3"):
            raise InvalidInput(f"remix format must be m4a or mp3, got {fmt!r}")
        cfg: RemixConfig = self.config  # type: ignore[assignment]
        if params.get("max_track_seconds") is not None:
            cfg = RemixConfig(**{**cfg.to_dict(), "max_track_seconds": float(params["max_track_seconds"])})
        request.out_dir.mkdir(parents=True, exist_ok=True)
        out = request.out_dir / f"remix.{fmt}"
        res = remix([str(t) for t in tracks], target, out, cfg, seed=request.seed)
        record = dict(res.record) | {"angle": request.angle.id, "generator": self.name, "version": self.version}
        rec_path = request.out_dir / "record.json"
        tmp = rec_path.with_name(f".record.json.tmp{os.getpid()}")
        tmp.write_text(json.dumps(record, indent=2, default=str), encoding="utf-8")
        os.replace(tmp, rec_path)
        res.record_path.unlink(missing_ok=True)
        err_pct = record["output_tempo"]["error_pct"]
        err = abs(float(err_pct)) if err_pct is not None else 5.0
        cand = Candidate(rank=0, score=round(max(0.0, 1.0 - err / 5.0), 4),
                         files={f"remix.{fmt}": str(out), "record.json": str(rec_path)}, record=record)
        return GenerationOutput(self.name, self.version, (cand,), self.model_revisions(), dict(res.timings))

    def model_revisions(self) -> Mapping[str, str]:
        from ..media.stretch import available_engines

        return {"stretch": available_engines()[0] if self.config.engine == "auto" else self.config.engine,  # type: ignore[attr-defined]
                "tempo": "genperso.media.tempo@1", "music_library": library_fingerprint()}
