"""Music library: measured tempo, key and energy on synthetic tracks with known answers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from genperso.errors import InvalidInput, MediaError
from media import Segment, make_clicks, make_film, write_wav


def _chord(path: Path, freqs: list[float], seconds: float = 8.0, sr: int = 22050) -> Path:
    t = np.arange(int(seconds * sr)) / sr
    y = sum(np.sin(2 * np.pi * f * t) + 0.3 * np.sin(4 * np.pi * f * t) for f in freqs)
    return write_wav(path, (0.2 * y / len(freqs)).astype(np.float32), sr)


def test_ingest_click_track_measures_tempo_and_is_idempotent(tmp_path: Path, settings) -> None:  # type: ignore[no-untyped-def]
    from genperso.catalog import session_scope
    from genperso.catalog.titles import MusicRepo
    from genperso.music import ingest_music

    track = make_clicks(tmp_path / "clicks128.wav", bpm=128.0, duration=20.0)
    first = ingest_music(track, track_id="clicks-128", meta={"title": "Clicks", "licence": "CC0", "genres": ["test"]})
    assert first["status"] == "new"
    assert first["tempo_bpm"] == pytest.approx(128.0, rel=0.02)
    beats = np.diff(first["beats"])
    assert np.median(beats) == pytest.approx(60.0 / 128.0, rel=0.03)
    assert first["licence"] == "CC0" and first["genres"] == ["test"]
    assert Path(first["path"]).is_file() and Path(first["path"]).parent == settings.media_dir / "music"
    again = ingest_music(track, track_id="clicks-128")
    assert again["status"] == "unchanged"
    with session_scope() as s:
        assert [r.id for r in MusicRepo(s).list()] == ["clicks-128"]


def test_key_and_energy_order(tmp_path: Path) -> None:
    import librosa

    from genperso.music import estimate_energy, estimate_key

    a_major = _chord(tmp_path / "a.wav", [220.0, 277.18, 329.63])  # A C# E
    y, sr = librosa.load(str(a_major), sr=22050)
    assert estimate_key(y, sr) == "A major"
    c_minor = _chord(tmp_path / "c.wav", [261.63, 311.13, 392.0])  # C Eb G
    y2, _ = librosa.load(str(c_minor), sr=22050)
    assert estimate_key(y2, sr) == "C minor"
    busy = make_clicks(tmp_path / "busy.wav", bpm=170.0, duration=10.0)
    yb, _ = librosa.load(str(busy), sr=22050)
    quiet = (0.02 * y).astype(np.float32)
    assert estimate_energy(yb * 1.5, sr, onset_rate=170 / 60) > estimate_energy(quiet, sr, onset_rate=0.0)


def test_bad_tracks(tmp_path: Path, settings) -> None:  # type: ignore[no-untyped-def]
    from genperso.music import ingest_music

    with pytest.raises(MediaError, match="not found"):
        ingest_music(tmp_path / "missing.ogg")
    silent_video = tmp_path / "v.mp4"
    make_film(silent_video, [Segment("testsrc", 1.0)], audio=False)
    with pytest.raises(MediaError, match="no audio stream"):
        ingest_music(silent_video, track_id="v")
    track = make_clicks(tmp_path / "c.wav", bpm=100.0, duration=4.0)
    with pytest.raises(InvalidInput, match="invalid track id"):
        ingest_music(track, track_id="../x")
    with pytest.raises(InvalidInput, match="genres"):
        ingest_music(track, track_id="ok", meta={"genres": "rock"})
