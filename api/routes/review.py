"""Review endpoints: JSON under ``/v1/review`` and the web app under ``/review``.

Every endpoint needs a reviewer or admin key (header ``X-API-Key`` / ``Authorization: Bearer``
or the web app's session cookie plus CSRF token); front-end keys get 403, no key 401.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from genperso import review, review_browse as browse
from genperso.angles.catalog import load_angles
from genperso.catalog.assets import ASSET_STATES
from genperso.catalog.review import REVIEW_ACTIONS

from .review_session import Reviewer, app_settings
from .review_ui import router as ui_router
from .review_views import asset_view

__all__ = ["router", "api_router"]

api_router = APIRouter(prefix="/v1/review", tags=["review"])


class RejectBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=2000, description="Why the asset is rejected (required)")


class PinBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    pinned: bool = True


class RegenerateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seed: int | None = Field(default=None, ge=0, lt=2**32)
    shot: int | None = Field(default=None, ge=0, description="Pin this source shot index")
    frame_time: float | None = Field(default=None, ge=0, description="Pin the source frame at this time (s)")


class PolicyBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    policy: str = Field(description="auto | approved_only")


def angle_names() -> dict[str, str]:
    from genperso.defaults import DEFAULT_ANGLE

    try:
        names = {a.id: a.name for a in load_angles()}
    except Exception:  # a broken angles file must not take the review tool down
        names = {}
    names[DEFAULT_ANGLE] = "Title default"
    return names


def page_of(items: list[Any], page: int, per_page: int) -> tuple[list[Any], int]:
    pages = max(1, math.ceil(len(items) / per_page))
    page = min(max(1, page), pages)
    return items[(page - 1) * per_page: page * per_page], pages


@api_router.get("/titles")
def list_titles(request: Request, actor: Reviewer) -> dict[str, Any]:
    return {"titles": browse.title_summaries(settings=app_settings(request))}


@api_router.get("/titles/{title_id}/assets")
def list_assets(
    title_id: str,
    request: Request,
    actor: Reviewer,
    angle: str | None = None,
    kind: str | None = None,
    state: str | None = None,
    safety: str | None = None,
    page: Annotated[int, Query(ge=1)] = 1,
    per_page: Annotated[int, Query(ge=1, le=100)] = 24,
) -> dict[str, Any]:
    settings = app_settings(request)
    title = browse.get_title(title_id, settings=settings)
    f = browse.AssetFilter(title_id=title_id, angle_id=angle or None, kind=kind or None, state=state or None,
                           safety=safety or None)
    ids = browse.find_asset_ids(f, settings=settings)
    page_ids, pages = page_of(ids, page, per_page)
    items = browse.load_assets(page_ids, settings=settings)
    return {"title": title, "total": len(ids), "page": min(page, pages), "pages": pages, "per_page": per_page,
            "assets": [review.asset_summary(r) for r in items]}


@api_router.get("/assets/{asset_id}")
def get_asset(asset_id: str, request: Request, actor: Reviewer) -> dict[str, Any]:
    settings = app_settings(request)
    row = browse.get_asset(asset_id, settings=settings)
    view = asset_view(row, settings, angle_names=angle_names())
    view.pop("record_json", None)
    return view


@api_router.post("/assets/{asset_id}/approve")
def approve(asset_id: str, request: Request, actor: Reviewer) -> dict[str, Any]:
    return review.approve(asset_id, actor, settings=app_settings(request)).to_dict()


@api_router.post("/assets/{asset_id}/reject")
def reject(asset_id: str, body: RejectBody, request: Request, actor: Reviewer) -> dict[str, Any]:
    return review.reject(asset_id, actor, body.reason, settings=app_settings(request)).to_dict()


@api_router.post("/assets/{asset_id}/pin")
def pin(asset_id: str, request: Request, actor: Reviewer, body: PinBody | None = None) -> dict[str, Any]:
    return review.pin(asset_id, actor, pinned=(body or PinBody()).pinned, settings=app_settings(request)).to_dict()


@api_router.post("/assets/{asset_id}/regenerate", status_code=202)
def regenerate(asset_id: str, request: Request, actor: Reviewer, body: RegenerateBody | None = None) -> dict[str, Any]:
    b = body or RegenerateBody()
    return review.regenerate(asset_id, actor, seed=b.seed, shot=b.shot, frame_time=b.frame_time,
                             settings=app_settings(request),
                             pipeline=getattr(request.app.state, "pipeline", None)).to_dict()


@api_router.put("/titles/{title_id}/serving-policy")
@api_router.post("/titles/{title_id}/serving-policy")
def serving_policy(title_id: str, body: PolicyBody, request: Request, actor: Reviewer) -> dict[str, Any]:
    result = review.set_serving_policy(title_id, body.policy, actor, settings=app_settings(request)).to_dict()
    result["serving_policy"] = body.policy
    return result


@api_router.get("/history")
def get_history(
    request: Request,
    actor: Reviewer,
    title: str | None = None,
    asset: str | None = None,
    action: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    items, total = review.history(title_id=title or None, asset_id=asset or None, action=action or None,
                                  limit=limit, offset=offset, settings=app_settings(request))
    return {"total": total, "limit": limit, "offset": offset, "items": items}


@api_router.get("/meta")
def meta(actor: Reviewer) -> dict[str, Any]:
    """Vocabulary for clients: states, kinds, actions, policies, and who is asking."""
    from genperso.types import ASSET_KINDS

    return {"states": list(ASSET_STATES), "kinds": list(ASSET_KINDS), "actions": list(REVIEW_ACTIONS),
            "policies": list(review.SERVING_POLICIES), "safety_flags": ["flagged", "clean"],
            "actor": {"id": actor.id, "name": actor.name, "role": actor.role}}


router = APIRouter()
router.include_router(api_router)
router.include_router(ui_router)
