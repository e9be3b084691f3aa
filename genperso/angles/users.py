"""User profiles for the angle policy: a checked embedding, or a vector built from watch history.

History items are, in order of preference: catalog title ids (their name, synopsis and genres),
genre names ("Comedy"), or free text ("slow-burn heist films"). Each item is embedded with MiniLM
and the vector is a recency-weighted mean (most recent last, half-life ``HALF_LIFE`` items).
Without either, a stored onboarding profile is used; otherwise the user is cold (population prior).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..catalog import session_scope
from ..catalog.angles import AngleUserProfileRow
from ..catalog.titles import TitleRow
from ..config import Settings, get_settings
from ..errors import InvalidInput
from ..types import UserProfile, as_unit_vector, validate_id
from .catalog import load_angles

__all__ = ["build_user", "history_texts", "history_vector", "recency_weights", "HALF_LIFE", "MAX_HISTORY"]

HALF_LIFE = 8.0
MAX_HISTORY = 200
MAX_ITEM_CHARS = 1000


def recency_weights(n: int, half_life: float = HALF_LIFE) -> np.ndarray:
    """Weights for n items, oldest first: the newest weighs 1, one half-life older weighs 0.5."""
    age = np.arange(n - 1, -1, -1, dtype=np.float64)
    return np.power(0.5, age / half_life)


def _known_genres() -> dict[str, str]:
    out: dict[str, str] = {}
    for a in load_angles():
        for g in a.genres:
            out[g.lower()] = g
    return out


def history_texts(history: Sequence[str], settings: Settings | None = None) -> list[str]:
    """Text for each history item (title ids resolved through the catalog)."""
    items = [str(h).strip() for h in history]
    if any(not h for h in items):
        raise InvalidInput("history contains an empty item", field="history")
    if len(items) > MAX_HISTORY:
        items = items[-MAX_HISTORY:]
    genres = _known_genres()
    titles: dict[str, str] = {}
    candidates = [h for h in items if validate_id_ok(h)]
    if candidates:
        with session_scope(settings) as s:
            for row in s.query(TitleRow).filter(TitleRow.id.in_(set(candidates))):
                genre_txt = ", ".join(row.genres or [])
                titles[row.id] = f"{row.name}. {row.synopsis or ''} Genres: {genre_txt}.".strip()
    texts = []
    for h in items:
        if h in titles:
            texts.append(titles[h])
        elif h.lower() in genres:
            texts.append(f"{genres[h.lower()]} movies")
        else:
            texts.append(h[:MAX_ITEM_CHARS])
    return texts


def validate_id_ok(value: str) -> bool:
    try:
        validate_id(value)
        return True
    except InvalidInput:
        return False


def history_vector(history: Sequence[str], settings: Settings | None = None) -> np.ndarray:
    from ..models.embed import embed

    texts = history_texts(history, settings)
    vecs = np.asarray(embed(texts), dtype=np.float64)
    v = recency_weights(len(texts)) @ vecs
    n = float(np.linalg.norm(v))
    if n == 0.0:
        raise InvalidInput("history produced a zero vector", field="history")
    return (v / n).astype(np.float32)


def stored_profile(user_id: str, settings: Settings | None = None) -> UserProfile | None:
    with session_scope(settings) as s:
        row = s.get(AngleUserProfileRow, user_id)
        if row is None:
            return None
        return UserProfile(user_id=user_id, embedding=np.asarray(row.embedding, dtype=np.float32),
                           history=tuple(row.picks or ()), source=row.source)


def build_user(
    user_id: str,
    *,
    embedding: Sequence[float] | None = None,
    history: Sequence[str] | None = None,
    settings: Settings | None = None,
) -> UserProfile:
    """A validated profile: embedding (dim, NaN/inf checked) > history > onboarding profile > cold."""
    settings = settings or get_settings()
    validate_id(user_id, "user id")
    if embedding is not None:
        vec = as_unit_vector(embedding, settings.embedding_dim, "user embedding")
        return UserProfile(user_id=user_id, embedding=vec, history=tuple(history or ()), source="embedding")
    if history is not None and not isinstance(history, str) and len(history) > 0:
        vec = history_vector(list(history), settings)
        return UserProfile(user_id=user_id, embedding=vec, history=tuple(str(h) for h in history), source="history")
    if isinstance(history, str):
        raise InvalidInput("history must be a list of items, not one string", field="history")
    stored = stored_profile(user_id, settings)
    if stored is not None:
        return stored
    return UserProfile(user_id=user_id, embedding=None, source="cold")
