"""The async cache-hit path of ``personalize``: one Redis round trip, no thread-pool hop.

``Pipeline.personalize`` is synchronous (catalog reads, generation jobs, fallbacks) and runs on
the API's thread pool. Most requests, though, are answered from the cache by a sticky angle
decision (the same answer on every page load within the stickiness bucket). ``HotPath`` answers
those in the event loop with ``redis.asyncio``:

1. one ``MGET`` reads the sticky decision ``AnglePolicy.choose`` stored for (user, title, bucket,
   maturity) and the cache epochs of the title (``genperso.cache``);
2. the asset records and pinned slots come from a process-local near cache when their copies
   carry the epochs just read, else from a second ``MGET`` (stamped with those epochs);
3. the shared rule ``pipeline.resolve_cached`` picks the pinned or exact asset.

Whenever any step cannot answer exactly as ``Pipeline.personalize`` would (no sticky decision yet,
title state or eligibility not in this process, a record missing from Redis, anything but a
``pinned``/``hit`` outcome, a custom chooser, the embedded store) it returns None and the caller
runs the full synchronous path. Review actions and invalidations bump the epochs in the same
Redis transaction as their change, so every process sees them on its next request.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from .cache import CacheEntry, RedisCache, Slot
from .logs import get_logger
from .angles.policy import SUPPORT_TTL_S
from .pipeline import TITLE_TTL_S, KindResult, PersonalizeResult, Pipeline, resolve_cached
from .types import AngleDecision, Context

__all__ = ["HotPath", "NearCache", "NEAR_MAX_AGE_S"]

log = get_logger("genperso.hotpath")

NEAR_MAX_AGE_S = 5.0  # a near copy is re-read at least this often even if no epoch changed
NEAR_CAPACITY = 50_000
_NONE = b"-"


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
        """One ``redis.asyncio`` client per event loop (a client is bound to the loop it runs on)."""
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            import redis.asyncio as aredis

            url = self.pipeline.settings.redis_url or "redis://127.0.0.1:6379/0"
            self._client = aredis.Redis.from_url(url, socket_connect_timeout=2.0, socket_timeout=5.0,
                                                 health_check_interval=30)
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
        age = p.chooser.support_age(title_id)
        if age is not None and age > SUPPORT_TTL_S / 2:
            jobs.append(("support", title_id, lambda: p.chooser.support(title_id, refresh=True)))
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
                          params: Mapping[str, Mapping[str, Any]] | None = None
                          ) -> tuple[PersonalizeResult | None, str]:
        """(the cached answer, "hot"), or (None, why) when the synchronous ``Pipeline.personalize``
        must run; ``why`` is a short label for metrics."""
        p = self.pipeline
        if not kinds or not self.enabled:
            return None, "disabled"
        title = p.cached_title(title_id)
        if title is None:
            return None, "title"
        self._refresh_ahead(title_id, title.fetched_at)
        probe = p.chooser.sticky_probe(user_id, title_id, context)
        if probe is None:
            return None, "support"
        sticky_key, eligible = probe
        cache: RedisCache = p.cache  # type: ignore[assignment]
        r = self._redis()
        raw, *epochs = await r.mget([sticky_key, *cache.epoch_keys(title_id)])
        if raw is None:
            return None, "decision"
        decision = AngleDecision.from_dict(json.loads(raw))
        if decision.angle_id not in eligible:
            return None, "decision"
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
        if wanted:
            values = await r.mget([rk for _, rk in wanted])
            for (nk, _), v in zip(wanted, values):
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
        return PersonalizeResult(decision=decision, title=title, results=results), "hot"
