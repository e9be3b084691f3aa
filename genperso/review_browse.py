"""Browsing for reviewers: titles with asset counts, a title's assets filtered by angle, kind,
state and safety flag (in review order), one title or asset. Read-only; the actions that change
state are in ``genperso.review``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from .catalog import session_scope
from .catalog.assets import ASSET_STATES, AssetRepo, AssetRow
from .catalog.titles import TitleRepo
from .config import Settings, get_settings
from .errors import InvalidInput, NotFound
from .review import safety_decision
from .types import ASSET_KINDS

__all__ = ["SAFETY_FLAGS", "AssetFilter", "find_asset_ids", "load_assets", "angle_counts", "title_summaries", "get_title", "get_asset"]

SAFETY_FLAGS = ("flagged", "clean")


@dataclass(frozen=True)
class AssetFilter:
    title_id: str | None = None
    angle_id: str | None = None
    kind: str | None = None
    state: str | None = None
    safety: str | None = None  # flagged | clean

    def __post_init__(self) -> None:
        if self.kind and self.kind not in ASSET_KINDS:
            raise InvalidInput(f"kind must be one of {', '.join(ASSET_KINDS)}; got {self.kind!r}", field="kind")
        if self.state and self.state not in ASSET_STATES:
            raise InvalidInput(f"state must be one of {', '.join(ASSET_STATES)}; got {self.state!r}", field="state")
        if self.safety and self.safety not in SAFETY_FLAGS:
            raise InvalidInput(f"safety must be one of {', '.join(SAFETY_FLAGS)}; got {self.safety!r}",
                               field="safety")


def _flagged(state: str, safety: dict[str, Any] | None) -> bool:
    return state in ("review", "blocked") or safety_decision(safety or {}) in ("review", "block")


def find_asset_ids(f: AssetFilter, *, settings: Settings | None = None) -> list[str]:
    """Ids of every asset matching the filter, in review order (angle, kind, newest first). Title
    defaults are included: they are served too. The safety flag lives in the JSON gate result, so
    it is filtered here rather than in SQL; only ids, states and gate results are read."""
    settings = settings or get_settings()
    q = sa.select(AssetRow.asset_id, AssetRow.state, AssetRow.safety)
    if f.title_id:
        q = q.where(AssetRow.title_id == f.title_id)
    if f.angle_id:
        q = q.where(AssetRow.angle_id == f.angle_id)
    if f.kind:
        q = q.where(AssetRow.kind == f.kind)
    if f.state:
        q = q.where(AssetRow.state == f.state)
    q = q.order_by(AssetRow.angle_id, AssetRow.kind, AssetRow.created_at.desc(), AssetRow.asset_id)
    with session_scope(settings) as s:
        found = list(s.execute(q))
    if f.safety == "flagged":
        found = [r for r in found if _flagged(r.state, r.safety)]
    elif f.safety == "clean":
        found = [r for r in found if not _flagged(r.state, r.safety)]
    return [r.asset_id for r in found]


def load_assets(asset_ids: list[str], *, settings: Settings | None = None) -> list[AssetRow]:
    """Full rows for ``asset_ids`` (one page), in the given order; vanished ids are skipped."""
    settings = settings or get_settings()
    if not asset_ids:
        return []
    with session_scope(settings) as s:
        rows = {r.asset_id: r for r in s.scalars(sa.select(AssetRow).where(AssetRow.asset_id.in_(asset_ids)))}
        s.expunge_all()
    return [rows[i] for i in asset_ids if i in rows]


def angle_counts(title_id: str, *, settings: Settings | None = None) -> dict[str, int]:
    settings = settings or get_settings()
    with session_scope(settings) as s:
        rows = s.execute(
            sa.select(AssetRow.angle_id, sa.func.count())
            .where(AssetRow.title_id == title_id)
            .group_by(AssetRow.angle_id)
        )
        return {a: int(n) for a, n in rows}


def title_summaries(*, settings: Settings | None = None) -> list[dict[str, Any]]:
    """Every title with its serving policy and asset counts by state."""
    settings = settings or get_settings()
    with session_scope(settings) as s:
        titles = TitleRepo(s).list()
        counts: dict[str, dict[str, int]] = {}
        for tid, state, n in s.execute(
            sa.select(AssetRow.title_id, AssetRow.state, sa.func.count())
            .group_by(AssetRow.title_id, AssetRow.state)
        ):
            counts.setdefault(tid, {})[state] = int(n)
        angles = dict(s.execute(
            sa.select(AssetRow.title_id, sa.func.count(sa.distinct(AssetRow.angle_id)))
            .group_by(AssetRow.title_id)
        ).all())
        pinned = dict(s.execute(
            sa.select(AssetRow.title_id, sa.func.count()).where(AssetRow.pinned.is_(True)).group_by(AssetRow.title_id)
        ).all())
        out = []
        for t in titles:
            states = counts.get(t.id, {})
            out.append({
                "id": t.id, "name": t.name, "genres": list(t.genres or []), "version": t.current_version,
                "serving_policy": t.serving_policy or "auto", "states": dict(sorted(states.items())),
                "n_assets": sum(states.values()), "n_angles": int(angles.get(t.id, 0)),
                "n_pinned": int(pinned.get(t.id, 0)),
            })
        return out


def get_title(title_id: str, *, settings: Settings | None = None) -> dict[str, Any]:
    settings = settings or get_settings()
    with session_scope(settings) as s:
        t = TitleRepo(s).get(title_id)
        return {"id": t.id, "name": t.name, "synopsis": t.synopsis or "", "genres": list(t.genres or []),
                "version": t.current_version, "serving_policy": t.serving_policy or "auto"}


def get_asset(asset_id: str, *, settings: Settings | None = None) -> AssetRow:
    settings = settings or get_settings()
    with session_scope(settings) as s:
        row = AssetRepo(s).find(asset_id)
        if row is None:
            raise NotFound(f"unknown asset id {asset_id!r}", asset_id=asset_id)
        s.expunge(row)
        return row

