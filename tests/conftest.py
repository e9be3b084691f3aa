"""Shared fixtures: every test gets its own data dir and SQLite catalog; nothing global is touched."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(autouse=True)
def genperso_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Isolated settings: data dir under tmp_path, embedded mode (no Redis) unless a test opts in."""
    from genperso.catalog import reset_engines
    from genperso.config import reset_settings

    data = tmp_path / "genperso-data"
    monkeypatch.setenv("GENPERSO_DATA_DIR", str(data))
    monkeypatch.delenv("GENPERSO_REDIS_URL", raising=False)
    monkeypatch.delenv("GENPERSO_DATABASE_URL", raising=False)
    reset_settings()
    reset_engines()
    yield data
    reset_engines()
    reset_settings()


@pytest.fixture
def settings(genperso_env):
    from genperso.config import get_settings

    return get_settings()


REDIS_URL = "redis://127.0.0.1:6379/0"


def _reset_redis_state() -> None:
    from genperso.angles.policy import reset_policies
    from genperso.cache import reset_cache
    from genperso.pipeline import forget_title

    reset_cache()
    reset_policies()
    forget_title()


@pytest.fixture
def redis_settings(monkeypatch: pytest.MonkeyPatch, genperso_env):
    """Settings on the real Redis at 127.0.0.1:6379 under a key prefix of this test's own; only those
    keys are deleted afterwards (never FLUSHDB). Skips when no server answers."""
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.skip(f"no Redis at {REDIS_URL}: {exc}")
    from genperso.config import get_settings, reset_settings

    prefix = f"genperso-test-{uuid.uuid4().hex[:12]}:"
    monkeypatch.setenv("GENPERSO_REDIS_URL", REDIS_URL)
    monkeypatch.setenv("GENPERSO_REDIS_PREFIX", prefix)
    reset_settings()
    _reset_redis_state()
    yield get_settings()
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    if keys:
        client.delete(*keys)
    _reset_redis_state()
