"""The review web app (server-rendered Jinja2 + a small vanilla script) under ``/review``.

Pages: login, titles, a title's asset grid (filters by angle/kind/state/safety flag, pagination),
an asset's detail (media, safety, lineage, actions, history) and the history log. Static files
and analysis keyframes are served by routes that accept only known names / paths inside the
analysis directory (no traversal). Actions are JSON calls to ``/v1/review`` made by the script.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from genperso import review, review_browse as browse
from genperso.catalog.assets import ASSET_STATES
from genperso.catalog.review import REVIEW_ACTIONS
from genperso.errors import GenPersoError, NotFound
from genperso.types import ASSET_KINDS

from .review_session import (
    COOKIE_NAME,
    SESSION_TTL_S,
    AuthError,
    KeyInfo,
    Reviewer,
    csrf_token,
    make_session_cookie,
    read_session_cookie,
    app_settings,
    resolve_key,
)
from .review_views import asset_view, timecode

__all__ = ["router", "BASE"]

BASE = "/review"
API_DIR = Path(__file__).resolve().parent.parent
STATIC_DIR = API_DIR / "static" / "review"
TEMPLATES = Jinja2Templates(directory=str(API_DIR / "templates"))
STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                ".svg": "image/svg+xml", ".png": "image/png", ".ico": "image/x-icon"}
KEYFRAME_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".webp": "image/webp"}
PER_PAGE = 24

router = APIRouter(prefix=BASE, include_in_schema=False)


def _static_version(name: str) -> str:
    try:
        return hashlib.sha256((STATIC_DIR / name).read_bytes()).hexdigest()[:10]
    except OSError:
        return "0"


def static_url(name: str) -> str:
    return f"{BASE}/static/{name}?v={_static_version(name)}"


TEMPLATES.env.globals.update(static_url=static_url, base=BASE)


def _session(request: Request) -> tuple[KeyInfo | None, str | None]:
    cookie = request.cookies.get(COOKIE_NAME)
    return read_session_cookie(cookie, app_settings(request)), cookie


def _login_redirect(request: Request) -> RedirectResponse:
    nxt = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"{BASE}/login?{urlencode({'next': nxt})}", status_code=303)


def _render(request: Request, name: str, ctx: dict[str, Any], status: int = 200) -> HTMLResponse:
    return TEMPLATES.TemplateResponse(request, f"review/{name}", ctx, status_code=status)


def _page(request: Request, name: str, ctx: dict[str, Any]) -> Response:
    info, cookie = _session(request)
    if info is None or cookie is None:
        return _login_redirect(request)
    if info.role not in review.REVIEW_ROLES:
        return _render(request, "login.html", {"error": "This key may not use the review tools.", "actor": None},
                       status=403)
    base_ctx = {"actor": info.actor(), "csrf_token": csrf_token(cookie, app_settings(request))}
    try:
        data = ctx["load"]() if callable(ctx.get("load")) else {}
    except GenPersoError as exc:
        heading = "Not found" if isinstance(exc, NotFound) else "Cannot show this page"
        return _render(request, "error.html", {**base_ctx, "heading": heading, "message": exc.message},
                       status=exc.status)
    return _render(request, name, {**base_ctx, **{k: v for k, v in ctx.items() if k != "load"}, **data})


def _cross_site(request: Request) -> bool:
    """A browser form post from another origin (login CSRF): refused."""
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return origin == "null"
    return origin.rstrip("/") != str(request.base_url).rstrip("/")


def _safe_next(value: str | None) -> str:
    if value and value.startswith(BASE) and "//" not in value and "\\" not in value:
        return value
    return f"{BASE}/"


# ---- login / logout -----------------------------------------------------------------------------


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str | None = None) -> Response:
    info, _ = _session(request)
    if info is not None and info.role in review.REVIEW_ROLES:
        return RedirectResponse(_safe_next(next), status_code=303)
    return _render(request, "login.html", {"actor": None, "next_url": _safe_next(next), "error": None})


@router.post("/login", response_class=HTMLResponse)
def login(request: Request, api_key: str = Form(""), next: str = Form("")) -> Response:
    settings = app_settings(request)
    if _cross_site(request):
        return _render(request, "login.html", {"actor": None, "next_url": f"{BASE}/",
                                               "error": "Sign-in from another site was refused."}, status=403)
    info = resolve_key(api_key, settings)
    try:
        if info is None:
            raise AuthError("Unknown or revoked API key. Check the key and try again.", 401)
        if info.role not in review.REVIEW_ROLES:
            raise AuthError(f"This is a {info.role} key: the review tools need a reviewer or admin key.", 403)
    except AuthError as exc:
        return _render(request, "login.html", {"actor": None, "next_url": _safe_next(next), "error": exc.message},
                       status=exc.status)
    resp = RedirectResponse(_safe_next(next), status_code=303)
    resp.set_cookie(COOKIE_NAME, make_session_cookie(info, settings), max_age=SESSION_TTL_S, httponly=True,
                    samesite="strict", secure=request.url.scheme == "https", path="/")
    return resp


@router.post("/logout")
def logout(request: Request, csrf: str = Form("")) -> Response:
    info, cookie = _session(request)
    if info is not None and cookie and csrf != csrf_token(cookie, app_settings(request)):
        return HTMLResponse("<p>Missing or wrong CSRF token: reload the page.</p>", status_code=403)
    resp = RedirectResponse(f"{BASE}/login", status_code=303)
    resp.delete_cookie(COOKIE_NAME, path="/")
    return resp


# ---- pages ---------------------------------------------------------------------------------


@router.get("", response_class=HTMLResponse)
@router.get("/", response_class=HTMLResponse)
def titles_page(request: Request) -> Response:
    return _page(request, "titles.html", {"nav": "titles", "load": lambda: {"titles": browse.title_summaries(settings=app_settings(request))}})


def _filters(angle: str | None, kind: str | None, state: str | None, safety: str | None) -> dict[str, str]:
    raw = {"angle": angle, "kind": kind, "state": state, "safety": safety}
    return {k: v for k, v in raw.items() if v}


def _pager(total: int, page: int, per_page: int, path: str, params: dict[str, str]) -> dict[str, Any]:
    pages = max(1, math.ceil(total / per_page))
    page = min(max(1, page), pages)

    def url(n: int) -> str:
        return f"{path}?{urlencode({**params, 'page': n})}"

    return {"number": page, "pages": pages, "total": total, "first": 0 if total == 0 else (page - 1) * per_page + 1,
            "last": min(total, page * per_page), "prev_url": url(page - 1) if page > 1 else None,
            "next_url": url(page + 1) if page < pages else None}


@router.get("/titles/{title_id}", response_class=HTMLResponse)
def title_page(request: Request, title_id: str, angle: str | None = None, kind: str | None = None,
               state: str | None = None, safety: str | None = None, page: int = 1) -> Response:
    from .review import angle_names

    def load() -> dict[str, Any]:
        settings = app_settings(request)
        title = browse.get_title(title_id, settings=settings)
        filters = _filters(angle, kind, state, safety)
        ids = browse.find_asset_ids(browse.AssetFilter(title_id=title_id, angle_id=filters.get("angle"),
                                                       kind=filters.get("kind"), state=filters.get("state"),
                                                       safety=filters.get("safety")), settings=settings)
        names = angle_names()
        counts = browse.angle_counts(title_id, settings=settings)
        path = f"{BASE}/titles/{title_id}"
        pager = _pager(len(ids), page, PER_PAGE, path, filters)
        start = (pager["number"] - 1) * PER_PAGE
        items = []
        for r in browse.load_assets(ids[start:start + PER_PAGE], settings=settings):
            v = asset_view(r, settings, BASE, names)
            v["href"] = f"{BASE}/assets/{r.asset_id}?{urlencode(filters)}" if filters else f"{BASE}/assets/{r.asset_id}"
            items.append(v)
        pager["assets"] = items

        def angle_url(angle_id: str | None) -> str:
            params = {k: v for k, v in filters.items() if k != "angle"}
            if angle_id:
                params["angle"] = angle_id
            return f"{path}?{urlencode(params)}" if params else path

        return {"title": title, "filters": filters, "page": pager, "kinds": ASSET_KINDS, "states": ASSET_STATES,
                "angles": [{"id": a, "name": names.get(a, a), "count": n} for a, n in sorted(counts.items())],
                "total_all": sum(counts.values()), "angle_url": angle_url}

    return _page(request, "title.html", {"nav": "titles", "load": load})


@router.get("/assets/{asset_id}", response_class=HTMLResponse)
def asset_page(request: Request, asset_id: str, angle: str | None = None, kind: str | None = None,
               state: str | None = None, safety: str | None = None) -> Response:
    from .review import angle_names

    def load() -> dict[str, Any]:
        settings = app_settings(request)
        row = browse.get_asset(asset_id, settings=settings)
        filters = _filters(angle, kind, state, safety)
        title = browse.get_title(row.title_id, settings=settings)
        view = asset_view(row, settings, BASE, angle_names())
        ids = browse.find_asset_ids(browse.AssetFilter(
            title_id=row.title_id, angle_id=filters.get("angle"), kind=filters.get("kind"),
            state=filters.get("state"), safety=filters.get("safety")), settings=settings)
        qs = f"?{urlencode(filters)}" if filters else ""
        prev_url = next_url = position = None
        if row.asset_id in ids:
            i = ids.index(row.asset_id)
            prev_url = f"{BASE}/assets/{ids[i - 1]}{qs}" if i > 0 else None
            next_url = f"{BASE}/assets/{ids[i + 1]}{qs}" if i + 1 < len(ids) else None
            position = f"{i + 1} of {len(ids)}"
        from .review_views import analysis_shots

        shots = analysis_shots(row.title_id, row.title_version, settings)
        items, _ = review.history(asset_id=row.asset_id, limit=100, settings=settings)
        return {"a": view, "title": title, "prev_url": prev_url, "next_url": next_url, "position": position,
                "back_url": f"{BASE}/titles/{row.title_id}{qs}", "history": items, "show_asset": False,
                "shot_choices": [{"index": s.index, "timecode": timecode(s.start)} for s in shots],
                "pin_sources": row.kind in review.PIN_KINDS}

    return _page(request, "asset.html", {"nav": "titles", "load": load})


@router.get("/history", response_class=HTMLResponse)
def history_page(request: Request, title: str | None = None, action: str | None = None, page: int = 1) -> Response:
    per_page = 50

    def load() -> dict[str, Any]:
        settings = app_settings(request)
        filters = {k: v for k, v in {"title": title, "action": action}.items() if v}
        _, total = review.history(title_id=filters.get("title"), action=filters.get("action"), limit=1,
                                  settings=settings)
        pager = _pager(total, page, per_page, f"{BASE}/history", filters)
        items, _ = review.history(title_id=filters.get("title"), action=filters.get("action"), limit=per_page,
                                  offset=(pager["number"] - 1) * per_page, settings=settings)
        return {"history": items, "page": pager, "filters": filters, "actions": REVIEW_ACTIONS,
                "titles": browse.title_summaries(settings=settings)}

    return _page(request, "history.html", {"nav": "history", "load": load})


# ---- files ---------------------------------------------------------------------------------


@router.get("/static/{name}")
def static_file(name: str) -> Response:
    path = STATIC_DIR / name
    if "/" in name or name.startswith(".") or path.suffix not in STATIC_TYPES or not path.is_file():
        return Response(status_code=404)
    return FileResponse(path, media_type=STATIC_TYPES[path.suffix], headers={"Cache-Control": "public, max-age=3600"})


@router.get("/keyframes/{rel:path}")
def keyframe(request: Request, rel: str, actor: Reviewer) -> Response:
    """An analysis keyframe (path relative to the data dir, inside the analysis dir only), for a
    signed-in reviewer or a reviewer/admin API key."""
    settings = app_settings(request)
    p = PurePosixPath(rel)
    if p.is_absolute() or any(part in ("", ".", "..") for part in p.parts) or "\\" in rel or "\x00" in rel:
        return Response("invalid keyframe path", status_code=400)
    root = settings.analysis_dir.resolve()
    path = (settings.data_dir / p).resolve()
    if not path.is_relative_to(root) or path.suffix.lower() not in KEYFRAME_TYPES or not path.is_file():
        return Response("keyframe not found", status_code=404)
    return FileResponse(path, media_type=KEYFRAME_TYPES[path.suffix.lower()],
                        headers={"Cache-Control": "private, max-age=86400"})
