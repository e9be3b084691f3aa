"""The asset cache: records by ``AssetKey.digest``, per-slot pointers and single-flight claims.

A *slot* is (title id, angle id, kind). Three things are looked up per request:

* ``asset:<digest>``       the record of one content-addressed asset (exact hit),
* ``pin:<title>:<angle>:<kind>``    the editorially pinned asset of a slot (wins over everything),
* ``latest:<title>:<angle>:<kind>:<profile>`` the newest servable asset of a slot for one audience
  profile, any version: served while a new title/generator version of the slot generates
  (stale-while-revalidate).

Assets carry the audience profile the safety gate checked them for (kids | teen | adult): a
request is only ever answered with an asset gated for its own profile or a stricter one.

``RedisCache`` keeps them in Redis under ``settings.redis_prefix`` (one ``MGET`` for the hot path;
claims with ``SET NX PX``); the catalog stays the source of truth and refills Redis after a TTL
expiry. ``EmbeddedCache`` answers from the catalog directly (claims are rows with a primary key).

Cache epochs: every ``put``/``forget`` increments ``epoch:<title>`` (``forget`` of bare digests the
global ``epoch``) in the same pipeline as the change, so an API process may keep near copies of
records stamped with the epochs it read *before* fetching them (``genperso.hotpath``): a copy whose
stamp differs from the current epochs is never used.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

import sqlalchemy as sa

from .catalog import session_scope
from .catalog.assets import PROFILES, AssetRepo, AssetRow, ClaimRow, asset_profile, profiles_for, try_claim
from .config import Settings, get_settings
from .errors import Retryable
from .logs import get_logger

__all__ = [
    "Slot",
    "CacheEntry",
    "Lookup",
    "AssetCache",
    "EmbeddedCache",
    "RedisCache",
    "get_cache",
    "reset_cache",
    "servable",
    "invalidate_title_versions",
    "redis_client",
    "fits",
    "epoch_keys",
]

log = get_logger("genperso.cache")

Slot = tuple[str, str, str]  # (title_id, angle_id, kind)
SERVABLE = {"auto": ("generated", "approved"), "approved_only": ("approved",)}
_NONE = b"-"


def servable(state: str, serving_policy: str) -> bool:
    """Whether an asset in ``state`` may be served under a title's serving policy."""
    return state in SERVABLE.get(serving_policy, SERVABLE["approved_only"])


def fits(entry: CacheEntry | None, serving_policy: str, maturity: str) -> bool:
    """Whether ``entry`` may answer a request of audience ``maturity`` under ``serving_policy``."""
    return entry is not None and servable(entry.state, serving_policy) and entry.profile in profiles_for(maturity)


@dataclass(frozen=True)
class CacheEntry:
    """A cached asset record (the ``AssetRecord.to_dict()`` form) and its pinned flag."""

    data: Mapping[str, Any]
    pinned: bool = False

    @property
    def asset_id(self) -> str:
        return str(self.data["asset_id"])

    @property
    def state(self) -> str:
        return str(self.data.get("state", "generated"))

    @property
    def profile(self) -> str:
        return asset_profile(dict(self.data.get("key") or {}))

    @property
    def title_version_hash(self) -> str:
        return str(self.data.get("key", {}).get("title_version_hash", ""))

    def dumps(self) -> bytes:
        return json.dumps({"r": self.data, "p": self.pinned}, separators=(",", ":")).encode()

    @classmethod
    def loads(cls, raw: bytes) -> CacheEntry:
        d = json.loads(raw)
        return cls(data=d["r"], pinned=bool(d.get("p")))

    @classmethod
    def from_row(cls, row: AssetRow) -> CacheEntry:
        return cls(data=row.value().to_dict(), pinned=bool(row.pinned))


@dataclass
class Lookup:
    assets: dict[str, CacheEntry | None] = field(default_factory=dict)
    pinned: dict[Slot, CacheEntry | None] = field(default_factory=dict)


class AssetCache:
    """Interface shared by both stores."""

    settings: Settings

    def lookup(self, digests: Sequence[str], slots: Sequence[Slot]) -> Lookup:  # pragma: no cover - abstract
        raise NotImplementedError

    def latest(self, slot: Slot, serving_policy: str, maturity: str = "adult") -> CacheEntry | None:
        with session_scope(self.settings) as s:
            row = AssetRepo(s).latest(slot[0], slot[2], SERVABLE.get(serving_policy, ("approved",)), angle_id=slot[1],
                                      profiles=profiles_for(maturity))
            return CacheEntry.from_row(row) if row else None

    def put(self, entry: CacheEntry) -> None:
        """Record (or refresh after a state change) one asset in the cache."""

    def forget(self, digests: Iterable[str], slots: Iterable[Slot] = ()) -> int:
        return 0

    def claim(self, digest: str, job_id: str) -> str | None:  # pragma: no cover - abstract
        """Single-flight: None when this caller won the claim, else the job id that holds it."""
        raise NotImplementedError

    def release(self, digest: str, job_id: str | None = None) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def ping(self) -> None:
        """Raise when the store is unreachable."""


class EmbeddedCache(AssetCache):
    """No external server: the catalog tables are the store; claims are unique rows."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def lookup(self, digests: Sequence[str], slots: Sequence[Slot]) -> Lookup:
        out = Lookup()
        with session_scope(self.settings) as s:
            rows = {r.asset_id: r for r in s.scalars(sa.select(AssetRow).where(AssetRow.asset_id.in_(list(digests))))}
            out.assets = {d: (CacheEntry.from_row(rows[d]) if d in rows else None) for d in digests}
            titles = {t for t, _, _ in slots}
            pins = {}
            if titles:
                for r in s.scalars(
                    sa.select(AssetRow).where(AssetRow.title_id.in_(titles), AssetRow.pinned.is_(True),
                                              AssetRow.state.notin_(("rejected", "blocked")))
                ):
                    pins[(r.title_id, r.angle_id, r.kind)] = CacheEntry.from_row(r)
            out.pinned = {slot: pins.get(slot) for slot in slots}
        return out

    def claim(self, digest: str, job_id: str) -> str | None:
        return try_claim(lambda: session_scope(self.settings), digest, job_id, self.settings.claim_ttl_seconds)

    def release(self, digest: str, job_id: str | None = None) -> None:
        with session_scope(self.settings) as s:
            q = sa.delete(ClaimRow).where(ClaimRow.asset_id == digest)
            if job_id is not None:
                q = q.where(ClaimRow.job_id == job_id)
            s.execute(q)

    def ping(self) -> None:
        with session_scope(self.settings) as s:
            s.execute(sa.text("SELECT 1"))


_RELEASE_LUA = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"

_clients: dict[str, Any] = {}
_clients_lock = threading.Lock()


def redis_client(url: str) -> Any:
    import redis

    with _clients_lock:
        c = _clients.get(url)
        if c is None:
            c = _clients[url] = redis.Redis.from_url(url, socket_connect_timeout=2.0, socket_timeout=5.0,
                                                      health_check_interval=30)
        return c


class RedisCache(AssetCache):
    """Redis in front of the catalog. Every key lives under ``settings.redis_prefix``."""

    def __init__(self, settings: Settings) -> None:
        assert settings.redis_url
        self.settings = settings
        self.prefix = settings.redis_prefix
        self.r = redis_client(settings.redis_url)
        self.ttl = int(settings.cache_ttl_seconds)

    def _k(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    def _slot(self, kind: str, slot: Slot) -> str:
        return self._k(kind, *slot)

    def _call(self, fn: Any, *args: Any) -> Any:
        import redis

        try:
            return fn(*args)
        except redis.exceptions.ConnectionError as exc:
            raise Retryable(f"Redis is unreachable: {exc}") from None
        except redis.exceptions.TimeoutError as exc:
            raise Retryable(f"Redis timed out: {exc}") from None

    def lookup(self, digests: Sequence[str], slots: Sequence[Slot]) -> Lookup:
        keys = [self._k("asset", d) for d in digests] + [self._slot("pin", sl) for sl in slots]
        raw = self._call(self.r.mget, keys) if keys else []
        out = Lookup()
        missing_assets = []
        for d, v in zip(digests, raw[: len(digests)]):
            if v is None:
                missing_assets.append(d)
                out.assets[d] = None
            else:
                out.assets[d] = None if v == _NONE else CacheEntry.loads(v)
        missing_pins = []
        for sl, v in zip(slots, raw[len(digests):]):
            if v is None:
                missing_pins.append(sl)
                out.pinned[sl] = None
            else:
                out.pinned[sl] = None if v == _NONE else CacheEntry.loads(v)
        if missing_assets or missing_pins:
            self._refill(out, missing_assets, missing_pins)
        return out

    def _refill(self, out: Lookup, digests: list[str], slots: list[Slot]) -> None:
        """Redis has nothing for these keys (never set or TTL expired): ask the catalog and cache
        the answer (a found record, or nothing-pinned marker). Absent assets are not negatively
        cached: the generation that is about to start will set them."""
        with session_scope(self.settings) as s:
            repo = AssetRepo(s)
            found = {r.asset_id: CacheEntry.from_row(r)
                     for r in s.scalars(sa.select(AssetRow).where(AssetRow.asset_id.in_(digests)))} if digests else {}
            pins = {sl: repo.pinned(*sl) for sl in slots}
            pins_e = {sl: (CacheEntry.from_row(r) if r else None) for sl, r in pins.items()}
        pipe = self.r.pipeline(transaction=False)
        for d, e in found.items():
            out.assets[d] = e
            pipe.set(self._k("asset", d), e.dumps(), ex=self.ttl)
        for sl, e in pins_e.items():
            out.pinned[sl] = e
            pipe.set(self._slot("pin", sl), e.dumps() if e else _NONE, ex=self.ttl)
        self._call(pipe.execute)

    def latest(self, slot: Slot, serving_policy: str, maturity: str = "adult") -> CacheEntry | None:
        raw = self._call(self.r.get, self._k("latest", *slot, maturity))
        if raw is not None and raw != _NONE:
            e = CacheEntry.loads(raw)
            if fits(e, serving_policy, maturity):
                return e
        return super().latest(slot, serving_policy, maturity)

    def put(self, entry: CacheEntry) -> None:
        d = entry.data
        slot: Slot = (str(d["title_id"]), str(d["angle_id"]), str(d["kind"]))
        pipe = self.r.pipeline(transaction=False)
        pipe.set(self._k("asset", entry.asset_id), entry.dumps(), ex=self.ttl)
        latest = self._k("latest", *slot, entry.profile)
        if servable(entry.state, "auto"):
            pipe.set(latest, entry.dumps(), ex=self.ttl)
        else:  # a rejected/blocked asset leaves the latest slot; the catalog refills it
            pipe.delete(latest)
        # the pin slot is recomputed from the catalog on the next lookup
        pipe.delete(self._slot("pin", slot))
        pipe.incr(self._k("epoch", slot[0]))
        self._call(pipe.execute)

    def record_keys(self, digest: str, slot: Slot) -> tuple[str, str]:
        """The Redis keys of an asset record and of its slot's pin (read by the hot path)."""
        return self._k("asset", digest), self._slot("pin", slot)

    def epoch_keys(self, title_id: str) -> tuple[str, str]:
        """The global and the per-title cache epoch keys (see the module docstring)."""
        return epoch_keys(self.prefix, title_id)

    def forget(self, digests: Iterable[str], slots: Iterable[Slot] = ()) -> int:
        digests, slots = list(digests), list(slots)
        keys = [self._k("asset", d) for d in digests]
        for sl in slots:
            keys += [self._slot("pin", sl)] + [self._k("latest", *sl, p) for p in PROFILES]
        if not keys:
            return 0
        pipe = self.r.pipeline(transaction=True)
        pipe.delete(*keys)
        titles = sorted({sl[0] for sl in slots})
        for t in titles:
            pipe.incr(self._k("epoch", t))
        if digests and not titles:  # records of unknown titles: every near copy is suspect
            pipe.incr(self._k("epoch"))
        return int(self._call(pipe.execute)[0])

    def claim(self, digest: str, job_id: str) -> str | None:
        key = self._k("claim", digest)
        ttl_ms = int(self.settings.claim_ttl_seconds * 1000)
        for _ in range(3):
            if self._call(lambda: self.r.set(key, job_id, px=ttl_ms, nx=True)):  # SET key job NX PX ttl
                return None
            holder = self._call(self.r.get, key)
            if holder is not None:
                return holder.decode()
        return None

    def release(self, digest: str, job_id: str | None = None) -> None:
        key = self._k("claim", digest)
        if job_id is None:
            self._call(self.r.delete, key)
        else:
            self._call(self.r.eval, _RELEASE_LUA, 1, key, job_id)

    def ping(self) -> None:
        self._call(self.r.ping)


_caches: dict[tuple[str, str | None, str], AssetCache] = {}
_lock = threading.Lock()


def get_cache(settings: Settings | None = None) -> AssetCache:
    settings = settings or get_settings()
    k = (str(settings.data_dir), settings.redis_url, settings.redis_prefix)
    with _lock:
        c = _caches.get(k)
        if c is None:
            c = _caches[k] = RedisCache(settings) if settings.redis_url else EmbeddedCache(settings)
        return c


def reset_cache() -> None:
    with _lock:
        _caches.clear()


def epoch_keys(prefix: str, title_id: str) -> tuple[str, str]:
    return prefix + "epoch", prefix + "epoch:" + title_id


def invalidate_title_versions(title_id: str, old_hashes: Sequence[str], *, settings: Settings | None = None) -> int:
    """A title got a new version: drop the cached records of its old versions. The ``latest``
    slot pointers stay, so the old asset keeps being served while the new one generates."""
    settings = settings or get_settings()
    with session_scope(settings) as s:
        digests = [d for (d,) in s.execute(
            sa.select(AssetRow.asset_id).where(AssetRow.title_id == title_id,
                                               AssetRow.title_version_hash.in_(list(old_hashes)))
        )]
    n = get_cache(settings).forget(digests)
    from . import pipeline

    pipeline.forget_title(title_id)
    log.info("cache.title_versions_invalidated", title_id=title_id, assets=len(digests), keys=n)
    return len(digests)
