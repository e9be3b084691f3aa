"""Feedback events: validated, stored idempotently (by ``event_id``) in the catalog, turned into a
reward per decision and applied to the bandit state; and deleting a user (privacy).

Reward of a decision (``RewardConfig.mode``), from all of its events:

* ``click``: 1 if clicked or played by the user (autoplay alone is not a click), else 0;
* ``qualified_play``: 1 if the effective watch time reaches ``qualified_seconds``;
* ``watch_fraction``: effective seconds / ``cap_seconds``;
* ``composite`` (default): 0.3 * clicked + 0.7 * min(1, effective seconds / qualified_seconds).

Effective seconds are capped at ``cap_seconds``; plays with no user interaction (autoplay, the
"sleepy user") count at most ``no_interaction_cap_seconds``, so hours of unattended autoplay are not
a strong positive. A decision is one bandit observation whose target is revised as events arrive
(the sufficient statistics take the difference), so late clicks and plays are never double-counted.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, OperationalError

from ..catalog.angles import AngleDecisionRow, AngleEventRow, AngleUserProfileRow
from ..catalog.db import session_scope
from ..config import Settings, get_settings
from ..errors import InvalidInput, Retryable
from ..logs import get_logger
from ..types import validate_id
from .bandit import Delta
from .state import LocalStore, StateStore, make_store

__all__ = ["FeedbackEvent", "RewardConfig", "EVENT_TYPES", "decision_reward", "record_events", "delete_user"]

log = get_logger(__name__)
EVENT_TYPES = ("impression", "click", "play_start", "play_complete")
MAX_BATCH = 10_000


@dataclass(frozen=True)
class FeedbackEvent:
    event_id: str
    user_id: str
    title_id: str
    angle_id: str
    decision_id: str | None
    type: str
    seconds_watched: float | None = None
    ts: dt.datetime | None = None
    session_id: str | None = None
    interaction: bool = True

    def __post_init__(self) -> None:
        validate_id(self.event_id, "event id")
        validate_id(self.user_id, "user id")
        validate_id(self.title_id, "title id")
        validate_id(self.angle_id, "angle id")
        if self.decision_id is not None:
            validate_id(self.decision_id, "decision id")
        if self.session_id is not None:
            validate_id(self.session_id, "session id")
        if self.type not in EVENT_TYPES:
            raise InvalidInput(f"event type must be one of {', '.join(EVENT_TYPES)}; got {self.type!r}", field="type")
        if self.seconds_watched is not None:
            s = float(self.seconds_watched)
            if not math.isfinite(s) or s < 0:
                raise InvalidInput(f"seconds_watched must be a finite number >= 0, got {self.seconds_watched!r}",
                                   field="seconds_watched")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeedbackEvent:
        try:
            ts = data.get("ts")
            if isinstance(ts, str):
                ts = dt.datetime.fromisoformat(ts.replace("Z", "+00:00"))
            elif isinstance(ts, (int, float)):
                ts = dt.datetime.fromtimestamp(float(ts), dt.timezone.utc)
            return cls(
                event_id=str(data["event_id"]), user_id=str(data["user_id"]), title_id=str(data["title_id"]),
                angle_id=str(data["angle_id"]), decision_id=data.get("decision_id"), type=str(data["type"]),
                seconds_watched=None if data.get("seconds_watched") is None else float(data["seconds_watched"]),
                ts=ts, session_id=data.get("session_id"), interaction=bool(data.get("interaction", True)),
            )
        except KeyError as exc:
            raise InvalidInput(f"feedback event misses the field {exc.args[0]!r}") from None
        except (TypeError, ValueError) as exc:
            raise InvalidInput(f"invalid feedback event: {exc}") from None


@dataclass(frozen=True)
class RewardConfig:
    mode: str = "composite"  # click | qualified_play | watch_fraction | composite
    qualified_seconds: float = 60.0
    cap_seconds: float = 3 * 3600.0
    no_interaction_cap_seconds: float = 30.0
    click_weight: float = 0.3

    def __post_init__(self) -> None:
        if self.mode not in ("click", "qualified_play", "watch_fraction", "composite"):
            raise InvalidInput(f"unknown reward mode {self.mode!r}")


def _effective_seconds(events: Sequence[Any], cfg: RewardConfig) -> float:
    best = 0.0
    for e in events:
        if e.type in ("play_start", "play_complete") and e.seconds_watched is not None:
            cap = cfg.cap_seconds if e.interaction else min(cfg.cap_seconds, cfg.no_interaction_cap_seconds)
            best = max(best, min(float(e.seconds_watched), cap))
    return best


def decision_reward(events: Sequence[Any], cfg: RewardConfig | None = None) -> float:
    """Reward in [0, 1] of one decision from all of its events (see module doc)."""
    cfg = cfg or RewardConfig()
    clicked = any(e.type == "click" or (e.type in ("play_start", "play_complete") and e.interaction) for e in events)
    secs = _effective_seconds(events, cfg)
    if cfg.mode == "click":
        return 1.0 if clicked else 0.0
    if cfg.mode == "qualified_play":
        return 1.0 if secs >= cfg.qualified_seconds else 0.0
    if cfg.mode == "watch_fraction":
        return min(1.0, secs / cfg.cap_seconds)
    return cfg.click_weight * float(clicked) + (1.0 - cfg.click_weight) * min(1.0, secs / cfg.qualified_seconds)


def _naive(ts: dt.datetime | None) -> dt.datetime:
    ts = ts or dt.datetime.now(dt.timezone.utc)
    if ts.tzinfo is not None:
        ts = ts.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return ts


def record_events(
    events: Sequence[FeedbackEvent],
    settings: Settings | None = None,
    *,
    store: StateStore | None = None,
    reward: RewardConfig | None = None,
) -> tuple[int, int]:
    """Store events (idempotent by event_id) and apply their rewards; returns (accepted, duplicates).

    Events and the state update form one transaction; a concurrent writer that wins the race makes
    this call raise ``Retryable`` (nothing stored), and retrying is safe because of the event ids."""
    from .decision_log import flush_decision_log

    flush_decision_log(settings)  # the decisions these events refer to must be visible
    try:
        return _record(events, settings, store, reward)
    except (OperationalError, IntegrityError) as exc:
        raise Retryable(f"feedback not stored, the catalog was busy or raced: {type(exc).__name__}; retry") from exc


def _record(
    events: Sequence[FeedbackEvent],
    settings: Settings | None,
    store: StateStore | None,
    reward: RewardConfig | None,
) -> tuple[int, int]:
    settings = settings or get_settings()
    if len(events) > MAX_BATCH:
        raise InvalidInput(f"at most {MAX_BATCH} events per call, got {len(events)}")
    for e in events:
        if not isinstance(e, FeedbackEvent):
            raise InvalidInput("events must be FeedbackEvent values")
    store = store or make_store(settings)
    cfg = reward or RewardConfig()
    seen: set[str] = set()
    batch: list[FeedbackEvent] = []
    dup = 0
    for e in events:
        if e.event_id in seen:
            dup += 1
            continue
        seen.add(e.event_id)
        batch.append(e)
    deltas: dict[str, Delta] = {}
    titles: dict[str, int] = defaultdict(int)
    with session_scope(settings) as s:
        ids = [e.event_id for e in batch]
        existing: set[str] = set()
        for i in range(0, len(ids), 500):
            existing |= set(s.scalars(sa.select(AngleEventRow.event_id).where(AngleEventRow.event_id.in_(ids[i:i + 500]))))
        new = [e for e in batch if e.event_id not in existing]
        dup += len(batch) - len(new)
        for e in new:
            s.add(AngleEventRow(event_id=e.event_id, user_id=e.user_id, title_id=e.title_id, angle_id=e.angle_id,
                                decision_id=e.decision_id, type=e.type, seconds_watched=e.seconds_watched,
                                ts=_naive(e.ts), session_id=e.session_id, interaction=e.interaction))
            if e.type == "impression":
                titles[e.title_id] += 1
        s.flush()
        dec_ids = sorted({e.decision_id for e in new if e.decision_id})
        for did in dec_ids:
            d = s.get(AngleDecisionRow, did)
            if d is None or not d.features or d.user_id is None:
                continue  # unknown (or anonymised) decision: the event is kept, nothing is learned
            evs = list(s.scalars(sa.select(AngleEventRow).where(
                AngleEventRow.decision_id == did, AngleEventRow.angle_id == d.angle_id,
                AngleEventRow.title_id == d.title_id, AngleEventRow.user_id == d.user_id)))
            if not evs:
                continue
            y = decision_reward(evs, cfg)
            x = np.asarray(d.features, dtype=np.float64)
            off = float((d.priors or {}).get(d.angle_id, 0.0))
            delta = deltas.setdefault(d.angle_id, Delta(x.size))
            if delta.dim != x.size:
                continue
            if not d.applied:
                delta.observe(x, y - off)
                d.applied = True
            elif d.reward is not None and y != d.reward:
                delta.retarget(x, d.reward - off, y - off)
            d.reward = y
        if deltas or titles:
            # inside the transaction: if the state update fails, the events are not stored either and
            # the caller's retry applies them exactly once
            if isinstance(store, LocalStore):
                store.apply(deltas, dict(titles), db=s)
            else:
                store.apply(deltas, dict(titles))
    _invalidate(settings)
    if new:
        log.info("feedback recorded", accepted=len(new), duplicates=dup, decisions=len(dec_ids))
    return len(new), dup


def _invalidate(settings: Settings) -> None:
    from .policy import _policies

    for pol in list(_policies.values()):
        if pol.settings.db_url == settings.db_url:
            pol.invalidate()


def delete_user(user_id: str, settings: Settings | None = None, *, store: StateStore | None = None) -> dict[str, int]:
    """Remove a user's events, profile, sessions and sticky decisions; unlearn and anonymise their
    decisions (kept for aggregate monitoring without user id, features or session)."""
    from .decision_log import flush_decision_log

    flush_decision_log(settings)  # no queued decision of this user may be written after the deletion
    try:
        return _delete_user(user_id, settings, store)
    except OperationalError as exc:
        raise Retryable(f"user not deleted, the catalog was busy: {exc.__class__.__name__}; retry") from exc


def _delete_user(user_id: str, settings: Settings | None, store: StateStore | None) -> dict[str, int]:
    settings = settings or get_settings()
    validate_id(user_id, "user id")
    store = store or make_store(settings)
    deltas: dict[str, Delta] = {}
    with session_scope(settings) as s:
        n_events = s.execute(sa.delete(AngleEventRow).where(AngleEventRow.user_id == user_id)).rowcount or 0
        n_profiles = s.execute(sa.delete(AngleUserProfileRow).where(AngleUserProfileRow.user_id == user_id)).rowcount or 0
        rows = list(s.scalars(sa.select(AngleDecisionRow).where(AngleDecisionRow.user_id == user_id)))
        for d in rows:
            if d.applied and d.features and d.reward is not None:
                x = np.asarray(d.features, dtype=np.float64)
                off = float((d.priors or {}).get(d.angle_id, 0.0))
                deltas.setdefault(d.angle_id, Delta(x.size)).observe(x, d.reward - off, sign=-1.0)
            d.user_id = None
            d.features = []
            d.applied = False
            ctx = dict(d.context or {})
            ctx.pop("session_id", None)
            ctx.pop("activity", None)
            d.context = ctx
        if deltas:
            if isinstance(store, LocalStore):
                store.apply(deltas, {}, db=s)
            else:
                store.apply(deltas, {})
    n_sessions = store.delete_user(user_id)
    from .policy import _policies

    for pol in list(_policies.values()):
        if pol.settings.db_url == settings.db_url:
            pol.invalidate()
            n_sessions += pol.store.delete_user(user_id) if pol.store is not store else 0
    _invalidate(settings)
    log.info("user deleted", user_id=user_id, events=n_events, decisions=len(rows))
    return {"events": int(n_events), "decisions_anonymised": len(rows), "profiles": int(n_profiles),
            "sessions": int(n_sessions), "unlearned": int(sum(d.n for d in deltas.values()) * -1)}
