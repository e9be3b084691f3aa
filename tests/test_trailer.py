"""Trailer generator on synthetic films where the right cut is known by construction.

Film: 12 shots of 3 s alternating fast/loud "action" shots (cellular-automaton noise + loud
noise) and calm/quiet "romance" shots (flat colour + soft tone, with face boxes in the analysis);
spoken lines at known times. Music library: two click tracks with exactly known beats (150 and
90 bpm)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from genperso.angles.catalog import get_angle
from genperso.errors import InvalidInput
from genperso.generators.base import GenerationRequest
from genperso.generators.trailer import TrailerGenerator, output_size, parse_params
from genperso.media.ffmpeg import measure_loudness, run_ffmpeg
from genperso.media.probe import probe
from genperso.scoring import FeatureScorer
from genperso.types import AudioAnalysis, FaceBox, Shot, SpeechSegment, StreamInfo, TitleAnalysis, TitleInfo
from media import Segment, make_film, write_wav

SHOT = 3.0
N_SHOTS = 12
COLOURS = ("steelblue", "seagreen", "orchid", "goldenrod", "tomato", "slateblue")
SPEECH = (
    SpeechSegment(4.2, 5.4, "we have to talk"),  # romance shot 1 (3..6)
    SpeechSegment(10.5, 11.6, "stay with me"),  # romance shot 3 (9..12)
    SpeechSegment(7.1, 8.3, "get down"),  # action shot 2 (6..9)
)


@pytest.fixture(scope="module")
def film(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, TitleAnalysis]:
    d = tmp_path_factory.mktemp("trailer-film")
    segs = []
    for i in range(N_SHOTS):
        if i % 2 == 0:
            segs.append(Segment("noise", SHOT, audio="loud"))
        else:
            segs.append(Segment("faces", SHOT, color=COLOURS[(i // 2) % len(COLOURS)], audio="tone"))
    path = d / "film.mp4"
    make_film(path, segs)
    shots = []
    for i, s in enumerate(segs):
        t = i * SHOT
        action = s.kind == "noise"
        face = FaceBox(0.55, 0.2, 0.2, 0.45)
        shots.append(Shot(
            index=i, start=t, end=t + SHOT, motion=0.35 + 0.01 * i if action else 0.01, audio_rms_db=-6.0 if action else -32.0,
            onset_density=8.0 if action else 0.3, brightness=0.5 if action else 0.55, contrast=0.3 if action else 0.1,
            colourfulness=0.1 if action else 0.5, dominant_colours=(("#7f7f7f", "#ffffff") if action else (f"#{(40 * i) % 256:02x}60a0",)),
            faces=() if action else (face,), face_count=0 if action else 1, max_face_area=0.0 if action else face.area,
            speech_ratio=0.0,
        ))
    analysis = TitleAnalysis(
        title_id="synthetic", version=1, content_hash="c" * 64,
        stream=StreamInfo(duration=N_SHOTS * SHOT, width=320, height=180, fps=25.0, video_codec="h264", has_audio=True,
                          audio_codec="aac", audio_channels=2, audio_sample_rate=44100),
        shots=tuple(shots), audio=AudioAnalysis(integrated_lufs=-18.0, speech_segments=SPEECH),
    )
    return path, analysis


def _bed(path: Path, bpm: float, duration: float = 40.0, sr: int = 22050) -> Path:
    """A music-like bed: a soft two-note pad plus a click on every beat (exact beat grid)."""
    t = np.arange(int(duration * sr)) / sr
    y = 0.12 * np.sin(2 * np.pi * 220 * t) + 0.08 * np.sin(2 * np.pi * 277.2 * t)
    k = np.arange(int(0.03 * sr)) / sr
    click = 0.45 * np.sin(2 * np.pi * 1500 * k) * np.exp(-k * 120)
    for b in np.arange(0, duration - 0.05, 60.0 / bpm):
        i = int(round(b * sr))
        y[i:i + click.size] += click[: y.size - i]
    return write_wav(path, np.stack([y, y], axis=1).astype(np.float32), sr)


@pytest.fixture(scope="module")
def click_tracks(tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    d = tmp_path_factory.mktemp("clicks")
    out = []
    for tid, bpm, energy in (("clicks-150", 150.0, 0.85), ("clicks-90", 90.0, 0.3)):
        p = _bed(d / f"{tid}.wav", bpm)
        beats = [round(k * 60.0 / bpm, 4) for k in range(int(40.0 * bpm / 60.0))]
        out.append({"id": tid, "path": str(p), "bpm": bpm, "beats": beats, "energy": energy,
                    "lufs": measure_loudness(p).integrated_lufs})
    return out


def _library(tracks: list[dict]) -> None:
    from genperso.catalog import session_scope
    from genperso.catalog.titles import MusicTrackRow

    with session_scope() as s:
        for t in tracks:
            s.add(MusicTrackRow(id=t["id"], title=t["id"], path=t["path"], content_hash=t["id"] * 4, duration=40.0,
                                tempo_bpm=t["bpm"], beats=t["beats"], energy=t["energy"], loudness_lufs=t["lufs"],
                                licence="test tone (generated)"))


def _generate(film, angle: str, out: Path, **params):  # noqa: ANN001, ANN003
    path, analysis = film
    req = GenerationRequest(angle=get_angle(angle), out_dir=out, title=TitleInfo(id="synthetic", name="Clockwork Hearts"),
                            analysis=analysis, params={"duration": 15, **params}, source_path=path)
    return TrailerGenerator(scorers=[FeatureScorer()]).generate(req)


def _inside(t: float, segs) -> bool:  # noqa: ANN001
    return any(s.start + 1e-3 < t < s.end - 1e-3 for s in segs)


@dataclass(frozen=True)
class AngleCase:
    angle: str
    wanted_parity: int  # 0: action shots (even), 1: romance shots (odd)
    track: str


@pytest.mark.parametrize("case", [AngleCase("action", 0, "clicks-150"), AngleCase("romance", 1, "clicks-90")],
                         ids=lambda c: c.angle)
def test_angle_cut_takes_the_right_shots_on_the_beat(film, click_tracks, tmp_path: Path, case: AngleCase) -> None:  # noqa: ANN001
    _library(click_tracks)
    out = _generate(film, case.angle, tmp_path / case.angle)
    cand = out.candidates[0]
    rec = cand.record
    shots = rec["shots"]
    # the right material: mostly the wanted kind of shot (by screen time)
    wanted = sum(s["timeline_out"] - s["timeline_in"] for s in shots if s["index"] % 2 == case.wanted_parity)
    total = sum(s["timeline_out"] - s["timeline_in"] for s in shots)
    assert wanted / total >= 0.7, shots
    # the bed matches the angle's tempo, and every cut lands on one of its beats
    assert rec["music"]["track_id"] == case.track and rec["music"]["source"] == "library"
    track = next(t for t in click_tracks if t["id"] == case.track)
    beats = np.array(track["beats"]) - rec["music"]["offset"]
    cuts = [s["timeline_in"] for s in shots[1:]] + [rec["title_card"]["timeline_in"]]
    dist = [float(np.min(np.abs(beats - c))) for c in cuts]
    assert np.median(dist) <= 0.040 and max(dist) <= 0.041
    lo, hi = get_angle(case.angle).style.shot_seconds
    assert np.median([s["timeline_out"] - s["timeline_in"] for s in shots]) >= lo - 0.5 * 60 / track["bpm"]
    # timeline is contiguous and ends at the card; card at the end
    assert shots[0]["timeline_in"] == 0.0
    assert all(abs(a["timeline_out"] - b["timeline_in"]) < 1e-3 for a, b in zip(shots, shots[1:]))
    assert abs(shots[-1]["timeline_out"] - rec["title_card"]["timeline_in"]) < 1e-3
    # never cut inside a spoken line, never black, nothing from the last 15 %
    for s in shots:
        assert not _inside(s["source_in"], SPEECH) and not _inside(s["source_out"], SPEECH), s
        assert s["source_out"] <= 0.85 * N_SHOTS * SHOT + 1e-6
    # the output file: duration, size, codecs, loudness
    mp4 = Path(cand.files["trailer.mp4"])
    info = probe(mp4)
    assert abs(info.duration - 15.0) <= 0.5
    assert (info.width, info.height) == (320, 180)
    assert info.video_codec == "h264" and info.audio_codec == "aac"
    loud = measure_loudness(mp4)
    assert abs(loud.integrated_lufs + 16.0) <= 1.0 and loud.true_peak_dbtp <= -1.0
    assert rec["grade"]["look"] == get_angle(case.angle).style.grade
    assert Path(cand.files["cutlist.json"]).is_file()
    assert json.loads(Path(cand.files["record.json"]).read_text())["angle"] == case.angle


def test_dialogue_is_kept_whole_and_ducks_the_music(film, click_tracks, tmp_path: Path) -> None:  # noqa: ANN001
    _library(click_tracks)
    rec = _generate(film, "drama", tmp_path / "drama").candidates[0].record
    kept = [s for s in rec["shots"] if s["speech_lines"] > 0]
    assert kept, "the drama angle (speech weight > 0) should keep a spoken line"
    for s in kept:
        lines = [seg for seg in SPEECH if s["source_in"] <= seg.start and seg.end <= s["source_out"]]
        assert len(lines) == s["speech_lines"]
    assert rec["ducking"]["intervals"] and rec["ducking"]["depth_db"] < 0


def test_spoiler_guard_and_allow_spoilers(film, click_tracks, tmp_path: Path) -> None:  # noqa: ANN001
    _library(click_tracks)
    path, analysis = film
    # make the last shot (33..36 s) the most action-packed one by far
    shots = list(analysis.shots)
    shots[-2] = Shot.from_dict(shots[-2].to_dict() | {"motion": 0.9, "audio_rms_db": -1.0})
    hot = TitleAnalysis.from_dict(analysis.to_dict() | {"shots": [s.to_dict() for s in shots]})
    guarded = _generate((path, hot), "action", tmp_path / "g", spoiler_guard_fraction=0.2).candidates[0].record
    assert all(s["source_out"] <= 0.8 * 36 + 1e-6 for s in guarded["shots"])
    assert N_SHOTS - 2 not in [s["index"] for s in guarded["shots"]]
    free = _generate((path, hot), "action", tmp_path / "f", allow_spoilers=True).candidates[0].record
    assert N_SHOTS - 2 in [s["index"] for s in free["shots"]]


def _box_film(path: Path, box_x: int) -> None:
    """20 s, 4 shots of 5 s on grey with a yellow 50x60 box at x=box_x (320x180)."""
    run_ffmpeg(["-y", "-f", "lavfi", "-i", "color=c=0x404040:s=320x180:r=25:d=20",
                "-f", "lavfi", "-i", "sine=f=330:r=44100:d=20,volume=0.1",
                "-vf", f"drawbox=x={box_x}:y=60:w=50:h=60:color=yellow:t=fill,format=yuv420p",
                "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-c:a", "aac", "-shortest", str(path)])


def test_vertical_crop_follows_the_face(tmp_path: Path, click_tracks) -> None:  # noqa: ANN001
    _library(click_tracks)
    path = tmp_path / "box.mp4"
    _box_film(path, 250)
    face = FaceBox(250 / 320, 60 / 180, 50 / 320, 60 / 180)
    shots = tuple(Shot(index=i, start=5.0 * i, end=5.0 * (i + 1), faces=(face,), face_count=1, max_face_area=face.area,
                       brightness=0.3, motion=0.01 * i, dominant_colours=(f"#40{40 * i:02x}40",)) for i in range(4))
    analysis = TitleAnalysis(title_id="box", version=1, content_hash="b" * 64,
                             stream=StreamInfo(duration=20.0, width=320, height=180, fps=25.0, video_codec="h264",
                                               has_audio=True), shots=shots, audio=AudioAnalysis(integrated_lufs=-30.0))
    out = _generate((path, analysis), "romance", tmp_path / "v", aspect="9:16", allow_spoilers=True).candidates[0]
    mp4 = Path(out.files["trailer.mp4"])
    info = probe(mp4)
    assert (info.width, info.height) == output_size(320, 180, "9:16") == (180, 320)
    for s in out.record["shots"]:
        crop = s["crop"]
        assert crop["method"] == "faces" and crop["w"] == 102 and crop["x"] <= 250 and crop["x"] + crop["w"] >= 300
    # the picture: the yellow box fills the middle of the vertical frame
    raw = run_ffmpeg(["-ss", "2.0", "-i", str(mp4), "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                     capture_stdout=True).stdout
    frame = np.frombuffer(raw, dtype=np.uint8).reshape(320, 180, 3).astype(int)
    mid = frame[150:200, 60:120].reshape(-1, 3).mean(0)
    assert mid[0] > 150 and mid[1] > 150 and mid[2] < 110, mid  # yellow (graded), not grey


def test_saliency_crop_without_faces() -> None:
    from genperso.generators.trailer_crop import crop_windows, saliency_centroid

    img = np.full((90, 160, 3), 60, dtype=np.uint8)
    img[30:60, 20:40] = (250, 220, 30)
    cx, cy, conf = saliency_centroid(img)
    assert 0.1 < cx < 0.3 and 0.3 < cy < 0.7 and conf > 0.5
    flat = saliency_centroid(np.full((90, 160, 3), 60, dtype=np.uint8))
    assert flat == (0.5, 0.5, 0.0)
    wins = crop_windows([Shot(index=0, start=0, end=3)], [(0, 0.0, 3.0)], 1280, 720, "9:16")
    assert (wins[0].method, wins[0].w, wins[0].x, wins[0].h) == ("centre", 406, 437, 720)


def test_otio_export_loads_and_matches_the_cut(film, click_tracks, tmp_path: Path) -> None:  # noqa: ANN001
    import opentimelineio as otio

    _library(click_tracks)
    cand = _generate(film, "comedy", tmp_path / "c").candidates[0]
    tl = otio.adapters.read_from_file(cand.files["trailer.otio"])
    v1, a1, a2 = tl.tracks
    clips = list(v1.find_clips())
    assert len(clips) == len(cand.record["shots"]) + 1 and clips[-1].name == "title card"
    for clip, s in zip(clips, cand.record["shots"]):
        assert abs(clip.source_range.start_time.to_seconds() - s["source_in"]) < 0.021
        assert Path(clip.media_reference.target_url.removeprefix("file://")) == film[0].resolve()
    assert abs(v1.duration().to_seconds() - 15.0) < 0.05 and abs(a2.duration().to_seconds() - 15.0) < 0.05
    bed = list(a2.find_clips())[0]
    assert bed.metadata["genperso"]["track_id"] == cand.record["music"]["track_id"]


@dataclass(frozen=True)
class BadParams:
    params: dict
    field: str


@pytest.mark.parametrize("case", [
    BadParams({"duration": 20}, "duration"),
    BadParams({"duration": "long"}, "duration"),
    BadParams({"aspect": "4:3"}, "aspect"),
    BadParams({"candidates": 0}, "candidates"),
    BadParams({"candidates": 99}, "candidates"),
    BadParams({"spoiler_guard_fraction": 0.9}, "spoiler_guard_fraction"),
    BadParams({"allow_spoilers": "maybe"}, "allow_spoilers"),
    BadParams({"music": "kazoo"}, "music"),
    BadParams({"durration": 30}, "durration"),
    BadParams({"seed": -1}, "seed"),
    BadParams({"seed": "abc"}, "seed"),
], ids=lambda c: c.field)
def test_bad_params_are_invalid_input(case: BadParams) -> None:
    with pytest.raises(InvalidInput, match=case.field):
        parse_params(case.params)


def test_pipeline_params_are_accepted() -> None:
    p = parse_params({"duration": 30.0, "aspect": "16:9", "maturity": "kids", "seed": 12345, "context": {}})
    assert (p.duration, p.seed) == (30, 12345)


def test_generator_rejects_missing_inputs(film, tmp_path: Path) -> None:  # noqa: ANN001
    path, analysis = film
    gen = TrailerGenerator(scorers=[FeatureScorer()])
    with pytest.raises(InvalidInput, match="analysis"):
        gen.generate(GenerationRequest(angle=get_angle("action"), out_dir=tmp_path, source_path=path))
    with pytest.raises(InvalidInput, match="source media"):
        gen.generate(GenerationRequest(angle=get_angle("action"), out_dir=tmp_path, analysis=analysis))
    with pytest.raises(InvalidInput, match="not found"):
        gen.generate(GenerationRequest(angle=get_angle("action"), out_dir=tmp_path, analysis=analysis,
                                       source_path=tmp_path / "missing.mp4"))
    with pytest.raises(InvalidInput, match="duration"):
        gen.generate(GenerationRequest(angle=get_angle("action"), out_dir=tmp_path, analysis=analysis,
                                       source_path=path, params={"duration": 45}))


def test_silent_film_without_music_library(tmp_path: Path) -> None:
    path = tmp_path / "silent.mp4"
    make_film(path, [Segment("testsrc" if i % 2 else "mandelbrot", 3.0) for i in range(8)], audio=False)
    shots = tuple(Shot(index=i, start=3.0 * i, end=3.0 * (i + 1), motion=0.1 * (i % 3), brightness=0.3 + 0.05 * i,
                       dominant_colours=(f"#{30 * i:02x}4040",)) for i in range(8))
    analysis = TitleAnalysis(title_id="silent", version=1, content_hash="s" * 64,
                             stream=StreamInfo(duration=24.0, width=320, height=180, fps=25.0, video_codec="h264"),
                             shots=shots)
    cand = _generate((path, analysis), "suspense", tmp_path / "s").candidates[0]
    rec = cand.record
    assert rec["music"]["source"] == "none" and rec["music"]["tempo_bpm"] == 100.0
    assert rec["beat_alignment"]["median_ms"] <= 40.0
    info = probe(Path(cand.files["trailer.mp4"]))
    assert abs(info.duration - 15.0) <= 0.5 and info.has_audio
    import opentimelineio as otio

    tl = otio.adapters.read_from_file(cand.files["trailer.otio"])
    assert not list(tl.tracks[2].find_clips())
    assert not list((tmp_path / "s").glob("*.wav"))


def _frames(path: Path) -> np.ndarray:
    import av

    with av.open(str(path)) as c:
        return np.stack([f.to_ndarray(format="gray").astype(np.float32) for f in c.decode(video=0)])


def test_parallel_parts_render_the_same_trailer(film, click_tracks, tmp_path: Path) -> None:  # noqa: ANN001
    """The cut list split into parts rendered by parallel ffmpeg runs and joined by stream copy gives
    the trailer of the single run: same frames (to encoder noise), fades, card, audio and length."""
    from genperso.generators.trailer import TrailerConfig
    from genperso.generators.trailer_render import split_cuts

    assert split_cuts([10, 10, 10, 10], 2) == [[0, 1], [2, 3]]
    assert split_cuts([10], 3) == [[0]] and split_cuts([1, 1, 100], 2) == [[0, 1], [2]]
    _library(click_tracks)
    path, analysis = film
    outs = {}
    for chunks in (1, 3):
        req = GenerationRequest(angle=get_angle("action"), out_dir=tmp_path / f"c{chunks}",
                                title=TitleInfo(id="synthetic", name="Clockwork Hearts"), analysis=analysis,
                                params={"duration": 15}, source_path=path)
        gen = TrailerGenerator(TrailerConfig(render_chunks=chunks), scorers=[FeatureScorer()])
        outs[chunks] = gen.generate(req).candidates[0]
    one, three = (Path(outs[k].files["trailer.mp4"]) for k in (1, 3))
    assert [s["index"] for s in outs[1].record["shots"]] == [s["index"] for s in outs[3].record["shots"]]
    assert len(outs[3].record["shots"]) >= 3  # three parts were possible
    a, b = _frames(one), _frames(three)
    assert a.shape == b.shape and a.shape[0] == 15 * 25
    diff = np.abs(a - b).mean(axis=(1, 2))
    assert diff.max() < 4.0, diff.round(2)  # same pictures; only the encoder's choices differ
    assert b[0].mean() < 0.5 * b[12].mean()  # the fade-in is in the first part
    assert b[-1].mean() < 0.5 * b[-20].mean()  # the fade-out (over the card) in the last
    ia, ib = probe(one), probe(three)
    assert abs(ia.duration - ib.duration) < 0.05 and ib.audio_codec == "aac" and ib.video_codec == "h264"
    la, lb = measure_loudness(one), measure_loudness(three)
    assert abs(la.integrated_lufs - lb.integrated_lufs) < 0.2
