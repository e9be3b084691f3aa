"""Every error is JSON ``{"error": code, "message": ...}``: library errors by their ``.status``,
validation errors (422) with the failing field named, unknown routes (404), wrong methods (405),
oversized bodies (413) and unexpected failures (500, logged, no traceback in the answer)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from genperso.errors import GenPersoError
from genperso.logs import get_logger

from .schemas import ErrorOut

__all__ = ["install_error_handlers", "error_json", "ERROR_RESPONSES"]

log = get_logger("api.errors")

HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
              405: "method_not_allowed", 406: "not_acceptable", 409: "conflict", 413: "payload_too_large",
              415: "unsupported_media_type", 416: "range_not_satisfiable", 422: "invalid_input",
              429: "too_many_requests", 500: "internal", 503: "unavailable"}


def error_json(status: int, code: str, message: str, details: dict[str, Any] | None = None,
               headers: dict[str, str] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"error": code, "message": message}
    if details:
        body["details"] = details
    return JSONResponse(body, status_code=status, headers=headers)


def _loc(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "request"


async def _genperso(request: Request, exc: GenPersoError) -> JSONResponse:
    details = {k: v for k, v in exc.details.items() if isinstance(v, (str, int, float, bool, type(None)))}
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return error_json(exc.status, exc.code, exc.message, details or None, headers)


async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
    errs = exc.errors()
    msgs = [f"{_loc(tuple(e.get('loc', ())))}: {e.get('msg', 'invalid')}" for e in errs[:10]]
    return error_json(422, "invalid_input", "; ".join(msgs) or "invalid request",
                      {"fields": ", ".join(_loc(tuple(e.get("loc", ()))) for e in errs[:10])})


async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    code = HTTP_CODES.get(exc.status_code, "error")
    msg = str(exc.detail) if exc.detail else code.replace("_", " ")
    if exc.status_code == 404 and msg == "Not Found":
        msg = f"no such endpoint: {request.method} {request.url.path}"
    elif exc.status_code == 405:
        msg = f"method {request.method} is not allowed on {request.url.path}"
    return error_json(exc.status_code, code, msg, headers=getattr(exc, "headers", None))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("api.unexpected", path=request.url.path, error=repr(exc), exc_info=exc)
    return error_json(500, "internal", f"unexpected {type(exc).__name__}; the server log has the details")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(GenPersoError, _genperso)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected)


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    s: {"model": ErrorOut, "description": HTTP_CODES[s]}
    for s in (401, 403, 404, 413, 422, 503)
}
