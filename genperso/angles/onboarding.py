"""Onboarding: show a new user a small diverse grid; their picks initialise the user vector.

The grid is a greedy farthest-point selection over MiniLM embeddings of catalog titles (name,
synopsis, genres), so it spans the catalog instead of repeating one genre. With fewer titles than
the grid size, angle exemplars (the angle descriptions) are offered instead. Picks are stored in
the catalog (``angle_user_profiles``) and ``build_user`` uses them when no embedding/history is given.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import sqlalchemy as sa

from ..catalog.angles import AngleUserProfileRow
from ..catalog.db import session_scope
from ..catalog.titles import TitleRow
from ..config import Settings, get_settings
from ..errors import InvalidInput, NotFound
from ..types import UserProfile, validate_id
from .catalog import load_angles
from .features import angle_texts

__all__ = ["OnboardingItem", "onboarding_grid", "onboard_user", "diverse_indices", "ANGLE_PREFIX"]

ANGLE_PREFIX = "angle:"
MAX_POOL = 2000
MAX_PICKS = 50


@dataclass(frozen=True)
class OnboardingItem:
    id: str  # a title id, or "angle:<angle id>"
    kind: str  # title | angle
    label: str
    text: str

    def to_dict(self) -> dict[str, str]:
        return {"id": self.id, "kind": self.kind, "label": self.label, "text": self.text}


def diverse_indices(vectors: np.ndarray, n: int) -> list[int]:
    """Greedy farthest-point selection (cosine), starting from the item farthest from the centroid."""
    m = vectors.shape[0]
    if n >= m:
        return list(range(m))
    centroid = vectors.mean(axis=0)
    first = int(np.argmin(vectors @ centroid))
    chosen = [first]
    best_sim = vectors @ vectors[first]
    while len(chosen) < n:
        best_sim[chosen] = np.inf
        nxt = int(np.argmin(best_sim))
        chosen.append(nxt)
        best_sim = np.maximum(best_sim, vectors @ vectors[nxt])
    return chosen


def _title_text(row: TitleRow) -> str:
    return f"{row.name}. {row.synopsis or ''} Genres: {', '.join(row.genres or [])}."


def onboarding_grid(n: int = 8, settings: Settings | None = None) -> list[OnboardingItem]:
    from ..models.embed import embed

    if not 2 <= n <= 48:
        raise InvalidInput(f"grid size must be 2..48, got {n}")
    settings = settings or get_settings()
    with session_scope(settings) as s:
        rows = list(s.scalars(sa.select(TitleRow).order_by(TitleRow.id).limit(MAX_POOL)))
        items = [OnboardingItem(r.id, "title", r.name, _title_text(r)) for r in rows]
    if len(items) < n:
        angles = load_angles()
        items = [OnboardingItem(ANGLE_PREFIX + a.id, "angle", a.name, t) for a, t in zip(angles, angle_texts(angles))]
        if len(items) <= n:
            return items
    vecs = np.asarray(embed([it.text for it in items]), dtype=np.float64)
    return [items[i] for i in diverse_indices(vecs, n)]


def onboard_user(user_id: str, picks: Sequence[str], settings: Settings | None = None) -> UserProfile:
    """Initialise (or replace) a user's vector from onboarding picks (title ids or angle:<id>)."""
    from ..models.embed import embed

    settings = settings or get_settings()
    validate_id(user_id, "user id")
    picks = [str(p).strip() for p in picks if str(p).strip()]
    if not picks:
        raise InvalidInput("pick at least one title or angle", field="picks")
    if len(picks) > MAX_PICKS:
        raise InvalidInput(f"at most {MAX_PICKS} picks", field="picks")
    angles = load_angles()
    texts: list[str] = []
    with session_scope(settings) as s:
        for p in picks:
            if p.startswith(ANGLE_PREFIX):
                a = angles.get(p[len(ANGLE_PREFIX):])
                texts.append(angle_texts(type(angles)([a], angles.version, angles.path))[0])
                continue
            validate_id(p, "title id")
            row = s.get(TitleRow, p)
            if row is None:
                raise NotFound(f"unknown title id {p!r} in onboarding picks", title_id=p)
            texts.append(_title_text(row))
    v = np.asarray(embed(texts), dtype=np.float64).mean(axis=0)
    v = (v / np.linalg.norm(v)).astype(np.float32)
    with session_scope(settings) as s:
        row = s.get(AngleUserProfileRow, user_id)
        if row is None:
            s.add(AngleUserProfileRow(user_id=user_id, embedding=v.tolist(), source="onboarding", picks=picks))
        else:
            row.embedding, row.source, row.picks = v.tolist(), "onboarding", picks
    return UserProfile(user_id=user_id, embedding=v, history=tuple(picks), source="onboarding")
