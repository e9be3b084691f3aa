"""Calibrating the zero-shot prior on the catalog: per-angle mean and sd of the MiniLM similarity
between catalog titles and each angle description, so that user similarities are read relative to
the catalog (an angle whose text resembles every film no longer wins for everybody)."""

from __future__ import annotations

import numpy as np
import sqlalchemy as sa

from ..catalog.db import session_scope
from ..catalog.titles import TitleRow
from ..config import Settings, get_settings
from ..errors import InvalidInput
from .catalog import load_angles
from .features import angle_vectors, calibrate, save_calibration

__all__ = ["calibrate_from_catalog", "calibrate_from_vectors", "MIN_TITLES"]

MIN_TITLES = 5


def calibrate_from_vectors(population: np.ndarray, settings: Settings | None = None) -> dict[str, object]:
    settings = settings or get_settings()
    angles = load_angles()
    cal = calibrate(population, angle_vectors(angles, settings))
    path = save_calibration(cal, angles, settings)
    from .policy import _policies

    for pol in list(_policies.values()):
        pol._cal = None
    return {"path": str(path), "n": int(population.shape[0]),
            "mean": dict(zip(angles.ids, np.round(cal[0], 4).tolist())),
            "sd": dict(zip(angles.ids, np.round(cal[1], 4).tolist()))}


def calibrate_from_catalog(settings: Settings | None = None, limit: int = 5000) -> dict[str, object]:
    """Embed up to ``limit`` catalog titles (name, synopsis, genres) and store the calibration."""
    from ..models.embed import embed

    settings = settings or get_settings()
    with session_scope(settings) as s:
        rows = list(s.scalars(sa.select(TitleRow).order_by(TitleRow.id).limit(limit)))
        texts = [f"{r.name}. {r.synopsis or ''} Genres: {', '.join(r.genres or [])}." for r in rows]
    if len(texts) < MIN_TITLES:
        raise InvalidInput(f"calibration needs at least {MIN_TITLES} catalog titles, found {len(texts)}")
    return calibrate_from_vectors(np.asarray(embed(texts), dtype=np.float64), settings)
