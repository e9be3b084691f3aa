"""Tempo change without pitch change (time-stretch), with the best engine available.

Engines, best first:

* ``ffmpeg-rubberband``: Rubber Band compiled into the ffmpeg binary (imageio-ffmpeg has it);
  decode + stretch + resample in one ffmpeg call, latency compensated by the filter.
* ``rubberband-cli``: ``pyrubberband`` driving Debian's ``rubberband`` program (R3 engine).
* ``librosa``: librosa's phase vocoder (always there; smears transients, so used last).

``ratio`` is the tempo factor: 1.25 plays 25 % faster (120 -> 150 BPM), output is 1/1.25 as long.
"""

from __future__ import annotations

import functools
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InvalidInput, MediaError

__all__ = ["ENGINES", "StretchResult", "available_engines", "pick_engine", "stretch_file", "RATIO_LIMITS"]

ENGINES: tuple[str, ...] = ("ffmpeg-rubberband", "rubberband-cli", "librosa")
RATIO_LIMITS: tuple[float, float] = (0.5, 2.0)  # hard limits of this module; callers use tighter ones


@dataclass(frozen=True)
class StretchResult:
    y: np.ndarray  # (channels, n) float32
    sr: int
    ratio: float
    engine: str
    seconds: float  # wall time of decode + stretch


@functools.lru_cache(maxsize=1)
def _ffmpeg_has_rubberband() -> bool:
    from .ffmpeg import run_ffmpeg

    try:
        res = run_ffmpeg(["-h", "filter=rubberband"], check=False, capture_stdout=True, what="ffmpeg filter query")
    except MediaError:
        return False
    text = res.stdout.decode("utf-8", "replace") + res.stderr
    return "rubberband AVOptions" in text


@functools.lru_cache(maxsize=1)
def _has_rubberband_cli() -> bool:
    if shutil.which("rubberband") is None:
        return False
    try:
        import pyrubberband  # noqa: F401
    except ImportError:
        return False
    return True


def available_engines() -> tuple[str, ...]:
    out = []
    if _ffmpeg_has_rubberband():
        out.append("ffmpeg-rubberband")
    if _has_rubberband_cli():
        out.append("rubberband-cli")
    out.append("librosa")
    return tuple(out)


def pick_engine(engine: str = "auto") -> str:
    if engine == "auto":
        return available_engines()[0]
    if engine not in ENGINES:
        raise InvalidInput(f"unknown stretch engine {engine!r}; choose one of auto, {', '.join(ENGINES)}")
    if engine not in available_engines():
        raise InvalidInput(f"stretch engine {engine!r} is not available here; available: {', '.join(available_engines())}")
    return engine


def stretch_file(path: str | Path, ratio: float, *, sr: int = 44100, channels: int = 2,
                 engine: str = "auto") -> StretchResult:
    """Decode the first audio stream of ``path`` at ``sr`` Hz / ``channels`` and change its tempo
    by ``ratio`` (pitch kept). Returns float32 samples shaped (channels, n)."""
    from .tempo import load_audio

    if not (RATIO_LIMITS[0] <= ratio <= RATIO_LIMITS[1]) or not np.isfinite(ratio):
        raise InvalidInput(f"stretch ratio {ratio!r} is outside {RATIO_LIMITS[0]}..{RATIO_LIMITS[1]}")
    if channels not in (1, 2):
        raise InvalidInput(f"channels must be 1 or 2, got {channels}")
    name = pick_engine(engine)
    t0 = time.perf_counter()
    if name == "ffmpeg-rubberband":
        y = _ffmpeg_stretch(Path(path), ratio, sr, channels)
    else:
        y, _ = load_audio(path, sr=sr, mono=False)
        y = _match_channels(y, channels)
        if abs(ratio - 1.0) > 1e-9:
            y = _rubberband_cli(y, sr, ratio) if name == "rubberband-cli" else _librosa_stretch(y, ratio)
    return StretchResult(y.astype(np.float32, copy=False), sr, float(ratio), name, time.perf_counter() - t0)


def _match_channels(y: np.ndarray, channels: int) -> np.ndarray:
    if y.shape[0] == channels:
        return y
    if channels == 1:
        return y.mean(axis=0, keepdims=True)
    return np.repeat(y[:1], channels, axis=0) if y.shape[0] == 1 else y[:channels]


def _ffmpeg_stretch(path: Path, ratio: float, sr: int, channels: int) -> np.ndarray:
    from .ffmpeg import run_ffmpeg
    from .probe import probe_audio

    probe_audio(path)  # clear errors for missing / empty / corrupt / no audio stream
    # crisp transients + a stable pitch path keep drums tight; channels together keep the stereo image
    filt = f"rubberband=tempo={ratio:.8f}:transients=crisp:detector=compound:pitchq=quality:channels=together"
    res = run_ffmpeg(
        ["-v", "error", "-i", str(path), "-map", "0:a:0", "-vn", "-ac", str(channels), "-af", filt,
         "-ar", str(sr), "-f", "f32le", "-acodec", "pcm_f32le", "-"],
        capture_stdout=True,
        what=f"time-stretching {path.name}",
    )
    data = np.frombuffer(res.stdout, dtype="<f4")
    data = data[: len(data) - len(data) % channels]
    if data.size == 0:
        raise MediaError(f"no decodable audio in {path.name}", path=str(path))
    return data.reshape(-1, channels).T.copy()


def _rubberband_cli(y: np.ndarray, sr: int, ratio: float) -> np.ndarray:
    import pyrubberband

    out = pyrubberband.time_stretch(y.T, sr, ratio, rbargs={"--crisp": "5"})
    out = np.asarray(out, dtype=np.float32)
    return out.T if out.ndim == 2 else out[None, :]


def _librosa_stretch(y: np.ndarray, ratio: float) -> np.ndarray:
    import librosa

    return np.stack([librosa.effects.time_stretch(ch, rate=ratio) for ch in y]).astype(np.float32)
