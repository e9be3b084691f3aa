"""Offline evaluation of a candidate angle policy from logged decisions: IPS, self-normalised IPS
and doubly robust estimates with normal-approximation confidence intervals.

A logged sample carries what the logging policy saw (feature vector ``x``, prior offsets, eligible
angles), what it did (angle, propensity) and the observed reward. A candidate is any callable
``sample -> {angle_id: probability}``. The doubly robust reward model is a per-angle ridge
regression on ``x`` fitted with 2-fold cross-fitting (each half is scored by a model fitted on the
other half), so its errors do not bias the estimate.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np
import sqlalchemy as sa

from ..catalog.angles import AngleDecisionRow
from ..catalog.db import session_scope
from ..config import Settings
from ..errors import InvalidInput

__all__ = ["LoggedSample", "Estimate", "EvaluationReport", "evaluate", "load_logged", "load_jsonl",
           "uniform_policy", "prior_greedy_policy", "Candidate"]


@dataclass(frozen=True)
class LoggedSample:
    x: tuple[float, ...]
    offsets: Mapping[str, float]
    eligible: tuple[str, ...]
    angle_id: str
    propensity: float
    reward: float
    decision_id: str = ""
    meta: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> LoggedSample:
        try:
            p = float(d["propensity"])
            r = float(d["reward"])
        except KeyError as exc:
            raise InvalidInput(f"logged record misses {exc.args[0]!r}") from None
        except (TypeError, ValueError) as exc:
            raise InvalidInput(f"logged record has a non-numeric propensity/reward: {exc}") from None
        if not (0.0 < p <= 1.0) or not math.isfinite(r):
            raise InvalidInput(f"logged record needs 0 < propensity <= 1 and a finite reward, got {p}, {r}")
        elig = tuple(d.get("eligible") or ())
        return cls(x=tuple(float(v) for v in d.get("features") or d.get("x") or ()),
                   offsets=dict(d.get("priors") or d.get("offsets") or {}), eligible=elig or (str(d["angle_id"]),),
                   angle_id=str(d["angle_id"]), propensity=p, reward=r, decision_id=str(d.get("decision_id", "")),
                   meta=dict(d.get("meta") or {}))


Candidate = Callable[[LoggedSample], Mapping[str, float]]


@dataclass(frozen=True)
class Estimate:
    value: float
    se: float
    lo: float
    hi: float

    def covers(self, truth: float) -> bool:
        return self.lo <= truth <= self.hi

    def to_dict(self) -> dict[str, float]:
        return {"value": self.value, "se": self.se, "lo": self.lo, "hi": self.hi}


@dataclass(frozen=True)
class EvaluationReport:
    n: int
    ips: Estimate
    snips: Estimate
    dr: Estimate
    logged_value: float
    ess: float  # effective sample size of the importance weights
    max_weight: float

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.n, "ips": self.ips.to_dict(), "snips": self.snips.to_dict(), "dr": self.dr.to_dict(),
                "logged_value": self.logged_value, "ess": self.ess, "max_weight": self.max_weight}


def _est(mean: float, se: float, z: float) -> Estimate:
    return Estimate(float(mean), float(se), float(mean - z * se), float(mean + z * se))


def _ridge_models(X: np.ndarray, A: np.ndarray, R: np.ndarray, k: int, lam: float = 1.0) -> np.ndarray:
    d = X.shape[1]
    W = np.zeros((k, d))
    for a in range(k):
        m = A == a
        if m.sum() == 0:
            W[a, 0] = R.mean() if R.size else 0.0
            continue
        Xa, Ra = X[m], R[m]
        W[a] = np.linalg.solve(Xa.T @ Xa + lam * np.eye(d), Xa.T @ Ra)
    return W


def evaluate(samples: Sequence[LoggedSample], candidate: Candidate, *, confidence: float = 0.95) -> EvaluationReport:
    if not samples:
        raise InvalidInput("no logged decisions with rewards to evaluate")
    ids = sorted({a for s in samples for a in (*s.eligible, s.angle_id)} | {a for s in samples for a in s.offsets})
    index = {a: i for i, a in enumerate(ids)}
    n, k = len(samples), len(ids)
    dims = {len(s.x) for s in samples}
    X = np.array([s.x for s in samples], dtype=np.float64) if len(dims) == 1 and 0 not in dims else np.ones((n, 1))
    A = np.array([index[s.angle_id] for s in samples])
    R = np.array([s.reward for s in samples], dtype=np.float64)
    P = np.array([s.propensity for s in samples], dtype=np.float64)
    PI = np.zeros((n, k))
    for i, s in enumerate(samples):
        probs = candidate(s)
        for a, p in probs.items():
            if a in index:
                PI[i, index[a]] = float(p)
        tot = PI[i].sum()
        if not np.isfinite(tot) or tot <= 0:
            raise InvalidInput(f"candidate policy returned no probability mass for decision {s.decision_id!r}")
        PI[i] /= tot
    w = PI[np.arange(n), A] / P
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    wr = w * R
    ips = _est(wr.mean(), wr.std(ddof=1) / math.sqrt(n) if n > 1 else float("inf"), z)
    sw = w.sum()
    if sw > 0:
        v = wr.sum() / sw
        infl = w * (R - v) / w.mean()
        snips = _est(v, infl.std(ddof=1) / math.sqrt(n) if n > 1 else float("inf"), z)
    else:
        snips = Estimate(float("nan"), float("inf"), float("-inf"), float("inf"))
    # doubly robust with 2-fold cross-fitting
    folds = np.arange(n) % 2
    Q = np.zeros((n, k))
    for f in (0, 1):
        train, test = folds != f, folds == f
        if train.sum() == 0 or test.sum() == 0:
            W = _ridge_models(X, A, R, k)
            Q[test] = X[test] @ W.T
            continue
        W = _ridge_models(X[train], A[train], R[train], k)
        Q[test] = X[test] @ W.T
    Q = np.clip(Q, R.min(), R.max())
    dr_terms = (PI * Q).sum(axis=1) + w * (R - Q[np.arange(n), A])
    dr = _est(dr_terms.mean(), dr_terms.std(ddof=1) / math.sqrt(n) if n > 1 else float("inf"), z)
    ess = float(sw**2 / (w**2).sum()) if (w**2).sum() > 0 else 0.0
    return EvaluationReport(n=n, ips=ips, snips=snips, dr=dr, logged_value=float(R.mean()), ess=ess,
                            max_weight=float(w.max()))


def uniform_policy(s: LoggedSample) -> dict[str, float]:
    return {a: 1.0 / len(s.eligible) for a in s.eligible}


def prior_greedy_policy(epsilon: float = 0.05) -> Candidate:
    """Greedy on the logged zero-shot prior, with epsilon spread over the eligible angles."""

    def probs(s: LoggedSample) -> dict[str, float]:
        best = max(s.eligible, key=lambda a: (float(s.offsets.get(a, 0.0)), a))
        out = {a: epsilon / len(s.eligible) for a in s.eligible}
        out[best] += 1.0 - epsilon
        return out

    return probs


def _row_sample(row: AngleDecisionRow) -> LoggedSample | None:
    if row.reward is None or not row.features:
        return None
    return LoggedSample(x=tuple(row.features), offsets=dict(row.priors or {}), eligible=tuple(row.eligible or ()),
                        angle_id=row.angle_id, propensity=float(row.propensity), reward=float(row.reward),
                        decision_id=row.decision_id, meta={"policy": row.policy, "variant": row.variant})


def load_logged(settings: Settings | None = None, *, policy: str | None = None, limit: int = 1_000_000) -> list[LoggedSample]:
    """Logged decisions with a reward (at least one feedback event) from the catalog."""
    from .decision_log import flush_decision_log

    flush_decision_log(settings)
    with session_scope(settings) as s:
        q = sa.select(AngleDecisionRow).where(AngleDecisionRow.reward.is_not(None))
        if policy:
            q = q.where(AngleDecisionRow.policy == policy)
        rows = s.scalars(q.order_by(AngleDecisionRow.created_at).limit(limit))
        return [smp for smp in (_row_sample(r) for r in rows) if smp is not None]


def load_jsonl(path: str | Path) -> list[LoggedSample]:
    p = Path(path)
    if not p.is_file():
        raise InvalidInput(f"log file not found: {p}")
    out: list[LoggedSample] = []
    for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"{p}:{i}: not valid JSON: {exc.msg}") from None
        if not isinstance(data, dict):
            raise InvalidInput(f"{p}:{i}: each line must be a JSON object")
        out.append(LoggedSample.from_dict(data))
    return out


def iter_dicts(samples: Iterable[LoggedSample]) -> Iterable[dict[str, Any]]:
    for s in samples:
        yield {"features": list(s.x), "priors": dict(s.offsets), "eligible": list(s.eligible), "angle_id": s.angle_id,
               "propensity": s.propensity, "reward": s.reward, "decision_id": s.decision_id}
