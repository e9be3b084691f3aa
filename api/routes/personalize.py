"""``POST /v1/personalize``: the request path (see ``genperso.pipeline.Pipeline.personalize``)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from genperso.types import Context

from ..deps import FrontEnd, PipelineDep, SettingsDep
from ..errors import ERROR_RESPONSES
from ..schemas import DecisionOut, JobHandle, KindOut, PersonalizeIn, PersonalizeOut, asset_public

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["personalize"])


@router.post("/personalize", response_model=PersonalizeOut, responses=ERROR_RESPONSES)
def personalize(body: PersonalizeIn, request: Request, principal: FrontEnd, pipeline: PipelineDep,
                settings: SettingsDep) -> PersonalizeOut:
    """Choose the angle for (user, title, context) and answer per asset kind with the cached asset,
    or an immediate safe fallback plus the handle of the generation it queued. Never blocks unless
    ``wait_ms`` asks for a bounded wait."""
    from genperso.angles.users import build_user

    user = build_user(body.user.id, embedding=body.user.embedding, history=body.user.history, settings=settings)
    ctx = Context(**body.context.model_dump())
    res = pipeline.personalize(user, body.title_id, list(body.kinds), ctx, params=body.params, wait_ms=body.wait_ms)
    metrics = request.app.state.metrics
    base = str(request.base_url).rstrip("/")
    out: dict[str, KindOut] = {}
    for kind, r in res.results.items():
        metrics.cache.labels(kind, r.status).inc()
        out[kind] = KindOut(
            kind=kind, status=r.status, wanted_asset_id=r.wanted_asset_id,
            asset=asset_public(r.asset, pipeline.storage) if r.asset is not None else None,
            job=JobHandle(job_id=r.job_id, url=f"{base}/v1/jobs/{r.job_id}") if r.job_id else None,
        )
    d = res.decision
    return PersonalizeOut(
        title_id=body.title_id, assets=out,
        decision=DecisionOut(decision_id=d.decision_id, angle_id=d.angle_id, propensity=d.propensity,
                             policy=d.policy, explanation=d.explanation),
    )

