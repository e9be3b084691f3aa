"""Frozen value objects shared by every part of genperso.

They are plain dataclasses with ``to_dict``/``from_dict`` so they travel as JSON (catalog rows,
Celery task arguments, API responses, ``record.json`` files) without losing type information.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any, Literal, Mapping, Sequence, TypeVar

import numpy as np

from .errors import InvalidInput

__all__ = [
    "ID_RE",
    "validate_id",
    "canonical_json",
    "sha256_hex",
    "StreamInfo",
    "FaceBox",
    "Shot",
    "SpeechSegment",
    "AudioAnalysis",
    "TitleAnalysis",
    "TitleInfo",
    "TitleVersion",
    "AngleStyle",
    "Angle",
    "Context",
    "UserProfile",
    "AngleDecision",
    "AssetKey",
    "AssetFile",
    "AssetRecord",
    "Device",
    "Maturity",
    "AssetKind",
    "ASSET_KINDS",
]

ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")

Device = Literal["tv", "mobile", "web", "tablet"]
Maturity = Literal["kids", "teen", "adult"]
AssetKind = Literal["trailer", "artwork", "titles", "remix"]
ASSET_KINDS: tuple[str, ...] = ("trailer", "artwork", "titles", "remix")

T = TypeVar("T")


def validate_id(value: str, what: str = "id") -> str:
    """Ids end up in file paths and Redis keys: allow only a safe alphabet (no traversal)."""
    if not isinstance(value, str) or not ID_RE.match(value) or ".." in value:
        raise InvalidInput(
            f"invalid {what} {value!r}: use 1-128 characters of letters, digits, '_', '-', '.' "
            "(starting with a letter or digit, no '..')",
            field=what,
        )
    return value


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_json_default)


def _json_default(o: Any) -> Any:
    if dataclasses.is_dataclass(o) and not isinstance(o, type):
        return dataclasses.asdict(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, (set, frozenset)):
        return sorted(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def sha256_hex(*parts: str | bytes) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode() if isinstance(p, str) else p)
        h.update(b"\x00")
    return h.hexdigest()


class _Serde:
    """Mixin: ``to_dict`` / ``from_dict`` for nested frozen dataclasses."""

    def to_dict(self) -> dict[str, Any]:
        return json.loads(canonical_json(dataclasses.asdict(self)))  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls: type[T], data: Mapping[str, Any]) -> T:
        kwargs: dict[str, Any] = {}
        hints = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        nested = getattr(cls, "_nested", {})
        for name, f in hints.items():
            if name not in data:
                continue
            value = data[name]
            if name in nested and value is not None:
                sub = nested[name]
                if isinstance(value, list):
                    value = tuple(sub.from_dict(v) for v in value)
                else:
                    value = sub.from_dict(value)
            elif isinstance(value, list):
                value = tuple(tuple(v) if isinstance(v, list) else v for v in value)
            kwargs[name] = value
        return cls(**kwargs)


# --------------------------------------------------------------------------------------------
# Media analysis
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StreamInfo(_Serde):
    duration: float
    width: int
    height: int
    fps: float
    video_codec: str
    n_frames: int | None = None
    variable_frame_rate: bool = False
    rotation: int = 0
    has_audio: bool = False
    audio_codec: str | None = None
    audio_channels: int = 0
    audio_sample_rate: int = 0
    audio_layout: str | None = None
    container: str = ""
    bit_rate: int | None = None


@dataclass(frozen=True)
class FaceBox(_Serde):
    """Face box in normalised frame coordinates (0..1), on one keyframe."""

    x: float
    y: float
    w: float
    h: float

    @property
    def area(self) -> float:
        return self.w * self.h

    @property
    def center(self) -> tuple[float, float]:
        return (self.x + self.w / 2, self.y + self.h / 2)


@dataclass(frozen=True)
class Shot(_Serde):
    """One shot of a title version, with the features every generator scores on.

    Times are seconds. Keyframe paths are relative to ``Settings.data_dir``.
    Scalar features are normalised where noted so angles can weight them directly.
    """

    index: int
    start: float
    end: float
    keyframes: tuple[str, ...] = ()
    keyframe_times: tuple[float, ...] = ()
    sharpness: float = 0.0  # variance of Laplacian on the analysis-size keyframe
    brightness: float = 0.0  # mean luma 0..1
    contrast: float = 0.0  # std of luma 0..1
    colourfulness: float = 0.0  # Hasler-Suesstrunk metric / 100 (about 0..1.5)
    dominant_colours: tuple[str, ...] = ()  # hex "#rrggbb", most frequent first
    motion: float = 0.0  # mean absolute frame difference 0..1 (per sampled frame pair)
    faces: tuple[FaceBox, ...] = ()  # on the first keyframe
    face_count: int = 0  # max over keyframes
    max_face_area: float = 0.0  # largest face area fraction over keyframes
    is_black: bool = False
    is_blank: bool = False  # flat (uniform) frame of any colour
    audio_rms_db: float = -120.0  # dBFS of the shot's audio
    onset_density: float = 0.0  # onsets per second
    speech_ratio: float = 0.0  # share of the shot covered by speech (VAD)
    transcript: str = ""
    transition_in: str = "cut"  # cut | fade

    _nested = {"faces": FaceBox}

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class SpeechSegment(_Serde):
    start: float
    end: float
    text: str = ""


@dataclass(frozen=True)
class AudioAnalysis(_Serde):
    integrated_lufs: float | None = None
    true_peak_dbtp: float | None = None
    loudness_range_lu: float | None = None
    tempo_bpm: float | None = None
    beats: tuple[float, ...] = ()
    speech_segments: tuple[SpeechSegment, ...] = ()
    music_segments: tuple[tuple[float, float], ...] = ()
    transcript_model: str | None = None

    _nested = {"speech_segments": SpeechSegment}


@dataclass(frozen=True)
class TitleAnalysis(_Serde):
    title_id: str
    version: int
    content_hash: str
    stream: StreamInfo
    shots: tuple[Shot, ...]
    audio: AudioAnalysis | None = None
    analysis_version: str = "1"
    created_at: str = ""
    timings: Mapping[str, float] = field(default_factory=dict)

    _nested = {"stream": StreamInfo, "shots": Shot, "audio": AudioAnalysis}

    @property
    def duration(self) -> float:
        return self.stream.duration


# --------------------------------------------------------------------------------------------
# Catalog
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TitleInfo(_Serde):
    id: str
    name: str
    synopsis: str = ""
    genres: tuple[str, ...] = ()
    maturity_rating: str = "PG"
    brand: str | None = None


@dataclass(frozen=True)
class TitleVersion(_Serde):
    title_id: str
    version: int
    content_hash: str
    source_path: str
    size_bytes: int
    stream: StreamInfo | None = None
    status: str = "registered"  # registered | analysing | ready | failed | superseded

    _nested = {"stream": StreamInfo}

    @property
    def version_hash(self) -> str:
        return self.content_hash


# --------------------------------------------------------------------------------------------
# Angles and users
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AngleStyle(_Serde):
    """Style priors shared by every generator for one angle."""

    pace: float = 0.5  # 0 slow .. 1 fast
    shot_seconds: tuple[float, float] = (1.5, 4.0)  # preferred shot length in a cut
    grade: str = "neutral"  # look name, see genperso.media.grade
    music_energy: float = 0.5  # 0 calm .. 1 energetic
    tempo_bpm: tuple[float, float] = (90.0, 130.0)
    font: str = "font.ttf"  # file under assets/fonts (OFL)
    text_case: str = "upper"  # upper | title | lower
    text_colour: str = "#ffffff"
    accent_colour: str = "#ffcc00"
    # feature weights for shot / frame scoring (keys: motion, faces, face_size, brightness,
    # darkness, colourfulness, audio_energy, calm, speech, sharpness, contrast)
    weights: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Angle(_Serde):
    id: str
    name: str
    description: str
    keywords: tuple[str, ...] = ()
    genres: tuple[str, ...] = ()  # catalog genres this angle naturally fits (MovieLens style)
    style: AngleStyle = field(default_factory=AngleStyle)
    min_support: float = 0.2  # below this eligibility score the angle is not offered for a title

    _nested = {"style": AngleStyle}


@dataclass(frozen=True)
class Context(_Serde):
    hour: float = 20.0  # local time of day, 0..24
    weekday: int = 4  # 0 = Monday
    device: str = "tv"
    locale: str = "en-US"
    maturity: str = "adult"
    session_id: str | None = None
    activity: str | None = None  # free text, e.g. "morning run"

    def __post_init__(self) -> None:
        if not (0.0 <= float(self.hour) < 24.0) or math.isnan(float(self.hour)):
            raise InvalidInput(f"context.hour must be in [0, 24), got {self.hour!r}", field="hour")
        if not (0 <= int(self.weekday) <= 6):
            raise InvalidInput(f"context.weekday must be 0..6, got {self.weekday!r}", field="weekday")
        if self.device not in ("tv", "mobile", "web", "tablet"):
            raise InvalidInput(
                f"context.device must be one of tv, mobile, web, tablet; got {self.device!r}", field="device"
            )
        if self.maturity not in ("kids", "teen", "adult"):
            raise InvalidInput(
                f"context.maturity must be one of kids, teen, adult; got {self.maturity!r}", field="maturity"
            )


def daypart(hour: float) -> str:
    """morning 5-12 h, afternoon 12-17 h, evening 17-22 h, night otherwise."""
    h = float(hour)
    if 5 <= h < 12:
        return "morning"
    if 12 <= h < 17:
        return "afternoon"
    if 17 <= h < 22:
        return "evening"
    return "night"


__all__.append("daypart")


@dataclass(frozen=True)
class UserProfile:
    user_id: str
    embedding: np.ndarray | None = None  # unit-norm float32 vector or None (cold start)
    history: tuple[str, ...] = ()  # title ids, genres or free text, most recent last
    source: str = "cold"  # embedding | history | onboarding | cold

    @property
    def cold(self) -> bool:
        return self.embedding is None


@dataclass(frozen=True)
class AngleDecision(_Serde):
    decision_id: str
    user_id: str
    title_id: str
    angle_id: str
    propensity: float
    scores: Mapping[str, float] = field(default_factory=dict)
    explanation: str = ""
    policy: str = ""
    context: Mapping[str, Any] = field(default_factory=dict)
    created_at: str = ""
    shadow: Mapping[str, Any] | None = None


# --------------------------------------------------------------------------------------------
# Assets
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AssetKey(_Serde):
    """Content address of one generated asset. Same key => same asset; any change => new key."""

    title_version_hash: str
    angle_id: str
    kind: str
    params: Mapping[str, Any] = field(default_factory=dict)  # format/variant parameters
    generator: str = ""
    generator_version: str = ""
    config: Mapping[str, Any] = field(default_factory=dict)
    model_revisions: Mapping[str, str] = field(default_factory=dict)
    safety_policy_version: str = ""

    @property
    def digest(self) -> str:
        return sha256_hex(canonical_json(self.to_dict()))

    @property
    def short(self) -> str:
        return self.digest[:20]


@dataclass(frozen=True)
class AssetFile(_Serde):
    path: str  # storage-relative path
    role: str  # e.g. "hero.jpg", "trailer.mp4", "record.json"
    mime: str
    size_bytes: int
    width: int | None = None
    height: int | None = None
    format: str | None = None  # e.g. "16:9", "2:3", "mp4"
    sha256: str | None = None


@dataclass(frozen=True)
class AssetRecord(_Serde):
    asset_id: str  # == key.digest (first 20 hex chars are used in URLs)
    key: AssetKey
    title_id: str
    title_version: int
    angle_id: str
    kind: str
    files: tuple[AssetFile, ...] = ()
    record: Mapping[str, Any] = field(default_factory=dict)  # generator lineage and scores
    safety: Mapping[str, Any] = field(default_factory=dict)  # gate result
    state: str = "generated"  # generated | approved | rejected | blocked | review
    created_at: str = ""

    _nested = {"key": AssetKey, "files": AssetFile}


def as_unit_vector(values: Sequence[float] | np.ndarray, dim: int, what: str = "embedding") -> np.ndarray:
    """Validate and L2-normalise an embedding; wrong size, NaN or inf -> InvalidInput."""
    try:
        v = np.asarray(values, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"{what} must be a list of numbers: {exc}", field=what) from None
    if v.size != dim:
        raise InvalidInput(f"{what} has dimension {v.size}, expected {dim}", field=what, expected=dim, got=int(v.size))
    if not np.all(np.isfinite(v)):
        raise InvalidInput(f"{what} contains NaN or infinite values", field=what)
    n = float(np.linalg.norm(v))
    if n == 0.0:
        raise InvalidInput(f"{what} is all zeros", field=what)
    return (v / n).astype(np.float32)


__all__.append("as_unit_vector")
