"""Transcription gating and model resolution (the transcription itself: test_analysis)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from genperso.config import Settings
from genperso.media.transcript import should_transcribe, whisper_model_dir


@dataclass(frozen=True)
class GateCase:
    name: str
    speech: tuple[tuple[float, float], ...]
    duration: float
    transcribe: bool
    skipped: str | None  # a word of the reason, or None when it runs


GATE_CASES = [
    GateCase("dialogue", ((1.0, 6.0), (8.0, 12.0)), 20.0, True, None),
    GateCase("disabled", ((1.0, 6.0),), 20.0, False, "disabled"),
    GateCase("vocalisations_in_a_film", ((92.9, 93.3), (137.4, 138.1), (169.9, 170.8)), 596.0, True, "little"),
    GateCase("too_short", ((1.0, 2.0),), 4.0, True, "little"),
    GateCase("sparse_share", ((10.0, 14.0),), 1000.0, True, "little"),
]


@pytest.mark.parametrize("case", GATE_CASES, ids=lambda c: c.name)
def test_transcription_gate(case: GateCase, settings: Settings) -> None:
    reason = should_transcribe(case.speech, case.duration, settings.model_copy(update={"transcribe": case.transcribe}))
    if case.skipped is None:
        assert reason is None
    else:
        assert reason is not None and case.skipped in reason


def test_configured_model_dir_missing_is_none(settings: Settings, tmp_path: Path) -> None:
    s = settings.model_copy(update={"whisper_model": str(tmp_path / "nowhere")})
    assert whisper_model_dir(s) is None


def test_configured_model_dir_is_used(settings: Settings, tmp_path: Path) -> None:
    d = tmp_path / "my-whisper"
    d.mkdir()
    (d / "model.bin").write_bytes(b"x")
    info = whisper_model_dir(settings.model_copy(update={"whisper_model": str(d)}))
    assert info is not None and info.path == d and "my-whisper" in info.name
