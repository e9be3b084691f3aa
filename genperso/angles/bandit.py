"""Linear Thompson sampling over angles, with an epsilon floor and exact logged propensities.

Model (one Bayesian ridge regression per angle over a *shared* context vector ``x``):
``reward = prior_scale * z_prior[a] + x . theta_a + noise``. The zero-shot prior is an offset, so
with no data the policy follows it and the bandit learns the residual; per-angle models (instead of
one shared model over angle x context interactions) keep each update a rank-one change of a small
``d x d`` matrix (d = 1 + n_angles + 12) and let deleting a user *downdate* exactly.
``x`` of a cold user has zero user part, so cold users get the population posterior.

Choice: draw ``mc_samples`` posterior scores per eligible angle from a seeded RNG; the share of
samples where an angle wins is ``p_ts``; repeated angles in the session are discounted; the final
distribution is ``pi = eps/|E| + (1-eps) p_ts`` over eligible angles and the action is drawn from
``pi`` with the same RNG. The logged propensity ``pi[a]`` is therefore exactly the probability the
action was drawn with (given the seed), and never below ``eps/|E|``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = ["BanditConfig", "AngleModel", "Posterior", "posterior", "distribution", "draw", "Delta"]


@dataclass(frozen=True)
class BanditConfig:
    epsilon: float = 0.05  # minimum exploration rate (uniform over eligible angles)
    new_title_boost: float = 0.25  # extra exploration for titles with few impressions
    new_title_halflife: float = 200.0  # impressions after which the boost halves
    prior_scale: float = 0.04  # reward units per z unit of zero-shot prior
    ridge: float = 20.0  # prior precision of theta
    noise_sd: float = 0.15  # reward noise scale for the posterior covariance (tuned on the simulator)
    mc_samples: int = 64
    satiation: float = 0.5  # multiplier on p_ts per earlier showing in the session

    def __post_init__(self) -> None:
        if not 0.0 < self.epsilon <= 1.0:
            raise ValueError("epsilon must be in (0, 1]")
        if self.mc_samples < 1 or self.ridge <= 0 or self.noise_sd <= 0:
            raise ValueError("mc_samples >= 1, ridge > 0, noise_sd > 0 required")
        if not 0.0 <= self.satiation <= 1.0:
            raise ValueError("satiation must be in [0, 1]")


@dataclass
class AngleModel:
    """Sufficient statistics: n, X'X and X'(y - offset). A pending update (``Delta``) is the same
    statistics over new observations, added with ``apply`` (or subtracted: ``observe(sign=-1)``)."""

    dim: int
    n: float = 0.0
    xtx: np.ndarray = field(default=None)  # type: ignore[assignment]
    xty: np.ndarray = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.xtx is None:
            self.xtx = np.zeros((self.dim, self.dim))
        if self.xty is None:
            self.xty = np.zeros(self.dim)

    def apply(self, delta: "Delta") -> None:
        self.n += delta.n
        self.xtx += delta.xtx
        self.xty += delta.xty

    def observe(self, x: np.ndarray, target: float, sign: float = 1.0) -> None:
        self.n += sign
        self.xtx += sign * np.outer(x, x)
        self.xty += sign * target * x

    def retarget(self, x: np.ndarray, old: float, new: float) -> None:
        self.xty += (new - old) * x


Delta = AngleModel  # the statistics of a batch of observations, applied to a model


@dataclass(frozen=True)
class Posterior:
    """Per-angle posterior mean (k, d) and covariance (k, d, d) ready for scoring."""

    ids: tuple[str, ...]
    mean: np.ndarray
    cov: np.ndarray
    n: np.ndarray


def posterior(models: Mapping[str, AngleModel], ids: Sequence[str], dim: int, cfg: BanditConfig) -> Posterior:
    k = len(ids)
    mean = np.zeros((k, dim))
    cov = np.zeros((k, dim, dim))
    n = np.zeros(k)
    eye = np.eye(dim) * cfg.ridge
    for i, aid in enumerate(ids):
        m = models.get(aid)
        if m is None or m.dim != dim:
            m = AngleModel(dim)
        a_inv = np.linalg.inv(eye + m.xtx)
        mean[i] = a_inv @ m.xty
        cov[i] = (cfg.noise_sd**2) * a_inv
        n[i] = m.n
    return Posterior(tuple(ids), mean, cov, n)


def distribution(
    post: Posterior,
    x: np.ndarray,
    offsets: np.ndarray,
    eligible: np.ndarray,
    rng: np.random.Generator,
    cfg: BanditConfig,
    *,
    epsilon: float | None = None,
    repeats: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(pi, expected score, score sd) over all angles; pi is zero on ineligible angles."""
    mu = post.mean @ x + offsets
    sd = np.sqrt(np.maximum(np.einsum("i,kij,j->k", x, post.cov, x), 0.0))
    z = rng.standard_normal((cfg.mc_samples, mu.size))
    samples = mu + sd * z
    samples[:, ~eligible] = -np.inf
    wins = np.bincount(np.argmax(samples, axis=1), minlength=mu.size).astype(np.float64)
    p_ts = wins / wins.sum()
    if repeats is not None and np.any(repeats > 0):
        p_ts = p_ts * np.power(cfg.satiation, repeats)
        total = p_ts[eligible].sum()
        p_ts = p_ts / total if total > 0 else eligible / eligible.sum()
    eps = cfg.epsilon if epsilon is None else min(1.0, max(cfg.epsilon, epsilon))
    pi = np.where(eligible, eps / eligible.sum() + (1.0 - eps) * p_ts, 0.0)
    pi = pi / pi.sum()
    return pi, mu, sd


def draw(pi: np.ndarray, rng: np.random.Generator) -> int:
    u = rng.random()
    idx = int(np.searchsorted(np.cumsum(pi), u * pi.sum(), side="right"))
    idx = min(idx, pi.size - 1)
    while pi[idx] <= 0:  # float edge: never return an ineligible angle
        idx -= 1
    return idx
