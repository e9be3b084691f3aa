"""Structured logging (structlog): key=value lines on a terminal, JSON with GENPERSO_LOG_JSON=1."""

from __future__ import annotations

import logging
import os
import sys

import structlog

__all__ = ["configure_logging", "get_logger"]

_configured = False


def configure_logging(level: str | None = None, json_logs: bool | None = None) -> None:
    global _configured
    if _configured:
        return
    level = level or os.environ.get("GENPERSO_LOG_LEVEL", "WARNING")
    if json_logs is None:
        json_logs = os.environ.get("GENPERSO_LOG_JSON", "").lower() in ("1", "true", "yes")
    renderer = structlog.processors.JSONRenderer() if json_logs else structlog.dev.ConsoleRenderer(colors=False)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    logging.basicConfig(level=level.upper(), stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    _configured = True


def get_logger(name: str = "genperso") -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name)
