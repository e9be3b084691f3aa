"""Which frames become artwork: per-angle scoring of full-resolution frames, diverse picks.

Two stages keep the work small. Shots are first ranked by the shared shot scorers
(``genperso.scoring.score_breakdown``: angle-weighted features, transcript, CLIP when set up);
black, blank and very short shots are dropped, and one safe time per shot is chosen (an analysis
keyframe time away from the shot's boundaries and fades). When the analysis keyframes (<= 640 px
JPEGs under ``data_dir``) are on disk, the shortlist's keyframes are scored on those and only
the picks plus two spares are decoded at full resolution and re-scored there. Otherwise the
whole shortlist is decoded: only a shortlist of shots
(``2 x candidates + 2``) is decoded at full resolution, each at the sharpest frame within
+-0.2 s of its time; a time moves (inside the shot's safe range, by at most 1.5 s) to shortly
after a video key frame when that is near, so a seek decodes a few frames, not a whole GOP.
Each frame then gets frame-level terms (see :func:`frame_score`) and the final picks are greedy: best score first, never two from the same shot unless allowed, and a
penalty for colour histograms too close to an already picked frame.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..types import Angle, FaceBox, Shot, TitleAnalysis
from .artwork_frames import (
    ExtractedFrame,
    FrameMetrics,
    extract_frames,
    histogram_similarity,
    measure_frame,
    snap_to_keyframe,
    video_keyframe_times,
)

__all__ = ["FramePick", "safe_times", "frame_score", "select_frames", "FRAME_FEATURES", "MIN_ACUTANCE"]

FRAME_FEATURES = ("brightness", "darkness", "colourfulness", "contrast", "sharpness", "faces", "face_size")
MIN_ACUTANCE = 0.003  # Laplacian variance / luma variance (720 lines) below which a frame is blurred
_MIN_SHOT = 0.4


@dataclass(frozen=True)
class FramePick:
    shot_index: int
    time: float
    frame: ExtractedFrame
    metrics: FrameMetrics
    faces: tuple[FaceBox, ...]
    score: float
    terms: Mapping[str, float] = field(default_factory=dict)
    pinned: bool = False


def _safe_range(shot: Shot) -> tuple[float, float]:
    d = shot.duration
    head = min(0.8, 0.3 * d) if shot.transition_in == "fade" else min(0.4, 0.2 * d)
    tail = min(0.4, 0.2 * d)
    return shot.start + head, shot.end - tail


def safe_times(shot: Shot, n: int = 1) -> list[float]:
    """Up to ``n`` times inside ``shot`` away from its boundaries (more after a fade-in)."""
    d = shot.duration
    lo, hi = _safe_range(shot)
    inside = [t for t in shot.keyframe_times if lo <= t <= hi]
    mid = shot.start + 0.45 * d
    out = sorted(inside, key=lambda t: abs(t - mid))[:n]
    if len(out) < n:
        for t in (mid, shot.start + 0.7 * d, shot.start + 0.25 * d):
            if len(out) >= n:
                break
            if lo <= t <= hi and all(abs(t - o) > 0.3 for o in out):
                out.append(t)
    return out or [shot.start + d / 2]


def _frame_features(m: FrameMetrics, faces: Sequence[FaceBox]) -> dict[str, float]:
    largest = max((f.area for f in faces), default=0.0)
    return {
        "brightness": float(np.clip(m.brightness / 0.75, 0, 1)),
        "darkness": float(np.clip(1.0 - m.brightness / 0.6, 0, 1)),
        "colourfulness": float(np.clip(m.colourfulness / 0.9, 0, 1)),
        "contrast": float(np.clip(m.contrast / 0.3, 0, 1)),
        "sharpness": float(np.clip(math.log(max(m.acutance, 1e-6) / MIN_ACUTANCE) / math.log(100.0), 0, 1)),
        "faces": min(len(faces), 3) / 3.0,
        "face_size": float(np.clip(math.sqrt(largest) / 0.35, 0, 1)),
    }


def _frame_angle(feats: Mapping[str, float], angle: Angle) -> float:
    weights = {k: float(v) for k, v in dict(angle.style.weights).items() if k in FRAME_FEATURES and v}
    total_w = sum(abs(w) for w in weights.values())
    return 0.5 + sum(w * (feats[k] - 0.5) for k, w in weights.items()) / total_w if total_w else 0.5


def frame_score(shot_score: float, m: FrameMetrics, faces: Sequence[FaceBox], angle: Angle,
                others: Sequence[Angle] = (), distinct_weight: float = 0.0) -> tuple[float, dict[str, float]]:
    """Score one full-resolution frame for an angle; returns (score, terms for the record).

    score = 0.45 shot + 0.4 frame_angle + 0.15 quality, where frame_angle applies the angle's
    weights to the same features measured on this frame, and quality averages sharpness,
    exposure (no crushed blacks/clipped whites), no burned-in text and a face term that rewards
    one to three large faces (expressive close-ups). Blurred frames lose 0.3, frames with
    burned-in text up to 0.5 (0.5 x text_score); black or blank frames are not eligible (-1).

    With ``others`` (the other angles) a ``distinct_weight`` share of frame_angle becomes how
    much better the frame fits this angle than the other angles on average, so generally
    attractive frames do not win every angle."""
    feats = _frame_features(m, faces)
    own = _frame_angle(feats, angle)
    frame_angle = own
    rel = None
    if others and distinct_weight > 0:
        rel = float(np.clip(0.5 + own - float(np.mean([_frame_angle(feats, o) for o in others])), 0, 1))
        frame_angle = (1 - distinct_weight) * own + distinct_weight * rel
    sharp_q = float(np.clip(math.log(max(m.acutance, 1e-6) / MIN_ACUTANCE) / math.log(10.0), 0, 1))
    exposure_q = float(1.0 - np.clip(2.0 * max(0.0, m.crushed - 0.15) + 3.0 * max(0.0, m.clipped - 0.05), 0, 1))
    n = len(faces)
    largest = max((f.area for f in faces), default=0.0)
    face_q = 0.4 if n == 0 else (0.6 + 0.4 * float(np.clip(math.sqrt(largest) / 0.3, 0, 1)) if n <= 3 else 0.5)
    text_q = 1.0 - m.text_score
    quality = (sharp_q + exposure_q + text_q + face_q) / 4.0
    score = 0.45 * shot_score + 0.4 * frame_angle + 0.15 * quality
    if m.acutance < MIN_ACUTANCE:
        score -= 0.3
    score -= 0.5 * m.text_score  # burned-in text (subtitles, credits) all but disqualifies a frame
    if m.is_black or m.is_blank:
        score = -1.0
    terms = {
        "shot": round(shot_score, 4),
        "frame_angle": round(frame_angle, 4),
        "frame_fit": round(own, 4),
        "frame_distinct": round(rel, 4) if rel is not None else None,
        "quality": round(quality, 4),
        "sharpness_q": round(sharp_q, 4),
        "exposure_q": round(exposure_q, 4),
        "text_q": round(text_q, 4),
        "face_q": round(face_q, 4),
        "total": round(score, 4),
    }
    return score, terms


def _merge_faces(detected: Sequence[FaceBox], known: Sequence[FaceBox]) -> tuple[FaceBox, ...]:
    out = list(detected)
    for k in known:
        if all(_iou(k, d) < 0.3 for d in detected):
            out.append(k)
    return tuple(sorted(out, key=lambda b: -b.area))


def _iou(a: FaceBox, b: FaceBox) -> float:
    x0, y0 = max(a.x, b.x), max(a.y, b.y)
    x1, y1 = min(a.x + a.w, b.x + b.w), min(a.y + a.h, b.y + b.h)
    inter = max(0.0, x1 - x0) * max(0.0, y1 - y0)
    union = a.area + b.area - inter
    return inter / union if union > 0 else 0.0


def _keyframe_images(shot: Shot, data_dir: Path | None, limit: int = 2) -> list[tuple[float, Path]]:
    """Analysis keyframes (<= 640 px JPEGs) of ``shot`` inside its safe range, nearest the middle."""
    if data_dir is None or not shot.keyframes:
        return []
    lo, hi = _safe_range(shot)
    mid = shot.start + 0.45 * shot.duration
    out = []
    for rel, t in zip(shot.keyframes, shot.keyframe_times):
        p = Path(rel) if Path(rel).is_absolute() else Path(data_dir) / rel
        if lo <= t <= hi and p.is_file():
            out.append((t, p))
    return sorted(out, key=lambda x: abs(x[0] - mid))[:limit]


def _load_rgb(path: Path) -> np.ndarray | None:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))
    except (OSError, UnidentifiedImageError):
        return None


def _score(si: int, frame: ExtractedFrame, shots: Sequence[Shot], shot_scores: np.ndarray, angle: Angle,
           pinned: bool = False, faces_from: FramePick | None = None, others: Sequence[Angle] = (),
           distinct_weight: float = 0.0) -> FramePick:
    """Measure and score one frame. ``faces_from``: reuse the faces found on the analysis
    keyframe this frame was decoded for (same time +-0.2 s) instead of running Haar again."""
    shot = shots[si]
    m = measure_frame(frame.rgb, faces=faces_from is None)
    known = shot.faces if shot.keyframe_times and abs(frame.time - shot.keyframe_times[0]) <= 0.3 else ()
    faces = _merge_faces(faces_from.faces if faces_from is not None else m.faces, known)
    ss = float(shot_scores[si]) if si < len(shot_scores) else 0.5
    score, terms = frame_score(ss, m, faces, angle, others, distinct_weight)
    return FramePick(si, frame.time, frame, m, faces, score, terms, pinned)


def _greedy(pool: list[FramePick], picks: list[FramePick], n: int, allow_same_shot: bool,
            max_similarity: float) -> list[FramePick]:
    """Add picks best-first: eligible score, shot rule, colour-histogram diversity penalty."""
    pool = list(pool)
    picks = list(picks)
    while len(picks) < n and pool:
        best, best_val = None, -math.inf
        for p in pool:
            if p.score < -0.5:
                continue
            if not allow_same_shot and any(q.shot_index == p.shot_index for q in picks):
                continue
            sim = max((histogram_similarity(p.metrics.histogram, q.metrics.histogram) for q in picks), default=0.0)
            val = p.score - (0.5 * (sim - max_similarity) / (1 - max_similarity) if sim > max_similarity else 0.0)
            if val > best_val:
                best, best_val = p, val
        if best is None:
            break
        picks.append(best)
        pool.remove(best)
    return picks


def select_frames(
    analysis: TitleAnalysis,
    angle: Angle,
    source: Path,
    n: int,
    *,
    shot_scores: np.ndarray,
    allow_same_shot: bool = False,
    pinned_shot: int | None = None,
    pinned_time: float | None = None,
    max_similarity: float = 0.9,
    data_dir: Path | None = None,
    spoiler_guard: float = 0.0,
    others: Sequence[Angle] = (),
    distinct_weight: float = 0.0,
) -> tuple[list[FramePick], dict[str, object]]:
    """Pick up to ``n`` frames (fewer if the title has fewer usable shots). Returns picks, diagnostics.

    With the analysis keyframes on disk (``data_dir``), frames are pre-ranked on those small
    JPEGs and only the picks (plus a few spares) are decoded at full resolution and re-checked;
    otherwise the whole shortlist is decoded at full resolution. Shots whose middle lies in the
    last ``spoiler_guard`` share of the title (endings, end credits) are not used unless pinned."""
    shots = analysis.shots
    cutoff = analysis.duration * (1.0 - spoiler_guard) if spoiler_guard > 0 else math.inf
    usable = [s for s in shots if not s.is_black and not s.is_blank and s.duration >= _MIN_SHOT
              and (s.start + s.end) / 2 <= cutoff]
    if not usable:
        usable = [s for s in shots if not s.is_black and (s.start + s.end) / 2 <= cutoff] or list(shots)
    order = sorted(usable, key=lambda s: -float(shot_scores[s.index]) if s.index < len(shot_scores) else 0.0)
    per_shot = 2 if allow_same_shot else 1
    shortlist = order[: max(2 * n + 2, n + 2)]

    picks: list[FramePick] = []
    decoded = 0
    if pinned_time is not None or pinned_shot is not None:
        if pinned_time is not None:
            si = next((s.index for s in shots if s.start <= pinned_time < s.end), shots[-1].index)
            t = float(pinned_time)
        else:
            si = int(pinned_shot)  # type: ignore[arg-type]
            t = safe_times(shots[si])[0]
        frame = extract_frames(source, [t], sharpest=pinned_time is None)[0]
        decoded += 1
        picks.append(_score(si, frame, shots, shot_scores, angle, pinned=True, others=others,
                            distinct_weight=distinct_weight))

    keyframes = video_keyframe_times(source) if Path(source).is_file() else ()
    prescored: list[FramePick] = []
    if data_dir is not None:
        for s in shortlist:
            for t, path in _keyframe_images(s, data_dir, limit=per_shot):
                rgb = _load_rgb(path)
                if rgb is not None:
                    prescored.append(_score(s.index, ExtractedFrame(t, t, rgb), shots, shot_scores, angle,
                                            others=others, distinct_weight=distinct_weight))
    mode = "analysis-keyframes" if prescored else "full-resolution"
    if prescored:
        # rank on the small keyframes, then decode the winners (and spares) at full resolution
        ranked = _greedy(prescored, picks, min(len(prescored), n + 2 + len(picks)), allow_same_shot, max_similarity)
        wanted = [p for p in ranked if not p.pinned]
        frames = extract_frames(source, [p.time for p in wanted], sharpest=True)
        decoded += len(frames)
        pool = [_score(p.shot_index, f, shots, shot_scores, angle, faces_from=p, others=others,
                       distinct_weight=distinct_weight) for p, f in zip(wanted, frames)]
    else:
        requests: list[tuple[int, float]] = []
        for s in shortlist:
            lo, hi = _safe_range(s)
            for t in safe_times(s, per_shot):
                requests.append((s.index, snap_to_keyframe(t, lo, hi, keyframes)))
        frames = extract_frames(source, [r[1] for r in requests], sharpest=True)
        decoded += len(frames)
        pool = [_score(si, f, shots, shot_scores, angle, others=others, distinct_weight=distinct_weight)
                for (si, _), f in zip(requests, frames)]
    picks = _greedy(pool, picks, n, allow_same_shot, max_similarity)
    diag = {
        "mode": mode,
        "shots_usable": len(usable),
        "spoiler_guard": spoiler_guard,
        "frames_prescored": len(prescored),
        "frames_decoded": decoded,
        "shortlist": [s.index for s in shortlist],
    }
    return picks, diag
