"""The audio track library: music beds for trailers and sources for tempo-matched remixes.

``ingest_music`` measures each track once (tempo and beat grid with octave handling, musical key,
energy, EBU R128 loudness), stores a content-addressed copy under the data dir and upserts a
``MusicTrackRow``. ``ingest_bundled`` loads the openly licensed tracks shipped in ``assets/music``.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .catalog import session_scope
from .catalog.titles import MusicTrackRow
from .config import ASSETS_DIR, Settings, get_settings
from .errors import InvalidInput, MediaError
from .ingest import store_media
from .logs import get_logger
from .media.ffmpeg import measure_loudness
from .media.probe import file_sha256, probe_audio
from .types import validate_id

__all__ = ["TrackFeatures", "analyse_track", "estimate_key", "estimate_energy", "ingest_music", "ingest_bundled"]

log = get_logger("genperso.music")

_PITCHES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
# Krumhansl-Kessler key profiles
_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
MAX_TRACK_SECONDS = 30 * 60


@dataclass(frozen=True)
class TrackFeatures:
    duration: float
    tempo_bpm: float
    tempo_confidence: float
    beats: tuple[float, ...]
    key: str
    energy: float
    loudness_lufs: float
    true_peak_dbtp: float


def estimate_key(y: np.ndarray, sr: int) -> str:
    """Musical key by correlating the mean chroma with the Krumhansl-Kessler profiles (e.g. 'A minor')."""
    import librosa

    chroma = librosa.feature.chroma_cqt(y=y, sr=sr, hop_length=2048)
    profile = chroma.mean(axis=1)
    if not np.any(profile > 0):
        return "unknown"
    best, best_r = "unknown", -2.0
    for i in range(12):
        for mode, ref in (("major", _MAJOR), ("minor", _MINOR)):
            r = float(np.corrcoef(profile, np.roll(ref, i))[0, 1])
            if r > best_r:
                best, best_r = f"{_PITCHES[i]} {mode}", r
    return best


def estimate_energy(y: np.ndarray, sr: int, onset_rate: float) -> float:
    """Perceived energy 0..1 from loudness (RMS), brightness (spectral centroid) and onset rate."""
    import librosa

    rms = librosa.feature.rms(y=y, frame_length=2048, hop_length=1024)[0]
    rms_db = 20 * np.log10(np.maximum(np.percentile(rms, 75), 1e-6))
    centroid = float(np.median(librosa.feature.spectral_centroid(y=y, sr=sr, hop_length=1024)[0]))
    loud = np.clip((rms_db + 30.0) / 24.0, 0, 1)  # -30 dBFS .. -6 dBFS
    bright = np.clip((centroid - 800.0) / 2700.0, 0, 1)  # 800 .. 3500 Hz
    busy = np.clip(onset_rate / 6.0, 0, 1)  # onsets per second
    return round(float(0.45 * loud + 0.25 * bright + 0.30 * busy), 3)


def analyse_track(path: Path) -> TrackFeatures:
    import librosa

    from .media.tempo import estimate_tempo, load_audio

    info = probe_audio(path)
    if info.duration <= 0 or info.duration > MAX_TRACK_SECONDS:
        raise MediaError(f"{path.name}: duration {info.duration:.0f} s is outside 0..{MAX_TRACK_SECONDS} s")
    y, sr = load_audio(path, sr=22050, mono=True)
    if y.size < sr:
        raise MediaError(f"{path.name} is shorter than one second")
    tempo = estimate_tempo(y, sr)
    onsets = librosa.onset.onset_detect(y=y, sr=sr, units="time")
    onset_rate = len(onsets) / max(len(y) / sr, 1e-6)
    loud = measure_loudness(path)
    return TrackFeatures(
        duration=round(len(y) / sr, 3),
        tempo_bpm=round(float(tempo.bpm), 3),
        tempo_confidence=round(float(tempo.confidence), 3),
        beats=tuple(round(float(b), 4) for b in tempo.beats),
        key=estimate_key(y, sr),
        energy=estimate_energy(y, sr, onset_rate),
        loudness_lufs=round(loud.integrated_lufs, 2),
        true_peak_dbtp=round(loud.true_peak_dbtp, 2),
    )


def ingest_music(
    path: str | Path,
    *,
    track_id: str | None = None,
    meta: Mapping[str, Any] | None = None,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """Measure and register one track; re-ingesting the same bytes under the same id is a no-op."""
    settings = settings or get_settings()
    src = Path(path).expanduser()
    meta = dict(meta or {})
    tid = validate_id(track_id or meta.get("id") or src.stem.lower().replace(" ", "-"), "track id")
    if not src.is_file():
        raise MediaError(f"file not found: {src}")
    genres = meta.get("genres", [])
    if isinstance(genres, str) or not all(isinstance(g, str) for g in genres):
        raise InvalidInput("track 'genres' must be a list of strings")
    content_hash = file_sha256(src)
    with session_scope(settings) as s:
        row = s.get(MusicTrackRow, tid)
        if row is not None and row.content_hash == content_hash:
            _apply_meta(row, meta)
            return row.to_dict() | {"status": "unchanged"}
    feats = analyse_track(src)
    stored = store_media(src, content_hash, settings, subdir="music")
    with session_scope(settings) as s:
        row = s.get(MusicTrackRow, tid)
        status = "updated" if row is not None else "new"
        if row is None:
            row = MusicTrackRow(id=tid, title=str(meta.get("title") or src.stem), path=str(stored),
                                content_hash=content_hash, duration=feats.duration)
            s.add(row)
        row.path, row.content_hash, row.duration = str(stored), content_hash, feats.duration
        row.tempo_bpm, row.beats, row.key = feats.tempo_bpm, list(feats.beats), feats.key
        row.energy, row.loudness_lufs = feats.energy, feats.loudness_lufs
        _apply_meta(row, meta)
        out = row.to_dict() | {"status": status, "tempo_confidence": feats.tempo_confidence}
    log.info("music.ingested", track_id=tid, tempo=feats.tempo_bpm, key=feats.key, energy=feats.energy)
    return out


def _apply_meta(row: MusicTrackRow, meta: Mapping[str, Any]) -> None:
    for field in ("title", "artist", "licence", "attribution"):
        if meta.get(field):
            setattr(row, field, str(meta[field]))
    if "genres" in meta:
        row.genres = list(meta["genres"])
    if "explicit" in meta:
        row.explicit = bool(meta["explicit"])


def ingest_bundled(settings: Settings | None = None, tracks: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Ingest the openly licensed tracks shipped in ``assets/music`` (see ``tracks.toml``)."""
    manifest = ASSETS_DIR / "music" / "tracks.toml"
    data = tomllib.loads(manifest.read_text(encoding="utf-8"))
    out = []
    for t in data.get("track", []):
        if tracks and t["id"] not in tracks:
            continue
        meta = {k: t[k] for k in ("title", "artist", "licence", "attribution", "genres") if k in t}
        out.append(ingest_music(ASSETS_DIR / "music" / t["file"], track_id=t["id"], meta=meta, settings=settings))
    return out
