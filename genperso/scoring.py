"""Shot scoring per angle: one small interface shared by the trailer and artwork generators.

A ``Scorer`` maps (title analysis, angle) to one score per shot, roughly 0..1, plus an
``evidence`` mask saying on which shots it actually has something to say (a transcript scorer
knows nothing about a silent shot). ``combined_scores`` mixes scorers with fixed weights, per
shot, over the scorers that have evidence for that shot.

Normalisation is per title and robust: features become percentile ranks (0..1, ties averaged)
within the title, so "the most kinetic shots of this film" score high for the action angle
whatever the absolute motion level of the film is, and outliers cannot squash everything else.

Default mix (``DEFAULT_WEIGHTS``): features 1.0, transcript similarity 0.5 (on shots with a
transcript), CLIP similarity 0.75 (only when ``settings.clip_model`` is configured, on shots with
a readable keyframe).
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np

from .types import Angle, Shot, TitleAnalysis

__all__ = [
    "Scorer",
    "FeatureScorer",
    "TranscriptScorer",
    "ClipScorer",
    "ScoreBreakdown",
    "combined_scores",
    "score_breakdown",
    "angle_contrast",
    "default_scorers",
    "percentile_ranks",
    "shot_features",
    "FEATURE_NAMES",
    "DEFAULT_WEIGHTS",
]

FEATURE_NAMES: tuple[str, ...] = (
    "motion",
    "faces",
    "face_size",
    "brightness",
    "darkness",
    "colourfulness",
    "audio_energy",
    "calm",
    "speech",
    "sharpness",
    "contrast",
)

# weight of each scorer (by name) in ``combined_scores``
DEFAULT_WEIGHTS: Mapping[str, float] = {"features": 1.0, "transcript": 0.5, "clip": 0.75}


def percentile_ranks(values: Sequence[float] | np.ndarray) -> np.ndarray:
    """Percentile rank of each value within the array, in 0..1 (ties share their mean rank).

    A constant array (no information) maps to 0.5 everywhere; one value maps to 0.5."""
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    n = v.size
    if n == 0:
        return np.zeros(0)
    v = np.where(np.isfinite(v), v, np.nanmin(np.where(np.isfinite(v), v, np.inf)) if np.isfinite(v).any() else 0.0)
    if n == 1 or np.ptp(v) == 0:
        return np.full(n, 0.5)
    order = np.argsort(v, kind="mergesort")
    ranks = np.empty(n)
    ranks[order] = np.arange(n, dtype=np.float64)
    # average ranks over ties
    uniq, inv = np.unique(v, return_inverse=True)
    if uniq.size < n:
        sums = np.bincount(inv, weights=ranks)
        counts = np.bincount(inv)
        ranks = (sums / counts)[inv]
    return ranks / (n - 1)


def _audio_energy_raw(shot: Shot) -> float:
    # loudness dominates; onset density breaks ties between equally loud shots
    return float(max(shot.audio_rms_db, -90.0)) + 2.0 * float(min(shot.onset_density, 10.0))


def shot_features(shots: Sequence[Shot]) -> dict[str, np.ndarray]:
    """Per-title normalised features (percentile ranks, 0..1), keyed by ``FEATURE_NAMES``."""
    if not shots:
        return {k: np.zeros(0) for k in FEATURE_NAMES}
    motion = percentile_ranks([s.motion for s in shots])
    audio = percentile_ranks([_audio_energy_raw(s) for s in shots])
    bright = percentile_ranks([s.brightness for s in shots])
    # faces: count first, largest face area breaks ties (zero faces stay tied at the bottom)
    faces = percentile_ranks([min(max(s.face_count, len(s.faces)), 4) + min(s.max_face_area, 0.99) for s in shots])
    face_size = percentile_ranks([max(s.max_face_area, max((f.area for f in s.faces), default=0.0)) for s in shots])
    return {
        "motion": motion,
        "faces": faces,
        "face_size": face_size,
        "brightness": bright,
        "darkness": 1.0 - bright,
        "colourfulness": percentile_ranks([s.colourfulness for s in shots]),
        "audio_energy": audio,
        "calm": percentile_ranks(-(motion + audio)),
        "speech": percentile_ranks([s.speech_ratio for s in shots]),
        "sharpness": percentile_ranks([np.log1p(max(s.sharpness, 0.0)) for s in shots]),
        "contrast": percentile_ranks([s.contrast for s in shots]),
    }


class Scorer(abc.ABC):
    """Scores every shot of a title for one angle: an array of ``len(analysis.shots)`` in ~0..1."""

    name: ClassVar[str]

    @abc.abstractmethod
    def score_shots(self, analysis: TitleAnalysis, angle: Angle) -> np.ndarray:
        """One score per shot, roughly 0..1 (higher fits the angle better)."""

    def evidence(self, analysis: TitleAnalysis) -> np.ndarray:
        """Boolean mask: shots this scorer has evidence for (others are ignored when mixing)."""
        return np.ones(len(analysis.shots), dtype=bool)

    def revision(self) -> str:
        """What determines this scorer's output (model revision), for asset lineage."""
        return self.name


class FeatureScorer(Scorer):
    """Weighted mix of per-title normalised shot features, weights from ``angle.style.weights``.

    score = 0.5 + sum_f w_f * (rank_f - 0.5) / sum_f |w_f|: 0.5 is neutral, 1 is best possible."""

    name = "features"

    def score_shots(self, analysis: TitleAnalysis, angle: Angle) -> np.ndarray:
        n = len(analysis.shots)
        weights = {k: float(v) for k, v in dict(angle.style.weights).items() if k in FEATURE_NAMES and v}
        if n == 0:
            return np.zeros(0)
        if not weights:
            return np.full(n, 0.5)
        feats = shot_features(analysis.shots)
        total = sum(abs(w) for w in weights.values())
        s = np.full(n, 0.0)
        for k, w in weights.items():
            s += w * (feats[k] - 0.5)
        return np.clip(0.5 + s / total, 0.0, 1.0)


def _angle_text(angle: Angle) -> str:
    kw = ", ".join(angle.keywords)
    return f"{angle.name}. {angle.description}" + (f" Keywords: {kw}." if kw else "")


class TranscriptScorer(Scorer):
    """MiniLM cosine similarity of a shot's transcript to the angle's description and keywords.

    Mapped linearly from cosine 0.05..0.55 to 0..1 (MiniLM's useful range); 0 where a shot has no
    transcript (and those shots carry no evidence)."""

    name = "transcript"
    lo, hi = 0.05, 0.55

    def evidence(self, analysis: TitleAnalysis) -> np.ndarray:
        return np.array([bool(s.transcript.strip()) for s in analysis.shots], dtype=bool)

    def score_shots(self, analysis: TitleAnalysis, angle: Angle) -> np.ndarray:
        mask = self.evidence(analysis)
        out = np.zeros(len(analysis.shots))
        if not mask.any():
            return out  # no model load when there is nothing to compare
        from .models.embed import embed

        texts = [analysis.shots[i].transcript.strip() for i in np.flatnonzero(mask)]
        vecs = embed([_angle_text(angle), *texts])
        cos = vecs[1:] @ vecs[0]
        out[mask] = np.clip((cos - self.lo) / (self.hi - self.lo), 0.0, 1.0)
        return out

    def revision(self) -> str:
        from .models.embed import get_embedder

        return get_embedder().revision


class ClipScorer(Scorer):
    """CLIP image-text similarity of each shot's keyframes to the angle description.

    Uses the local CLIP model dir (``settings.clip_model`` or ``model_dir``); keyframe paths are
    relative to ``data_dir`` (default ``settings.data_dir``). Cosines are turned into per-title
    percentile ranks (CLIP's absolute cosine range is narrow and model dependent). Shots without a
    readable keyframe score 0 and carry no evidence."""

    name = "clip"

    def __init__(self, model_dir: str | Path | None = None, data_dir: str | Path | None = None) -> None:
        from .config import get_settings

        s = get_settings()
        self.model_dir = model_dir or s.clip_model
        self.data_dir = Path(data_dir) if data_dir else s.data_dir
        self._cos: dict[tuple[str, str], np.ndarray] = {}

    def _keyframe_paths(self, shot: Shot) -> list[Path]:
        out = []
        for k in shot.keyframes:
            p = Path(k)
            p = p if p.is_absolute() else self.data_dir / p
            if p.is_file():
                out.append(p)
        return out

    def evidence(self, analysis: TitleAnalysis) -> np.ndarray:
        return np.array([bool(self._keyframe_paths(s)) for s in analysis.shots], dtype=bool)

    def raw_similarity(self, analysis: TitleAnalysis, angle: Angle) -> np.ndarray:
        """Mean cosine similarity of each shot's keyframes to the angle text (0 without keyframes)."""
        key = (analysis.content_hash, angle.id)
        if key in self._cos:
            return self._cos[key]
        from .models.clip import get_clip

        model = get_clip(self.model_dir)
        out = np.zeros(len(analysis.shots))
        paths_per_shot = [self._keyframe_paths(s) for s in analysis.shots]
        flat = [p for ps in paths_per_shot for p in ps]
        if flat:
            img = model.encode_images(flat)
            txt = model.encode_texts([_angle_text(angle)])[0]
            cos = img @ txt
            j = 0
            for i, ps in enumerate(paths_per_shot):
                if ps:
                    out[i] = float(np.mean(cos[j : j + len(ps)]))
                    j += len(ps)
        self._cos[key] = out
        return out

    def score_shots(self, analysis: TitleAnalysis, angle: Angle) -> np.ndarray:
        mask = self.evidence(analysis)
        out = np.zeros(len(analysis.shots))
        if mask.any():
            out[mask] = percentile_ranks(self.raw_similarity(analysis, angle)[mask])
        return out

    def revision(self) -> str:
        from .models.clip import get_clip

        return get_clip(self.model_dir).revision


def default_scorers(data_dir: str | Path | None = None) -> list[Scorer]:
    """Features + transcript similarity, plus CLIP when a local CLIP model is configured."""
    from .config import get_settings

    scorers: list[Scorer] = [FeatureScorer(), TranscriptScorer()]
    if get_settings().clip_model:
        scorers.append(ClipScorer(data_dir=data_dir))
    return scorers


class ScoreBreakdown:
    """Combined scores plus each scorer's own scores (for records and the review UI)."""

    def __init__(self, combined: np.ndarray, parts: dict[str, np.ndarray], weights: dict[str, float],
                 revisions: dict[str, str]) -> None:
        self.combined = combined
        self.parts = parts
        self.weights = weights
        self.revisions = revisions

    def shot(self, i: int) -> dict[str, float]:
        out = {"combined": round(float(self.combined[i]), 4)}
        out.update({k: round(float(v[i]), 4) for k, v in self.parts.items()})
        return out


def score_breakdown(
    analysis: TitleAnalysis,
    angle: Angle,
    scorers: Sequence[Scorer] | None = None,
    weights: Mapping[str, float] | None = None,
) -> ScoreBreakdown:
    """Mix scorers per shot: sum(w_i * s_i) / sum(w_i) over the scorers with evidence for that shot."""
    scorers = list(scorers) if scorers is not None else default_scorers()
    w_map = dict(DEFAULT_WEIGHTS) | dict(weights or {})
    n = len(analysis.shots)
    num = np.zeros(n)
    den = np.zeros(n)
    parts: dict[str, np.ndarray] = {}
    used: dict[str, float] = {}
    revisions: dict[str, str] = {}
    for sc in scorers:
        w = float(w_map.get(sc.name, 1.0))
        s = np.asarray(sc.score_shots(analysis, angle), dtype=np.float64)
        if s.shape != (n,):
            raise ValueError(f"scorer {sc.name!r} returned shape {s.shape}, expected ({n},)")
        ev = np.asarray(sc.evidence(analysis), dtype=bool)
        parts[sc.name] = s
        used[sc.name] = w
        if w <= 0 or not ev.any():
            continue
        num += np.where(ev, w * s, 0.0)
        den += np.where(ev, w, 0.0)
        if sc.name != "features":
            revisions[sc.name] = sc.revision()
    combined = np.where(den > 0, num / np.maximum(den, 1e-12), 0.5)
    return ScoreBreakdown(np.clip(combined, 0.0, 1.0), parts, used, revisions)


def combined_scores(
    analysis: TitleAnalysis,
    angle: Angle,
    scorers: Sequence[Scorer] | None = None,
    weights: Mapping[str, float] | None = None,
) -> np.ndarray:
    """One combined score per shot (0..1). Default scorers: ``default_scorers()``; weights:
    ``DEFAULT_WEIGHTS`` (features 1.0, transcript 0.5, clip 0.75), overridable per scorer name."""
    return score_breakdown(analysis, angle, scorers, weights).combined


def angle_contrast(analysis: TitleAnalysis, angle: Angle, angles: Sequence[Angle]) -> np.ndarray:
    """How much better each shot fits ``angle`` than the angles that compete for the same shots,
    as per-title percentile ranks 0..1: own feature score minus the average of the other angles'
    scores weighted by how positively they correlate with this angle's on this title (unrelated
    angles do not count). Mixing this in keeps cuts for neighbouring angles (romance vs mystery,
    comedy vs family) from converging on the same generally-good shots."""
    n = len(analysis.shots)
    fs = FeatureScorer()
    others = [fs.score_shots(analysis, a) for a in angles if a.id != angle.id]
    if n < 2 or not others:
        return np.full(n, 0.5)
    own = fs.score_shots(analysis, angle)
    corr = np.array([float(np.corrcoef(own, o)[0, 1]) if np.std(o) > 0 and np.std(own) > 0 else 0.0 for o in others])
    w = np.clip(np.nan_to_num(corr), 0.0, None) ** 2  # the closest rivals count most
    if w.sum() <= 1e-9:
        return percentile_ranks(own)
    return percentile_ranks(own - np.tensordot(w / w.sum(), np.asarray(others), axes=1))
