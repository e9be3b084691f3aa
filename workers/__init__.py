"""Celery workers: ``app`` (queues gpu/cpu from Settings) and ``tasks`` (ids in, library call out)."""
