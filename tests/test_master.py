"""Mastering: the in-memory EBU R128 measurement agrees with ffmpeg's ebur128 filter, and a
mastered file lands on the loudness target under the true-peak ceiling (re-measured by ffmpeg)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from genperso.errors import InvalidInput
from genperso.media.ffmpeg import measure_loudness
from genperso.media.master import master_audio, measure_array, true_peak

SR = 44100


def _music_like(seconds: float = 20.0, seed: int = 0) -> np.ndarray:
    """Stereo test signal with loudness changes and sharp peaks: a kick every 0.5 s, a chord that
    swells, noise; left/right differ."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    chord = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 277.2, 329.6)) / 3
    swell = 0.2 + 0.8 * (0.5 + 0.5 * np.sin(2 * np.pi * t / 7.0))
    kick = np.zeros_like(t)
    for k in np.arange(0, seconds, 0.5):
        i = int(k * SR)
        n = min(int(0.12 * SR), len(t) - i)
        kick[i:i + n] = np.sin(2 * np.pi * 60 * np.arange(n) / SR) * np.exp(-np.arange(n) / (0.03 * SR))
    left = 0.3 * chord * swell + 0.6 * kick + 0.02 * rng.standard_normal(len(t))
    right = 0.3 * np.roll(chord, 300) * swell + 0.6 * kick + 0.02 * rng.standard_normal(len(t))
    return np.stack([left, right]).astype(np.float32)


def test_measure_array_matches_ffmpeg_ebur128(tmp_path: Path) -> None:
    y = _music_like()
    wav = tmp_path / "x.wav"
    sf.write(str(wav), y.T, SR, subtype="FLOAT")
    ours, ref = measure_array(y, SR), measure_loudness(wav)
    assert ours.integrated_lufs == pytest.approx(ref.integrated_lufs, abs=0.1)
    assert ours.true_peak_dbtp == pytest.approx(ref.true_peak_dbtp, abs=0.15)
    assert ours.lra_lu == pytest.approx(ref.lra_lu, abs=0.5)


def test_true_peak_finds_inter_sample_peaks_exactly() -> None:
    from scipy.signal import resample_poly

    # a sine at fs/4 sampled at +-45 degrees: samples at 0.707, true peak 1.0 between them
    n = np.arange(50000)
    y = np.stack([0.5 * np.sin(np.pi / 2 * n + np.pi / 4), 0.1 * np.sin(0.01 * n)]).astype(np.float64)
    y[0, 20000] = 0.2  # one odd sample: the search must not stop at the largest sample
    full = float(np.abs(resample_poly(y, 4, 1, axis=1)).max())
    assert true_peak(y) == pytest.approx(full, rel=1e-6)
    assert true_peak(y) > 1.3 * float(np.abs(y).max())


def test_master_hits_target_under_ceiling(tmp_path: Path) -> None:
    y = _music_like(seed=1) * 3.0  # hot: the gain down alone is not enough, peaks over 0 dBFS
    out = tmp_path / "m.m4a"
    res = master_audio(y, SR, out, target_lufs=-14.0, true_peak_ceiling=-1.0, tags={"title": "t"})
    ref = measure_loudness(out)  # ffmpeg, independently of measure_array
    assert abs(ref.integrated_lufs + 14.0) <= 1.0 and ref.true_peak_dbtp <= -1.0 + 0.1
    assert res.after.integrated_lufs == pytest.approx(ref.integrated_lufs, abs=0.15)
    assert res.decoded is not None and res.decoded.shape[0] == 2
    quiet = master_audio(_music_like(seed=2) * 0.05, SR, tmp_path / "q.wav", target_lufs=-16.0)
    assert abs(measure_loudness(quiet.path).integrated_lufs + 16.0) <= 0.5
    assert not list(tmp_path.glob(".*"))  # no temp files left
    with pytest.raises(InvalidInput):
        master_audio(np.zeros((2, SR), dtype=np.float32), SR, tmp_path / "s.m4a")
