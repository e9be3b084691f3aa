"""``POST /v1/personalize``: the request path (see ``genperso.pipeline.Pipeline.personalize``).

The endpoint is async. A request the cache answers (sticky angle decision, asset in Redis) is
served in the event loop by ``genperso.hotpath.HotPath`` (one Redis round trip), and so is a
user's first request in a stickiness bucket when it carries an embedding (the policy draws from
its in-process state; two round trips). Everything else (cache misses, fallbacks, history and cold
users without a decision, bounded waits) runs the synchronous pipeline on the thread pool. Both paths
answer with the same ``PersonalizeOut`` document, built as a plain dict (the public form of an
asset is memoised per asset state for a few seconds when files are served by this API).
"""

from __future__ import annotations

import json
import threading
from json.encoder import encode_basestring_ascii as _encode_str
import time
from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from genperso.config import Settings
from genperso.pipeline import PersonalizeResult, Pipeline
from genperso.storage import Storage
from genperso.types import Context, UserProfile, as_unit_vector, validate_id

from ..deps import require
from ..errors import ERROR_RESPONSES
from ..schemas import PersonalizeIn, PersonalizeOut, asset_public, parse_body, raw_json_body

__all__ = ["router", "render", "render_json"]

router = APIRouter(prefix="/v1", tags=["personalize"])

PUBLIC_MEMO_S = 5.0
_public: dict[tuple[Any, ...], tuple[float, dict[str, Any], str]] = {}
_public_lock = threading.Lock()


def _dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"))


def _asset_doc(entry: Any, storage: Storage, now: float) -> tuple[dict[str, Any], str]:
    """``AssetPublic`` as a dict and as JSON. Memoised only for local storage (stable URLs);
    object-store URLs are signed per request."""
    if not storage.local:
        out = asset_public(entry, storage).model_dump()
        return out, _dumps(out)
    d = entry.data
    memo = (d["asset_id"], entry.state, entry.pinned, d.get("created_at", ""), id(storage))
    hit = _public.get(memo)
    if hit is not None and now - hit[0] < PUBLIC_MEMO_S:
        return hit[1], hit[2]
    out = asset_public(entry, storage).model_dump()
    raw = _dumps(out)
    with _public_lock:
        if len(_public) > 10_000:
            _public.clear()
        _public[memo] = (now, out, raw)
    return out, raw


def _asset_json(entry: Any, storage: Storage, now: float) -> dict[str, Any]:
    return _asset_doc(entry, storage, now)[0]


def _q(text: str | None) -> str:
    """A JSON string (or null), exactly as ``json.dumps`` writes it."""
    return "null" if text is None else _encode_str(text)


def render_json(res: PersonalizeResult, title_id: str, storage: Storage, base_url: str, metrics: Any) -> bytes:
    """``render`` serialised: the same document, each asset's JSON taken from the memo and the few
    per-request fields encoded one by one instead of the whole document."""
    now = time.monotonic()
    parts = []
    for kind, r in res.results.items():
        metrics.cache_result(kind, r.status)
        asset = _asset_doc(r.asset, storage, now)[1] if r.asset is not None else "null"
        job = (f'{{"job_id":{_q(r.job_id)},"url":{_q(f"{base_url}/v1/jobs/{r.job_id}")}}}' if r.job_id
               else "null")
        parts.append(f'{_q(kind)}:{{"kind":{_q(kind)},"status":{_q(r.status)},"wanted_asset_id":'
                     f'{_q(r.wanted_asset_id)},"asset":{asset},"job":{job}}}')
    d = res.decision
    decision = (f'{{"decision_id":{_q(d.decision_id)},"angle_id":{_q(d.angle_id)},"propensity":'
                f'{json.dumps(float(d.propensity))},"policy":{_q(d.policy)},"explanation":{_q(d.explanation)}}}')
    return f'{{"title_id":{_q(title_id)},"decision":{decision},"assets":{{{",".join(parts)}}}}}'.encode()


def render(res: PersonalizeResult, title_id: str, storage: Storage, base_url: str, metrics: Any) -> dict[str, Any]:
    """The ``PersonalizeOut`` document of a pipeline result (and its cache metrics)."""
    now = time.monotonic()
    assets: dict[str, Any] = {}
    for kind, r in res.results.items():
        metrics.cache_result(kind, r.status)
        assets[kind] = {
            "kind": kind, "status": r.status, "wanted_asset_id": r.wanted_asset_id,
            "asset": _asset_json(r.asset, storage, now) if r.asset is not None else None,
            "job": {"job_id": r.job_id, "url": f"{base_url}/v1/jobs/{r.job_id}"} if r.job_id else None,
        }
    d = res.decision
    return {
        "title_id": title_id,
        "decision": {"decision_id": d.decision_id, "angle_id": d.angle_id, "propensity": float(d.propensity),
                     "policy": d.policy, "explanation": d.explanation},
        "assets": assets,
    }


def _full_path(body: PersonalizeIn, pipeline: Pipeline, settings: Settings, ctx: Context,
               user: UserProfile | None) -> PersonalizeResult:
    if user is None:
        from genperso.angles.users import build_user

        user = build_user(body.user.id, embedding=body.user.embedding, history=body.user.history, settings=settings)
    return pipeline.personalize(user, body.title_id, list(body.kinds), ctx, params=body.params, wait_ms=body.wait_ms)


_front_end = require("front-end")


@router.post("/personalize", response_model=PersonalizeOut, responses=ERROR_RESPONSES,
             openapi_extra=raw_json_body(PersonalizeIn))
async def personalize(request: Request) -> Response:
    """Choose the angle for (user, title, context) and answer per asset kind with the cached asset,
    or an immediate safe fallback plus the handle of the generation it queued. Never blocks unless
    ``wait_ms`` asks for a bounded wait. Needs a front-end (or admin) key."""
    await _front_end(request)  # auth first, as with a dependency; inline: no dependency solving
    body = parse_body(PersonalizeIn, await request.body())
    settings: Settings = request.app.state.settings
    pipeline: Pipeline = request.app.state.pipeline
    u = body.user
    user = None
    if u.embedding is not None:  # the same checks (and 422 messages) on both paths
        validate_id(u.id, "user id")
        vec = as_unit_vector(u.embedding, settings.embedding_dim, "user embedding")
        user = UserProfile(user_id=u.id, embedding=vec, history=tuple(u.history or ()), source="embedding")
    ctx = Context(**body.context.model_dump())
    res, why = None, "history"
    hot = getattr(request.app.state, "hotpath", None)
    if hot is not None and (u.embedding is not None or u.history is None):  # history needs the embedder
        res, why = await hot.personalize(u.id, body.title_id, body.kinds, ctx, params=body.params, user=user)
    metrics = request.app.state.metrics
    metrics.path("hot" if res is not None else "full", why)
    if res is None:
        res = await run_in_threadpool(_full_path, body, pipeline, settings, ctx, user)
    base = str(request.base_url).rstrip("/") if any(r.job_id for r in res.results.values()) else ""
    return Response(render_json(res, body.title_id, pipeline.storage, base, metrics), media_type="application/json")
