"""The angle policy: ``choose`` (zero-shot prior + linear Thompson sampling, logged with its
propensity) and ``update`` (feedback -> bandit state). See ``bandit`` for the model."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import threading
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..catalog.db import session_scope
from ..catalog.titles import TitleRepo
from ..config import Settings, get_settings
from ..errors import InvalidInput, NotFound
from ..logs import get_logger
from ..types import AngleDecision, Context, UserProfile, validate_id
from .bandit import BanditConfig, Posterior, distribution, draw, posterior
from .catalog import AngleCatalog, load_angles
from .decision_log import get_decision_log
from .eligibility import eligibility, eligible_ids
from .features import (angle_vectors, feature_dim, feature_vector, load_calibration, user_projection,
                       zero_shot_prior)
from .serving import (IMPRESSIONS_TTL_S, LOCAL_IMPRESSIONS_MAX_S, LOCAL_POSTERIOR_MAX_S, REFRESH_S, SUPPORT_TTL_S,
                      LocalChoice, ServingPolicy, time_bucket)
from .state import StateStore, generation, make_store

__all__ = ["AnglePolicy", "LocalChoice", "REFRESH_S", "SUPPORT_TTL_S", "IMPRESSIONS_TTL_S",
           "LOCAL_POSTERIOR_MAX_S", "LOCAL_IMPRESSIONS_MAX_S", "get_policy", "reset_policies", "decision_seed", "time_bucket", "POLICY_NAME"]

log = get_logger(__name__)
POLICY_NAME = "lints-v1"
CONTEXT_FIELDS = tuple(f.name for f in dataclasses.fields(Context))


def decision_seed(user_id: str, title_id: str, bucket: int, policy: str) -> int:
    h = hashlib.sha256(f"{user_id}\x00{title_id}\x00{bucket}\x00{policy}".encode()).digest()
    return int.from_bytes(h[:8], "little")


class AnglePolicy(ServingPolicy):
    """Process-wide policy object (thread-safe); state in ``store`` (catalog or Redis)."""

    def __init__(
        self,
        settings: Settings | None = None,
        config: BanditConfig | None = None,
        *,
        name: str = POLICY_NAME,
        store: StateStore | None = None,
        angles: AngleCatalog | None = None,
        log_decisions: bool = True,
        shadow: AnglePolicy | None = None,
        reward: Any | None = None,
    ) -> None:
        self.settings = settings or get_settings()
        self.config = config or BanditConfig()
        self.name = name
        self.store = store or make_store(self.settings)
        self._angles = angles
        self.log_decisions = log_decisions
        self.shadow = shadow
        self.reward = reward  # events.RewardConfig used by update(); None = the default composite reward
        self._lock = threading.Lock()
        self._post: Posterior | None = None
        self._post_key: Any = None
        self._post_checked = 0.0
        self._post_gen = -1
        self._support: dict[str, tuple[float, dict[str, float]]] = {}
        self._impr: dict[str, tuple[float, int]] = {}
        self._elig: dict[str, tuple[Any, AngleCatalog, tuple[str, ...]]] = {}
        self._catalog: tuple[float, AngleCatalog] | None = None
        self._cal: tuple[AngleCatalog, float, np.ndarray | None] | None = None

    # ------------------------------------------------------------------ state caches
    @property
    def angles(self) -> AngleCatalog:
        if self._angles is not None:
            return self._angles
        now = time.monotonic()
        if self._catalog is None or now - self._catalog[0] > REFRESH_S:
            self._catalog = (now, load_angles())  # re-read when angles.toml changes
        return self._catalog[1]

    @property
    def dim(self) -> int:
        return feature_dim(len(self.angles))

    def calibration(self, angles: AngleCatalog) -> np.ndarray | None:
        """Per-angle similarity calibration (``genperso angles calibrate``), re-read every few seconds."""
        now = time.monotonic()
        if self._cal is None or self._cal[0] is not angles or now - self._cal[1] > REFRESH_S * 10:
            self._cal = (angles, now, load_calibration(angles, self.settings))
        return self._cal[2]

    def invalidate(self) -> None:
        with self._lock:
            self._post = None
            self._impr.clear()

    def posterior(self) -> Posterior:
        ids = self.angles.ids
        now = time.monotonic()
        gen = generation()
        with self._lock:
            if (self._post is not None and self._post.ids == ids and now - self._post_checked < REFRESH_S
                    and gen == self._post_gen):
                return self._post
        version = (gen, self.store.version())
        with self._lock:
            if self._post is not None and self._post.ids == ids and version == self._post_key:
                self._post_checked, self._post_gen = now, gen
                return self._post
        post = posterior(self.store.load_models(self.dim), ids, self.dim, self.config)
        with self._lock:
            self._post, self._post_key, self._post_checked, self._post_gen = post, version, now, gen
        return post

    def warm(self) -> None:
        """Load what the first decision would otherwise load while a request waits: the angle
        catalog, the angle vectors (MiniLM once, then a disk cache), the calibration, the posterior."""
        angles = self.angles
        angle_vectors(angles, self.settings)
        self.calibration(angles)
        self.posterior()

    def support_age(self, title_id: str) -> float | None:
        """Seconds since this process read the title's angle support (None: never)."""
        hit = self._support.get(title_id)
        return None if hit is None else time.monotonic() - hit[0]

    def support(self, title_id: str, *, refresh: bool = False) -> dict[str, float]:
        now = time.monotonic()
        hit = self._support.get(title_id)
        if not refresh and hit is not None and now - hit[0] < SUPPORT_TTL_S:
            return hit[1]
        with session_scope(self.settings) as s:
            repo = TitleRepo(s)
            title = repo.get(title_id).info()
            try:
                analysis = repo.analysis(title_id)
            except NotFound:
                analysis = None
        sup = eligibility(analysis, title, self.angles)
        self._support[title_id] = (now, sup)
        return sup

    def _impressions(self, title_id: str, *, refresh: bool = False) -> int:
        now = time.monotonic()
        hit = self._impr.get(title_id)
        if not refresh and hit is not None and now - hit[0] < IMPRESSIONS_TTL_S:
            return hit[1]
        n = self.store.title_impressions(title_id)
        self._impr[title_id] = (now, n)
        return n

    # ------------------------------------------------------------------ decisions
    def features(self, user: UserProfile, context: Context, angles: AngleCatalog | None = None
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(bandit context vector x, zero-shot prior z per angle, reward offsets) for a request."""
        angles = angles or self.angles
        n = len(angles)
        vectors = angle_vectors(angles, self.settings) if user.embedding is not None else None
        proj = (user_projection(user.embedding, vectors, self.calibration(angles)) if vectors is not None
                else np.zeros(n))
        z = zero_shot_prior(angles.ids, proj, context)
        return feature_vector(proj, context, n), z, self.config.prior_scale * z

    def epsilon_for(self, impressions: int) -> float:
        c = self.config
        return min(1.0, c.epsilon + c.new_title_boost * 0.5 ** (impressions / c.new_title_halflife))

    def choose(
        self,
        user: UserProfile,
        title_id: str,
        context: Context,
        *,
        now: dt.datetime | None = None,
        support: Mapping[str, float] | None = None,
        variant: str | None = None,
    ) -> AngleDecision:
        """Pick the angle for (user, title, context); deterministic within a stickiness bucket."""
        validate_id(title_id, "title id")
        validate_id(user.user_id, "user id")
        if not isinstance(context, Context):
            raise InvalidInput("context must be a genperso.types.Context", field="context")
        if context.session_id is not None:
            validate_id(context.session_id, "session id")
        now = now or dt.datetime.now(dt.timezone.utc)
        if now.tzinfo is None:
            now = now.replace(tzinfo=dt.timezone.utc)
        angles = self.angles
        ids = angles.ids
        sup = dict(support) if support is not None else self.support(title_id)
        elig_ids = eligible_ids(sup, angles)
        bucket = time_bucket(now, self.settings.stickiness_seconds)
        sticky_key = self._sticky_name(title_id, bucket, context)
        if self.settings.stickiness_seconds > 0:
            hit = self.store.sticky_get(user.user_id, sticky_key)
            if hit is not None and hit.angle_id in elig_ids:
                return hit  # the same answer on every page load in the bucket (already logged)
        repeats = None
        if context.session_id:
            repeats = self.store.session_angles(user.user_id, context.session_id)
        shadow = None
        if self.shadow is not None:
            sd = self.shadow.choose(user, title_id, context, now=now, support=sup)
            shadow = {"policy": sd.policy, "angle_id": sd.angle_id, "propensity": sd.propensity}
        decision, x, offsets = self._decide(user, title_id, context, now, bucket, sup, elig_ids, repeats,
                                            self._impressions(title_id), self.posterior(), variant, shadow)
        if self.log_decisions:
            self._log(decision, x, dict(zip(ids, offsets.tolist())), list(elig_ids), now)
        if self.settings.stickiness_seconds > 0:
            ttl = int((bucket + 1) * self.settings.stickiness_seconds - now.timestamp()) + 1
            self.store.sticky_set(user.user_id, sticky_key, decision, ttl)
        if context.session_id and self.log_decisions:
            self.store.note_session(user.user_id, context.session_id, title_id, decision.angle_id)
        return decision

    def _decide(self, user: UserProfile, title_id: str, context: Context, now: dt.datetime, bucket: int,
                sup: Mapping[str, float], elig_ids: Sequence[str] | frozenset[str],
                shown: Mapping[str, str] | None, impressions: int, post: Posterior, variant: str | None,
                shadow: Mapping[str, Any] | None) -> tuple[AngleDecision, np.ndarray, np.ndarray]:
        """The Thompson-sampling draw itself (no I/O): (decision, context vector x, reward offsets)
        from the state given, so its propensity is exact for the posterior actually used."""
        angles = self.angles
        ids = angles.ids
        eligible = np.array([a in elig_ids for a in ids])
        x, z, offsets = self.features(user, context, angles)
        repeats = np.zeros(len(ids))
        if context.session_id and shown:
            counts = Counter(a for t, a in shown.items() if t != title_id)
            repeats = np.array([counts.get(a, 0) for a in ids], dtype=np.float64)
        eps = self.epsilon_for(impressions)
        rng = np.random.default_rng(decision_seed(user.user_id, title_id, bucket, self.name))
        pi, mu, _sd = distribution(post, x, offsets, eligible, rng, self.config, epsilon=eps, repeats=repeats)
        idx = draw(pi, rng)
        angle_id = ids[idx]
        decision_id = hashlib.sha256(
            f"{user.user_id}\x00{title_id}\x00{bucket}\x00{self.name}\x00{angle_id}".encode()).hexdigest()[:32]
        top_prior = ids[int(np.argmax(np.where(eligible, z, -np.inf)))]
        explanation = (
            f"{user.source} user; {int(eligible.sum())}/{len(ids)} angles eligible; prior favours {top_prior}; "
            f"chose {angle_id} with p={pi[idx]:.3f} (expected reward {mu[idx]:.3f}, exploration {eps:.2f}"
            + (f", {int(repeats.sum())} earlier showings in session" if repeats.sum() else "") + ")"
        )
        ctx: dict[str, Any] = {f: getattr(context, f) for f in CONTEXT_FIELDS}
        if variant:
            ctx["variant"] = variant
        ctx.update({"bucket": bucket, "support": {k: round(v, 4) for k, v in sup.items()}, "epsilon": round(eps, 4)})
        decision = AngleDecision(
            decision_id=decision_id,
            user_id=user.user_id,
            title_id=title_id,
            angle_id=angle_id,
            propensity=float(pi[idx]),
            scores={a: round(float(p), 6) for a, p in zip(ids, pi)},
            explanation=explanation,
            policy=self.name,
            context=ctx,
            created_at=now.isoformat(),
            shadow=dict(shadow) if shadow is not None else None,
        )
        return decision, x, offsets

    def _log(self, d: AngleDecision, x: np.ndarray, offsets: dict[str, float], elig: list[str],
             now: dt.datetime) -> None:
        """Queue the decision for the background decision log (duplicates are ignored on write)."""
        get_decision_log(self.settings).submit(dict(
            decision_id=d.decision_id, user_id=d.user_id, title_id=d.title_id, angle_id=d.angle_id,
            propensity=d.propensity, probs=dict(d.scores), eligible=elig, features=[round(float(v), 6) for v in x],
            priors={k: round(float(v), 6) for k, v in offsets.items()}, context=dict(d.context), policy=d.policy,
            variant=str(d.context.get("variant")) if d.context.get("variant") else None,
            shadow=dict(d.shadow) if d.shadow else None, explanation=d.explanation,
            created_at=now.astimezone(dt.timezone.utc).replace(tzinfo=None),
        ))

    def probabilities(self, x: Sequence[float], offsets: Mapping[str, float], eligible: Sequence[str],
                      seed: int, *, epsilon: float | None = None) -> dict[str, float]:
        """This policy's action distribution for a logged context (offline evaluation)."""
        ids = self.angles.ids
        xv = np.asarray(x, dtype=np.float64)
        if xv.size != self.dim:
            raise InvalidInput(f"logged feature vector has {xv.size} values, this policy expects {self.dim}")
        elig = np.array([a in set(eligible) for a in ids])
        off = np.array([float(offsets.get(a, 0.0)) for a in ids])
        pi, _, _ = distribution(self.posterior(), xv, off, elig, np.random.default_rng(seed), self.config,
                                epsilon=epsilon)
        return dict(zip(ids, pi.tolist()))

    def update(self, events: Sequence[Any]) -> int:
        """Store feedback events and apply them to the bandit; returns how many were new."""
        from .events import record_events

        accepted, _dup = record_events(events, self.settings, store=self.store, reward=self.reward)
        self.invalidate()
        return accepted


_policies: dict[tuple[str, str | None, str], AnglePolicy] = {}
_plock = threading.Lock()


def get_policy(settings: Settings | None = None) -> AnglePolicy:
    """The process-wide policy for these settings (state in Redis when ``redis_url`` is set)."""
    settings = settings or get_settings()
    key = (settings.db_url, settings.redis_url, settings.redis_prefix)
    with _plock:
        pol = _policies.get(key)
        if pol is None:
            pol = _policies[key] = AnglePolicy(settings)
        return pol


def reset_policies() -> None:
    with _plock:
        _policies.clear()
