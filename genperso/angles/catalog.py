"""Angle definitions from ``assets/angles.toml`` (or ``GENPERSO_ANGLES_FILE``), validated."""

from __future__ import annotations

import functools
import os
import tomllib
from pathlib import Path

from ..config import ASSETS_DIR
from ..errors import InvalidInput, NotFound
from ..types import Angle, AngleStyle, validate_id

__all__ = ["AngleCatalog", "load_angles", "get_angle", "angles_file"]

WEIGHT_KEYS = frozenset(
    {"motion", "faces", "face_size", "brightness", "darkness", "colourfulness", "audio_energy", "calm", "speech",
     "sharpness", "contrast"}
)


def angles_file() -> Path:
    return Path(os.environ.get("GENPERSO_ANGLES_FILE") or ASSETS_DIR / "angles.toml")


class AngleCatalog:
    def __init__(self, angles: list[Angle], version: str, path: Path) -> None:
        self.angles = tuple(angles)
        self.by_id = {a.id: a for a in angles}
        self.version = version
        self.path = path

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.angles)

    def __len__(self) -> int:
        return len(self.angles)

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(a.id for a in self.angles)

    def get(self, angle_id: str) -> Angle:
        try:
            return self.by_id[angle_id]
        except KeyError:
            raise NotFound(f"unknown angle {angle_id!r}; known: {', '.join(self.ids)}", angle=angle_id) from None


def _parse(path: Path) -> AngleCatalog:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidInput(f"angles file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"angles file {path} is not valid TOML: {exc}") from None
    raw = data.get("angle") or []
    if not raw:
        raise InvalidInput(f"angles file {path} defines no [[angle]] entries")
    angles: list[Angle] = []
    for i, a in enumerate(raw):
        try:
            aid = validate_id(str(a["id"]), "angle id")
            style_raw = dict(a.get("style") or {})
            weights = {k: float(v) for k, v in dict(style_raw.pop("weights", {}) or {}).items()}
            unknown = set(weights) - WEIGHT_KEYS
            if unknown:
                raise InvalidInput(f"angle {aid!r}: unknown weight keys {sorted(unknown)}")
            for key in ("shot_seconds", "tempo_bpm"):
                if key in style_raw:
                    lo, hi = (float(x) for x in style_raw[key])
                    if not (0 < lo <= hi):
                        raise InvalidInput(f"angle {aid!r}: {key} must be [low, high] with 0 < low <= high")
                    style_raw[key] = (lo, hi)
            style = AngleStyle(**style_raw, weights=weights)
            angles.append(
                Angle(
                    id=aid,
                    name=str(a["name"]),
                    description=str(a["description"]),
                    keywords=tuple(a.get("keywords", ())),
                    genres=tuple(a.get("genres", ())),
                    style=style,
                    min_support=float(a.get("min_support", 0.2)),
                )
            )
        except KeyError as exc:
            raise InvalidInput(f"angle #{i + 1} in {path} misses the field {exc.args[0]!r}") from None
        except TypeError as exc:
            raise InvalidInput(f"angle #{i + 1} in {path}: {exc}") from None
    ids = [a.id for a in angles]
    if len(set(ids)) != len(ids):
        raise InvalidInput(f"angles file {path} has duplicate ids")
    return AngleCatalog(angles, str(data.get("version", "0")), path)


@functools.lru_cache(maxsize=4)
def _load_cached(path: str, mtime: float) -> AngleCatalog:
    return _parse(Path(path))


def load_angles(path: str | Path | None = None) -> AngleCatalog:
    """The angle catalog (re-read when the file changes)."""
    p = Path(path) if path else angles_file()
    try:
        mtime = p.stat().st_mtime
    except FileNotFoundError:
        raise InvalidInput(f"angles file not found: {p}") from None
    return _load_cached(str(p), mtime)


def get_angle(angle_id: str) -> Angle:
    return load_angles().get(angle_id)
