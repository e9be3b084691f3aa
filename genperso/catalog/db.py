"""Database engine, sessions and automatic schema creation/migration.

SQLite file by default (WAL mode, foreign keys on); any SQLAlchemy URL works (PostgreSQL via
``postgresql+psycopg://``). Tables are created when missing and new nullable columns are added
to existing tables (additive migration), so upgrading genperso never needs a manual step.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from collections.abc import Iterator

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from ..config import Settings, get_settings

__all__ = ["Base", "get_engine", "session_scope", "init_db", "utcnow", "reset_engines"]


class Base(DeclarativeBase):
    type_annotation_map = {dict: sa.JSON, list: sa.JSON}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


_lock = threading.Lock()
_engines: dict[str, Engine] = {}
_sessionmakers: dict[str, sessionmaker[Session]] = {}


def _normalise_url(url: str) -> str:
    # Accept plain postgresql:// URLs and use the psycopg 3 driver we ship.
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def get_engine(settings: Settings | None = None) -> Engine:
    settings = settings or get_settings()
    url = _normalise_url(settings.db_url)
    with _lock:
        eng = _engines.get(url)
        if eng is None:
            kwargs: dict[str, object] = {"future": True}
            if url.startswith("sqlite"):
                kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
            else:
                kwargs["pool_pre_ping"] = True
            eng = sa.create_engine(url, **kwargs)
            if url.startswith("sqlite"):
                event.listen(eng, "connect", _sqlite_pragmas)
            init_db(eng)
            _engines[url] = eng
            _sessionmakers[url] = sessionmaker(eng, expire_on_commit=False)
        return eng


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def init_db(engine: Engine) -> None:
    """Create missing tables and add missing columns (additive, idempotent)."""
    from . import load_table_modules

    load_table_modules()
    Base.metadata.create_all(engine)
    insp = sa.inspect(engine)
    with engine.begin() as conn:
        for table in Base.metadata.sorted_tables:
            existing = {c["name"] for c in insp.get_columns(table.name)}
            for col in table.columns:
                if col.name in existing:
                    continue
                coltype = col.type.compile(dialect=engine.dialect)
                conn.execute(sa.text(f'ALTER TABLE "{table.name}" ADD COLUMN "{col.name}" {coltype}'))


@contextlib.contextmanager
def session_scope(settings: Settings | None = None) -> Iterator[Session]:
    """A transaction: commits on success, rolls back on error."""
    settings = settings or get_settings()
    get_engine(settings)
    maker = _sessionmakers[_normalise_url(settings.db_url)]
    session = maker()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def reset_engines() -> None:
    """Dispose every engine (tests switch databases between cases)."""
    with _lock:
        for eng in _engines.values():
            eng.dispose()
        _engines.clear()
        _sessionmakers.clear()
