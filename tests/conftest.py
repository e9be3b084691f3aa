"""Shared fixtures: every test gets its own data dir and SQLite catalog; nothing global is touched."""

from __future__ import annotations

import os
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
