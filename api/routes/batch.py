"""``POST /v1/batch/pregenerate`` (admin): fan out generation jobs for the top titles; returns at
once with the batch id and counts (resume by posting the same ``batch_id``)."""

from __future__ import annotations

from fastapi import APIRouter

from genperso.batch import run_batch

from ..deps import Admin, PipelineDep
from ..errors import ERROR_RESPONSES
from ..schemas import BatchIn, BatchOut

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["batch"])


@router.post("/batch/pregenerate", response_model=BatchOut, status_code=202, responses=ERROR_RESPONSES)
def pregenerate(body: BatchIn, principal: Admin, pipeline: PipelineDep) -> BatchOut:
    summary = run_batch(pipeline, top=body.top, angles=body.angles, kinds=body.kinds, batch_id=body.batch_id,
                        wait=False)
    return BatchOut(batch_id=summary.batch_id, items=summary.items, counts=summary.counts)
