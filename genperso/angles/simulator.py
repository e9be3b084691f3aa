"""A small world with known click rates per (user segment, context, angle), for tests and the bench.

Cells are (segment, device, maturity) combinations drawn uniformly; each has a true reward rate per
angle, so the value of any policy that is a function of the cell is computable exactly:
``V(pi) = mean_cell sum_a pi(a|cell) * rate(cell, a)``. Segment users have a taste vector whose
projection on the angles is a noisy view of their true preferences (what a MiniLM prior would see).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..types import Context
from .bandit import AngleModel, BanditConfig, Delta, distribution, draw, posterior
from .evaluation import LoggedSample
from .features import feature_dim, feature_vector, zero_shot_prior

__all__ = ["Simulator", "make_simulator", "run_bandit", "run_epsilon_greedy", "run_uniform"]


@dataclass(frozen=True)
class Simulator:
    angle_ids: tuple[str, ...]
    contexts: tuple[Context, ...]
    segments: np.ndarray  # (n_cells,) segment index
    rates: np.ndarray  # (n_cells, k) true reward rates
    x: np.ndarray  # (n_cells, d) bandit features
    z_prior: np.ndarray  # (n_cells, k) zero-shot prior in z units

    @property
    def n_cells(self) -> int:
        return self.rates.shape[0]

    def true_value(self, probs: np.ndarray) -> float:
        """Exact value of a policy given as (n_cells, k) probabilities."""
        return float((probs * self.rates).sum(axis=1).mean())

    def best_value(self) -> float:
        return float(self.rates.max(axis=1).mean())

    def sample(self, cell: int, angle_idx: int, rng: np.random.Generator) -> float:
        return float(rng.random() < self.rates[cell, angle_idx])

    def log(self, n: int, logging_probs: np.ndarray, rng: np.random.Generator, prior_scale: float = 0.04
            ) -> list[LoggedSample]:
        out = []
        cells = rng.integers(0, self.n_cells, size=n)
        for i, c in enumerate(cells):
            p = logging_probs[c]
            a = int(rng.choice(len(p), p=p))
            out.append(LoggedSample(
                x=tuple(self.x[c]), offsets=dict(zip(self.angle_ids, (prior_scale * self.z_prior[c]).tolist())),
                eligible=self.angle_ids, angle_id=self.angle_ids[a], propensity=float(p[a]),
                reward=self.sample(int(c), a, rng), decision_id=f"sim{i}", meta={"cell": int(c)}))
        return out


def make_simulator(angle_ids: tuple[str, ...], n_segments: int = 6, seed: int = 0, prior_noise: float = 0.6
                   ) -> Simulator:
    rng = np.random.default_rng(seed)
    k = len(angle_ids)
    taste = rng.normal(size=(n_segments, k))
    base = 0.03 + 0.12 * np.exp(taste) / np.exp(taste).max(axis=1, keepdims=True)  # 0.03 .. 0.15
    view = taste + prior_noise * rng.normal(size=taste.shape)  # what the zero-shot prior sees
    view = (view - view.mean(axis=1, keepdims=True)) * 0.05
    contexts, segs, rates, xs, zs = [], [], [], [], []
    for s in range(n_segments):
        for device in ("tv", "mobile", "web", "tablet"):
            for maturity in ("adult", "kids"):
                ctx = Context(hour=20.0, weekday=2, device=device, maturity=maturity)
                r = base[s].copy()
                if maturity == "kids" and "family" in angle_ids:
                    r[angle_ids.index("family")] += 0.06
                if device == "mobile" and "action" in angle_ids:
                    r[angle_ids.index("action")] += 0.03
                contexts.append(ctx)
                segs.append(s)
                rates.append(np.clip(r, 0.0, 1.0))
                xs.append(feature_vector(view[s], ctx, k))
                zs.append(zero_shot_prior(angle_ids, view[s], ctx))
    return Simulator(tuple(angle_ids), tuple(contexts), np.array(segs), np.array(rates), np.array(xs), np.array(zs))


def run_bandit(sim: Simulator, n: int, cfg: BanditConfig, rng: np.random.Generator, batch: int = 500,
               progress: Callable[[int], None] | None = None) -> np.ndarray:
    """The production policy core (prior + linear TS + epsilon floor) with batched updates."""
    k, d = len(sim.angle_ids), feature_dim(len(sim.angle_ids))
    models = {a: AngleModel(d) for a in sim.angle_ids}
    post = posterior(models, sim.angle_ids, d, cfg)
    rewards = np.zeros(n)
    pending: dict[str, Delta] = {}
    elig = np.ones(k, dtype=bool)
    for t in range(n):
        c = int(rng.integers(sim.n_cells))
        offsets = cfg.prior_scale * sim.z_prior[c]
        pi, _, _ = distribution(post, sim.x[c], offsets, elig, rng, cfg)
        a = draw(pi, rng)
        r = sim.sample(c, a, rng)
        rewards[t] = r
        pending.setdefault(sim.angle_ids[a], Delta(d)).observe(sim.x[c], r - offsets[a])
        if (t + 1) % batch == 0:
            for aid, delta in pending.items():
                models[aid].apply(delta)
            pending = {}
            post = posterior(models, sim.angle_ids, d, cfg)
            if progress:
                progress(t + 1)
    return rewards


def run_epsilon_greedy(sim: Simulator, n: int, epsilon: float, rng: np.random.Generator) -> np.ndarray:
    """Non-contextual epsilon-greedy on per-angle mean reward (the classic baseline)."""
    k = len(sim.angle_ids)
    sums, counts = np.zeros(k), np.zeros(k)
    rewards = np.zeros(n)
    for t in range(n):
        c = int(rng.integers(sim.n_cells))
        if rng.random() < epsilon or counts.min() == 0:
            a = int(rng.integers(k))
        else:
            a = int(np.argmax(sums / counts))
        r = sim.sample(c, a, rng)
        sums[a] += r
        counts[a] += 1
        rewards[t] = r
    return rewards


def run_uniform(sim: Simulator, n: int, rng: np.random.Generator) -> np.ndarray:
    k = len(sim.angle_ids)
    cells = rng.integers(sim.n_cells, size=n)
    acts = rng.integers(k, size=n)
    return (rng.random(n) < sim.rates[cells, acts]).astype(np.float64)
