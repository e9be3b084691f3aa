"""The angle policy's serving half: the sticky-decision probe and first decisions made without
I/O (``choose_local``) by the serving event loop, from this process's copies of the state.

``AnglePolicy`` (``genperso.angles.policy``) inherits these methods; they read its caches (title
support, posterior, impression counts) and use its ``_decide`` (the same draw as ``choose``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..types import AngleDecision, Context, UserProfile, validate_id
from .eligibility import eligible_ids
from .features import load_calibration
from .state import generation

__all__ = ["ServingPolicy", "LocalChoice", "time_bucket", "REFRESH_S", "SUPPORT_TTL_S", "IMPRESSIONS_TTL_S",
           "LOCAL_POSTERIOR_MAX_S", "LOCAL_IMPRESSIONS_MAX_S"]

REFRESH_S = 1.0
SUPPORT_TTL_S = 60.0
IMPRESSIONS_TTL_S = REFRESH_S * 10
# ``choose_local`` (the serving event loop) uses this process's copies of the posterior and the
# title's impression count while a background refresh keeps them current; past these ages it
# declines and the synchronous ``choose`` re-reads them.
LOCAL_POSTERIOR_MAX_S = REFRESH_S * 3
LOCAL_IMPRESSIONS_MAX_S = IMPRESSIONS_TTL_S * 3


def time_bucket(now: dt.datetime, stickiness_s: int) -> int:
    ts = now.timestamp()
    if stickiness_s <= 0:
        return int(ts * 1_000_000)
    return int(ts // stickiness_s)


@dataclasses.dataclass(frozen=True)
class LocalChoice:
    """A decision made by ``AnglePolicy.choose_local``, not yet stored: the caller writes it as the
    sticky decision (``sticky_key``, ``ttl_s``) and, if that write wins, calls ``commit_local``."""

    decision: AngleDecision
    sticky_key: str
    ttl_s: int
    x: np.ndarray
    offsets: np.ndarray
    eligible: tuple[str, ...]
    now: dt.datetime


class ServingPolicy:
    """Mixin of ``AnglePolicy`` (its attributes are declared there)."""

    settings: Any
    name: str
    shadow: Any
    store: Any
    log_decisions: bool
    _support: dict[str, tuple[float, dict[str, float]]]
    _elig: dict[str, tuple[Any, Any, tuple[str, ...]]]
    _impr: dict[str, tuple[float, int]]
    _post: Any
    _post_checked: float
    _post_gen: int
    _cal: Any
    angles: Any  # AnglePolicy's property; _decide, _impressions, posterior, calibration are its methods too

    def sticky_probe(self, user_id: str, title_id: str, context: Context,
                     now: dt.datetime | None = None) -> tuple[str, tuple[str, ...]] | None:
        """For the serving hot path: (Redis key of the sticky decision ``choose`` would return,
        eligible angle ids), or None when only ``choose`` itself can answer (stickiness off, state
        not in Redis, the title's support not in this process yet). A sticky decision is served
        only if its angle is still eligible, exactly as ``choose`` does. Validates the ids."""
        sticky_key = getattr(self.store, "sticky_key", None)
        if self.settings.stickiness_seconds <= 0 or sticky_key is None:
            return None
        validate_id(title_id, "title id")
        validate_id(user_id, "user id")
        if context.session_id is not None:
            validate_id(context.session_id, "session id")
        hit = self._support.get(title_id)
        if hit is None or time.monotonic() - hit[0] >= SUPPORT_TTL_S:
            return None
        now = now or dt.datetime.now(dt.timezone.utc)
        bucket = time_bucket(now, self.settings.stickiness_seconds)
        angles = self.angles
        memo = self._elig.get(title_id)
        if memo is None or memo[0] is not hit or memo[1] is not angles:
            memo = self._elig[title_id] = (hit, angles, eligible_ids(hit[1], angles))
        elig = memo[2]
        return sticky_key(user_id, self._sticky_name(title_id, bucket, context)), elig

    def _sticky_name(self, title_id: str, bucket: int, context: Context) -> str:
        return f"{title_id}:{bucket}:{self.name}:{context.maturity}"

    def local_refresh_due(self, title_id: str) -> tuple[bool, bool]:
        """Whether the copies ``choose_local`` uses should be re-read (in the background): (the
        process-wide posterior and calibration, the title's impression count)."""
        now = time.monotonic()
        impr = self._impr.get(title_id)
        cal = self._cal
        shared = (self._post is None or now - self._post_checked > REFRESH_S or self._post_gen != generation()
                  or cal is None or now - cal[1] > REFRESH_S * 5)
        return shared, impr is None or now - impr[0] > IMPRESSIONS_TTL_S

    def refresh_local(self, title_id: str | None = None) -> None:
        """Re-read the title's impression count, or (no title) the posterior and the calibration.
        Blocking I/O: run it off the event loop."""
        if title_id is not None:
            self._impressions(title_id, refresh=True)
            return
        self.posterior()
        angles = self.angles
        self._cal = (angles, time.monotonic(), load_calibration(angles, self.settings))

    def choose_local(self, user: UserProfile, title_id: str, context: Context, eligible: tuple[str, ...],
                     shown: Mapping[str, str] | None, *, now: dt.datetime | None = None) -> LocalChoice | None:
        """``choose`` for a request with no sticky decision yet, made without any I/O from this
        process's copies of the title's support, the posterior and the title's impression count
        (None when one is missing or too old, a shadow policy is set, or stickiness is off: then
        ``choose`` runs). ``eligible`` comes from ``sticky_probe``; ``shown`` is the session's
        shown angles (satiation) when the context has a session. Same draw as ``choose``."""
        if self.shadow is not None or self.settings.stickiness_seconds <= 0:
            return None
        mono = time.monotonic()
        sup = self._support.get(title_id)
        post = self._post
        impr = self._impr.get(title_id)
        angles = self.angles
        if (sup is None or mono - sup[0] >= SUPPORT_TTL_S or post is None or post.ids != angles.ids
                or mono - self._post_checked > LOCAL_POSTERIOR_MAX_S or self._post_gen != generation()
                or impr is None or mono - impr[0] > LOCAL_IMPRESSIONS_MAX_S):
            return None
        now = now or dt.datetime.now(dt.timezone.utc)
        bucket = time_bucket(now, self.settings.stickiness_seconds)
        decision, x, offsets = self._decide(user, title_id, context, now, bucket, sup[1], eligible, shown, impr[1],
                                            post, None, None)
        ttl = int((bucket + 1) * self.settings.stickiness_seconds - now.timestamp()) + 1
        return LocalChoice(decision, self._sticky_name(title_id, bucket, context), max(1, ttl), x, offsets,
                           tuple(eligible), now)

    def commit_local(self, choice: LocalChoice) -> None:
        """Log a ``choose_local`` decision whose sticky write won (the session note is the caller's)."""
        if self.log_decisions:
            ids = list(choice.decision.scores)  # the angle order the draw used
            self._log(choice.decision, choice.x, dict(zip(ids, choice.offsets.tolist())), list(choice.eligible),
                      choice.now)
