"""The Celery application, configured from ``genperso.config.Settings``.

Queues: ``gpu`` (trailer, artwork with diffusion, titles with the LM, when ``GENPERSO_DEVICE`` is
a CUDA device) and ``cpu`` (analysis, remixes, and every kind on CPU-only installations); see
``genperso.pipeline.queue_for``. Tasks are acknowledged late (a worker that dies mid-task leaves
the message for another one) and each worker process reserves one task at a time
(``worker_prefetch_multiplier=1``): generations are long and uneven.

GPU workers: start them with ``--pool threads`` (or ``solo``), never the default prefork pool:
CUDA cannot be used in a process forked after CUDA was initialised. Nothing here imports torch;
models load lazily inside the tasks, once per worker process (``genperso worker`` picks the pool).
"""

from __future__ import annotations

from celery import Celery
from kombu import Queue

from genperso.config import Settings, get_settings
from genperso.jobs import broker_url

__all__ = ["app", "make_app", "SOFT_TIME_LIMIT", "TIME_LIMIT"]

SOFT_TIME_LIMIT = 20 * 60  # seconds: the task gets SoftTimeLimitExceeded and records a failure
TIME_LIMIT = 25 * 60  # seconds: the worker kills the task


def make_app(settings: Settings | None = None) -> Celery:
    settings = settings or get_settings()
    url = broker_url(settings)
    if not url:
        # Celery is only used with a broker; embedded mode runs jobs in-process (genperso.jobs).
        url = "memory://"
    backend = settings.redis_url or "cache+memory://"
    app = Celery("genperso", broker=url, backend=backend, include=["workers.tasks"])
    app.conf.update(
        task_queues=(Queue("gpu", routing_key="gpu"), Queue("cpu", routing_key="cpu")),
        task_default_queue="cpu",
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_soft_time_limit=SOFT_TIME_LIMIT,
        task_time_limit=TIME_LIMIT,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_expires=24 * 3600,
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        broker_transport_options={"global_keyprefix": settings.redis_prefix} if url.startswith("redis") else {},
        result_backend_transport_options={"global_keyprefix": settings.redis_prefix}
        if backend.startswith("redis") else {},
    )
    return app


app = make_app()
