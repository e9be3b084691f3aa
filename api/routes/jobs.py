"""``GET /v1/jobs/{id}``: a generation or analysis job, with its asset once generated."""

from __future__ import annotations

from fastapi import APIRouter

from genperso.cache import CacheEntry
from genperso.catalog import session_scope
from genperso.catalog.assets import AssetRepo

from ..deps import AnyRole, PipelineDep
from ..errors import ERROR_RESPONSES
from ..schemas import JobOut, asset_public

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["jobs"])


@router.get("/jobs/{job_id}", response_model=JobOut, responses=ERROR_RESPONSES)
def get_job(job_id: str, principal: AnyRole, pipeline: PipelineDep) -> JobOut:
    job = pipeline.job(job_id)
    out = JobOut(**job)
    if job["asset_id"]:
        with session_scope(pipeline.settings) as s:
            row = AssetRepo(s).find(job["asset_id"])
            if row is not None:
                out.asset = asset_public(CacheEntry.from_row(row), pipeline.storage)
    return out
