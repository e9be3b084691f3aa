"""``DELETE /v1/users/{id}`` (admin): forget a user (profile, events, decisions, sessions)."""

from __future__ import annotations

from fastapi import APIRouter

from genperso.types import validate_id

from ..deps import Admin, SettingsDep
from ..errors import ERROR_RESPONSES
from ..schemas import UserDeleted

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["users"])


@router.delete("/users/{user_id}", response_model=UserDeleted, responses=ERROR_RESPONSES)
def delete_user(user_id: str, principal: Admin, settings: SettingsDep) -> UserDeleted:
    from genperso.angles.events import delete_user as forget

    validate_id(user_id, "user id")
    counts = forget(user_id, settings)
    return UserDeleted(user_id=user_id, deleted={k: int(v) for k, v in dict(counts).items()})
