"""Catalog tables for the safety gate: an audit log of every decision and the human review queue."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy import String
from sqlalchemy.orm import Mapped, Session, mapped_column

from ..errors import InvalidInput, NotFound
from .db import Base, utcnow

__all__ = ["SafetyDecisionRow", "ReviewItemRow", "SafetyRepo", "REVIEW_STATUSES"]

REVIEW_STATUSES: tuple[str, ...] = ("pending", "approved", "rejected")


class SafetyDecisionRow(Base):
    """One verdict on one candidate (or one ad-hoc check): scores, tiers, reasons, model versions."""

    __tablename__ = "safety_decisions"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    gate_id: Mapped[str] = mapped_column(String(36), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    kind: Mapped[str] = mapped_column(String(32))
    modality: Mapped[str] = mapped_column(String(16))
    profile: Mapped[str] = mapped_column(String(16))
    brand: Mapped[str | None] = mapped_column(String(128), nullable=True)
    title_id: Mapped[str | None] = mapped_column(String(128), nullable=True, index=True)
    candidate_rank: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    artifact: Mapped[str] = mapped_column(sa.Text, default="")  # file paths or the text (truncated)
    decision: Mapped[str] = mapped_column(String(8), index=True)
    label: Mapped[str] = mapped_column(String(32))
    scores: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    tiers: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    reasons: Mapped[list] = mapped_column(sa.JSON, default=list)
    models: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    policy_version: Mapped[str] = mapped_column(String(96))
    chosen: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    review_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)

    def to_dict(self) -> dict[str, Any]:
        return {c.name: (getattr(self, c.name).isoformat() if c.name == "created_at" else getattr(self, c.name))
                for c in self.__table__.columns}


class ReviewItemRow(Base):
    """A gate run that served nothing (all candidates blocked or needing review), for reviewers."""

    __tablename__ = "safety_reviews"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    gate_id: Mapped[str] = mapped_column(String(36), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    kind: Mapped[str] = mapped_column(String(32))
    profile: Mapped[str] = mapped_column(String(16))
    brand: Mapped[str | None] = mapped_column(String(128), nullable=True)
    title_id: Mapped[str | None] = mapped_column(String(128), nullable=True, index=True)
    decision: Mapped[str] = mapped_column(String(8))  # block | review (the gate's overall decision)
    policy_version: Mapped[str] = mapped_column(String(96))
    candidates: Mapped[list] = mapped_column(sa.JSON, default=list)  # rank, files, text, verdict
    resolved_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    resolved_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    approved_rank: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    note: Mapped[str | None] = mapped_column(sa.Text, nullable=True)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for c in self.__table__.columns:
            v = getattr(self, c.name)
            out[c.name] = v.isoformat() if isinstance(v, dt.datetime) else v
        return out


class SafetyRepo:
    def __init__(self, session: Session) -> None:
        self.s = session

    def add_decision(self, **fields: Any) -> SafetyDecisionRow:
        row = SafetyDecisionRow(**fields)
        self.s.add(row)
        return row

    def enqueue_review(self, *, gate_id: str, kind: str, profile: str, brand: str | None, title_id: str | None,
                       decision: str, policy_version: str, candidates: list[dict[str, Any]]) -> ReviewItemRow:
        row = ReviewItemRow(id=str(uuid.uuid4()), gate_id=gate_id, kind=kind, profile=profile, brand=brand,
                            title_id=title_id, decision=decision, policy_version=policy_version,
                            candidates=candidates)
        self.s.add(row)
        return row

    def decisions(self, *, gate_id: str | None = None, title_id: str | None = None,
                  limit: int = 100) -> list[SafetyDecisionRow]:
        q = sa.select(SafetyDecisionRow).order_by(SafetyDecisionRow.id.desc()).limit(limit)
        if gate_id is not None:
            q = q.where(SafetyDecisionRow.gate_id == gate_id)
        if title_id is not None:
            q = q.where(SafetyDecisionRow.title_id == title_id)
        return list(self.s.scalars(q))

    def reviews(self, *, status: str | None = "pending", limit: int = 100) -> list[ReviewItemRow]:
        if status is not None and status not in REVIEW_STATUSES:
            raise InvalidInput(f"unknown review status {status!r}; use one of {', '.join(REVIEW_STATUSES)}")
        q = sa.select(ReviewItemRow).order_by(ReviewItemRow.created_at.desc()).limit(limit)
        if status is not None:
            q = q.where(ReviewItemRow.status == status)
        return list(self.s.scalars(q))

    def get_review(self, review_id: str) -> ReviewItemRow:
        row = self.s.get(ReviewItemRow, review_id)
        if row is None:
            raise NotFound(f"unknown review item {review_id!r}", review_id=review_id)
        return row

    def resolve(self, review_id: str, *, status: str, by: str, approved_rank: int | None = None,
                note: str | None = None) -> ReviewItemRow:
        """Approve (optionally one candidate by rank) or reject a pending item."""
        if status not in ("approved", "rejected"):
            raise InvalidInput("a review is resolved as 'approved' or 'rejected'")
        row = self.get_review(review_id)
        if approved_rank is not None and approved_rank not in {c.get("rank") for c in row.candidates}:
            raise InvalidInput(f"review {review_id} has no candidate with rank {approved_rank}")
        row.status, row.resolved_by, row.resolved_at = status, by, utcnow()
        row.approved_rank, row.note = approved_rank, note
        return row
