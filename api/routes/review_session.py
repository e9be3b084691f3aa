"""Who is reviewing: API-key login, the signed HttpOnly session cookie, CSRF tokens and the
FastAPI dependencies that admit reviewer and admin keys (front-end keys get 403).

The cookie never holds the API key: it holds the key's id (its SHA-256) and an expiry, signed
with HMAC-SHA256 under a per-installation secret. Each request re-checks the key in the catalog,
so revoking a key ends its sessions at once. Requests authenticated by the cookie must also send
the CSRF token (header ``X-CSRF-Token`` or form field ``csrf``) on every state-changing call.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from genperso.catalog import session_scope
from genperso.catalog.assets import ApiKeyRow, hash_api_key
from genperso.config import Settings, get_settings
from genperso.secrets_store import install_secret
from genperso.review import REVIEW_ROLES, Actor

from ..deps import AuthError

__all__ = [
    "COOKIE_NAME",
    "SESSION_TTL_S",
    "AuthError",
    "KeyInfo",
    "resolve_key",
    "key_info_by_id",
    "make_session_cookie",
    "read_session_cookie",
    "csrf_token",
    "current_reviewer",
    "app_settings",
    "Reviewer",
]

COOKIE_NAME = "genperso_review"
SESSION_TTL_S = 8 * 3600
CSRF_HEADER = "x-csrf-token"


@dataclass(frozen=True)
class KeyInfo:
    id: str  # sha256 of the key: safe to store and show (never the key itself)
    name: str
    role: str

    def actor(self) -> Actor:
        return Actor(id=self.id[:12], name=self.name or f"key {self.id[:8]}", role=self.role)


def key_info_by_id(key_id: str, settings: Settings) -> KeyInfo | None:
    """The live (not revoked) key with this id, from the catalog or ``Settings.api_keys``."""
    for raw, role in settings.api_keys.items():
        if hmac.compare_digest(hash_api_key(raw), key_id):
            return KeyInfo(id=key_id, name=f"{role} key {key_id[:8]}", role=role)
    with session_scope(settings) as s:
        row = s.get(ApiKeyRow, key_id)
        if row is None or row.revoked:
            return None
        return KeyInfo(id=row.key_hash, name=row.name or f"{row.role} key {row.key_hash[:8]}", role=row.role)


def resolve_key(raw_key: str | None, settings: Settings) -> KeyInfo | None:
    if not raw_key or len(raw_key) > 512:
        return None
    return key_info_by_id(hash_api_key(raw_key.strip()), settings)


# ---- signed cookie ----------------------------------------------------------------------------


def _secret(settings: Settings) -> bytes:
    return install_secret(settings, "review-session", "GENPERSO_SESSION_SECRET")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(payload: str, settings: Settings, purpose: str) -> str:
    return hmac.new(_secret(settings), f"{purpose}\n{payload}".encode(), hashlib.sha256).hexdigest()


def make_session_cookie(info: KeyInfo, settings: Settings, now: float | None = None) -> str:
    payload = _b64(json.dumps({"k": info.id, "exp": int((now or time.time()) + SESSION_TTL_S),
                               "n": secrets.token_hex(8)}).encode())
    return f"{payload}.{_sign(payload, settings, 'session')}"


def read_session_cookie(value: str | None, settings: Settings) -> KeyInfo | None:
    """The key behind a valid, unexpired, correctly signed cookie that is still live; else None."""
    if not value or value.count(".") != 1 or len(value) > 1024:
        return None
    payload, sig = value.split(".")
    if not hmac.compare_digest(_sign(payload, settings, "session"), sig):
        return None
    try:
        data = json.loads(_unb64(payload))
        key_id, exp = str(data["k"]), int(data["exp"])
    except (ValueError, KeyError, TypeError):
        return None
    if exp < time.time():
        return None
    return key_info_by_id(key_id, settings)


def csrf_token(cookie_value: str, settings: Settings) -> str:
    return _sign(cookie_value, settings, "csrf")[:40]


# ---- dependencies -----------------------------------------------------------------------------


def app_settings(request: Request) -> Settings:
    """The application's settings (``create_app(settings)``), else the process-wide ones."""
    return getattr(request.app.state, "settings", None) or get_settings()


def _header_key(request: Request) -> str | None:
    key = request.headers.get("x-api-key")
    if key:
        return key
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return None


def _admit(info: KeyInfo | None, how: str) -> KeyInfo:
    if info is None:
        raise AuthError(f"{how}: sign in with a reviewer or admin API key", 401)
    if info.role not in REVIEW_ROLES:
        raise AuthError(f"a {info.role} key may not use the review tools (reviewer or admin only)", 403)
    return info


async def current_reviewer(request: Request) -> Actor:
    """An API key header (``X-API-Key`` or ``Authorization: Bearer``) or the session cookie; cookie
    sessions must carry the CSRF token on state-changing methods."""
    settings = app_settings(request)
    raw = _header_key(request)
    if raw is not None:
        return _admit(resolve_key(raw, settings), "unknown API key").actor()
    cookie = request.cookies.get(COOKIE_NAME)
    info = _admit(read_session_cookie(cookie, settings), "not signed in" if not cookie else "session expired")
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        sent = request.headers.get(CSRF_HEADER, "")
        if not cookie or not hmac.compare_digest(sent, csrf_token(cookie, settings)):
            raise AuthError("missing or wrong CSRF token: reload the page", 403)
    return info.actor()


Reviewer = Annotated[Actor, Depends(current_reviewer)]
