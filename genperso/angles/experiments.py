"""A/B experiments and shadow mode for angle policies.

* ``assign_variant``: deterministic hash bucketing (sha256 of experiment and user id) into weighted
  variants; the same user always lands in the same variant of the same experiment.
* ``Experiment.choose``: routes a request to the variant's policy and logs the variant with the decision.
* ``compare``: per-metric difference of each variant against control with a Welch normal-approx
  confidence interval and a label: ``Winner`` (95 % CI excludes 0), ``Preferred`` (80 % CI excludes
  0, 95 % does not), ``Same`` otherwise; ``better`` names the arm the label favours.
* ``experiment_report``: ``compare`` on logged decisions (reward, click = reward > 0) by variant.
* Shadow mode lives on the policy: ``AnglePolicy(shadow=candidate)`` records the candidate's choice in
  ``AngleDecision.shadow`` and in the decision log, and never changes what is served.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import sqlalchemy as sa

from ..catalog.angles import AngleDecisionRow
from ..catalog.db import session_scope
from ..config import Settings
from ..errors import InvalidInput
from ..types import AngleDecision, Context, UserProfile, validate_id
from .policy import AnglePolicy

__all__ = ["assign_variant", "Experiment", "MetricComparison", "compare", "experiment_report"]


def assign_variant(user_id: str, experiment: str, weights: Mapping[str, float]) -> str:
    if not weights or any((not math.isfinite(w)) or w < 0 for w in weights.values()) or sum(weights.values()) <= 0:
        raise InvalidInput("experiment weights must be non-negative with a positive sum")
    h = hashlib.sha256(f"{experiment}\x00{user_id}".encode()).digest()
    u = int.from_bytes(h[:8], "big") / 2**64 * sum(weights.values())
    acc = 0.0
    names = sorted(weights)
    for name in names:
        acc += weights[name]
        if u < acc:
            return name
    return names[-1]


@dataclass
class Experiment:
    name: str
    variants: Mapping[str, AnglePolicy]
    weights: Mapping[str, float]

    def __post_init__(self) -> None:
        validate_id(self.name, "experiment name")
        if set(self.variants) != set(self.weights):
            raise InvalidInput("experiment variants and weights must name the same arms")
        names = [p.name for p in self.variants.values()]
        if len(set(names)) != len(names):
            raise InvalidInput("each experiment arm needs a policy with its own name (decision ids and stickiness "
                               "are per policy name)")

    def choose(self, user: UserProfile, title_id: str, context: Context, *, now: dt.datetime | None = None
               ) -> AngleDecision:
        arm = assign_variant(user.user_id, self.name, self.weights)
        return self.variants[arm].choose(user, title_id, context, now=now, variant=f"{self.name}/{arm}")


@dataclass(frozen=True)
class MetricComparison:
    metric: str
    variant: str
    control: str
    n_variant: int
    n_control: int
    mean_variant: float
    mean_control: float
    diff: float
    lo: float
    hi: float
    label: str  # Winner | Preferred | Same
    better: str | None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _mean_var(xs: Sequence[float]) -> tuple[float, float]:
    n = len(xs)
    m = sum(xs) / n
    v = sum((x - m) ** 2 for x in xs) / (n - 1) if n > 1 else 0.0
    return m, v


def compare(metrics: Mapping[str, Mapping[str, Sequence[float]]], control: str, *, confidence: float = 0.95,
            preferred_confidence: float = 0.8) -> list[MetricComparison]:
    """``metrics[metric][variant] = samples``; every variant is compared with ``control``."""
    z_hi = NormalDist().inv_cdf(0.5 + confidence / 2)
    z_lo = NormalDist().inv_cdf(0.5 + preferred_confidence / 2)
    out = []
    for metric, arms in metrics.items():
        if control not in arms or len(arms[control]) < 2:
            raise InvalidInput(f"metric {metric!r}: control {control!r} needs at least 2 samples")
        mc, vc = _mean_var(arms[control])
        for variant, xs in sorted(arms.items()):
            if variant == control:
                continue
            if len(xs) < 2:
                raise InvalidInput(f"metric {metric!r}: variant {variant!r} needs at least 2 samples")
            mv, vv = _mean_var(xs)
            se = math.sqrt(vv / len(xs) + vc / len(arms[control]))
            diff = mv - mc
            if se == 0:
                label, better = ("Same", None) if diff == 0 else ("Winner", variant if diff > 0 else control)
            elif abs(diff) > z_hi * se:
                label, better = "Winner", variant if diff > 0 else control
            elif abs(diff) > z_lo * se:
                label, better = "Preferred", variant if diff > 0 else control
            else:
                label, better = "Same", None
            out.append(MetricComparison(metric, variant, control, len(xs), len(arms[control]), mv, mc, diff,
                                        diff - z_hi * se, diff + z_hi * se, label, better))
    return out


def experiment_report(experiment: str, control: str, settings: Settings | None = None) -> list[MetricComparison]:
    """Compare the arms of a logged experiment on reward and click rate (decisions with feedback)."""
    validate_id(experiment, "experiment name")
    from .decision_log import flush_decision_log

    flush_decision_log(settings)
    metrics: dict[str, dict[str, list[float]]] = {"reward": defaultdict(list), "click": defaultdict(list)}
    with session_scope(settings) as s:
        q = sa.select(AngleDecisionRow.variant, AngleDecisionRow.reward).where(
            AngleDecisionRow.variant.like(f"{experiment}/%"), AngleDecisionRow.reward.is_not(None))
        for variant, reward in s.execute(q):
            arm = variant.split("/", 1)[1]
            metrics["reward"][arm].append(float(reward))
            metrics["click"][arm].append(1.0 if reward > 0 else 0.0)
    if not metrics["reward"]:
        raise InvalidInput(f"no logged decisions with feedback for experiment {experiment!r}")
    return compare(metrics, control)
