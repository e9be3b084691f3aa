"""Celery tasks: ids in, library call out. Idempotent (content-addressed outputs: a key whose
asset exists is returned, not generated again); retried with exponential backoff only on
``Retryable``; soft/hard time limits from ``workers.app``."""

from __future__ import annotations

from typing import Any

from celery.exceptions import SoftTimeLimitExceeded

from genperso.errors import Retryable
from genperso.logs import get_logger

from .app import app

__all__ = ["generate_asset", "analyse_title", "KIND_TASKS", "MAX_RETRIES"]

log = get_logger("workers.tasks")
MAX_RETRIES = 5


def _pipeline() -> Any:
    # one Pipeline per worker process: generators (and their models) load once, lazily
    from genperso.pipeline import get_pipeline

    return get_pipeline()


@app.task(bind=True, name="genperso.generate_asset", max_retries=MAX_RETRIES, acks_late=True)
def generate_asset(self: Any, job_id: str) -> dict[str, Any]:
    """Generate the asset of catalog job ``job_id`` (its key is stored with the job)."""
    return _generate(self, job_id)


def _generate(self: Any, job_id: str) -> dict[str, Any]:
    final = self.request.retries >= MAX_RETRIES
    try:
        return _pipeline().run_job(job_id, final_attempt=final)
    except Retryable as exc:
        countdown = min(600, 2 ** (self.request.retries + 1))
        log.warning("task.retry", job_id=job_id, retries=self.request.retries, countdown=countdown, error=exc.message)
        raise self.retry(exc=exc, countdown=countdown) from None
    except SoftTimeLimitExceeded:
        pipe = _pipeline()
        pipe._finish(job_id, "failed", "time limit exceeded", None)
        key = pipe.job(job_id)["asset_id"]
        pipe.cache.release(key)
        raise


def _kind_task(kind: str) -> Any:
    """One task name per asset kind (``genperso.generate_<kind>``): per-kind rate limits, time
    limits and monitoring; the body is the same idempotent ``run_job``."""

    @app.task(bind=True, name=f"genperso.generate_{kind}", max_retries=MAX_RETRIES, acks_late=True)
    def task(self: Any, job_id: str) -> dict[str, Any]:
        return _generate(self, job_id)

    return task


@app.task(bind=True, name="genperso.analyse_title", max_retries=MAX_RETRIES, acks_late=True)
def analyse_title(self: Any, job_id: str) -> dict[str, Any]:
    """Ingest and analyse the title version of catalog job ``job_id`` (idempotent: the same bytes
    are a no-op)."""
    final = self.request.retries >= MAX_RETRIES
    try:
        return _pipeline().run_analysis(job_id, final_attempt=final)
    except Retryable as exc:
        raise self.retry(exc=exc, countdown=min(600, 2 ** (self.request.retries + 1))) from None


KIND_TASKS = {kind: _kind_task(kind) for kind in ("trailer", "artwork", "titles", "remix")}
