"""Shot boundaries from the single reduced-size decode: hard cuts within +-2 frames, fades."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from genperso.media import frames as F
from genperso.media.probe import probe
from genperso.media.shots import detect_shots, scan_video, segment_shots
from media import Segment, make_fade_film, make_film

FPS = 25


@dataclass(frozen=True)
class CutCase:
    name: str
    segments: tuple[Segment, ...]


CUT_CASES = [
    CutCase("colours", (Segment("color", 1.6, "red"), Segment("color", 1.2, "blue"), Segment("color", 1.4, "green"))),
    CutCase("pattern_to_flat", (Segment("testsrc", 2.0), Segment("color", 1.0, "orange"), Segment("mandelbrot", 1.6))),
    CutCase("short_shots", (Segment("testsrc", 0.8), Segment("color", 0.6, "white"), Segment("testsrc", 0.7),
                            Segment("color", 1.0, "purple"))),  # >= 3 s: see probe note in report
    CutCase("motion_then_static", (Segment("noise", 1.5), Segment("color", 1.5, "gray"), Segment("noise", 1.5))),
]


@pytest.mark.parametrize("case", CUT_CASES, ids=lambda c: c.name)
def test_cuts_within_two_frames(case: CutCase, tmp_path: Path) -> None:
    film = tmp_path / f"{case.name}.mp4"
    cuts = make_film(film, list(case.segments), fps=FPS, audio=False)
    shots = detect_shots(film)
    starts = [s for s, _e, _t in shots[1:]]
    assert len(starts) == len(cuts), (starts, cuts)
    for got, want in zip(starts, cuts):
        assert abs(got - want) <= 2 / FPS + 1e-6, (got, want)
    # contiguous cover of the whole film
    assert shots[0][0] == 0.0
    assert all(abs(a[1] - b[0]) < 1e-9 for a, b in zip(shots, shots[1:]))
    assert shots[-1][1] == pytest.approx(sum(s.duration for s in case.segments), abs=0.1)
    assert all(t == "cut" for _s, _e, t in shots)


def test_single_shot_has_no_boundaries(tmp_path: Path) -> None:
    film = tmp_path / "one.mp4"
    make_film(film, [Segment("testsrc", 3.0)], fps=FPS, audio=False)
    shots = detect_shots(film)
    assert len(shots) == 1 and shots[0][0] == 0.0 and shots[0][1] == pytest.approx(3.0, abs=0.1)


def test_fade_out_black_fade_in_and_cut(tmp_path: Path) -> None:
    film = tmp_path / "fade.mp4"
    truth = make_fade_film(film, fps=FPS, fade=1.0, black=1.0)
    info = probe(film)
    scan = scan_video(film, info)
    spans = segment_shots(scan)
    shots = [(scan.time_of(s.start_frame), scan.time_of(s.end_frame), s.transition_in, s.black_run) for s in spans]
    # fade-out | black | fade-in | hard cut: no spurious cuts inside the 1 s luma ramps
    assert len(shots) == 4, shots
    assert [s[2] for s in shots] == ["cut", "fade", "fade", "cut"]
    assert [s[3] for s in shots] == [False, True, False, False]
    # the black shot spans the black gap (plus the darkest frames of each ramp)
    assert truth["fade_out_end"] - 0.3 <= shots[1][0] <= truth["fade_out_end"]
    assert truth["fade_in_start"] <= shots[1][1] <= truth["fade_in_start"] + 0.3
    assert abs(shots[3][0] - truth["cut"]) <= 2 / FPS
    black = scan.luma[spans[1].start_frame : spans[1].end_frame]
    assert float(np.mean(black < F.BLACK_LUMA)) > 0.9


def test_short_black_gap_is_one_fade_boundary(tmp_path: Path) -> None:
    film = tmp_path / "dip.mp4"
    truth = make_fade_film(film, fps=FPS, fade=0.6, black=0.2)
    shots = detect_shots(film)
    assert [t for _s, _e, t in shots] == ["cut", "fade", "cut"], shots
    assert abs(shots[1][0] - (truth["fade_out_end"] + truth["fade_in_start"]) / 2) <= 0.2
    assert abs(shots[2][0] - truth["cut"]) <= 2 / FPS


def test_timestamps_not_frame_index(tmp_path: Path) -> None:
    """Frame times come from presentation timestamps (variable frame rate safe)."""
    film = tmp_path / "pts.mp4"
    make_film(film, [Segment("testsrc", 1.0), Segment("color", 1.0, "red")], fps=FPS, audio=False)
    scan = scan_video(film, probe(film))
    assert scan.n_frames == 2 * FPS
    assert np.all(np.diff(scan.times) > 0)
    assert np.allclose(np.diff(scan.times), 1 / FPS, atol=1e-3)
    assert scan.width == 320 and scan.height == 180


def test_variable_frame_rate_uses_timestamps(tmp_path: Path) -> None:
    """Frames 0.4-1.2 s are dropped (timestamps kept): the cut at 2.0 s must still be at 2.0 s,
    not at 30 frames x 1/25 s = 1.2 s."""
    from genperso.media.ffmpeg import run_ffmpeg

    cfr = tmp_path / "cfr.mp4"
    make_film(cfr, [Segment("testsrc", 2.0), Segment("color", 2.0, "red")], fps=FPS, audio=False)
    vfr = tmp_path / "vfr.mp4"
    run_ffmpeg(["-y", "-i", str(cfr), "-vf", "select='not(between(n,10,29))'", "-fps_mode", "passthrough",
                "-c:v", "libx264", "-preset", "ultrafast", str(vfr)], what="vfr film")
    info = probe(vfr)
    assert info.variable_frame_rate
    scan = scan_video(vfr, info)
    assert scan.n_frames == 4 * FPS - 20
    assert scan.times[10] == pytest.approx(1.2, abs=1e-3)
    shots = detect_shots(vfr, info)
    assert len(shots) == 2 and abs(shots[1][0] - 2.0) <= 2 / FPS


@dataclass(frozen=True)
class ScoreCase:
    name: str
    scores: tuple[float, ...]
    cuts: tuple[int, ...]


SCORE_CASES = [
    ScoreCase("noise_to_still", (0, 42, 42, 42, 43, 0, 0, 0, 0), (4,)),
    ScoreCase("still_to_noise", (0, 0, 0, 0, 42, 42, 42, 43, 42), (4,)),
    ScoreCase("action_slowing_down", (0, 34, 48, 31, 44, 33, 9, 8, 8, 7), ()),
    ScoreCase("sustained_action", (0, 40, 42, 41, 43, 40, 42, 41), ()),
    # Big Buck Bunny 442.17 s: calm sky -> busy falling leaves (two-sided ratio only 2.4)
    ScoreCase("calm_to_busy_shot", (0, 0.9, 1.7, 2.6, 5.2, 20.1, 74.8, 63.2, 37.0, 33.9, 33.3), (6,)),
    # Big Buck Bunny 196.17 s: an action burst slowing down, same shot
    ScoreCase("action_burst_ends", (0, 34.2, 47.9, 30.6, 43.9, 32.7, 29.1, 30.4, 32.7, 9.4, 8.2, 7.8), ()),
]


@pytest.mark.parametrize("case", SCORE_CASES, ids=lambda c: c.name)
def test_one_sided_rule(case: ScoreCase) -> None:
    from genperso.media.shots import ShotDetectorConfig, _one_sided_cuts

    got = _one_sided_cuts(np.asarray(case.scores, dtype=np.float32), ShotDetectorConfig())
    assert tuple(got) == case.cuts


@pytest.mark.parametrize("duration", [0.2, 0.32])
def test_short_dissolve_is_one_gradual_boundary(duration: float, tmp_path: Path) -> None:
    from genperso.media.ffmpeg import run_ffmpeg

    film = tmp_path / "dissolve.mp4"
    run_ffmpeg(["-y", "-f", "lavfi", "-i", f"testsrc2=s=320x180:r={FPS}:d=3", "-f", "lavfi",
                "-i", f"smptehdbars=s=320x180:r={FPS}:d=3",
                "-filter_complex", f"[0:v][1:v]xfade=transition=fade:duration={duration}:offset=2.5,format=yuv420p[v]",
                "-map", "[v]", "-c:v", "libx264", "-preset", "ultrafast", str(film)], what="dissolve film")
    shots = detect_shots(film)
    assert len(shots) == 2, shots
    assert shots[1][2] == "fade"
    assert abs(shots[1][0] - (2.5 + duration / 2)) <= 2 / FPS + 1e-6
