"""Catalog tables for serving: generated assets, generation jobs, single-flight claims, API keys,
batch runs and the audit log of editorial actions.

The catalog is the source of truth; Redis (when configured) is only a cache in front of it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any, Iterable

import sqlalchemy as sa
from sqlalchemy import String
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from ..errors import InvalidInput, NotFound
from ..types import AssetKey, AssetRecord
from .db import Base, utcnow

__all__ = [
    "ASSET_STATES",
    "ROLES",
    "AssetRow",
    "JobRow",
    "ClaimRow",
    "ApiKeyRow",
    "AuditRow",
    "BatchItemRow",
    "AssetRepo",
    "JobRepo",
    "hash_api_key",
    "record_to_row",
    "PROFILES",
    "asset_profile",
    "profiles_for",
]

ASSET_STATES = ("generated", "approved", "rejected", "blocked", "review")
JOB_STATES = ("queued", "running", "retrying", "done", "failed", "blocked", "review")
ROLES = ("front-end", "reviewer", "admin")
PROFILES = ("kids", "teen", "adult")  # strictest first


def asset_profile(key: dict[str, Any] | AssetKey) -> str:
    """The audience an asset was gated for (its key's ``maturity`` parameter; default adult)."""
    params = key.params if isinstance(key, AssetKey) else (key or {}).get("params") or {}
    p = str(params.get("maturity") or "adult")
    return p if p in PROFILES else "adult"


def profiles_for(requested: str) -> tuple[str, ...]:
    """Profiles whose assets may be shown to ``requested``: the same or stricter ones."""
    i = PROFILES.index(requested) if requested in PROFILES else 0
    return PROFILES[: i + 1]


class AssetRow(Base):
    __tablename__ = "assets"
    __table_args__ = (sa.Index("ix_assets_slot", "title_id", "angle_id", "kind", "created_at"),)

    asset_id: Mapped[str] = mapped_column(String(64), primary_key=True)  # AssetKey.digest
    key: Mapped[dict] = mapped_column(sa.JSON)
    title_id: Mapped[str] = mapped_column(String(128), index=True)
    title_version: Mapped[int] = mapped_column(sa.Integer, default=0)
    title_version_hash: Mapped[str] = mapped_column(String(64), default="")
    angle_id: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(32))
    files: Mapped[list] = mapped_column(sa.JSON, default=list)
    record: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    safety: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    state: Mapped[str] = mapped_column(String(16), default="generated", index=True)
    # audience profile the safety gate checked it for (kids | teen | adult): see ``profiles_for``
    profile: Mapped[str | None] = mapped_column(String(16), nullable=True)
    pinned: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    is_default: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    def value(self) -> AssetRecord:
        return AssetRecord.from_dict(
            {
                "asset_id": self.asset_id,
                "key": self.key,
                "title_id": self.title_id,
                "title_version": self.title_version,
                "angle_id": self.angle_id,
                "kind": self.kind,
                "files": self.files or [],
                "record": self.record or {},
                "safety": self.safety or {},
                "state": self.state,
                "created_at": self.created_at.isoformat() + "Z" if self.created_at else "",
            }
        )


class JobRow(Base):
    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    asset_id: Mapped[str] = mapped_column(String(64), index=True)
    key: Mapped[dict] = mapped_column(sa.JSON)
    kind: Mapped[str] = mapped_column(String(32))
    title_id: Mapped[str] = mapped_column(String(128), index=True)
    angle_id: Mapped[str] = mapped_column(String(128))
    queue: Mapped[str] = mapped_column(String(16), default="cpu")
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    error: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    batch_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    finished_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    duration_s: Mapped[float | None] = mapped_column(sa.Float, nullable=True)

    def to_dict(self) -> dict[str, Any]:
        return {
            "job_id": self.id,
            "asset_id": self.asset_id,
            "kind": self.kind,
            "title_id": self.title_id,
            "angle_id": self.angle_id,
            "queue": self.queue,
            "status": self.status,
            "error": self.error,
            "attempts": self.attempts,
            "batch_id": self.batch_id,
            "created_at": _iso(self.created_at),
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "duration_s": self.duration_s,
            "result": (self.key or {}).get("result") if self.kind == "analysis" else None,
        }


class ClaimRow(Base):
    """Embedded single-flight: the primary key makes a second claim for the same digest fail."""

    __tablename__ = "asset_claims"

    asset_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    job_id: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[dt.datetime] = mapped_column()


class ApiKeyRow(Base):
    __tablename__ = "api_keys"

    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(128), default="")
    revoked: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class AuditRow(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(128), default="")
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(128), default="")
    details: Mapped[dict] = mapped_column(sa.JSON, default=dict)


class BatchItemRow(Base):
    """One (batch, asset) item of a pre-generation run; makes ``pregenerate`` resumable."""

    __tablename__ = "batch_items"

    batch_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    asset_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    title_id: Mapped[str] = mapped_column(String(128))
    angle_id: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(32))
    key: Mapped[dict] = mapped_column(sa.JSON)
    job_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|cached|queued|done|failed|blocked
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() + "Z" if value else None


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def record_to_row(record: AssetRecord, *, version_hash: str | None = None, is_default: bool = False) -> AssetRow:
    d = record.to_dict()
    return AssetRow(
        asset_id=record.asset_id,
        key=d["key"],
        title_id=record.title_id,
        title_version=record.title_version,
        title_version_hash=version_hash or record.key.title_version_hash,
        angle_id=record.angle_id,
        kind=record.kind,
        files=d["files"],
        record=d["record"],
        safety=d["safety"],
        state=record.state,
        profile=asset_profile(record.key),
        is_default=is_default,
    )


class AssetRepo:
    """Queries on generated assets. Takes an open session (see ``session_scope``)."""

    def __init__(self, session: Session) -> None:
        self.s = session

    def find(self, asset_id: str) -> AssetRow | None:
        if len(asset_id) == 64:
            return self.s.get(AssetRow, asset_id)
        if len(asset_id) < 12 or any(c not in "0123456789abcdef" for c in asset_id):
            return None
        rows = list(self.s.scalars(sa.select(AssetRow).where(AssetRow.asset_id.startswith(asset_id)).limit(2)))
        return rows[0] if len(rows) == 1 else None

    def get(self, asset_id: str) -> AssetRow:
        row = self.find(asset_id)
        if row is None:
            raise NotFound(f"unknown asset id {asset_id!r}", asset_id=asset_id)
        return row

    def save(self, record: AssetRecord, *, is_default: bool = False) -> AssetRow:
        row = self.s.get(AssetRow, record.asset_id)
        if row is None:
            row = record_to_row(record, is_default=is_default)
            self.s.add(row)
        else:  # same key => same asset; a re-generation only refreshes files/record/state
            fresh = record_to_row(record, is_default=is_default)
            for col in ("files", "record", "safety", "state", "profile"):
                setattr(row, col, getattr(fresh, col))
        self.s.flush()
        return row

    def set_state(self, asset_id: str, state: str) -> AssetRow:
        if state not in ASSET_STATES:
            raise InvalidInput(f"asset state must be one of {', '.join(ASSET_STATES)}; got {state!r}")
        row = self.get(asset_id)
        row.state = state
        if state in ("rejected", "blocked"):
            row.pinned = False
        self.s.flush()
        return row

    def pin(self, asset_id: str, pinned: bool = True) -> AssetRow:
        row = self.get(asset_id)
        if pinned and row.state in ("rejected", "blocked"):
            raise InvalidInput(f"asset {asset_id[:20]} is {row.state}; a {row.state} asset cannot be pinned")
        if pinned:  # one pinned asset per (title, angle, kind)
            for other in self.s.scalars(
                sa.select(AssetRow).where(
                    AssetRow.title_id == row.title_id, AssetRow.angle_id == row.angle_id,
                    AssetRow.kind == row.kind, AssetRow.pinned.is_(True),
                )
            ):
                other.pinned = False
        row.pinned = pinned
        self.s.flush()
        return row

    def pinned(self, title_id: str, angle_id: str, kind: str) -> AssetRow | None:
        return self.s.scalar(
            sa.select(AssetRow).where(
                AssetRow.title_id == title_id, AssetRow.angle_id == angle_id, AssetRow.kind == kind,
                AssetRow.pinned.is_(True), AssetRow.state.notin_(("rejected", "blocked")),
            )
        )

    def latest(self, title_id: str, kind: str, states: Iterable[str], angle_id: str | None = None,
               prefer_approved: bool = False, profiles: Iterable[str] = PROFILES) -> AssetRow | None:
        q = sa.select(AssetRow).where(
            AssetRow.title_id == title_id, AssetRow.kind == kind, AssetRow.state.in_(tuple(states)),
            AssetRow.is_default.is_(False), AssetRow.profile.in_(tuple(profiles)),
        )
        if angle_id is not None:
            q = q.where(AssetRow.angle_id == angle_id)
        order = [AssetRow.updated_at.desc(), AssetRow.created_at.desc()]
        if prefer_approved:
            order.insert(0, sa.case((AssetRow.state == "approved", 0), else_=1))
        return self.s.scalar(q.order_by(*order).limit(1))

    def default(self, title_id: str, kind: str) -> AssetRow | None:
        return self.s.scalar(
            sa.select(AssetRow).where(
                AssetRow.title_id == title_id, AssetRow.kind == kind, AssetRow.is_default.is_(True),
                AssetRow.state.notin_(("rejected", "blocked")),
            ).order_by(AssetRow.created_at.desc()).limit(1)
        )

    def list(self, *, title_id: str | None = None, state: str | None = None, kind: str | None = None,
             limit: int = 100, offset: int = 0) -> list[AssetRow]:
        q = sa.select(AssetRow)
        if title_id:
            q = q.where(AssetRow.title_id == title_id)
        if state:
            q = q.where(AssetRow.state == state)
        if kind:
            q = q.where(AssetRow.kind == kind)
        return list(self.s.scalars(q.order_by(AssetRow.created_at.desc()).limit(limit).offset(offset)))

    def delete(self, asset_ids: Iterable[str]) -> int:
        ids = list(asset_ids)
        if not ids:
            return 0
        res = self.s.execute(sa.delete(AssetRow).where(AssetRow.asset_id.in_(ids)))
        return int(res.rowcount or 0)

    def audit(self, actor: str, action: str, target: str, **details: Any) -> None:
        self.s.add(AuditRow(actor=actor, action=action, target=target, details=details))


class JobRepo:
    def __init__(self, session: Session) -> None:
        self.s = session

    def get(self, job_id: str) -> JobRow:
        row = self.s.get(JobRow, job_id)
        if row is None:
            raise NotFound(f"unknown job id {job_id!r}", job_id=job_id)
        return row

    def create(self, job_id: str, key: AssetKey, title_id: str, queue: str, batch_id: str | None = None) -> JobRow:
        row = JobRow(
            id=job_id, asset_id=key.digest, key=key.to_dict(), kind=key.kind, title_id=title_id,
            angle_id=key.angle_id, queue=queue, status="queued", batch_id=batch_id,
        )
        self.s.add(row)
        self.s.flush()
        return row

    def counts(self) -> dict[tuple[str, str], int]:
        rows = self.s.execute(sa.select(JobRow.queue, JobRow.status, sa.func.count()).group_by(JobRow.queue, JobRow.status))
        return {(q, st): int(n) for q, st, n in rows}

    def pending(self) -> list[JobRow]:
        return list(self.s.scalars(sa.select(JobRow).where(JobRow.status.in_(("queued", "running", "retrying")))))


# ---- single-flight claims (embedded store) ---------------------------------------------------


def try_claim(session_factory: Any, asset_id: str, job_id: str, ttl_s: float) -> str | None:
    """Insert a claim row; None when we won, else the job id holding the live claim."""
    now = utcnow()
    for _ in range(3):
        try:
            with session_factory() as s:
                s.add(ClaimRow(asset_id=asset_id, job_id=job_id, expires_at=now + dt.timedelta(seconds=ttl_s)))
            return None
        except IntegrityError:
            with session_factory() as s:
                row = s.get(ClaimRow, asset_id)
                if row is None:
                    continue
                if row.expires_at > utcnow():
                    return row.job_id
                # expired: remove it (only if still expired) and retry the insert
                s.execute(sa.delete(ClaimRow).where(ClaimRow.asset_id == asset_id, ClaimRow.expires_at <= utcnow()))
    raise InvalidInput(f"could not claim asset {asset_id[:20]}: contention")


__all__.append("try_claim")


# ---- API keys (hashed at rest) ---------------------------------------------------------------


def create_api_key(session: Session, role: str, name: str = "") -> str:
    """Create a key with ``role``; returns the key (shown once, only its SHA-256 is stored)."""
    import secrets

    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}; got {role!r}", field="role")
    key = "gp_" + secrets.token_urlsafe(32)
    session.add(ApiKeyRow(key_hash=hash_api_key(key), role=role, name=name[:128]))
    session.add(AuditRow(actor="cli", action="api_key.create", target=hash_api_key(key)[:16], details={"role": role}))
    return key


def api_key_role(session: Session, key: str) -> str | None:
    row = session.get(ApiKeyRow, hash_api_key(key))
    return row.role if row is not None and not row.revoked else None


__all__ += ["create_api_key", "api_key_role"]
