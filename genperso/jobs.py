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

import queue
import threading
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
    """Runs ``run(job_id, task)`` on a few daemon threads of this process. Daemon threads: a
    server that stops does not wait for a long job; the job stays queued/running in the catalog
    and ``resume_pending`` runs it again on the next start (tasks are idempotent)."""

    def __init__(self, run: Callable[[str, str], Any], workers: int = 2) -> None:
        self.run = run
        self._q: queue.Queue[tuple[str, str] | None] = queue.Queue()
        self._pending = 0
        self._cv = threading.Condition()
        self._closed = False
        self._threads = [threading.Thread(target=self._loop, name=f"genperso-job-{i}", daemon=True)
                         for i in range(max(1, workers))]
        for t in self._threads:
            t.start()

    def submit(self, job_id: str, queue: str, task: str = "generate") -> None:
        if self._closed:
            raise RuntimeError("the in-process job executor is shut down")
        with self._cv:
            self._pending += 1
        self._q.put((job_id, task))

    def _loop(self) -> None:
        while True:
            item = self._q.get()
            if item is None:
                return
            job_id, task = item
            try:
                self.run(job_id, task)
            except Exception:  # run_job records failures itself; never lose the thread
                log.error("job.crashed", job_id=job_id, exc_info=True)
            finally:
                with self._cv:
                    self._pending -= 1
                    self._cv.notify_all()

    def drain(self, timeout: float = 30.0) -> bool:
        """Wait until every submitted job finished (tests, CLI); True when all did in time."""
        with self._cv:
            return self._cv.wait_for(lambda: self._pending == 0, timeout=timeout)

    def shutdown(self, wait: bool = True) -> None:
        """Stop taking jobs; with ``wait`` finish the queued ones first."""
        if self._closed:
            return
        if wait:
            self.drain(timeout=3600)
        self._closed = True
        for _ in self._threads:
            self._q.put(None)
        if wait:
            for t in self._threads:
                t.join(timeout=60)


class CeleryDispatcher:
    """Sends job ids to the Celery queues, by task name, through a producer configured from
    these settings (broker URL and key prefix), independent of the worker-side app object."""

    TASKS = {"generate": "genperso.generate_asset", "analysis": "genperso.analyse_title",
             **{k: f"genperso.generate_{k}" for k in ("trailer", "artwork", "titles", "remix")}}

    def __init__(self, settings: Settings) -> None:
        from workers.app import make_app

        self.app = make_app(settings)

    def submit(self, job_id: str, queue: str, task: str = "generate") -> None:
        self.app.send_task(self.TASKS[task], args=[job_id], queue=queue, task_id=job_id)


def get_dispatcher(settings: Settings, run: Callable[[str, str], Any]) -> Any:
    if broker_url(settings):
        return CeleryDispatcher(settings)
    return InProcessDispatcher(run, workers=max(1, settings.analysis_workers))


def resume_pending(settings: Settings, dispatcher: Any) -> int:
    """Re-submit jobs left queued/running/retrying by an interrupted process (embedded mode)."""
    with session_scope(settings) as s:
        pending = [(j.id, j.queue, j.kind) for j in JobRepo(s).pending()]
    for job_id, queue, kind in pending:
        dispatcher.submit(job_id, queue, kind)
    if pending:
        log.info("jobs.resumed", n=len(pending))
    return len(pending)
