"""Where the bandit state lives: the catalog (embedded mode) or Redis (production).

State = per-angle sufficient statistics, per-title impression counts (new-title exploration),
per-(user, session) shown angles (satiation) and per-(user, title, time bucket) sticky decisions. Embedded mode keeps the models in catalog tables,
updated in the same transaction as the events that caused them (survives restarts); sessions are
kept in process memory. Redis mode keys everything under ``settings.redis_prefix + "angles:"``;
model updates use an optimistic WATCH/MULTI loop so concurrent workers never lose an update.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any, Protocol

import numpy as np
from sqlalchemy.orm import Session

from ..catalog.angles import AngleModelRow, AngleTitleStatRow
from ..catalog.db import session_scope
from ..config import Settings
from ..errors import Retryable
from ..types import AngleDecision
from .bandit import AngleModel, Delta

__all__ = ["StateStore", "LocalStore", "RedisStore", "make_store", "generation", "SESSION_TTL_S"]

SESSION_TTL_S = 6 * 3600
MAX_LOCAL_SESSIONS = 100_000
_generation = [0]  # bumped on every update made by this process: policies here refresh at once


def generation() -> int:
    return _generation[0]


def _bump() -> None:
    _generation[0] += 1


class StateStore(Protocol):
    def load_models(self, dim: int) -> dict[str, AngleModel]: ...
    def apply(self, deltas: Mapping[str, Delta], titles: Mapping[str, int], db: Session | None = None) -> None: ...
    def title_impressions(self, title_id: str) -> int: ...
    def session_angles(self, user_id: str, session_id: str) -> dict[str, str]: ...
    def note_session(self, user_id: str, session_id: str, title_id: str, angle_id: str) -> None: ...
    def delete_user(self, user_id: str) -> int: ...
    def version(self) -> Any: ...
    def sticky_get(self, user_id: str, key: str) -> AngleDecision | None: ...
    def sticky_set(self, user_id: str, key: str, decision: AngleDecision, ttl_s: int) -> None: ...


class _PerUser:
    """In-memory entries keyed by (user id, ...): deletion for privacy."""

    _lock: threading.Lock
    _data: OrderedDict[tuple[str, str], Any]

    def delete_user(self, user_id: str) -> int:
        with self._lock:
            keys = [k for k in self._data if k[0] == user_id]
            for k in keys:
                del self._data[k]
            return len(keys)


class _Sessions(_PerUser):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._data: OrderedDict[tuple[str, str], tuple[float, dict[str, str]]] = OrderedDict()

    def get(self, user_id: str, session_id: str) -> dict[str, str]:
        with self._lock:
            hit = self._data.get((user_id, session_id))
            if hit is None or time.time() - hit[0] > SESSION_TTL_S:
                return {}
            return dict(hit[1])

    def note(self, user_id: str, session_id: str, title_id: str, angle_id: str) -> None:
        with self._lock:
            key = (user_id, session_id)
            _, shown = self._data.pop(key, (0.0, {}))
            shown[title_id] = angle_id
            self._data[key] = (time.time(), shown)
            while len(self._data) > MAX_LOCAL_SESSIONS:
                self._data.popitem(last=False)

class _Sticky(_PerUser):
    """Recent decisions per (user, title, time bucket, policy): the same answer on every page load."""

    def __init__(self, capacity: int = 200_000) -> None:
        self._lock = threading.Lock()
        self._data: OrderedDict[tuple[str, str], tuple[float, AngleDecision]] = OrderedDict()
        self.capacity = capacity

    def get(self, user_id: str, key: str) -> AngleDecision | None:
        with self._lock:
            hit = self._data.get((user_id, key))
            if hit is None or time.time() > hit[0]:
                return None
            return hit[1]

    def set(self, user_id: str, key: str, decision: AngleDecision, ttl_s: int) -> None:
        with self._lock:
            self._data[(user_id, key)] = (time.time() + ttl_s, decision)
            self._data.move_to_end((user_id, key))
            while len(self._data) > self.capacity:
                self._data.popitem(last=False)

class LocalStore:
    """Embedded mode: models and title counts in the catalog, sessions and sticky decisions in memory."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._sessions = _Sessions()
        self._sticky = _Sticky()
        self._version = 0

    def sticky_get(self, user_id: str, key: str) -> AngleDecision | None:
        return self._sticky.get(user_id, key)

    def sticky_set(self, user_id: str, key: str, decision: AngleDecision, ttl_s: int) -> None:
        self._sticky.set(user_id, key, decision, ttl_s)

    def load_models(self, dim: int) -> dict[str, AngleModel]:
        out: dict[str, AngleModel] = {}
        with session_scope(self.settings) as s:
            for row in s.query(AngleModelRow):
                if row.dim != dim:
                    continue  # feature layout changed (angles file edited): that model restarts
                out[row.angle_id] = AngleModel(dim, float(row.n), np.asarray(row.xtx, dtype=np.float64).reshape(dim, dim),
                                               np.asarray(row.xty, dtype=np.float64))
        return out

    def apply(self, deltas: Mapping[str, Delta], titles: Mapping[str, int], db: Session | None = None) -> None:
        if db is None:
            with session_scope(self.settings) as s:
                self._apply(s, deltas, titles)
        else:
            self._apply(db, deltas, titles)
        self._version += 1
        _bump()

    def _apply(self, s: Session, deltas: Mapping[str, Delta], titles: Mapping[str, int]) -> None:
        for aid, d in deltas.items():
            row = s.get(AngleModelRow, aid, with_for_update=True)
            if row is None or row.dim != d.dim:
                if row is not None:
                    s.delete(row)
                    s.flush()
                row = AngleModelRow(angle_id=aid, dim=d.dim, n=0.0, xtx=[0.0] * d.dim * d.dim, xty=[0.0] * d.dim)
                s.add(row)
            m = AngleModel(d.dim, float(row.n), np.asarray(row.xtx, dtype=np.float64).reshape(d.dim, d.dim),
                           np.asarray(row.xty, dtype=np.float64))
            m.apply(d)
            row.n, row.xtx, row.xty = float(m.n), m.xtx.reshape(-1).tolist(), m.xty.tolist()
        for tid, k in titles.items():
            trow = s.get(AngleTitleStatRow, tid)
            if trow is None:
                s.add(AngleTitleStatRow(title_id=tid, impressions=max(0, k)))
            else:
                trow.impressions = max(0, trow.impressions + k)

    def title_impressions(self, title_id: str) -> int:
        with session_scope(self.settings) as s:
            row = s.get(AngleTitleStatRow, title_id)
            return int(row.impressions) if row else 0

    def session_angles(self, user_id: str, session_id: str) -> dict[str, str]:
        return self._sessions.get(user_id, session_id)

    def note_session(self, user_id: str, session_id: str, title_id: str, angle_id: str) -> None:
        self._sessions.note(user_id, session_id, title_id, angle_id)

    def delete_user(self, user_id: str) -> int:
        return self._sessions.delete_user(user_id) + self._sticky.delete_user(user_id)

    def version(self) -> Any:
        with session_scope(self.settings) as s:
            from sqlalchemy import func, select

            return (self._version, s.scalar(select(func.max(AngleModelRow.updated_at))),
                    s.scalar(select(func.sum(AngleModelRow.n))))


class RedisStore:
    """Production: every key under ``<redis_prefix>angles:``."""

    def __init__(self, settings: Settings, client: Any | None = None) -> None:
        import redis

        self.settings = settings
        self.r = client or redis.Redis.from_url(settings.redis_url or "redis://127.0.0.1:6379/0")
        self.prefix = f"{settings.redis_prefix}angles:"

    def _k(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    def load_models(self, dim: int) -> dict[str, AngleModel]:
        out: dict[str, AngleModel] = {}
        raw = self.r.hgetall(self._k("models"))
        for aid, blob in raw.items():
            data = json.loads(blob)
            if data["dim"] != dim:
                continue
            out[aid.decode()] = AngleModel(dim, float(data["n"]), np.asarray(data["xtx"]).reshape(dim, dim),
                                           np.asarray(data["xty"]))
        return out

    def apply(self, deltas: Mapping[str, Delta], titles: Mapping[str, int], db: Session | None = None) -> None:
        import redis

        key = self._k("models")
        for _attempt in range(50):
            with self.r.pipeline() as pipe:
                try:
                    pipe.watch(key)
                    current = {aid: pipe.hget(key, aid) for aid in deltas}
                    pipe.multi()
                    for aid, d in deltas.items():
                        blob = current[aid]
                        data = json.loads(blob) if blob else None
                        if data is None or data["dim"] != d.dim:
                            m = AngleModel(d.dim)
                        else:
                            m = AngleModel(d.dim, float(data["n"]), np.asarray(data["xtx"]).reshape(d.dim, d.dim),
                                           np.asarray(data["xty"]))
                        m.apply(d)
                        pipe.hset(key, aid, json.dumps({"dim": d.dim, "n": m.n, "xtx": m.xtx.reshape(-1).tolist(),
                                                        "xty": m.xty.tolist()}))
                    for tid, k in titles.items():
                        pipe.hincrby(self._k("titles"), tid, int(k))
                    pipe.incr(self._k("version"))
                    pipe.execute()
                    _bump()
                    return
                except redis.WatchError:
                    continue
        raise Retryable("bandit state in Redis is too contended; retry the update")

    def title_impressions(self, title_id: str) -> int:
        v = self.r.hget(self._k("titles"), title_id)
        return max(0, int(v)) if v else 0

    def session_angles(self, user_id: str, session_id: str) -> dict[str, str]:
        raw = self.r.hgetall(self.session_key(user_id, session_id))
        return {k.decode(): v.decode() for k, v in raw.items()}

    def session_key(self, user_id: str, session_id: str) -> str:
        """The Redis hash of a session's shown angles (title -> angle; read by the serving hot path)."""
        return self._k("session", user_id, session_id)

    def note_session(self, user_id: str, session_id: str, title_id: str, angle_id: str) -> None:
        key = self.session_key(user_id, session_id)
        with self.r.pipeline() as pipe:
            pipe.hset(key, title_id, angle_id)
            pipe.expire(key, SESSION_TTL_S)
            pipe.execute()

    def delete_user(self, user_id: str) -> int:
        n = 0
        for kind in ("session", "sticky"):
            for key in self.r.scan_iter(match=self._k(kind, user_id, "*"), count=500):
                n += int(self.r.delete(key))
        return n

    def sticky_key(self, user_id: str, key: str) -> str:
        """The Redis key of a sticky decision (read directly by the serving hot path)."""
        return self._k("sticky", user_id, key)

    def sticky_get(self, user_id: str, key: str) -> AngleDecision | None:
        raw = self.r.get(self._k("sticky", user_id, key))
        return AngleDecision.from_dict(json.loads(raw)) if raw else None

    def sticky_set(self, user_id: str, key: str, decision: AngleDecision, ttl_s: int) -> None:
        self.r.set(self._k("sticky", user_id, key), json.dumps(decision.to_dict()), ex=max(1, int(ttl_s)))

    def version(self) -> Any:
        return self.r.get(self._k("version"))


def make_store(settings: Settings) -> StateStore:
    return RedisStore(settings) if settings.redis_url else LocalStore(settings)
