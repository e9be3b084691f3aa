"""Which angles a title can carry: a support score 0..1 per angle from its analysis and genres.

Feature support scores every (non-black) shot with the angle's style weights on normalised shot
features — calm face-rich shots score high for romance/drama, high motion with loud audio for
action, dark shots for suspense/mystery, bright colourful shots for comedy/family/spectacle — and
takes the duration-weighted 80th percentile (the score at least 20 % of the film reaches: a trailer
or an artwork needs enough supporting material, not one lucky frame). Genre support is 1.0 when a
title genre belongs to the angle's genres and 0.15 otherwise. With an analysis the two are mixed
(0.6 feature, 0.4 genre); without one, metadata alone decides; with neither, every angle gets 0.5.
Angles under their ``min_support`` are ineligible; ``eligible_ids`` never returns an empty set.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from ..types import Shot, TitleAnalysis, TitleInfo
from .catalog import AngleCatalog

__all__ = ["shot_features", "feature_support", "genre_support", "eligibility", "eligible_ids",
           "FEATURE_SHARE", "GENRE_MISS"]

FEATURE_SHARE = 0.6
GENRE_MISS = 0.15
QUANTILE = 0.8
NEUTRAL = 0.5
TECHNICAL = frozenset({"sharpness"})  # image quality, not mood: ranks shots, does not decide eligibility


def _clip(v: float) -> float:
    return 0.0 if math.isnan(v) else max(0.0, min(1.0, v))


def shot_features(shot: Shot) -> dict[str, float]:
    """Shot features normalised to 0..1, with the keys used by ``AngleStyle.weights``."""
    motion = _clip(shot.motion / 0.12)
    return {
        "motion": motion,
        "calm": 1.0 - motion,
        "faces": 1.0 if shot.face_count > 0 or shot.faces else 0.0,
        "face_size": _clip(shot.max_face_area / 0.08),
        "brightness": _clip((shot.brightness - 0.4) / 0.4),
        "darkness": _clip((0.45 - shot.brightness) / 0.3),
        "colourfulness": _clip((shot.colourfulness - 0.15) / 0.5),
        "audio_energy": _clip((shot.audio_rms_db + 45.0) / 30.0),
        "speech": _clip(shot.speech_ratio),
        "sharpness": _clip(math.log1p(max(shot.sharpness, 0.0)) / math.log1p(1000.0)),
        "contrast": _clip(shot.contrast / 0.3),
    }


def _shot_score(feats: Mapping[str, float], weights: Mapping[str, float]) -> float:
    weights = {k: w for k, w in weights.items() if k not in TECHNICAL}
    pos = sum(w for w in weights.values() if w > 0)
    if pos <= 0:
        return 0.0
    return sum(w * feats.get(k, 0.0) for k, w in weights.items()) / pos


def feature_support(analysis: TitleAnalysis, angles: AngleCatalog) -> dict[str, float] | None:
    shots = [s for s in analysis.shots if not (s.is_black or s.is_blank) and s.duration > 0]
    if not shots:
        return None
    feats = [shot_features(s) for s in shots]
    durations = np.array([s.duration for s in shots], dtype=np.float64)
    order_cache: dict[str, float] = {}
    for angle in angles:
        scores = np.array([_shot_score(f, angle.style.weights) for f in feats])
        order = np.argsort(-scores)
        cum = np.cumsum(durations[order]) / durations.sum()
        idx = int(np.searchsorted(cum, 1.0 - QUANTILE - 1e-12))
        order_cache[angle.id] = _clip(float(scores[order[min(idx, len(order) - 1)]]))
    return order_cache


def genre_support(title: TitleInfo, angles: AngleCatalog) -> dict[str, float] | None:
    genres = {g.strip().lower() for g in title.genres if g.strip()}
    if not genres:
        return None
    return {a.id: 1.0 if genres & {g.lower() for g in a.genres} else GENRE_MISS for a in angles}


def eligibility(analysis: TitleAnalysis | None, title: TitleInfo, angles: AngleCatalog) -> dict[str, float]:
    """Support 0..1 per angle id; an angle is eligible when support >= its ``min_support``."""
    feat = feature_support(analysis, angles) if analysis is not None else None
    gen = genre_support(title, angles)
    out: dict[str, float] = {}
    for a in angles:
        if feat is not None and gen is not None:
            v = FEATURE_SHARE * feat[a.id] + (1.0 - FEATURE_SHARE) * gen[a.id]
        elif feat is not None:
            v = feat[a.id]
        elif gen is not None:
            v = gen[a.id]
        else:
            v = NEUTRAL
        out[a.id] = round(float(v), 4)
    return out


def eligible_ids(support: Mapping[str, float], angles: AngleCatalog) -> tuple[str, ...]:
    """Angles at or above their floor; if none is, the best-supported ones (never empty)."""
    ok = tuple(a.id for a in angles if support.get(a.id, 0.0) >= a.min_support)
    if ok:
        return ok
    best = max(support.get(a.id, 0.0) for a in angles)
    return tuple(a.id for a in angles if support.get(a.id, 0.0) >= best - 1e-9)
