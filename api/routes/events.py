"""``POST /v1/events``: feedback events, stored idempotently (by ``event_id``), fed to the policy."""

from __future__ import annotations

from fastapi import APIRouter

from ..deps import FrontEnd, PipelineDep, SettingsDep
from ..errors import ERROR_RESPONSES
from ..schemas import EventsIn, EventsOut

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["events"])


@router.post("/events", response_model=EventsOut, responses=ERROR_RESPONSES)
def post_events(body: EventsIn, principal: FrontEnd, pipeline: PipelineDep, settings: SettingsDep) -> EventsOut:
    from genperso.angles.events import FeedbackEvent, record_events

    events = [FeedbackEvent.from_dict(e) for e in body.events]
    store = getattr(pipeline.chooser, "store", None)
    accepted, duplicates = record_events(events, settings, store=store) if store is not None \
        else record_events(events, settings)
    invalidate = getattr(pipeline.chooser, "invalidate", None)
    if accepted and invalidate is not None:
        invalidate()
    return EventsOut(accepted=accepted, duplicates=duplicates)
