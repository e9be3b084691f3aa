"""Redis-backed bandit state against the real server (127.0.0.1:6379), under a unique key prefix.
Only this test's keys are deleted afterwards (never FLUSHDB)."""

from __future__ import annotations

import datetime as dt
import threading

import numpy as np
import pytest

from genperso.angles.bandit import Delta
from genperso.angles.events import FeedbackEvent, delete_user, record_events
from genperso.angles.policy import AnglePolicy
from genperso.angles.state import RedisStore
from genperso.catalog import session_scope
from genperso.catalog.titles import TitleRow
from genperso.types import Context, UserProfile

pytestmark = pytest.mark.integration
NOW = dt.datetime(2026, 11, 24, 20, 0, tzinfo=dt.timezone.utc)


@pytest.fixture
def redis_env(redis_settings):
    import redis

    from conftest import REDIS_URL

    return redis_settings, redis.Redis.from_url(REDIS_URL), redis_settings.redis_prefix


def test_concurrent_updates_are_not_lost(redis_env) -> None:
    settings, client, prefix = redis_env
    x = np.arange(4, dtype=np.float64)

    def worker() -> None:
        store = RedisStore(settings)
        for _ in range(15):
            d = Delta(4)
            d.observe(x, 1.0)
            store.apply({"action": d}, {"t1": 1})

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    store = RedisStore(settings)
    m = store.load_models(4)["action"]
    assert m.n == 90 and np.allclose(m.xtx, 90 * np.outer(x, x)) and np.allclose(m.xty, 90 * x)
    assert store.title_impressions("t1") == 90
    assert {k.decode() for k in client.scan_iter(match=prefix + "*", count=1000)} == {
        f"{prefix}angles:models", f"{prefix}angles:titles", f"{prefix}angles:version"}


def test_policy_state_sessions_and_deletion_in_redis(redis_env) -> None:
    settings, client, prefix = redis_env
    with session_scope(settings) as s:
        for t in ("t1", "t2"):
            s.add(TitleRow(id=t, name=t, genres=[]))
    pol = AnglePolicy(settings)
    assert isinstance(pol.store, RedisStore)
    d = pol.choose(UserProfile("dora"), "t1", Context(session_id="s1"), now=NOW)
    assert client.hget(f"{prefix}angles:session:dora:s1", "t1").decode() == d.angle_id
    assert record_events([FeedbackEvent("e1", "dora", "t1", d.angle_id, d.decision_id, "click")], settings) == (1, 0)
    assert record_events([FeedbackEvent("e1", "dora", "t1", d.angle_id, d.decision_id, "click")], settings) == (0, 1)
    other = AnglePolicy(settings)  # another process would see the same state
    assert other.posterior().n.sum() == 1
    # the sticky decision is shared through Redis: another process serves the same angle
    assert other.choose(UserProfile("dora"), "t1", Context(session_id="s1"), now=NOW).decision_id == d.decision_id
    assert list(client.scan_iter(match=f"{prefix}angles:sticky:dora:*"))
    res = delete_user("dora", settings)
    assert res["events"] == 1 and res["sessions"] >= 1 and res["unlearned"] == 1
    assert client.exists(f"{prefix}angles:session:dora:s1") == 0
    assert not list(client.scan_iter(match=f"{prefix}angles:sticky:dora:*"))
    assert RedisStore(settings).load_models(pol.dim)[d.angle_id].n == 0
