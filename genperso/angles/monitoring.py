"""Monitoring of the served angles: mix per time window with a drift alert (Jensen-Shannon
distance between consecutive windows), reward per angle, and coverage of titles x angles."""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
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
    from .decision_log import flush_decision_log

    flush_decision_log(settings)
    ids = load_angles().ids
    now = now or dt.datetime.now(dt.timezone.utc)
    end = now.astimezone(dt.timezone.utc).replace(tzinfo=None) if now.tzinfo else now
    width = dt.timedelta(hours=window_hours)
    start = end - width * n_windows
    counts = np.zeros((n_windows, len(ids)))
    index = {a: i for i, a in enumerate(ids)}
    D = AngleDecisionRow
    with session_scope(settings) as s:
        n = int(s.scalar(sa.select(sa.func.count()).select_from(D)) or 0)
        q = (sa.select(D.created_at, D.angle_id).where(D.created_at >= start, D.created_at < end))
        for created, angle in s.execute(q.execution_options(yield_per=5000)):
            if angle in index:
                w = min(n_windows - 1, int((created - start) / width))
                counts[w, index[angle]] += 1
        reward_rows = s.execute(sa.select(D.angle_id, sa.func.count(D.reward), sa.func.avg(D.reward))
                                .where(D.reward.is_not(None)).group_by(D.angle_id)).all()
        served = {(t, a) for t, a in s.execute(sa.select(D.title_id, D.angle_id).distinct())}
        # eligible set per title: from its most recent decision (eligibility changes with re-analysis)
        latest = (sa.select(D.title_id, sa.func.max(D.created_at).label("ts")).group_by(D.title_id).subquery())
        eligible: dict[str, set[str]] = {}
        for title, elig, angle in s.execute(
                sa.select(D.title_id, D.eligible, D.angle_id).join(
                    latest, sa.and_(D.title_id == latest.c.title_id, D.created_at == latest.c.ts))):
            eligible.setdefault(title, set()).update(elig or [angle])
    rewards = {a: (int(c), float(m or 0.0)) for a, c, m in reward_rows}
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
        reward_per_angle={a: {"n": rewards.get(a, (0, 0.0))[0], "mean": rewards.get(a, (0, 0.0))[1]} for a in ids},
        coverage=len(served) / (len(titles) * len(ids)) if titles else 0.0,
        eligible_coverage=(len({(t, a) for t, a in served if a in eligible.get(t, set())}) / n_elig
                           if n_elig else 0.0),
        decisions=n,
    )
