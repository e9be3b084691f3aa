"""Catalog table for the editorial audit log: every review action (who, when, what, before/after).

Rows are append-only. ``ReviewLogRepo`` writes one row per action inside the caller's
transaction, so an action and its audit entry are committed together or not at all.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import String
from sqlalchemy.orm import Mapped, Session, mapped_column

from .db import Base, utcnow

__all__ = ["REVIEW_ACTIONS", "ReviewActionRow", "HistoryFilter", "ReviewLogRepo"]

REVIEW_ACTIONS: tuple[str, ...] = ("approve", "reject", "regenerate", "pin", "unpin", "serving_policy")


class ReviewActionRow(Base):
    __tablename__ = "review_actions"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    actor_id: Mapped[str] = mapped_column(String(128))
    actor_name: Mapped[str] = mapped_column(String(256), default="")
    actor_role: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(32), index=True)
    title_id: Mapped[str] = mapped_column(String(128), index=True)
    angle_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    kind: Mapped[str | None] = mapped_column(String(32), nullable=True)
    asset_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    reason: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    before: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    after: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    params: Mapped[dict] = mapped_column(sa.JSON, default=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.created_at.replace(tzinfo=dt.timezone.utc).isoformat(timespec="seconds"),
            "actor": {"id": self.actor_id, "name": self.actor_name, "role": self.actor_role},
            "action": self.action,
            "title_id": self.title_id,
            "angle_id": self.angle_id,
            "kind": self.kind,
            "asset_id": self.asset_id,
            "reason": self.reason,
            "before": dict(self.before or {}),
            "after": dict(self.after or {}),
            "params": dict(self.params or {}),
        }


@dataclass(frozen=True)
class HistoryFilter:
    title_id: str | None = None
    asset_id: str | None = None
    angle_id: str | None = None
    action: str | None = None
    actor_id: str | None = None


class ReviewLogRepo:
    """Append and query audit rows. Takes an open session (see ``session_scope``)."""

    def __init__(self, session: Session) -> None:
        self.s = session

    def add(
        self,
        *,
        actor_id: str,
        actor_name: str,
        actor_role: str,
        action: str,
        title_id: str,
        angle_id: str | None = None,
        kind: str | None = None,
        asset_id: str | None = None,
        reason: str | None = None,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
    ) -> ReviewActionRow:
        if action not in REVIEW_ACTIONS:
            raise ValueError(f"unknown review action {action!r}")
        row = ReviewActionRow(
            actor_id=actor_id, actor_name=actor_name, actor_role=actor_role, action=action, title_id=title_id,
            angle_id=angle_id, kind=kind, asset_id=asset_id, reason=reason, before=before or {},
            after=after or {}, params=params or {},
        )
        self.s.add(row)
        self.s.flush()
        return row

    def _where(self, f: HistoryFilter) -> list[sa.ColumnElement[bool]]:
        conds: list[sa.ColumnElement[bool]] = []
        if f.title_id:
            conds.append(ReviewActionRow.title_id == f.title_id)
        if f.asset_id:
            conds.append(ReviewActionRow.asset_id == f.asset_id)
        if f.angle_id:
            conds.append(ReviewActionRow.angle_id == f.angle_id)
        if f.action:
            conds.append(ReviewActionRow.action == f.action)
        if f.actor_id:
            conds.append(ReviewActionRow.actor_id == f.actor_id)
        return conds

    def list(self, f: HistoryFilter, *, limit: int = 50, offset: int = 0) -> list[ReviewActionRow]:
        q = (
            sa.select(ReviewActionRow)
            .where(*self._where(f))
            .order_by(ReviewActionRow.created_at.desc(), ReviewActionRow.id.desc())
            .limit(limit)
            .offset(offset)
        )
        return list(self.s.scalars(q))

    def count(self, f: HistoryFilter) -> int:
        q = sa.select(sa.func.count()).select_from(ReviewActionRow).where(*self._where(f))
        return int(self.s.scalar(q) or 0)
