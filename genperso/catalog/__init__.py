"""The catalog: SQLAlchemy tables and repositories (SQLite by default, PostgreSQL works too).

Each concept keeps its tables in its own module on the shared ``Base``; ``TABLE_MODULES`` lists
them so ``init_db`` can create/migrate every table at start-up.
"""

from __future__ import annotations

import importlib

from .db import Base, get_engine, init_db, reset_engines, session_scope, utcnow

__all__ = ["Base", "get_engine", "init_db", "reset_engines", "session_scope", "utcnow", "load_table_modules"]

# Modules (relative to genperso.catalog) that define tables. Add a line per new module.
TABLE_MODULES: tuple[str, ...] = (
    "safety",
    "titles",
    "assets",
    "angles",
    "review",
)


def load_table_modules() -> None:
    for name in TABLE_MODULES:
        importlib.import_module(f"{__name__}.{name}")
