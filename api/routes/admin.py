"""Admin: cache invalidation (``POST /v1/admin/cache/invalidate``)."""

from __future__ import annotations

from fastapi import APIRouter

from ..deps import Admin, PipelineDep
from ..errors import ERROR_RESPONSES
from ..schemas import InvalidateIn, InvalidateOut

__all__ = ["router"]

router = APIRouter(prefix="/v1/admin", tags=["admin"])


@router.post("/cache/invalidate", response_model=InvalidateOut, responses=ERROR_RESPONSES)
def invalidate(body: InvalidateIn, principal: Admin, pipeline: PipelineDep) -> InvalidateOut:
    """Drop cached records of a title (optionally one kind) or one asset; with ``purge`` also the
    catalog rows and files of unapproved, unpinned assets, so they are generated again."""
    out = pipeline.invalidate(title_id=body.title_id, asset_id=body.asset_id, kind=body.kind, purge=body.purge,
                              actor=principal.actor)
    return InvalidateOut(**out)
