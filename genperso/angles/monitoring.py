"""Monitoring of the served angles: mix per time window with a drift alert (Jensen-Shannon
distance between consecutive windows), reward per angle, and coverage of titles x angles."""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np
import sqlalchemy as sa

from ..catalog.angles import AngleDecisionRow
from ..catalog.db import session_scope
from ..config import Settings
from ..errors import InvalidInput
from .catalog import load_angles

__all__ = ["js_distance", "MonitorReport", "monitor"]


def js_distance(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon distance (base 2, 0..1) between two count or probability vectors."""
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    if p.sum() <= 0 or q.sum() <= 0:
        return 0.0
    p, q = p / p.sum(), q / q.sum()
    m = (p + q) / 2

    def kl(a: np.ndarray, b: np.ndarray) -> float:
        mask = a > 0
        return float((a[mask] * np.log2(a[mask] / b[mask])).sum())

    return math.sqrt(max(0.0, (kl(p, m) + kl(q, m)) / 2))


@dataclass(frozen=True)
class MonitorReport:
    windows: list[dict[str, Any]]
    alerts: list[dict[str, Any]]
    reward_per_angle: dict[str, dict[str, float]]
    coverage: float  # served (title, angle) pairs / (titles seen x all angles)
    eligible_coverage: float  # served pairs / eligible pairs
    decisions: int

    def to_dict(self) -> dict[str, Any]:
        return {"windows": self.windows, "alerts": self.alerts, "reward_per_angle": self.reward_per_angle,
                "coverage": self.coverage, "eligible_coverage": self.eligible_coverage, "decisions": self.decisions}


def monitor(settings: Settings | None = None, *, window_hours: float = 24.0, n_windows: int = 7,
            threshold: float = 0.1, now: dt.datetime | None = None) -> MonitorReport:
    if window_hours <= 0 or not 1 <= n_windows <= 1000 or not 0 < threshold <= 1:
        raise InvalidInput("window_hours > 0, 1 <= windows <= 1000 and 0 < threshold <= 1 are required")
    ids = load_angles().ids
    now = now or dt.datetime.now(dt.timezone.utc)
    end = now.astimezone(dt.timezone.utc).replace(tzinfo=None) if now.tzinfo else now
    width = dt.timedelta(hours=window_hours)
    start = end - width * n_windows
    counts = np.zeros((n_windows, len(ids)))
    rewards: dict[str, list[float]] = defaultdict(list)
    served: set[tuple[str, str]] = set()
    eligible: dict[str, set[str]] = {}
    n = 0
    with session_scope(settings) as s:
        q = sa.select(AngleDecisionRow.created_at, AngleDecisionRow.title_id, AngleDecisionRow.angle_id,
                      AngleDecisionRow.reward, AngleDecisionRow.eligible)
        for created, title, angle, reward, elig in s.execute(q):
            n += 1
            served.add((title, angle))
            eligible.setdefault(title, set()).update(elig or [angle])
            if reward is not None:
                rewards[angle].append(float(reward))
            if start <= created < end and angle in ids:
                w = min(n_windows - 1, int((created - start) / width))
                counts[w, ids.index(angle)] += 1
    windows, alerts = [], []
    for w in range(n_windows):
        total = counts[w].sum()
        entry: dict[str, Any] = {"start": (start + width * w).isoformat() + "Z", "decisions": int(total),
                                 "mix": {a: (float(c / total) if total else 0.0) for a, c in zip(ids, counts[w])}}
        if w > 0 and total and counts[w - 1].sum():
            d = js_distance(counts[w - 1], counts[w])
            entry["js_distance"] = round(d, 4)
            if d > threshold:
                changed = Counter({a: abs(entry["mix"][a] - windows[-1]["mix"][a]) for a in ids}).most_common(2)
                alerts.append({"window": entry["start"], "js_distance": round(d, 4), "threshold": threshold,
                               "most_changed": [a for a, _ in changed]})
        windows.append(entry)
    titles = {t for t, _ in served}
    n_elig = sum(len(v) for v in eligible.values())
    return MonitorReport(
        windows=windows, alerts=alerts,
        reward_per_angle={a: {"n": len(rewards[a]), "mean": float(np.mean(rewards[a])) if rewards[a] else 0.0}
                          for a in ids},
        coverage=len(served) / (len(titles) * len(ids)) if titles else 0.0,
        eligible_coverage=len(served) / n_elig if n_elig else 0.0,
        decisions=n,
    )
