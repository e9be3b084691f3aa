"""``create_app()``: the FastAPI application (routers, auth, limits, errors, metrics).

Run it with ``genperso serve`` (uvicorn). With no Redis configured the app's pipeline runs
generation jobs in-process (``genperso.jobs.InProcessDispatcher``) and resumes jobs an earlier
process left unfinished.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import json
import sys
from typing import Any, AsyncIterator

from fastapi import FastAPI

from genperso.config import Settings, get_settings
from genperso.logs import configure_logging, get_logger
from genperso.pipeline import Pipeline

from .deps import KeyResolver
from .errors import install_error_handlers
from .metrics import Metrics, MetricsMiddleware

__all__ = ["create_app", "BodyLimitMiddleware", "ROUTE_MODULES"]

log = get_logger("api")

# api.routes modules with a ``router``; review (its own area) is optional
ROUTE_MODULES: tuple[str, ...] = ("health", "personalize", "jobs", "events", "titles", "assets", "users", "batch",
                                  "admin", "review")
UPLOAD_PATHS = ("/v1/titles/upload",)
SWITCH_INTERVAL_S = 0.001


class _TooLarge(Exception):
    pass


class BodyLimitMiddleware:
    """413 for request bodies over ``settings.max_request_bytes`` (uploads: ``max_file_bytes``),
    by ``Content-Length`` up front and by counting streamed chunks otherwise."""

    def __init__(self, app: Any, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("method") in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        limit = self.settings.max_file_bytes if scope.get("path") in UPLOAD_PATHS else self.settings.max_request_bytes
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    if int(value) > limit:
                        await _send_413(send, limit)
                        return
                except ValueError:
                    pass
        seen = 0
        started = False

        async def _receive() -> dict[str, Any]:
            nonlocal seen
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > limit:
                    raise _TooLarge()
            return msg

        async def _send(message: dict[str, Any]) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, _receive, _send)
        except _TooLarge:
            if not started:
                await _send_413(send, limit)


async def _send_413(send: Any, limit: int) -> None:
    body = json.dumps({"error": "payload_too_large",
                       "message": f"request body is larger than the limit of {limit} bytes"}).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def _document_raw_bodies(app: FastAPI) -> None:
    """Add the models of bodies that endpoints parse themselves to the OpenAPI components."""
    from .schemas import add_raw_body_schemas

    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = add_raw_body_schemas(build())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def create_app(settings: Settings | None = None, pipeline: Pipeline | None = None, *,
               resume_jobs: bool = True) -> FastAPI:
    configure_logging()
    settings = settings or get_settings()
    owned = pipeline is None
    if pipeline is None:
        from genperso.pipeline import _make_pipeline

        pipeline = _make_pipeline(settings)
    pipe = pipeline

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if resume_jobs and settings.embedded:
            from genperso.jobs import resume_pending

            resume_pending(settings, pipe.dispatcher)
        if app.state.hotpath.enabled:  # a serving deployment: be ready before the first request
            warm = getattr(pipe.chooser, "warm", None)
            if warm is not None:
                from starlette.concurrency import run_in_threadpool

                await run_in_threadpool(warm)
            # Models, catalogs and vectors loaded so far live as long as the process: move them out
            # of the cyclic collector's reach, so full collections stop scanning them (they caused
            # 100+ ms pauses of the event loop, i.e. the request tail latency).
            gc.collect()
            gc.freeze()
            # Background threads of this process (decision log writer, refreshes) hand the GIL back
            # to the event loop after 1 ms instead of 5: their batches stop showing in the tail.
            sys.setswitchinterval(SWITCH_INTERVAL_S)
        yield
        if owned and hasattr(pipe._dispatcher, "shutdown"):
            pipe._dispatcher.shutdown(wait=False)

    app = FastAPI(
        title="genperso",
        version="0.1.0",
        description="Generative personalization of entertainment assets: choose an angle per user, serve "
                    "per-angle trailers, artwork, titles and remixes from a content-addressed cache, never "
                    "anything the safety gate has not passed. Every error is JSON {error, message}.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.pipeline = pipe
    app.state.keys = KeyResolver(settings)
    app.state.metrics = Metrics(settings)
    from genperso.hotpath import HotPath

    app.state.hotpath = HotPath(pipe)  # cache-hit personalize in the event loop (Redis deployments)
    install_error_handlers(app)
    for name in ROUTE_MODULES:
        try:
            mod = importlib.import_module(f"api.routes.{name}")
        except ImportError as exc:
            if name == "review":  # the review UI is optional in this build
                log.warning("api.review_unavailable", error=str(exc))
                continue
            raise
        r = getattr(mod, "router", None) or getattr(mod, "api_router", None)
        if r is not None:
            app.include_router(r)
    _document_raw_bodies(app)
    app.add_middleware(BodyLimitMiddleware, settings=settings)
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    return app
