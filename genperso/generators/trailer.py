"""Personalised trailer cuts per angle.

For (title version, angle, duration 15/30/60 s, aspect 16:9 or 9:16) the generator scores the
shots for the angle (``genperso.scoring``), picks a music bed (library track matching the
angle's tempo/energy, else the film's own score), plans a beat-aligned, speech-safe,
spoiler-guarded cut (``trailer_plan``), reframes for the aspect (``trailer_crop``), renders the
audio mix (ducked, two-pass loudness normalised) and the picture in one encode pass (parallel parts)
(``trailer_render``), and exports a cut list (JSON) and an OpenTimelineIO timeline.
"""

from __future__ import annotations

import json
import os
import resource
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..config import get_settings
from ..errors import InvalidInput, MediaError
from ..logs import get_logger
from ..media.ffmpeg import measure_loudness
from ..angles.catalog import load_angles
from ..scoring import Scorer, default_scorers
from ..types import TitleAnalysis, canonical_json
from .base import Candidate, GenerationOutput, GenerationRequest, Generator, GeneratorConfig, register
from .trailer_card import cased, render_title_card
from .trailer_crop import ASPECTS, crop_windows
from .trailer_music import MusicBed, choose_bed, film_score_bed, library_tracks, silent_bed, timeline_beats
from .trailer_otio import write_otio
from .trailer_plan import TrailerPlan, plan_trailer
from .trailer_render import TARGET_LUFS, render_audio, render_video, source_keyframes
from .trailer_scores import AngleScores, angle_scores

__all__ = ["TrailerConfig", "TrailerGenerator", "TrailerParams", "parse_params", "output_size", "DURATIONS"]

log = get_logger("genperso.trailer")

DURATIONS = (15, 30, 60)
MUSIC_CHOICES = ("auto", "library", "film")


@dataclass(frozen=True)
class TrailerConfig(GeneratorConfig):
    preset: str = "superfast"  # x264; with the graded 720p pipeline this keeps 30 s under ~20 CPU-s
    crf: int = 20
    threads: int = 2
    # parallel ffmpeg runs for the picture (parts split at cut boundaries, joined by stream copy):
    # one run's picture pipeline keeps ~1.6 of 2 cores busy, two keep both (30 s 720p: ~9 -> ~7.5 s)
    render_chunks: int = 2
    card_seconds: float = 3.0
    ambience_db: float = -10.0  # film sound outside dialogue, relative to dialogue level
    max_size_class: int = 720  # output height class (16:9) / width (9:16)
    # share of the shot score that is "fits this angle better than its neighbours" (angle_contrast)
    # rather than "fits this angle": keeps e.g. romance and drama cuts of one film apart
    distinct_weight: float = 0.7
    # shot ownership between angles (trailer_scores.rival_penalty): a shot another angle ranks
    # higher than this one does costs up to this much score, so angles split the shots they both
    # like instead of sharing them (30 s on Big Buck Bunny: max overlap 56% -> 38%)
    ownership_weight: float = 0.3
    # "yuv": tone curve on full-res luma + the 3D LUT at chroma resolution (media.grade_yuv: mean
    # ΔE ~0.4 from the reference on film frames, 2/3 of its CPU); "lut3d": full-res float-RGB reference
    grade_method: str = "yuv"


@dataclass(frozen=True)
class TrailerParams:
    duration: int
    aspect: str
    candidates: int
    allow_spoilers: bool
    spoiler_guard_fraction: float
    music: str
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _as_bool(v: Any, name: str) -> bool:
    if isinstance(v, bool):
        return v
    if isinstance(v, str) and v.lower() in ("true", "1", "yes", "false", "0", "no"):
        return v.lower() in ("true", "1", "yes")
    if isinstance(v, int) and v in (0, 1):
        return bool(v)
    raise InvalidInput(f"{name} must be true or false, got {v!r}", field=name)


def parse_params(params: Mapping[str, Any], max_candidates: int = 16) -> TrailerParams:
    """Validate ``request.params``; anything wrong -> InvalidInput naming the parameter."""
    known = {"duration", "aspect", "candidates", "allow_spoilers", "spoiler_guard_fraction", "music", "seed"}
    # set by the pipeline for every kind: maturity (read by the safety gate), context
    unknown = sorted(set(params) - known - {"context", "maturity"})
    if unknown:
        raise InvalidInput(f"unknown trailer parameter(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    try:
        dur_f = float(params.get("duration", 30))
    except (TypeError, ValueError):
        raise InvalidInput(f"duration must be one of {DURATIONS} seconds, got {params.get('duration')!r}",
                           field="duration") from None
    if dur_f not in DURATIONS:
        raise InvalidInput(f"duration must be one of {DURATIONS} seconds, got {params.get('duration')!r}",
                           field="duration")
    aspect = str(params.get("aspect", "16:9"))
    if aspect not in ASPECTS:
        raise InvalidInput(f"aspect must be one of {', '.join(ASPECTS)}, got {aspect!r}", field="aspect")
    cand = params.get("candidates", 1)
    if isinstance(cand, bool) or not isinstance(cand, (int, str)) or not str(cand).isdigit() \
            or not 1 <= int(cand) <= max_candidates:
        raise InvalidInput(f"candidates must be an integer 1..{max_candidates}, got {cand!r}", field="candidates")
    try:
        guard = float(params.get("spoiler_guard_fraction", 0.15))
    except (TypeError, ValueError):
        guard = -1.0
    if not (0.0 <= guard <= 0.5):
        raise InvalidInput(f"spoiler_guard_fraction must be in [0, 0.5], got {params.get('spoiler_guard_fraction')!r}",
                           field="spoiler_guard_fraction")
    seed = params.get("seed", 0)
    if seed is None:
        seed = 0
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
        raise InvalidInput(f"seed must be an integer in [0, 2^32), got {seed!r}", field="seed")
    music = str(params.get("music", "auto"))
    if music not in MUSIC_CHOICES:
        raise InvalidInput(f"music must be one of {', '.join(MUSIC_CHOICES)}, got {music!r}", field="music")
    return TrailerParams(duration=int(dur_f), aspect=aspect, candidates=int(cand),
                         allow_spoilers=_as_bool(params.get("allow_spoilers", False), "allow_spoilers"),
                         spoiler_guard_fraction=guard, music=music, seed=int(seed))


def output_size(src_w: int, src_h: int, aspect: str, max_class: int = 720) -> tuple[int, int]:
    """1280x720 / 720x1280 for HD sources; smaller sources keep their size class."""
    c = min(max_class, src_h if src_w >= src_h else src_w)
    c = max(2, c - c % 2)
    long = int(round(c * 16 / 9 / 2) * 2)
    return (long, c) if aspect == "16:9" else (c, long)


def beat_alignment(plan: TrailerPlan, beats: Sequence[float]) -> dict[str, float]:
    """Distance (ms) of every cut (segment boundaries and the card) to the nearest bed beat."""
    cuts = [c.tl_in for c in plan.cuts[1:]] + [plan.card_start]
    b = np.asarray(beats, dtype=np.float64)
    if not cuts or b.size == 0:
        return {"n_cuts": len(cuts), "median_ms": float("nan"), "max_ms": float("nan")}
    d = np.array([np.min(np.abs(b - t)) for t in cuts]) * 1000.0
    return {"n_cuts": len(cuts), "median_ms": round(float(np.median(d)), 2), "max_ms": round(float(d.max()), 2)}


@register
class TrailerGenerator(Generator):
    name = "trailer"
    version = "1.0"
    kind = "trailer"
    config_cls = TrailerConfig

    def __init__(self, config: TrailerConfig | None = None, scorers: Sequence[Scorer] | None = None) -> None:
        super().__init__(config)
        self.scorers = list(scorers) if scorers is not None else None

    def model_revisions(self) -> Mapping[str, str]:
        from ..models.embed import get_embedder

        out = {"transcript": get_embedder().revision}
        if get_settings().clip_model:
            from ..models.clip import get_clip

            out["clip"] = get_clip().revision
        return out

    def generate(self, request: GenerationRequest) -> GenerationOutput:
        cfg: TrailerConfig = self.config  # type: ignore[assignment]
        settings = get_settings()
        p = parse_params(request.params, settings.max_candidates)
        analysis = request.analysis
        if analysis is None or not analysis.shots:
            raise InvalidInput("a trailer needs the title's analysis (shots); analyse the title first")
        if request.source_path is None:
            raise InvalidInput("a trailer needs the title version's source media (request.source_path)")
        src = Path(request.source_path)
        if not src.is_file():
            raise MediaError(f"source media not found: {src}")
        if analysis.stream.width <= 0 or analysis.stream.height <= 0:
            raise MediaError("the analysis has no video stream size")
        data_dir = Path(request.data_dir) if request.data_dir else settings.data_dir
        out_dir = Path(request.out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        angle = request.angle
        t_all = time.perf_counter()

        t0 = time.perf_counter()
        scorers = self.scorers if self.scorers is not None else default_scorers(data_dir)
        sc = angle_scores(analysis, angle, list(load_angles()), scorers, distinct_weight=cfg.distinct_weight,
                          ownership_weight=cfg.ownership_weight)
        bd = sc.breakdown
        t_score = time.perf_counter() - t0
        tracks: list[dict[str, Any]] = []
        if p.music != "film":
            try:
                tracks = library_tracks()
            except Exception as exc:  # noqa: BLE001 - a broken library falls back to the film score
                log.warning("trailer.music_library_unavailable", error=str(exc))
        if p.music == "library" and not tracks:
            raise InvalidInput("music=library but the music library is empty: run `genperso ingest-music --bundled`")

        candidates = []
        for k in range(p.candidates):
            cdir = out_dir if p.candidates == 1 else out_dir / f"candidate-{k}"
            cdir.mkdir(parents=True, exist_ok=True)
            rec, files = self._one(k, request, analysis, p, cfg, sc, tracks, src, data_dir, cdir)
            candidates.append((rec["plan_score"], files, rec))
        candidates.sort(key=lambda x: -x[0])
        out = tuple(Candidate(rank=i, score=float(s), files=f, record=r) for i, (s, f, r) in enumerate(candidates))
        revisions = dict(bd.revisions)
        return GenerationOutput(generator=self.name, version=self.version, candidates=out, model_revisions=revisions,
                                timings={"score_s": round(t_score, 3), "total_s": round(time.perf_counter() - t_all, 3)})

    def _one(self, k: int, request: GenerationRequest, analysis: TitleAnalysis, p: TrailerParams, cfg: TrailerConfig,
             sc: AngleScores, tracks: list[dict[str, Any]], src: Path, data_dir: Path,
             cdir: Path) -> tuple[dict[str, Any], dict[str, str]]:
        bd = sc.breakdown
        from ..media.grade import GRADE_VERSION
        from ..media.probe import probe

        angle = request.angle
        timings: dict[str, float] = {}
        fps = float(analysis.stream.fps) if 10.0 <= analysis.stream.fps <= 60.0 else 25.0
        cutoff = analysis.duration if p.allow_spoilers else analysis.duration * (1 - p.spoiler_guard_fraction)

        t0 = time.perf_counter()
        bed: MusicBed | None = choose_bed(angle, p.duration, tracks, variant=k) if tracks else None
        if bed is None and analysis.stream.has_audio:
            bed = film_score_bed(analysis, src, float(p.duration), cutoff, cdir)
        elif bed is None:
            bed = silent_bed(angle, float(p.duration), cdir)
        beats = timeline_beats(bed, float(p.duration))
        timings["music_s"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        plan = plan_trailer(analysis, angle, sc.owned, beats, float(p.duration), fps=fps,
                            card_seconds=cfg.card_seconds, allow_spoilers=p.allow_spoilers,
                            spoiler_guard_fraction=p.spoiler_guard_fraction, variant=k,
                            keyframes=source_keyframes(src), seed=p.seed)
        W, H = output_size(analysis.stream.width, analysis.stream.height, p.aspect, cfg.max_size_class)
        crops = crop_windows(analysis.shots, [(c.shot_index, c.src_in, c.src_out) for c in plan.cuts],
                             analysis.stream.width, analysis.stream.height, p.aspect, data_dir)
        lut_dir = get_settings().data_dir / "cache" / "luts"
        name = request.title.name if request.title else analysis.title_id
        best = max(plan.cuts, key=lambda c: c.score)
        bg = None
        best_shot = next((s for s in analysis.shots if s.index == best.shot_index), None)
        if best_shot is not None and best_shot.keyframes:
            cand_bg = Path(best_shot.keyframes[0])
            bg = cand_bg if cand_bg.is_absolute() else data_dir / cand_bg
        card = render_title_card(name, angle.style, (W, H), cdir / "title-card.png", background=bg)
        timings["plan_s"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        speech = analysis.audio.speech_segments if analysis.audio else ()
        film_lufs = analysis.audio.integrated_lufs if analysis.audio else None
        mix = render_audio(plan, bed, src, analysis.stream.has_audio, cdir, film_lufs=film_lufs, speech=speech,
                           ambience_db=cfg.ambience_db)
        timings["audio_s"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        mp4 = cdir / "trailer.mp4"
        try:
            render_video(plan, src, mp4, size=(W, H), crops=crops, grade_look=angle.style.grade, lut_dir=lut_dir,
                         card_png=card, audio_wav=mix.path, preset=cfg.preset, crf=cfg.crf, threads=cfg.threads,
                         grade_method=cfg.grade_method, chunks=cfg.render_chunks)
        finally:
            mix.path.unlink(missing_ok=True)
            if bed.source == "none":
                Path(bed.path).unlink(missing_ok=True)
        timings["video_s"] = time.perf_counter() - t0
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        timings["video_cpu_s"] = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)

        t0 = time.perf_counter()
        out_info = probe(mp4, check_decode=False)
        loud = measure_loudness(mp4)
        timings["verify_s"] = time.perf_counter() - t0

        weights = np.array([c.duration for c in plan.cuts])
        plan_score = float(np.average([c.score for c in plan.cuts], weights=weights))
        align = beat_alignment(plan, beats)
        pos_of = {s.index: i for i, s in enumerate(analysis.shots)}
        shots = []
        for c, win in zip(plan.cuts, crops):
            shots.append({
                "index": c.shot_index, "source_in": c.src_in, "source_out": c.src_out, "timeline_in": c.tl_in,
                "timeline_out": c.tl_out, "frames": c.frames, "phase": c.phase, "speech_lines": c.speech_lines,
                "scores": _shot_scores(sc, pos_of[c.shot_index]),
                "crop": win.to_dict(),
            })
        record: dict[str, Any] = {
            "generator": self.name, "generator_version": self.version, "candidate": k,
            "title_id": analysis.title_id, "title_version": analysis.version, "content_hash": analysis.content_hash,
            "angle": angle.id, "params": p.to_dict(), "config": cfg.to_dict(),
            "plan_score": round(plan_score, 4),
            "shots": shots,
            "title_card": {"text": cased(name, angle.style.text_case), "timeline_in": plan.card_start,
                           "font": angle.style.font, "text_colour": angle.style.text_colour,
                           "accent_colour": angle.style.accent_colour, "file": card.name},
            "music": bed.record() | {"timeline_beats": beats},
            "beat_alignment": align,
            "ducking": {"intervals": [list(iv) for iv in mix.ducking], "depth_db": mix.duck_db},
            "mix": {"bed_gain_db": mix.bed_gain_db, "segment_gains_db": list(mix.segment_gains_db)},
            "loudness": {"target_lufs": TARGET_LUFS, "true_peak_ceiling_dbtp": -1.0,
                         "premix": mix.measured_pre.to_dict(), "normalised_mix": mix.measured_post.to_dict(),
                         "output": loud.to_dict()},
            "grade": {"look": angle.style.grade, "grade_version": GRADE_VERSION, "method": cfg.grade_method},
            "output": {"width": out_info.width, "height": out_info.height, "duration": round(out_info.duration, 3),
                       "fps": fps, "aspect": p.aspect, "video_codec": out_info.video_codec,
                       "audio_codec": out_info.audio_codec},
            "spoiler_cutoff": round(plan.spoiler_cutoff, 3), "excluded": plan.excluded,
            "model_revisions": dict(bd.revisions), "scorer_weights": bd.weights,
            "timings": {k2: round(v, 3) for k2, v in timings.items()},
        }
        t0 = time.perf_counter()
        otio_path = write_otio(cdir / "trailer.otio", name=f"{name} — {angle.name} {p.duration}s {p.aspect}", plan=plan,
                               source_path=src, source_duration=analysis.duration, bed=bed,
                               bed_duration=_bed_duration(bed, analysis), card_png=card, crops=crops,
                               segment_gains_db=mix.segment_gains_db,
                               meta={"angle": angle.id, "grade": angle.style.grade, "ducking": record["ducking"]})
        record["timings"]["otio_s"] = round(time.perf_counter() - t0, 3)
        cutlist = {"duration": p.duration, "fps": fps, "aspect": p.aspect, "source": str(src), "cuts": shots,
                   "title_card": record["title_card"], "music": record["music"]}
        _write_json(cdir / "cutlist.json", cutlist)
        _write_json(cdir / "record.json", record)
        files = {"trailer.mp4": str(mp4), "trailer.otio": str(otio_path), "cutlist.json": str(cdir / "cutlist.json"),
                 "record.json": str(cdir / "record.json"), "title-card.png": str(card)}
        log.info("trailer.generated", title=analysis.title_id, angle=angle.id, duration=p.duration, aspect=p.aspect,
                 shots=len(plan.cuts), bed=bed.track_id or bed.source, render_s=round(timings["video_s"], 2))
        return record, files


def _shot_scores(sc: AngleScores, pos: int) -> dict[str, float]:
    out = sc.breakdown.shot(pos)
    out["angle_contrast"] = round(float(sc.contrast[pos]), 4)
    out["rival_penalty"] = round(float(sc.penalty[pos]), 4)
    out["final"] = round(float(sc.owned[pos]), 4)
    return out


def _bed_duration(bed: MusicBed, analysis: TitleAnalysis) -> float | None:
    if bed.source == "film score":
        return analysis.duration
    try:
        from ..media.probe import probe_audio

        return float(probe_audio(bed.path).duration)
    except Exception:  # noqa: BLE001 - the OTIO reference simply has no available range then
        return None


def _write_json(path: Path, data: Mapping[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(json.dumps(json.loads(canonical_json(data)), indent=2, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)
