"""``/healthz`` (process alive), ``/readyz`` (catalog, Redis, broker reachable), ``/metrics``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from genperso.jobs import broker_url

from ..deps import PipelineDep

__all__ = ["router", "readiness"]

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


def readiness(pipeline: Any) -> dict[str, str]:
    import sqlalchemy as sa

    from genperso.catalog import session_scope

    settings = pipeline.settings
    checks: dict[str, str] = {}
    try:
        with session_scope(settings) as s:
            s.execute(sa.text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - reported, not raised
        checks["database"] = f"error: {type(exc).__name__}: {exc}"[:300]
    if settings.redis_url:
        try:
            pipeline.cache.ping()
            checks["redis"] = "ok"
        except Exception as exc:  # noqa: BLE001
            checks["redis"] = f"error: {exc}"[:300]
    else:
        checks["redis"] = "embedded (not configured)"
    url = broker_url(settings)
    if url:
        try:
            from kombu import Connection

            with Connection(url, connect_timeout=2) as conn:
                conn.ensure_connection(max_retries=1, timeout=2)
            checks["broker"] = "ok"
        except Exception as exc:  # noqa: BLE001
            checks["broker"] = f"error: {exc}"[:300]
    else:
        checks["broker"] = "in-process executor"
    return checks


@router.get("/readyz")
def readyz(pipeline: PipelineDep) -> JSONResponse:
    checks = readiness(pipeline)
    ok = all(not v.startswith("error") for v in checks.values())
    return JSONResponse({"status": "ok" if ok else "unavailable", "checks": checks}, status_code=200 if ok else 503)


@router.get("/metrics")
def metrics(request: Request) -> Response:
    return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
