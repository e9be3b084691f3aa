"""The async cache-hit path of ``personalize``: one Redis round trip, no thread-pool hop.

``Pipeline.personalize`` is synchronous (catalog reads, generation jobs, fallbacks) and runs on
the API's thread pool. Most requests, though, are answered from the cache by a sticky angle
decision (the same answer on every page load within the stickiness bucket). ``HotPath`` answers
those in the event loop:

1. one ``MGET`` reads the sticky decision ``AnglePolicy.choose`` stored for (user, title, bucket,
   maturity) and the cache epochs of the title (``genperso.cache``);
2. the asset records and pinned slots come from a process-local near cache when their copies
   carry the epochs just read, else from a second ``MGET`` (stamped with those epochs);
3. the shared rule ``pipeline.resolve_cached`` picks the pinned or exact asset.

A user's first request in a stickiness bucket (no sticky decision yet) is decided here too when
the request carries an embedding: ``AnglePolicy.choose_local`` draws from this process's copies of
the posterior, the title's support and impression count (refreshed ahead in the background; the
propensity logged is that of the posterior used) after one ``HGETALL`` of the session's shown
angles when there is a session; the decision is stored with ``SET NX GET`` in the same round trip
as the record ``MGET`` (a concurrent request that stored one first wins, and only the winner is
logged) and the session note follows.

Redis is spoken through ``genperso.hotredis.LeanRedis`` (one pipelined connection per event loop).
Whenever any step cannot answer exactly as ``Pipeline.personalize`` would (title state,
eligibility or policy state not in this process, a cold or history user without a decision, a
record missing from Redis, anything but a ``pinned``/``hit`` outcome, a custom chooser, the
embedded store, a Redis error) it returns None and the caller runs the full synchronous path.
Review actions and invalidations bump the epochs in the same Redis transaction as their change,
so every process sees them on its next request.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import threading
import time
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from .angles.policy import SUPPORT_TTL_S
from .angles.state import SESSION_TTL_S
from .cache import CacheEntry, RedisCache, Slot
from .hotredis import RedisReplyError, lean_client
from .logs import get_logger
from .pipeline import TITLE_TTL_S, KindResult, PersonalizeResult, Pipeline, resolve_cached
from .types import AngleDecision, Context, UserProfile

__all__ = ["HotPath", "NearCache", "NEAR_MAX_AGE_S", "decision_payload"]

log = get_logger("genperso.hotpath")

NEAR_MAX_AGE_S = 5.0  # a near copy is re-read at least this often even if no epoch changed
NEAR_CAPACITY = 50_000
_NONE = b"-"
_DECISION_FIELDS = frozenset(f.name for f in dataclasses.fields(AngleDecision))
_REDIS_ERRORS = (ConnectionError, OSError, RedisReplyError, asyncio.TimeoutError)


def decision_payload(d: AngleDecision) -> bytes:
    """The stored form of a sticky decision: ``json.dumps(d.to_dict())`` without the deep copy
    and canonical re-encoding of ``to_dict`` (decisions hold only JSON values already)."""
    return json.dumps({
        "decision_id": d.decision_id, "user_id": d.user_id, "title_id": d.title_id, "angle_id": d.angle_id,
        "propensity": d.propensity, "scores": dict(d.scores), "explanation": d.explanation, "policy": d.policy,
        "context": dict(d.context), "created_at": d.created_at, "shadow": dict(d.shadow) if d.shadow else None,
    }).encode()


def _decision(raw: bytes) -> AngleDecision:
    doc = json.loads(raw)
    if doc.keys() <= _DECISION_FIELDS and not any(isinstance(v, list) for v in doc.values()):
        return AngleDecision(**doc)
    return AngleDecision.from_dict(doc)


class _Aredis:
    """``redis.asyncio`` behind ``LeanRedis.execute`` (``rediss://`` and ``unix://`` deployments);
    reads only: the hot path makes no first decisions over it."""

    writes = False

    def __init__(self, url: str) -> None:
        import redis.asyncio as aredis

        self.client = aredis.Redis.from_url(url, socket_connect_timeout=2.0, socket_timeout=5.0,
                                            health_check_interval=30)

    async def execute(self, *commands: Any) -> list[Any]:
        return [await self.client.execute_command(*c) for c in commands]


@dataclass(frozen=True)
class _Near:
    stamp: tuple[Any, ...]
    at: float
    value: CacheEntry | None


class NearCache:
    """Process-local copies of cache records, each valid only for the epochs it was read under."""

    def __init__(self, max_age_s: float = NEAR_MAX_AGE_S, capacity: int = NEAR_CAPACITY) -> None:
        self.max_age_s = max_age_s
        self.capacity = capacity
        self._data: dict[Any, _Near] = {}
        self._lock = threading.Lock()

    def get(self, key: Any, stamp: tuple[Any, ...], now: float) -> _Near | None:
        hit = self._data.get(key)
        if hit is None or hit.stamp != stamp or now - hit.at > self.max_age_s:
            return None
        return hit

    def put(self, key: Any, stamp: tuple[Any, ...], now: float, value: CacheEntry | None) -> None:
        with self._lock:
            if len(self._data) >= self.capacity:
                self._data.clear()
            self._data[key] = _Near(stamp, now, value)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


class HotPath:
    """The cache-hit fast path for one pipeline (see the module docstring)."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.near = NearCache()
        self._client: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._refreshing: set[tuple[str, str]] = set()

    @property
    def enabled(self) -> bool:
        p = self.pipeline
        return isinstance(p.cache, RedisCache) and hasattr(p.chooser, "sticky_probe")

    def _redis(self) -> Any:
        """One client per event loop (a connection is bound to the loop it runs on): ``LeanRedis``
        for plain ``redis://`` URLs, else ``redis.asyncio``."""
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            url = self.pipeline.settings.redis_url or "redis://127.0.0.1:6379/0"
            self._client = lean_client(url) or _Aredis(url)
            self._loop = loop
        return self._client

    def _refresh_ahead(self, title_id: str, fetched_at: float) -> None:
        """Past half their lifetime, re-read the title state and the title's angle support on the
        thread pool (one refresh per title at a time) while requests keep using the fresh copies,
        so no request waits on the catalog and the staleness bounds stay what they were."""
        p = self.pipeline
        jobs = []
        if time.monotonic() - fetched_at > TITLE_TTL_S / 2:
            jobs.append(("title", title_id, lambda: p.title_state(title_id, refresh=True)))
        pol = p.chooser
        age = pol.support_age(title_id)
        if age is not None and age > SUPPORT_TTL_S / 2:
            jobs.append(("support", title_id, lambda: pol.support(title_id, refresh=True)))
        if hasattr(pol, "choose_local"):
            shared, impressions = pol.local_refresh_due(title_id)
            if shared:  # the posterior and calibration: one refresh for every title
                jobs.append(("policy", "", lambda: pol.refresh_local()))
            if impressions:
                jobs.append(("impressions", title_id, lambda: pol.refresh_local(title_id)))
        for key in jobs:
            if key[:2] in self._refreshing:
                continue
            self._refreshing.add(key[:2])
            fut = asyncio.get_running_loop().run_in_executor(None, key[2])
            fut.add_done_callback(lambda f, k=key[:2]: self._refreshed(k, f))

    def _refreshed(self, key: tuple[str, str], fut: asyncio.Future[Any]) -> None:
        self._refreshing.discard(key)
        if not fut.cancelled() and fut.exception() is not None:
            log.warning("hotpath.refresh_failed", what=key[0], title_id=key[1], error=repr(fut.exception()))

    async def personalize(self, user_id: str, title_id: str, kinds: Sequence[str], context: Context, *,
                          params: Mapping[str, Mapping[str, Any]] | None = None, user: UserProfile | None = None
                          ) -> tuple[PersonalizeResult | None, str]:
        """(the cached answer, "hot" or "first"), or (None, why) when the synchronous
        ``Pipeline.personalize`` must run; ``why`` is a short label for metrics. ``user`` (a built
        profile with an embedding) lets a request with no sticky decision yet be decided here."""
        p = self.pipeline
        if not kinds or not self.enabled:
            return None, "disabled"
        title = p.cached_title(title_id)
        if title is None:
            return None, "title"
        self._refresh_ahead(title_id, title.fetched_at)
        pol = p.chooser
        probe = pol.sticky_probe(user_id, title_id, context)
        if probe is None:
            return None, "support"
        sticky_key, eligible = probe
        cache: RedisCache = p.cache  # type: ignore[assignment]
        r = self._redis()
        try:
            raw, *epochs = (await r.execute(("MGET", sticky_key, *cache.epoch_keys(title_id))))[0]
        except _REDIS_ERRORS as exc:
            log.warning("hotpath.redis_failed", error=repr(exc))
            return None, "redis"
        choice = None
        if raw is not None:
            decision = _decision(raw)
            if decision.angle_id not in eligible:
                return None, "decision"  # choose() decides again (and replaces the sticky decision)
        else:
            if user is None or user.embedding is None or not getattr(r, "writes", True) \
                    or not hasattr(pol, "choose_local"):
                return None, "decision"
            shown = None
            if context.session_id:
                try:
                    flat = (await r.execute(("HGETALL", pol.store.session_key(user_id, context.session_id))))[0]
                except _REDIS_ERRORS as exc:
                    log.warning("hotpath.redis_failed", error=repr(exc))
                    return None, "redis"
                shown = {flat[i].decode(): flat[i + 1].decode() for i in range(0, len(flat), 2)}
            choice = pol.choose_local(user, title_id, context, eligible, shown)
            if choice is None:
                return None, "decision"
            decision = choice.decision
        kinds = list(dict.fromkeys(kinds))
        stamp = tuple(epochs)
        now = time.monotonic()
        keyed = {k: p.request_key(title, decision.angle_id, k, (params or {}).get(k), context) for k in kinds}
        slots: dict[str, Slot] = {k: (title_id, decision.angle_id, k) for k in kinds}
        found: dict[Any, CacheEntry | None] = {}
        wanted: list[tuple[Any, str]] = []
        for k in kinds:
            asset_key, pin_key = cache.record_keys(keyed[k][1], slots[k])
            for nk, rk in ((("a", keyed[k][1]), asset_key), (("p", slots[k]), pin_key)):
                near = self.near.get(nk, stamp, now)
                if near is None:
                    wanted.append((nk, rk))
                else:
                    found[nk] = near.value
        commands: list[tuple[Any, ...]] = []
        if choice is not None:  # first decision: stored only if no other request stored one first
            commands.append(("SET", sticky_key, decision_payload(decision), "EX", choice.ttl_s, "NX", "GET"))
        if wanted:
            commands.append(("MGET", *[rk for _, rk in wanted]))
        try:
            replies = await r.execute(*commands) if commands else []
        except _REDIS_ERRORS as exc:
            log.warning("hotpath.redis_failed", error=repr(exc))
            return None, "redis"
        if choice is not None:
            earlier = replies.pop(0)
            if earlier is not None:  # another request decided first: its decision is the sticky one
                first = _decision(earlier)
                if first.angle_id != decision.angle_id or first.angle_id not in eligible:
                    return None, "decision"
                decision, choice = first, None
            else:
                pol.commit_local(choice)
                if context.session_id and pol.log_decisions:
                    key = pol.store.session_key(user_id, context.session_id)
                    try:
                        await r.execute(("HSET", key, title_id, decision.angle_id), ("EXPIRE", key, SESSION_TTL_S))
                    except _REDIS_ERRORS as exc:
                        log.warning("hotpath.session_note_failed", error=repr(exc))
        if wanted:
            for (nk, _), v in zip(wanted, replies[0]):
                if v is None:
                    return None, "record"  # not in Redis (never set or expired): the catalog refills it
                entry = None if v == _NONE else CacheEntry.loads(v)
                if nk[0] == "a" and entry is None:
                    return None, "record"
                self.near.put(nk, stamp, now, entry)
                found[nk] = entry
        results: dict[str, KindResult] = {}
        for k in kinds:
            digest = keyed[k][1]
            res = resolve_cached(title, k, digest, found[("a", digest)], found[("p", slots[k])], context.maturity)
            if res is None:
                return None, "miss"
            results[k] = res
        return PersonalizeResult(decision=decision, title=title, results=results), "first" if choice else "hot"
