"""Tempo-matched remixes on synthetic beat loops with known tempo and beat times."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from genperso.angles.catalog import get_angle
from genperso.errors import InvalidInput, MediaError, NotFound
from genperso.generators.base import GenerationRequest
from genperso.generators.remix import RemixConfig, RemixGenerator, choose_level, remix, target_from_context
from genperso.media.beatmix import MixTrack, beat_mix
from genperso.media.stretch import available_engines, stretch_file
from genperso.media.tempo import autocorr_tempo, estimate_tempo, load_audio
from media import Segment, make_beat_loop, make_film, make_tone


@pytest.mark.parametrize("engine", ["ffmpeg-rubberband", "librosa"])
def test_stretch_120_to_150_remeasured_within_1_percent(tmp_path: Path, engine: str) -> None:
    if engine not in available_engines():
        pytest.skip(f"{engine} not available")
    src = make_beat_loop(tmp_path / "loop.wav", 120.0, duration=10.0)
    res = stretch_file(src, 150.0 / 120.0, engine=engine)
    assert res.engine == engine and res.y.shape[0] == 2
    assert abs(res.y.shape[1] / res.sr - 8.0) < 0.1  # 10 s at x1.25
    mono = res.y.mean(axis=0)
    assert abs(autocorr_tempo(mono, res.sr, 150.0) / 150.0 - 1) < 0.01
    assert abs(estimate_tempo(mono, res.sr).bpm / 150.0 - 1) < 0.01


def test_choose_level_and_targets() -> None:
    assert choose_level(120.0, 150.0, (0.8, 1.25))[2] == "x1"
    level_bpm, ratio, name = choose_level(85.0, 165.0, (0.8, 1.25))  # type: ignore[misc]
    assert name == "x2" and level_bpm == 170.0 and abs(ratio - 165 / 170) < 1e-9
    assert choose_level(100.0, 145.0, (0.8, 1.25)) is None  # x1: 1.45, x2: 0.725, x1/2: 2.9
    assert choose_level(0.0, 150.0, (0.8, 1.25)) is None
    angle = get_angle("action")
    assert target_from_context(angle.style.tempo_bpm, {"activity": "morning run"}, {}) == (150.0, 180.0)
    assert target_from_context(angle.style.tempo_bpm, {}, {}) == angle.style.tempo_bpm
    assert target_from_context(None, {}, {"bpm": 128}) == (128.0, 128.0)
    with pytest.raises(InvalidInput, match="out of range"):
        target_from_context(None, {}, {"bpm": 300})


def test_two_track_remix_crossfades_on_a_beat(tmp_path: Path) -> None:
    a = make_beat_loop(tmp_path / "a.wav", 120.0, duration=14.0, seed=1)
    b = make_beat_loop(tmp_path / "b.wav", 140.0, duration=14.0, seed=2, pad_freq=98.0)
    out = tmp_path / "mix.m4a"
    res = remix([a, b], 150.0, out, RemixConfig(crossfade_beats=4))
    rec = res.record
    assert out.exists() and res.record_path.exists()
    assert json.loads(res.record_path.read_text())["target_bpm"] == 150.0
    # tempo: source tempi, ratios, independent re-measurement within 1 %
    src = {s["track"]: s for s in rec["sources"]}
    assert abs(src["a.wav"]["source_bpm"] - 120) < 1.2 and abs(src["b.wav"]["source_bpm"] - 140) < 1.4
    assert abs(src["a.wav"]["stretch_ratio"] - 1.25) < 0.0125
    assert abs(rec["output_tempo"]["error_pct"]) < 1.0
    # loudness: -14 LUFS +-1, true peak <= -1 dBTP
    assert abs(rec["output"]["integrated_lufs"] + 14.0) <= 1.0
    assert rec["output"]["true_peak_dbtp"] <= -1.0
    # the crossfade starts on a beat of both tracks: a's beats (stretched) are k * 0.4 s
    (tr,) = rec["transitions"]
    period = 60.0 / 150.0
    for t in (tr["from_beat"], tr["to_beat"]):  # b (140 -> 150) also has its beats at k * 0.4 s
        assert abs(t / period - round(t / period)) * period < 0.03, tr
    assert tr["from_downbeat"] and tr["to_downbeat"]
    # in the output, one straight beat grid runs through the transition (no jump or drift)
    y, sr = load_audio(out)
    est = estimate_tempo(y, sr, prior_bpm=(140, 160))
    near = est.beats[(est.beats > tr["out_start"] - 3) & (est.beats < tr["out_end"] + 3)]
    assert len(near) >= 10
    phase = np.angle(np.exp(2j * np.pi * (near - tr["out_start"]) / period))
    mean = np.angle(np.mean(np.exp(1j * phase)))
    resid = np.abs(np.angle(np.exp(1j * (phase - mean)))) / (2 * np.pi) * period
    assert float(resid.max()) < 0.03, resid
    assert rec["engine"] == available_engines()[0]


def test_beat_mix_alignment_is_sample_exact() -> None:
    sr, bpm = 8000, 120.0
    period = 0.5
    def track(n_beats: int, offset: float) -> MixTrack:
        n = int((offset + n_beats * period) * sr)
        y = np.zeros((1, n), dtype=np.float32)
        beats = offset + np.arange(n_beats) * period
        y[0, np.round(beats * sr).astype(int)] = 1.0
        return MixTrack(y, sr, beats)
    mix = beat_mix([track(24, 0.0), track(24, 0.13)], bpm, n_beats=4, meter=4)
    (tr,) = mix.transitions
    impulses = np.flatnonzero(np.abs(mix.y[0]) > 1e-3) / sr
    grid = impulses / period
    assert np.allclose(grid, np.round(grid), atol=1.5 / sr / period)  # every impulse on the 0.5 s grid
    assert abs(tr.out_end - tr.out_start - 4 * period) < 1e-9


def test_remix_bad_inputs(tmp_path: Path) -> None:
    good = make_beat_loop(tmp_path / "g.wav", 120.0, duration=8.0)
    with pytest.raises(MediaError, match="not found"):
        remix([tmp_path / "missing.wav"], 150.0, tmp_path / "o.m4a")
    with pytest.raises(NotFound, match="neither"):
        remix(["no-such-track"], 150.0, tmp_path / "o.m4a")
    with pytest.raises(InvalidInput, match="out of range"):
        remix([good], 300.0, tmp_path / "o.m4a")
    with pytest.raises(InvalidInput, match="out of range"):
        remix([good], 20.0, tmp_path / "o.m4a")
    with pytest.raises(InvalidInput, match="must end in"):
        remix([good], 150.0, tmp_path / "o.txt")
    film = tmp_path / "silent.mp4"
    make_film(film, [Segment("color", 1.0)], audio=False)
    with pytest.raises(MediaError, match="no audio stream"):
        remix([film], 150.0, tmp_path / "o.m4a")
    tone = make_tone(tmp_path / "tone.wav", duration=6.0)
    with pytest.raises(InvalidInput, match="no track can be stretched"):
        remix([tone], 150.0, tmp_path / "o.m4a")
    assert not (tmp_path / "o.m4a").exists()


def test_generator_running_context_mp3(tmp_path: Path) -> None:
    src = make_beat_loop(tmp_path / "l.wav", 84.0, duration=12.0)
    req = GenerationRequest(angle=get_angle("action"), out_dir=tmp_path / "out",
                            params={"tracks": [str(src)], "context": {"activity": "evening run"}, "format": "mp3"})
    out = RemixGenerator().generate(req)
    (cand,) = out.candidates
    rec = cand.record
    assert Path(cand.files["remix.mp3"]).exists() and Path(cand.files["record.json"]).exists()
    assert rec["sources"][0]["level"] == "x2"  # 84 BPM runs at 168 steps/min
    assert 150.0 <= rec["target_bpm"] <= 180.0 and abs(rec["target_bpm"] - 168.0) < 2.0
    assert abs(rec["output_tempo"]["error_pct"]) < 1.0


def test_cli_remix(tmp_path: Path) -> None:
    src = make_beat_loop(tmp_path / "l.wav", 128.0, duration=8.0)
    out = tmp_path / "cli.m4a"
    exe = [sys.executable, "-m", "genperso.cli"]
    ok = subprocess.run([*exe, "remix", str(src), "--bpm", "140", "--out", str(out), "--json"],
                        capture_output=True, text=True, timeout=300)
    assert ok.returncode == 0, ok.stderr
    rec = json.loads(ok.stdout)
    assert rec["target_bpm"] == 140.0 and out.exists()
    bad = subprocess.run([*exe, "remix", str(src), "--bpm", "500", "--out", str(out)],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "out of range" in bad.stderr and "Traceback" not in bad.stderr
    missing = subprocess.run([*exe, "remix", str(tmp_path / "nope.ogg"), "--bpm", "120", "--out", str(out)],
                             capture_output=True, text=True, timeout=120)
    assert missing.returncode == 2 and "not found" in missing.stderr


def test_remix_of_music_library_ids_carries_licences(tmp_path: Path) -> None:
    from genperso.catalog import session_scope
    from genperso.catalog.titles import MusicTrackRow

    a = make_beat_loop(tmp_path / "a.wav", 100.0, duration=10.0, seed=3)
    b = make_beat_loop(tmp_path / "b.wav", 104.0, duration=10.0, seed=4)
    with session_scope() as s:
        for tid, p, lic in (("loop-a", a, "CC0"), ("loop-b", b, "CC-BY-4.0")):
            s.add(MusicTrackRow(id=tid, title=f"Loop {tid[-1].upper()}", artist="Synth", licence=lic,
                                attribution=f"{tid} by Synth", path=str(p), content_hash="0" * 64, duration=10.0))
    out = tmp_path / "lib.mp3"
    res = remix(["loop-a", "loop-b"], 110.0, out, RemixConfig(crossfade_beats=4))
    rec = res.record
    assert [s["track"] for s in rec["sources"]] == ["loop-a", "loop-b"]
    assert [s["licence"] for s in rec["sources"]] == ["CC0", "CC-BY-4.0"]
    from genperso.media.ffmpeg import run_ffmpeg

    tags = run_ffmpeg(["-i", str(out), "-f", "ffmetadata", "-"], capture_stdout=True).stdout.decode()
    assert "CC-BY-4.0" in tags and "110.0 BPM" in tags
