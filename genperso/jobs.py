"""Where generation jobs run.

* Redis configured (``GENPERSO_REDIS_URL``, or an explicit ``GENPERSO_BROKER_URL``): Celery. The
  job id is sent to the ``gpu`` or ``cpu`` queue (see ``pipeline.queue_for``) and a
  ``genperso worker`` process runs it.
* Nothing configured (embedded): an in-process thread pool runs the *same* function
  (``Pipeline.run_job``) inside ``genperso serve``. Why not Celery over a ``filesystem://`` or
  ``sqla+sqlite`` kombu transport: those transports poll (hundreds of ms of added latency per job),
  need a second process or an in-process worker thread with Celery's global state anyway, and add
  nothing on one machine: the catalog ``jobs`` table already persists every job, so on start-up
  ``resume_pending`` re-submits jobs that an interrupted process left queued or running.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable, Protocol

from .catalog import session_scope
from .catalog.assets import JobRepo
from .config import Settings
from .logs import get_logger

__all__ = ["Dispatcher", "InProcessDispatcher", "CeleryDispatcher", "get_dispatcher", "resume_pending", "broker_url"]

log = get_logger("genperso.jobs")


class Dispatcher(Protocol):
    def submit(self, job_id: str, queue: str, task: str = "generate") -> None: ...


def broker_url(settings: Settings) -> str | None:
    return settings.broker_url or settings.redis_url


class InProcessDispatcher:
    """Runs ``run(job_id, task)`` on a small thread pool in this process."""

    def __init__(self, run: Callable[[str, str], Any], workers: int = 2) -> None:
        self.run = run
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="genperso-job")
        self._futures: set[Future[Any]] = set()
        self._lock = threading.Lock()

    def submit(self, job_id: str, queue: str, task: str = "generate") -> None:
        fut = self.pool.submit(self._run, job_id, task)
        with self._lock:
            self._futures.add(fut)
        fut.add_done_callback(self._done)

    def _run(self, job_id: str, task: str) -> Any:
        try:
            return self.run(job_id, task)
        except Exception:  # run_job records failures itself; never lose the pool thread
            log.error("job.crashed", job_id=job_id, exc_info=True)
            return None

    def _done(self, fut: Future[Any]) -> None:
        with self._lock:
            self._futures.discard(fut)

    def drain(self, timeout: float = 30.0) -> bool:
        """Wait for every submitted job (tests, CLI); True when all finished in time."""
        import concurrent.futures as cf

        with self._lock:
            futs = list(self._futures)
        done, not_done = cf.wait(futs, timeout=timeout)
        return not not_done

    def shutdown(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=False)


class CeleryDispatcher:
    """Sends job ids to the Celery queues (``workers.tasks``)."""

    def submit(self, job_id: str, queue: str, task: str = "generate") -> None:
        from workers.tasks import analyse_title, generate_asset

        fn = analyse_title if task == "analysis" else generate_asset
        fn.apply_async(args=[job_id], queue=queue, task_id=job_id)


def get_dispatcher(settings: Settings, run: Callable[[str, str], Any]) -> Any:
    if broker_url(settings):
        return CeleryDispatcher()
    return InProcessDispatcher(run, workers=max(1, settings.analysis_workers))


def resume_pending(settings: Settings, dispatcher: Any) -> int:
    """Re-submit jobs left queued/running/retrying by an interrupted process (embedded mode)."""
    with session_scope(settings) as s:
        pending = [(j.id, j.queue, j.kind) for j in JobRepo(s).pending()]
    for job_id, queue, kind in pending:
        dispatcher.submit(job_id, queue, "analysis" if kind == "analysis" else "generate")
    if pending:
        log.info("jobs.resumed", n=len(pending))
    return len(pending)
