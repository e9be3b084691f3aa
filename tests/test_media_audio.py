"""Whole-title audio: decode/downmix, tempo of a click track, speech (silero-vad), music, RMS."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from genperso.media import audio as A
from media import espeak_available, make_clicks, make_speech, make_tone, write_wav


@dataclass(frozen=True)
class TempoCase:
    bpm: float


@pytest.mark.parametrize("case", [TempoCase(96.0), TempoCase(120.0), TempoCase(140.0)], ids=lambda c: f"{c.bpm:g}")
def test_click_track_tempo_within_two_percent(case: TempoCase, tmp_path: Path) -> None:
    wav = make_clicks(tmp_path / "clicks.wav", case.bpm, duration=16.0)
    y = A.decode_audio(wav)
    bpm, beats, source = A.estimate_beats(y, A.AUDIO_SR)
    assert bpm is not None, source
    # the same tempo, or an octave of it (half/double time are the same grid)
    ratio = min((abs(bpm * m - case.bpm) / case.bpm for m in (0.5, 1.0, 2.0)))
    assert ratio <= 0.02, (bpm, case.bpm, source)
    period = float(np.median(np.diff(beats)))
    assert min(abs(period * m - 60.0 / case.bpm) for m in (0.5, 1.0, 2.0)) <= 0.02 * 60.0 / case.bpm


def test_silence_has_no_tempo() -> None:
    y = np.zeros(A.AUDIO_SR * 6, dtype=np.float32)
    bpm, beats, _ = A.estimate_beats(y, A.AUDIO_SR)
    assert bpm is None and beats.size == 0


def test_rms_orders_loud_and_quiet() -> None:
    t = np.arange(A.AUDIO_SR) / A.AUDIO_SR
    quiet = (0.01 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    loud = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    assert A.rms_db(loud) > A.rms_db(quiet) + 30
    assert A.rms_db(loud) == pytest.approx(20 * np.log10(0.5 / np.sqrt(2)), abs=0.05)
    assert A.rms_db(np.zeros(100, dtype=np.float32)) == A.SILENCE_DB


def test_decode_downmixes_to_mono_at_22k(tmp_path: Path) -> None:
    wav = make_tone(tmp_path / "six.wav", duration=2.0, channels=6, amp=0.3)
    y = A.decode_audio(wav)
    assert y.ndim == 1 and y.dtype == np.float32
    assert y.size == pytest.approx(2.0 * A.AUDIO_SR, abs=A.AUDIO_SR * 0.01)
    assert A.rms_db(y) > -40


def test_onset_density_counts_clicks(tmp_path: Path) -> None:
    wav = make_clicks(tmp_path / "c.wav", 120.0, duration=10.0)
    on = A.onset_times(A.decode_audio(wav), A.AUDIO_SR)
    assert A.onset_density(on, 1.0, 9.0) == pytest.approx(2.0, rel=0.25)
    assert A.onset_density(on, 5.0, 5.0) == 0.0


def test_music_segments_find_sustained_tones_not_silence(tmp_path: Path) -> None:
    sr = A.AUDIO_SR
    t = np.arange(sr * 8) / sr
    chord = 0.2 * (np.sin(2 * np.pi * 220 * t) + np.sin(2 * np.pi * 277 * t) + np.sin(2 * np.pi * 330 * t))
    y = np.concatenate([np.zeros(sr * 5), chord, np.zeros(sr * 5)]).astype(np.float32)
    segs = A.music_segments(y, sr, [])
    assert len(segs) == 1
    s, e = segs[0]
    assert abs(s - 5.0) <= 1.0 and abs(e - 13.0) <= 1.0
    # the same stretch marked as speech is not music
    assert A.music_segments(y, sr, [(5.0, 13.0)]) == []


@pytest.mark.skipif(not espeak_available(), reason="espeak-ng not installed")
def test_speech_detected_on_espeak_clip(tmp_path: Path) -> None:
    wav = make_speech(tmp_path / "speech.wav", "The quick brown fox jumps over the lazy dog. Every good film needs a story.")
    y = A.decode_audio(wav)
    # pad with two seconds of silence on each side: speech must be found only in the middle
    pad = np.zeros(2 * A.AUDIO_SR, dtype=np.float32)
    y = np.concatenate([pad, y, pad])
    speech = A.detect_speech(A.resample(y, A.AUDIO_SR, A.VAD_SR))
    total = sum(e - s for s, e in speech)
    voiced = y.size / A.AUDIO_SR - 4.0
    assert total >= 0.5 * voiced, (speech, voiced)
    assert speech[0][0] >= 1.5 and speech[-1][1] <= 2.0 + voiced + 0.5


def test_no_speech_in_tone(tmp_path: Path) -> None:
    wav = write_wav(tmp_path / "tone.wav", (0.3 * np.sin(2 * np.pi * 440 * np.arange(A.AUDIO_SR * 4) / A.AUDIO_SR))
                    .astype(np.float32), A.AUDIO_SR)
    y = A.decode_audio(wav)
    assert A.detect_speech(A.resample(y, A.AUDIO_SR, A.VAD_SR)) == []


def test_framewise_chunks_match_whole_signal() -> None:
    import librosa

    rng = np.random.default_rng(3)
    sr = A.AUDIO_SR
    y = (0.1 * rng.standard_normal(sr * 9)).astype(np.float32)
    y[sr * 3 : sr * 5] *= 5
    whole = librosa.feature.spectral_flatness(y=y, n_fft=2048, hop_length=1024)[0]
    chunked = A.framewise(y, 1024, lambda s: librosa.feature.spectral_flatness(y=s, n_fft=2048, hop_length=1024)[0],
                          chunk_s=2.0, sr=sr)
    assert chunked.shape == whole.shape
    assert np.allclose(chunked, whole, rtol=1e-4, atol=1e-6)
