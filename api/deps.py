"""Request dependencies as ``Annotated`` aliases: settings, the serving pipeline, API-key auth.

Keys come from ``Settings.api_keys`` (key -> role) and the catalog (``api_keys`` table, SHA-256
hashed; ``genperso keys create --role ...``). Header ``X-API-Key`` or ``Authorization: Bearer``.
No or unknown key -> 401; a role that may not call the endpoint -> 403. ``admin`` may call
everything; ``reviewer`` the review actions; ``front-end`` personalize and events.
"""

from __future__ import annotations

import hmac
import threading
import time
from dataclasses import dataclass
from typing import Annotated, Awaitable, Callable

from fastapi import Depends, Request

from genperso.catalog import session_scope
from genperso.catalog.assets import api_key_role, hash_api_key
from genperso.config import Settings
from genperso.errors import GenPersoError
from genperso.pipeline import Pipeline

__all__ = [
    "AuthError",
    "Principal",
    "get_app_settings",
    "get_app_pipeline",
    "SettingsDep",
    "PipelineDep",
    "require",
    "AnyRole",
    "FrontEnd",
    "ReviewerRole",
    "Admin",
    "KeyResolver",
]

KEY_CACHE_S = 10.0


class AuthError(GenPersoError):
    status = 401
    code = "unauthorized"

    def __init__(self, message: str, status: int = 401) -> None:
        super().__init__(message)
        self.status = status
        self.code = "unauthorized" if status == 401 else "forbidden"


@dataclass(frozen=True)
class Principal:
    key_id: str  # sha256 of the key (never the key)
    role: str

    @property
    def actor(self) -> str:
        return f"{self.role}:{self.key_id[:12]}"


class KeyResolver:
    """Key -> role, with a short in-process cache so the hot path does not hit the catalog."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._static = {hash_api_key(k): r for k, r in settings.api_keys.items()}
        self._cache: dict[str, tuple[float, str | None]] = {}
        self._lock = threading.Lock()

    def resolve(self, key: str) -> Principal | None:
        if not key or len(key) > 512:
            return None
        h = hash_api_key(key.strip())
        for known, role in self._static.items():
            if hmac.compare_digest(known, h):
                return Principal(h, role)
        now = time.monotonic()
        hit = self._cache.get(h)
        if hit is None or now - hit[0] > KEY_CACHE_S:
            with session_scope(self.settings) as s:
                role = api_key_role(s, key.strip())
            with self._lock:
                if len(self._cache) > 10000:
                    self._cache.clear()
                self._cache[h] = (now, role)
            hit = (now, role)
        return Principal(h, hit[1]) if hit[1] else None


# Dependencies are ``async`` (they never block for long): FastAPI would run sync ones on the
# thread pool, one hop each, on the hot path.
async def get_app_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_app_pipeline(request: Request) -> Pipeline:
    return request.app.state.pipeline


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
PipelineDep = Annotated[Pipeline, Depends(get_app_pipeline)]


def _key_from(request: Request) -> str | None:
    key = request.headers.get("x-api-key")
    if key:
        return key
    auth = request.headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    return None


def require(*roles: str) -> Callable[[Request], Awaitable[Principal]]:
    """Resolved in the event loop: static keys and the in-process key cache answer at once; an
    unknown key costs one catalog read per ``KEY_CACHE_S``."""
    allowed = set(roles) | {"admin"}

    async def dependency(request: Request) -> Principal:
        key = _key_from(request)
        if not key:
            raise AuthError("missing API key: send it in the X-API-Key header (or Authorization: Bearer)")
        principal = request.app.state.keys.resolve(key)
        if principal is None:
            raise AuthError("unknown API key")
        if principal.role not in allowed:
            raise AuthError(f"a {principal.role} key may not call this endpoint (needs {' or '.join(sorted(allowed))})",
                            403)
        return principal

    return dependency


AnyRole = Annotated[Principal, Depends(require("front-end", "reviewer"))]
FrontEnd = Annotated[Principal, Depends(require("front-end"))]
ReviewerRole = Annotated[Principal, Depends(require("reviewer"))]
Admin = Annotated[Principal, Depends(require())]
