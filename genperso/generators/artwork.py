"""Personalized artwork per angle: chosen frames, smart crops, graded, titled, in every format.

For one (title version, angle) the generator picks ``candidates`` frames (see
``artwork_select``), and renders each in the formats of ``artwork_crop.FORMATS`` (16:9 hero,
2:3 poster, 1:1 tile, 9:16 mobile story) as JPEG and WebP, with a ``record.json`` per candidate
(source timecode, crop boxes, scores, upscale flag and factor, measured title contrast, grade,
model revisions). Candidates are ranked best first so the safety gate can fall back to the next.

Parameters (``request.params``): ``candidates`` (default 4, 1..settings.max_candidates),
``formats`` (subset of hero/poster/tile/mobile, or their aspect labels 16:9/2:3/1:1/9:16), ``allow_same_shot`` (default False),
``pinned_shot`` / ``pinned_time`` (candidate 1 uses that shot / exact time), ``restyle``
(img2img strength for the optional diffusion stage; only when ``settings.diffusion_model`` is set),
``spoiler_guard`` (default 0.1: the last 10 % of the title, ending and end credits, is never
used; ``allow_spoilers`` sets it to 0), ``restyle_steps`` (default 20) and ``safety_profile`` (profile the generated pixels are
checked against: default the request's ``maturity`` if given, else the strictest, "kids").
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ..config import get_settings
from ..errors import InvalidInput
from ..logs import get_logger
from ..media.grade import GRADE_VERSION, apply_grade
from ..types import FaceBox
from .artwork_crop import FORMATS, CropBox, choose_crop, face_cut, resize_to, saliency_map
from .artwork_frames import timecode
from .artwork_select import FramePick, select_frames
from .artwork_text import render_title
from .base import Candidate, GenerationOutput, GenerationRequest, Generator, GeneratorConfig, register

__all__ = ["ArtworkConfig", "ArtworkGenerator", "ArtworkParams", "parse_params", "faces_in_crop"]

log = get_logger(__name__)


@dataclass(frozen=True)
class ArtworkConfig(GeneratorConfig):
    jpeg_quality: int = 90
    webp_quality: int = 82
    webp_method: int = 1  # 0..6 (speed vs size); 1 is the fastest encoder at about the same size
    grade_strength: float = 1.0  # same full look as the trailer's lut3d (lut3d_filter default)
    max_similarity: float = 0.9  # colour-histogram similarity above which picks are penalised
    # share of the shot score that is "fits this angle better than its neighbouring angles"
    # (scoring.angle_contrast), so comedy and family, say, do not converge on one frame
    distinct_weight: float = 0.7  # as the trailer's; applies to shot scores and frame fit


@dataclass(frozen=True)
class ArtworkParams:
    candidates: int = 4
    formats: tuple[str, ...] = tuple(FORMATS)
    allow_same_shot: bool = False
    pinned_shot: int | None = None
    pinned_time: float | None = None
    restyle: float | None = None
    safety_profile: str = "kids"  # profile generated pixels are checked against (strictest by default)
    restyle_steps: int = 20
    spoiler_guard: float = 0.1  # share of the title's end (ending, credits) artwork never uses


def parse_params(params: Mapping[str, Any], n_shots: int, duration: float) -> ArtworkParams:
    """Validate ``request.params``; anything wrong -> InvalidInput naming the field."""
    limit = get_settings().max_candidates
    raw = params.get("candidates", 4)
    if isinstance(raw, bool) or not isinstance(raw, (int, np.integer)):
        try:
            if isinstance(raw, bool) or float(raw) != int(raw):
                raise ValueError
            raw = int(raw)
        except (TypeError, ValueError):
            raise InvalidInput(f"candidates must be an integer, got {raw!r}", field="candidates") from None
    if not (1 <= int(raw) <= limit):
        raise InvalidInput(f"candidates must be between 1 and {limit}, got {raw}", field="candidates")
    formats = params.get("formats") or tuple(FORMATS)
    if isinstance(formats, str):
        formats = [f.strip() for f in formats.split(",") if f.strip()]
    by_label = {label: name for name, (_, _, label) in FORMATS.items()}
    formats = [by_label.get(f, f) if isinstance(f, str) else f for f in formats]  # "16:9" -> "hero"
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        raise InvalidInput(f"unknown artwork format(s) {bad}; known: {', '.join(FORMATS)} "
                           f"({', '.join(by_label)})", field="formats")
    pinned_shot = params.get("pinned_shot")
    if pinned_shot is not None:
        if isinstance(pinned_shot, bool) or not isinstance(pinned_shot, (int, np.integer)) or not (0 <= pinned_shot < n_shots):
            raise InvalidInput(f"pinned_shot must be a shot index 0..{n_shots - 1}, got {pinned_shot!r}", field="pinned_shot")
    pinned_time = params.get("pinned_time")
    if pinned_time is not None:
        try:
            pinned_time = float(pinned_time)
        except (TypeError, ValueError):
            raise InvalidInput(f"pinned_time must be seconds, got {pinned_time!r}", field="pinned_time") from None
        if not (0.0 <= pinned_time < duration) or not np.isfinite(pinned_time):
            raise InvalidInput(f"pinned_time must be within 0..{duration:.3f} s, got {pinned_time}", field="pinned_time")
    restyle = params.get("restyle")
    if restyle is not None:
        try:
            restyle = float(restyle)
        except (TypeError, ValueError):
            raise InvalidInput(f"restyle must be a strength in (0, 1], got {restyle!r}", field="restyle") from None
        if not (0.0 < restyle <= 1.0):
            raise InvalidInput(f"restyle strength must be in (0, 1], got {restyle}", field="restyle")
    steps = params.get("restyle_steps", 20)
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or not (1 <= int(steps) <= 100):
        raise InvalidInput(f"restyle_steps must be an integer 1..100, got {steps!r}", field="restyle_steps")
    guard = params.get("spoiler_guard", 0.1)
    try:
        guard = float(guard)
    except (TypeError, ValueError):
        raise InvalidInput(f"spoiler_guard must be a fraction 0..0.5, got {guard!r}", field="spoiler_guard") from None
    if not (0.0 <= guard <= 0.5):
        raise InvalidInput(f"spoiler_guard must be a fraction 0..0.5, got {guard}", field="spoiler_guard")
    if params.get("allow_spoilers"):
        guard = 0.0
    profile = str(params.get("safety_profile") or (params.get("maturity") if params.get("maturity") in
                                                    ("kids", "teen", "adult") else "kids"))
    if profile not in ("kids", "teen", "adult"):
        raise InvalidInput(f"safety_profile must be kids, teen or adult, got {profile!r}", field="safety_profile")
    return ArtworkParams(
        safety_profile=profile,
        restyle_steps=int(steps),
        spoiler_guard=guard,
        candidates=int(raw),
        formats=tuple(dict.fromkeys(formats)),
        allow_same_shot=bool(params.get("allow_same_shot", False)),
        pinned_shot=int(pinned_shot) if pinned_shot is not None else None,
        pinned_time=pinned_time,
        restyle=restyle,
    )


def faces_in_crop(faces: tuple[FaceBox, ...], box: CropBox, fw: int, fh: int) -> tuple[FaceBox, ...]:
    """Faces entirely inside ``box``, re-expressed relative to the crop (normalised)."""
    out = []
    for f in faces:
        x0, y0, x1, y1 = f.x * fw, f.y * fh, (f.x + f.w) * fw, (f.y + f.h) * fh
        if box.contains(x0, y0, x1, y1, tol=1.0):
            out.append(FaceBox((x0 - box.x) / box.w, (y0 - box.y) / box.h, (x1 - x0) / box.w, (y1 - y0) / box.h))
    return tuple(out)


def _save(img: np.ndarray, path: Path, kind: str, cfg: ArtworkConfig) -> None:
    """Encode to a temp file beside ``path`` and rename: never a half-written image."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        pil = Image.fromarray(img)
        if kind == "jpg":
            pil.save(tmp, "JPEG", quality=cfg.jpeg_quality, optimize=False, progressive=False, subsampling="4:2:0")
        else:
            pil.save(tmp, "WEBP", quality=cfg.webp_quality, method=cfg.webp_method)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@register
class ArtworkGenerator(Generator):
    name = "artwork"
    version = "1.0"
    kind = "artwork"
    config_cls = ArtworkConfig

    def model_revisions(self) -> Mapping[str, str]:
        from ..models.diffusion import diffusion_revision

        rev = diffusion_revision()
        return {"diffusion": rev} if rev else {}

    def generate(self, request: GenerationRequest) -> GenerationOutput:
        cfg: ArtworkConfig = self.config  # type: ignore[assignment]
        t0 = time.perf_counter()
        analysis, title = request.analysis, request.title
        if analysis is None or not analysis.shots:
            raise InvalidInput("artwork needs a title analysis with at least one shot", field="analysis")
        if title is None or not title.name.strip():
            raise InvalidInput("artwork needs the title's name", field="title")
        if request.source_path is None:
            raise InvalidInput("artwork needs the title version's media file (source_path)", field="source_path")
        params = parse_params(request.params, len(analysis.shots), analysis.duration)
        angle = request.angle
        out_dir = Path(request.out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)

        restyler = None
        if params.restyle is not None:
            from ..models.diffusion import get_diffusion

            restyler = get_diffusion()  # InvalidInput when no model is configured (before any work)

        from ..angles.catalog import load_angles
        from ..scoring import angle_contrast, default_scorers, score_breakdown

        breakdown = score_breakdown(analysis, angle, default_scorers(request.data_dir))
        all_angles = list(load_angles())
        contrast = angle_contrast(analysis, angle, all_angles)
        shot_scores = (1.0 - cfg.distinct_weight) * breakdown.combined + cfg.distinct_weight * contrast
        t_score = time.perf_counter()
        picks, diag = select_frames(
            analysis,
            angle,
            Path(request.source_path),
            params.candidates,
            shot_scores=shot_scores,
            allow_same_shot=params.allow_same_shot,
            pinned_shot=params.pinned_shot,
            pinned_time=params.pinned_time,
            max_similarity=cfg.max_similarity,
            data_dir=Path(request.data_dir) if request.data_dir else get_settings().data_dir,
            spoiler_guard=params.spoiler_guard,
            others=[a for a in all_angles if a.id != angle.id],
            distinct_weight=cfg.distinct_weight,
        )
        if not picks:
            raise InvalidInput(
                f"no usable frame in title {analysis.title_id!r}: every shot is black, blank or too short",
                field="analysis",
            )
        t_select = time.perf_counter()

        revisions = dict(breakdown.revisions) | dict(self.model_revisions())
        candidates: list[Candidate] = []
        writes: list[tuple[np.ndarray, Path, str]] = []
        for rank, pick in enumerate(picks, start=1):
            cand_dir = out_dir / f"candidate-{rank:02d}"
            cand_dir.mkdir(parents=True, exist_ok=True)
            record, files, jobs = self._render(pick, rank, cand_dir, params, request, cfg, breakdown, restyler)
            record["scores"]["shot_scorers"]["angle_contrast"] = round(float(contrast[pick.shot_index]), 4)
            record["model_revisions"] = revisions
            record["selection"] = diag
            writes.extend(jobs)
            candidates.append(Candidate(rank=rank, score=round(pick.score, 4), files=files, record=record))
        with ThreadPoolExecutor(max_workers=2) as pool:  # Pillow encoders release the GIL
            list(pool.map(lambda j: _save(j[0], j[1], j[2], cfg), writes))
        for cand in candidates:
            rec_path = Path(cand.files["record.json"])
            _write_json(rec_path, cand.record)
        t_end = time.perf_counter()
        timings = {
            "score_s": round(t_score - t0, 3),
            "select_s": round(t_select - t_score, 3),
            "render_s": round(t_end - t_select, 3),
            "total_s": round(t_end - t0, 3),
        }
        log.info("artwork generated", title=analysis.title_id, angle=angle.id, candidates=len(candidates), **timings)
        return GenerationOutput(self.name, self.version, tuple(candidates), revisions, timings)

    def _render(
        self,
        pick: FramePick,
        rank: int,
        cand_dir: Path,
        params: ArtworkParams,
        request: GenerationRequest,
        cfg: ArtworkConfig,
        breakdown: Any,
        restyler: Any,
    ) -> tuple[dict[str, Any], dict[str, str], list[tuple[np.ndarray, Path, str]]]:
        angle, title = request.angle, request.title
        assert title is not None and request.analysis is not None
        rgb = pick.frame.rgb
        generative: dict[str, Any] | None = None
        if restyler is not None and params.restyle is not None:
            styled, generative = restyler.restyle(rgb, angle, strength=params.restyle, seed=request.seed + rank,
                                                  steps=params.restyle_steps, safety_profile=params.safety_profile)
            # generated pixels the safety check blocks are discarded: the real frame is used
            generative["used"] = generative["safety"].get("decision") != "block"
            if generative["used"]:
                rgb = styled
        fh, fw = rgb.shape[:2]
        graded = apply_grade(rgb, angle.style.grade, cfg.grade_strength)
        sal = saliency_map(rgb)
        files: dict[str, str] = {}
        jobs: list[tuple[np.ndarray, Path, str]] = []
        formats: dict[str, Any] = {}
        for fmt in params.formats:
            w, h, label = FORMATS[fmt]
            crop = choose_crop(fw, fh, pick.faces, sal, w / h)
            img, upscaled, factor = resize_to(graded, crop.box, (w, h))
            inner = faces_in_crop(pick.faces, crop.box, fw, fh)
            img, treat = render_title(img, title.name, angle.style, inner)
            entry: dict[str, Any] = {
                "format": label,
                "width": w,
                "height": h,
                "crop": crop.box.as_list(),
                "zoom": crop.zoom,
                "upscaled": upscaled,
                "upscale_factor": round(factor, 3),
                "faces_in_crop": crop.faces_in,
                "faces_total": crop.faces_total,
                "faces_cut": face_cut(crop.box, pick.faces, fw, fh),
                "saliency_kept": round(crop.saliency_kept, 4),
                "thirds": round(crop.thirds, 4),
                "title": treat.to_dict(),
                "contrast_ratio": round(treat.contrast_ratio, 2),
                "files": {},
            }
            for ext in ("jpg", "webp"):
                path = cand_dir / f"{fmt}.{ext}"
                files[f"{fmt}.{ext}"] = str(path.resolve())
                entry["files"][ext] = str(path.resolve())
                jobs.append((img, path, ext))
            formats[fmt] = entry
        analysis = request.analysis
        record: dict[str, Any] = {
            "kind": "artwork",
            "title_id": analysis.title_id,
            "title_version": analysis.version,
            "content_hash": analysis.content_hash,
            "angle": angle.id,
            "rank": rank,
            "score": round(pick.score, 4),
            "source": {
                "shot_index": pick.shot_index,
                "time": round(pick.time, 3),
                "timecode": timecode(pick.time),
                "requested_time": round(pick.frame.requested, 3),
                "width": int(pick.frame.rgb.shape[1]),
                "height": int(pick.frame.rgb.shape[0]),
                "pinned": pick.pinned,
                "faces": [f.to_dict() for f in pick.faces],
            },
            "scores": dict(pick.terms) | {"shot_scorers": breakdown.shot(pick.shot_index)},
            "frame": pick.metrics.summary(),
            "grade": {"look": angle.style.grade, "strength": cfg.grade_strength, "version": GRADE_VERSION},
            "formats": formats,
            "seed": request.seed,
            "generative": generative,
            # generated pixels must pass the image safety gate like any other candidate
            "safety": {
                "requires_image_check": True,
                "generative": bool(generative and generative.get("used")),
                "generated_pixels_check": generative["safety"] if generative else None,
            },
        }
        files["record.json"] = str((cand_dir / "record.json").resolve())
        return record, files, jobs


def _write_json(path: Path, data: Mapping[str, Any]) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".record-", suffix=".json", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2, sort_keys=True, default=_json_default)
    os.replace(tmp, path)


def _json_default(o: Any) -> Any:
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
