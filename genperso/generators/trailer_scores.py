"""Per-angle shot scores for trailer selection, with shot "ownership" between angles.

``final`` (per angle) mixes how well a shot fits the angle with how much better it fits this angle
than its correlated neighbours (``angle_contrast``). That alone still lets two angles converge on
the same generally-good shots (romance/drama, comedy/family on Big Buck Bunny: 56% of shots in
common). Ownership settles contested shots: when another angle ranks a shot higher *within its own
ranking* (percentile) than this angle does, this angle's score for the shot drops, fully once the
rank gap reaches ``RANK_GAP``. Every angle applies the same rule, so a shot several angles like
goes to the one it is most distinctive for, each angle keeps the shots it ranks highest of all,
and it falls back to contested shots only when its own run out (the penalty is a score offset,
not an exclusion, so duration, beats, structure and the spoiler guard are planned as before).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..scoring import Scorer, angle_contrast, percentile_ranks, score_breakdown
from ..types import Angle, TitleAnalysis

__all__ = ["AngleScores", "angle_scores", "rival_penalty", "RANK_GAP"]

RANK_GAP = 0.1  # a rival ranking a shot this much higher (percentile) claims it fully


@dataclass(frozen=True)
class AngleScores:
    breakdown: Any  # scoring.ScoreBreakdown of the requested angle
    contrast: np.ndarray  # angle_contrast of the requested angle
    final: np.ndarray  # fit + distinctiveness, before ownership
    penalty: np.ndarray  # ownership penalty 0..1 (another angle ranks the shot higher)
    owned: np.ndarray  # final - ownership_weight * penalty: what the planner uses


def _final(analysis: TitleAnalysis, angle: Angle, angles: Sequence[Angle], scorers: Sequence[Scorer],
           distinct_weight: float) -> tuple[Any, np.ndarray, np.ndarray]:
    bd = score_breakdown(analysis, angle, scorers)
    contrast = angle_contrast(analysis, angle, list(angles))
    # contrast only counts in proportion to how well the shot fits the angle at all, so a
    # neighbour's liking for the same shots cannot invert the angle's own preference
    final = (1.0 - distinct_weight) * bd.combined + distinct_weight * contrast * percentile_ranks(bd.combined)
    return bd, contrast, final


def rival_penalty(finals: Mapping[str, np.ndarray], angle_id: str, tau: float = RANK_GAP) -> np.ndarray:
    """Per shot, ``min(1, max over rival angles b of (rank_b - rank_a) / tau)`` clipped at 0, with
    ranks the per-angle percentile ranks 0..1 of ``finals``: how strongly another angle claims it.

    Only shots this angle ranks high can be contested in practice (a rival ranking a shot higher
    than a top shot of ours must like it even more); shots a rival likes less are never penalised,
    so opposite angles (action vs romance) leave each other's selections alone."""
    own = np.asarray(finals[angle_id], dtype=np.float64)
    pen = np.zeros(own.size)
    if own.size < 2 or np.std(own) <= 0:
        return pen
    rank = percentile_ranks(own)
    for other_id, other in finals.items():
        other = np.asarray(other, dtype=np.float64)
        if other_id == angle_id or np.std(other) <= 0:
            continue
        pen = np.maximum(pen, np.clip((percentile_ranks(other) - rank) / max(tau, 1e-6), 0.0, 1.0))
    return pen


def angle_scores(analysis: TitleAnalysis, angle: Angle, angles: Sequence[Angle], scorers: Sequence[Scorer], *,
                 distinct_weight: float, ownership_weight: float) -> AngleScores:
    """Scores of ``angle``'s shots; ``angles`` is the catalogue the rivals come from."""
    bd, contrast, final = _final(analysis, angle, angles, scorers, distinct_weight)
    rivals = [a for a in angles if a.id != angle.id]
    if ownership_weight <= 0 or not rivals or len(analysis.shots) < 2:
        return AngleScores(bd, contrast, final, np.zeros(final.size), final)
    finals = {angle.id: final}
    for a in rivals:
        finals[a.id] = _final(analysis, a, angles, scorers, distinct_weight)[2]
    pen = rival_penalty(finals, angle.id)
    return AngleScores(bd, contrast, final, pen, final - ownership_weight * pen)
