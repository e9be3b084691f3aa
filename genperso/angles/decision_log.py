"""The decision log, written off the request path.

Every ``choose()`` logs its decision (features, propensities, eligibility, explanation) for
feedback, off-policy evaluation and audits. A synchronous catalog write per decision is the largest
cost of a cache-hit ``personalize`` call, so decisions are queued and written in batches by one
background thread per process and database (bulk insert, duplicates ignored). Readers in the same
process call ``flush_decision_log()`` first (events, deletion, evaluation, monitoring, experiments,
batch do), and the queue is flushed at exit; a decision is durable within ``interval`` seconds.
``Settings.decision_log_async = False`` writes synchronously instead.
"""

from __future__ import annotations

import atexit
import queue
import threading
import time
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from ..catalog.angles import AngleDecisionRow
from ..catalog.db import get_engine
from ..config import Settings, get_settings
from ..logs import get_logger

__all__ = ["DecisionLog", "get_decision_log", "flush_decision_log", "write_decisions"]

log = get_logger("genperso.angles.decision_log")


def write_decisions(settings: Settings, rows: list[Mapping[str, Any]]) -> None:
    """Insert decision rows, ignoring ones already logged (a sticky decision logged twice)."""
    if not rows:
        return
    engine = get_engine(settings)
    name = engine.dialect.name
    with engine.begin() as conn:
        if name in ("sqlite", "postgresql"):
            if name == "sqlite":
                from sqlalchemy.dialects.sqlite import insert
            else:
                from sqlalchemy.dialects.postgresql import insert
            conn.execute(insert(AngleDecisionRow).on_conflict_do_nothing(index_elements=["decision_id"]),
                         [dict(r) for r in rows])
            return
    for r in rows:  # other databases: one by one, duplicates skipped
        try:
            with engine.begin() as conn:
                conn.execute(sa.insert(AngleDecisionRow), [dict(r)])
        except IntegrityError:
            continue


class DecisionLog:
    """A queue of decision rows drained by one daemon thread in batches."""

    def __init__(self, settings: Settings, *, interval: float = 0.1, max_batch: int = 500) -> None:
        self.settings = settings
        self.interval = interval
        self.max_batch = max_batch
        self._q: queue.SimpleQueue[Mapping[str, Any]] = queue.SimpleQueue()
        self._cond = threading.Condition()
        self._submitted = 0
        self._done = 0
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def submit(self, row: Mapping[str, Any]) -> None:
        if not self.settings.decision_log_async:
            write_decisions(self.settings, [row])
            return
        self._ensure_thread()
        with self._cond:
            self._submitted += 1
        self._q.put(row)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every row submitted before this call is written (or failed). True when done."""
        with self._cond:
            target = self._submitted
            return self._cond.wait_for(lambda: self._done >= target, timeout=timeout)

    def _ensure_thread(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="genperso-decision-log", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            batch = [self._q.get()]
            deadline = time.monotonic() + self.interval
            while len(batch) < self.max_batch:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                try:
                    batch.append(self._q.get(timeout=left))
                except queue.Empty:
                    break
            try:
                write_decisions(self.settings, batch)
            except Exception:  # noqa: BLE001 - a failed batch is logged, never kills the writer
                try:
                    time.sleep(0.2)
                    write_decisions(self.settings, batch)
                except Exception:  # noqa: BLE001
                    log.error("decision_log.write_failed", rows=len(batch), exc_info=True)
            with self._cond:
                self._done += len(batch)
                self._cond.notify_all()


_logs: dict[str, DecisionLog] = {}
_logs_lock = threading.Lock()


def get_decision_log(settings: Settings | None = None) -> DecisionLog:
    settings = settings or get_settings()
    key = settings.db_url
    dl = _logs.get(key)
    if dl is None:
        with _logs_lock:
            dl = _logs.get(key)
            if dl is None:
                dl = _logs[key] = DecisionLog(settings)
    return dl


def flush_decision_log(settings: Settings | None = None, timeout: float = 10.0) -> None:
    """Make this process's queued decisions visible in the catalog (no-op when nothing is queued)."""
    settings = settings or get_settings()
    dl = _logs.get(settings.db_url)
    if dl is not None and not dl.flush(timeout):
        log.warning("decision_log.flush_timeout", timeout=timeout)


@atexit.register
def _flush_all() -> None:
    for dl in list(_logs.values()):
        dl.flush(5.0)
