"""Whole-title audio analysis: decoded once, then loudness, speech, onsets, beats and music.

* Decoding: one ffmpeg run to 22.05 kHz mono float32 (``-ac 1`` downmixes any layout, 5.1 too).
* Loudness: EBU R128 integrated loudness, true peak and loudness range (``measure_loudness``, an
  ffmpeg ``ebur128`` pass on the original audio; run concurrently by the caller).
* Speech: silero-vad (bundled model, batched "sequence" ONNX front-end when available) on a
  16 kHz copy (soxr via librosa).
* Onsets: librosa onset strength + peak picking (per-shot onset density).
* Tempo and beat grid: ``genperso.media.tempo.estimate_tempo`` when that module is present,
  else ``librosa.beat.beat_track`` (one switch: ``estimate_beats``).
* Music segments: a heuristic - sustained (>= 4 s) stretches of active (> -45 dBFS), tonal
  (low spectral flatness), non-speech audio. It separates score/songs from silence, dialogue and
  noise-like effects; it is not a trained music classifier.
"""

from __future__ import annotations

import functools
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import MediaError
from ..logs import get_logger
from .ffmpeg import run_ffmpeg

__all__ = [
    "AUDIO_SR",
    "TEMPO_MAX_SECONDS",
    "VAD_SR",
    "AudioFeatures",
    "decode_audio",
    "resample",
    "detect_speech",
    "onset_times",
    "framewise",
    "estimate_beats",
    "music_segments",
    "rms_db",
    "analyse_audio",
    "overlap",
    "onset_density",
]

log = get_logger("genperso.media.audio")

AUDIO_SR = 22050
VAD_SR = 16000
SILENCE_DB = -120.0
_MUSIC_ACTIVE_DB = -45.0
_MUSIC_FLATNESS = 0.05  # median spectral flatness of a 1 s window below this = tonal
_MUSIC_MIN_S = 4.0
TEMPO_MAX_SECONDS = 120.0  # tempo/beats are tracked on at most this much music


@dataclass(frozen=True)
class AudioFeatures:
    """Everything measured on the decoded audio (loudness is measured separately)."""

    y: np.ndarray  # mono float32 at AUDIO_SR
    sr: int
    y16: np.ndarray  # mono float32 at VAD_SR (for VAD and transcription)
    speech: tuple[tuple[float, float], ...]
    onsets: np.ndarray  # seconds
    tempo_bpm: float | None
    beats: np.ndarray  # seconds
    music: tuple[tuple[float, float], ...]
    tempo_source: str

    @property
    def duration(self) -> float:
        return self.y.size / self.sr


def decode_audio(path: str | Path, sr: int = AUDIO_SR) -> np.ndarray:
    """First audio stream as mono float32 at ``sr`` (one ffmpeg pipe; any layout downmixed)."""
    path = Path(path)
    res = run_ffmpeg(
        ["-v", "error", "-i", str(path), "-map", "0:a:0", "-vn", "-ac", "1", "-ar", str(int(sr)),
         "-f", "f32le", "-acodec", "pcm_f32le", "-"],
        capture_stdout=True,
        what=f"decoding the audio of {path.name}",
    )
    y = np.frombuffer(res.stdout, dtype="<f4")
    if y.size == 0:
        raise MediaError(f"no decodable audio in {path.name}", path=str(path))
    if not np.all(np.isfinite(y)):
        y = np.nan_to_num(y, nan=0.0, posinf=0.0, neginf=0.0)
    return y.astype(np.float32, copy=False)


def resample(y: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """High-quality resampling (soxr through librosa)."""
    import librosa

    if sr_in == sr_out:
        return y
    return librosa.resample(y, orig_sr=sr_in, target_sr=sr_out, res_type="soxr_hq").astype(np.float32, copy=False)


def rms_db(y: np.ndarray) -> float:
    """RMS level in dBFS (-120 for silence or empty)."""
    if y.size == 0:
        return SILENCE_DB
    ms = float(np.mean(np.square(y, dtype=np.float64)))
    return SILENCE_DB if ms <= 1e-12 else max(SILENCE_DB, 10.0 * math.log10(ms))


# ---------------------------------------------------------------------------------------------
# Speech (silero-vad)
# ---------------------------------------------------------------------------------------------

_vad_lock = threading.Lock()


@functools.lru_cache(maxsize=1)
def _vad_model() -> tuple[object, bool]:
    from silero_vad import load_silero_vad

    try:
        return load_silero_vad(sequence=True), True
    except (TypeError, ImportError, FileNotFoundError):  # older silero-vad: streaming model
        return load_silero_vad(onnx=True), False


def detect_speech(y16: np.ndarray, *, threshold: float = 0.5, min_speech_ms: int = 250) -> list[tuple[float, float]]:
    """Speech segments (seconds) of 16 kHz mono audio with silero-vad."""
    if y16.size < VAD_SR // 4:
        return []
    import silero_vad

    with _vad_lock:  # the ONNX session keeps state between calls
        model, sequence = _vad_model()
        if sequence:
            ts = silero_vad.get_speech_timestamps_sequence(
                y16, model, threshold=threshold, min_speech_duration_ms=min_speech_ms, return_seconds=True
            )
        else:  # pragma: no cover - only with silero-vad < 6
            import torch

            ts = silero_vad.get_speech_timestamps(
                torch.from_numpy(np.ascontiguousarray(y16)), model, threshold=threshold,
                min_speech_duration_ms=min_speech_ms, return_seconds=True,
            )
    return [(float(t["start"]), float(t["end"])) for t in ts]


# ---------------------------------------------------------------------------------------------
# Onsets, beats, music
# ---------------------------------------------------------------------------------------------


def framewise(y: np.ndarray, hop: int, fn: Callable[[np.ndarray], np.ndarray], *, chunk_s: float = 60.0,
              sr: int = AUDIO_SR, pad_frames: int = 16) -> np.ndarray:
    """Apply a centred frame-wise feature ``fn`` (frames every ``hop`` samples, ``1 + len//hop``
    of them) to long audio in overlapping chunks, so memory stays bounded for feature-length
    titles. Chunk edges get ``pad_frames`` of context on each side and are trimmed."""
    n = 1 + y.size // hop
    step = max(pad_frames * 4, int(chunk_s * sr / hop))
    out = np.empty(n, dtype=np.float32)
    for f0 in range(0, n, step):
        f1 = min(n, f0 + step)
        a, b = max(0, f0 - pad_frames), min(n, f1 + pad_frames)
        seg = y[a * hop :] if b == n else y[a * hop : (b - 1) * hop + 1]
        vals = np.asarray(fn(seg)).reshape(-1)
        out[f0:f1] = vals[f0 - a : f1 - a]
    return out


def onset_times(y: np.ndarray, sr: int, hop: int = 512) -> np.ndarray:
    """Onset times (s): librosa onset strength (computed in chunks) + librosa peak picking."""
    import librosa

    if y.size < sr // 2:
        return np.zeros(0)
    env = framewise(y, hop, lambda seg: librosa.onset.onset_strength(y=seg, sr=sr, hop_length=hop), sr=sr)
    if not np.any(env > 0):
        return np.zeros(0)
    on = librosa.onset.onset_detect(onset_envelope=env, sr=sr, hop_length=hop, units="time", backtrack=False)
    return np.asarray(on, dtype=np.float64)


def _tempo_module():  # type: ignore[no-untyped-def]
    try:
        from . import tempo

        return tempo if hasattr(tempo, "estimate_tempo") else None
    except ImportError:
        return None


def _estimate_span(y: np.ndarray, sr: int) -> tuple[float | None, float, np.ndarray, str]:
    """(bpm or None, confidence, beats, source) of one excerpt."""
    mod = _tempo_module()
    if mod is not None:
        est = mod.estimate_tempo(y, sr)
        if est.bpm <= 0:
            return None, 0.0, np.zeros(0), "genperso.media.tempo"
        return float(est.bpm), float(est.confidence), np.asarray(est.beats, dtype=np.float64), "genperso.media.tempo"
    import librosa

    tempo, beats = librosa.beat.beat_track(y=y, sr=sr, units="time")
    bpm = float(np.atleast_1d(tempo)[0])
    return (bpm if bpm > 0 else None), 1.0, np.asarray(beats, dtype=np.float64), "librosa.beat.beat_track"


def estimate_beats(
    y: np.ndarray, sr: int, spans: list[tuple[float, float]] | tuple[tuple[float, float], ...] | None = None,
    *, max_seconds: float = TEMPO_MAX_SECONDS,
) -> tuple[float | None, np.ndarray, str]:
    """(tempo_bpm or None, beat times in seconds, source). The one place that picks the estimator.

    With ``spans`` (the music segments) only those are tracked, longest first, until
    ``max_seconds`` of audio were analysed: a beat grid over dialogue or silence means nothing,
    and tempo estimation costs time linear in the length. The title tempo is the median of the
    spans' tempi weighted by duration x confidence; beats are those of the analysed spans."""
    duration = y.size / sr
    if y.size < 3 * sr or rms_db(y) < -60.0:
        return None, np.zeros(0), "none"
    todo = sorted(spans, key=lambda s: s[0] - s[1]) if spans else [(0.0, duration)]
    picked: list[tuple[float, float]] = []
    total = 0.0
    for s, e in todo:
        if total >= max_seconds:
            break
        e = min(e, duration, s + max_seconds - total)
        if e - s >= 3.0:
            picked.append((s, e))
            total += e - s
    bpms: list[tuple[float, float]] = []
    beats: list[np.ndarray] = []
    source = "none"
    for s, e in sorted(picked):
        bpm, conf, b, source = _estimate_span(y[int(s * sr) : int(e * sr)], sr)
        if bpm is not None:
            bpms.append((bpm, max(conf, 1e-3) * (e - s)))
            beats.append(b + s)
    if not bpms:
        return None, np.zeros(0), source
    vals = np.array([b for b, _ in bpms])
    weights = np.array([w for _, w in bpms])
    order = np.argsort(vals)
    cum = np.cumsum(weights[order])
    bpm = float(vals[order][int(np.searchsorted(cum, cum[-1] / 2))])
    return bpm, np.concatenate(beats), source


def onset_density(onsets: np.ndarray, start: float, end: float) -> float:
    """Onsets per second inside [start, end)."""
    if end <= start or onsets.size == 0:
        return 0.0
    n = int(np.searchsorted(onsets, end, side="left") - np.searchsorted(onsets, start, side="left"))
    return n / (end - start)


def overlap(spans: tuple[tuple[float, float], ...] | list[tuple[float, float]], start: float, end: float) -> float:
    """Seconds of [start, end) covered by the (non-overlapping) spans."""
    return sum(max(0.0, min(e, end) - max(s, start)) for s, e in spans)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    d = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    return list(zip(np.flatnonzero(d == 1).tolist(), np.flatnonzero(d == -1).tolist()))


def music_segments(y: np.ndarray, sr: int, speech: list[tuple[float, float]], win_s: float = 1.0) -> list[tuple[float, float]]:
    """Sustained tonal non-speech stretches (see the module docstring)."""
    import librosa

    n_win = int(y.size // int(sr * win_s))
    if n_win < int(_MUSIC_MIN_S / win_s):
        return []
    hop = 1024
    flat = framewise(y, hop, lambda seg: librosa.feature.spectral_flatness(y=seg, n_fft=2048, hop_length=hop)[0],
                     sr=sr)
    frames_per_win = max(1, int(round(sr * win_s / hop)))
    active = np.zeros(n_win, dtype=bool)
    tonal = np.zeros(n_win, dtype=bool)
    speechy = np.zeros(n_win, dtype=bool)
    w = int(sr * win_s)
    for i in range(n_win):
        seg = y[i * w : (i + 1) * w]
        active[i] = rms_db(seg) > _MUSIC_ACTIVE_DB
        f = flat[i * frames_per_win : (i + 1) * frames_per_win]
        tonal[i] = f.size > 0 and float(np.median(f)) < _MUSIC_FLATNESS
        speechy[i] = overlap(speech, i * win_s, (i + 1) * win_s) > 0.5 * win_s
    music = active & tonal & ~speechy
    # close one-window gaps (a breath, a hit) before measuring lengths
    for i in range(1, n_win - 1):
        if not music[i] and music[i - 1] and music[i + 1]:
            music[i] = True
    out = []
    for a, b in _runs(music):
        if (b - a) * win_s >= _MUSIC_MIN_S:
            out.append((round(a * win_s, 3), round(min(b * win_s, y.size / sr), 3)))
    return out


def analyse_audio(path: str | Path) -> AudioFeatures:
    """Decode once and measure speech, onsets, beats and music (not loudness)."""
    y = decode_audio(path, AUDIO_SR)
    y16 = resample(y, AUDIO_SR, VAD_SR)
    speech = detect_speech(y16)
    onsets = onset_times(y, AUDIO_SR)
    music = music_segments(y, AUDIO_SR, speech)
    bpm, beats, source = estimate_beats(y, AUDIO_SR, music or None)
    log.debug("audio.done", path=str(path), speech=len(speech), onsets=int(onsets.size), bpm=bpm, music=len(music))
    return AudioFeatures(
        y=y, sr=AUDIO_SR, y16=y16, speech=tuple((round(s, 3), round(e, 3)) for s, e in speech),
        onsets=onsets, tempo_bpm=(round(bpm, 3) if bpm else None), beats=np.round(beats, 4),
        music=tuple(music), tempo_source=source,
    )
