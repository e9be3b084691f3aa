"""Artwork generator end to end on small synthetic films with known content."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from genperso.angles.catalog import get_angle
from genperso.config import ASSETS_DIR
from genperso.errors import InvalidInput
from genperso.generators import get_generator
from genperso.generators.artwork import ArtworkGenerator
from genperso.generators.artwork_crop import FORMATS
from genperso.generators.artwork_frames import measure_frame, text_score
from genperso.generators.base import GenerationRequest
from genperso.types import Shot, StreamInfo, TitleAnalysis, TitleInfo
from media import make_stills_film

W, H = 320, 180


def _pattern(seed: int, lo: float, hi: float, sat: float) -> np.ndarray:
    """Textured frame (shapes at several scales) with brightness in lo..hi and saturation sat."""
    rng = np.random.default_rng(seed)
    img = Image.new("RGB", (W, H))
    d = ImageDraw.Draw(img)
    for _ in range(60):
        hue = rng.random()
        v = lo + (hi - lo) * rng.random()
        rgb = np.array([np.clip(abs(hue * 6 - 3) - 1, 0, 1), np.clip(2 - abs(hue * 6 - 2), 0, 1), np.clip(2 - abs(hue * 6 - 4), 0, 1)])
        rgb = (v * (1 - sat) + v * sat * rgb) * 255
        x, y, r = rng.integers(0, W), rng.integers(0, H), rng.integers(6, 50)
        d.ellipse([x - r, y - r, x + r, y + r], fill=tuple(int(c) for c in rgb))
    return np.asarray(img)


def _with_subtitle(img: np.ndarray) -> np.ndarray:
    pil = Image.fromarray(img.copy())
    font = ImageFont.truetype(str(ASSETS_DIR / "fonts" / "font.ttf"), 13)
    d = ImageDraw.Draw(pil)
    d.text((30, 150), "I never said she stole my money", font=font, fill=(255, 255, 255), stroke_width=1, stroke_fill=(0, 0, 0))
    d.text((60, 132), "That is what he told me", font=font, fill=(255, 255, 255), stroke_width=1, stroke_fill=(0, 0, 0))
    return np.asarray(pil)


FRAMES = {
    "bright": _pattern(1, 0.75, 1.0, 0.95),
    "dark": _pattern(2, 0.04, 0.3, 0.25),
    "neutral": _pattern(3, 0.35, 0.6, 0.1),
    "bright2": _pattern(4, 0.7, 1.0, 0.9),
    "black": np.zeros((H, W, 3), np.uint8),
}
ORDER = ["neutral", "bright", "dark", "black", "bright2"]
DUR = 1.2


@pytest.fixture(scope="module")
def film(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("artwork") / "film.mp4"
    make_stills_film(path, [FRAMES[k] for k in ORDER], [DUR] * len(ORDER))
    return path


def _analysis(names: list[str] = ORDER, dur: float = DUR, flat: bool = False) -> TitleAnalysis:
    """Shot features measured on the frames themselves, or all equal (``flat``: only the
    frame-level terms can tell the shots apart)."""
    shots = []
    for i, name in enumerate(names):
        m = measure_frame(FRAMES["neutral" if flat else name], faces=False)
        shots.append(Shot(
            index=i, start=i * dur, end=(i + 1) * dur, keyframe_times=(i * dur + dur / 2,),
            sharpness=m.sharpness, brightness=m.brightness, contrast=m.contrast, colourfulness=m.colourfulness,
            motion=0.1, is_black=False,  # the analysis "missed" the black shot: the frame check must catch it
        ))
    stream = StreamInfo(duration=len(names) * dur, width=W, height=H, fps=25.0, video_codec="h264")
    return TitleAnalysis("tiny", 1, "hash-tiny", stream, tuple(shots))


def _generate(film: Path, out: Path, angle: str = "comedy", flat: bool = False, **params) -> object:
    params.setdefault("spoiler_guard", 0.0)  # the tiny film's last shot is part of most tests
    req = GenerationRequest(angle=get_angle(angle), out_dir=out, title=TitleInfo("tiny", "Tiny Film"),
                            analysis=_analysis(flat=flat), params=params, seed=1, source_path=film)
    return ArtworkGenerator().generate(req)


def _shot_name(c) -> str:
    return ORDER[c.record["source"]["shot_index"]]


def test_registered() -> None:
    assert get_generator("artwork") is ArtworkGenerator


@pytest.mark.parametrize("flat", [False, True], ids=["shot+frame", "frame-only"])
def test_angle_preferences(film: Path, tmp_path: Path, flat: bool) -> None:
    comedy = _generate(film, tmp_path / "c", "comedy", flat, candidates=1, formats=["tile"])
    suspense = _generate(film, tmp_path / "s", "suspense", flat, candidates=1, formats=["tile"])
    assert _shot_name(comedy.candidates[0]).startswith("bright")
    assert _shot_name(suspense.candidates[0]) == "dark"


def test_all_formats_records_and_distinct_shots(film: Path, tmp_path: Path) -> None:
    out = _generate(film, tmp_path / "all", "family", candidates=4)
    cands = out.candidates
    assert [c.rank for c in cands] == [1, 2, 3, 4]
    shots = [c.record["source"]["shot_index"] for c in cands]
    assert len(set(shots)) == 4 and ORDER.index("black") not in shots
    for c in cands:
        assert set(c.files) == {f"{f}.{e}" for f in FORMATS for e in ("jpg", "webp")} | {"record.json"}
        for fmt, (w, h, label) in FORMATS.items():
            for ext in ("jpg", "webp"):
                with Image.open(c.files[f"{fmt}.{ext}"]) as im:
                    assert im.size == (w, h) and im.format == {"jpg": "JPEG", "webp": "WEBP"}[ext]
            entry = c.record["formats"][fmt]
            assert entry["format"] == label and entry["upscaled"] is True and entry["upscale_factor"] > 3
            assert entry["contrast_ratio"] >= 4.5 and entry["faces_cut"] == 0
            x, y, cw, ch = entry["crop"]
            assert 0 <= x and 0 <= y and x + cw <= W and y + ch <= H
        rec = json.loads(Path(c.files["record.json"]).read_text())
        assert rec["source"]["timecode"].startswith("00:00:0") and rec["grade"]["look"] == "golden_hour"
        assert {"shot", "frame_angle", "quality", "total"} <= set(rec["scores"])
        assert "model_revisions" in rec and rec["safety"]["requires_image_check"] is True
    assert out.timings["total_s"] > 0


def test_format_labels_and_pipeline_defaults(film: Path, tmp_path: Path) -> None:
    # genperso.pipeline asks for {"candidates": 4, "formats": ["16:9"]} plus seed/maturity keys
    out = _generate(film, tmp_path / "lbl", "drama", candidates=1, formats=["16:9", "9:16"], seed=5, maturity="teen")
    files = out.candidates[0].files
    assert {"hero.jpg", "hero.webp", "mobile.jpg", "mobile.webp"} <= set(files) and "poster.jpg" not in files


def test_pinned_time_and_same_shot(film: Path, tmp_path: Path) -> None:
    out = _generate(film, tmp_path / "p", "comedy", candidates=2, formats=["hero"], pinned_time=3.1)
    first = out.candidates[0].record["source"]
    assert first["pinned"] and first["shot_index"] == 2 and abs(first["time"] - 3.1) < 0.05
    out = _generate(film, tmp_path / "ps", "comedy", candidates=2, formats=["hero"], pinned_shot=0)
    assert out.candidates[0].record["source"]["shot_index"] == 0
    one_shot = TitleAnalysis("tiny", 1, "h", _analysis().stream, (Shot(index=0, start=0.0, end=6.0, keyframe_times=(1.0, 3.0)),))
    base = dict(angle=get_angle("action"), title=TitleInfo("tiny", "Tiny"), analysis=one_shot, source_path=film)
    alone = ArtworkGenerator().generate(GenerationRequest(out_dir=tmp_path / "a", params={"candidates": 3, "formats": "tile"}, **base))
    assert len(alone.candidates) == 1  # never two from the same shot unless asked
    same = ArtworkGenerator().generate(GenerationRequest(out_dir=tmp_path / "b", params={"candidates": 2, "formats": "tile", "allow_same_shot": True}, **base))
    assert len(same.candidates) == 2 and {c.record["source"]["shot_index"] for c in same.candidates} == {0}


@pytest.mark.parametrize(
    "params",
    [{"candidates": 0}, {"candidates": 17}, {"candidates": "many"}, {"candidates": True}, {"formats": ["square"]},
     {"pinned_time": -1}, {"pinned_time": 99.0}, {"pinned_shot": 42}, {"restyle": 0.5}, {"restyle": "x"},
     {"restyle_steps": 0}, {"safety_profile": "toddler"}, {"spoiler_guard": 0.9}, {"spoiler_guard": "end"}],
)
def test_bad_params(film: Path, tmp_path: Path, params: dict) -> None:
    with pytest.raises(InvalidInput):
        _generate(film, tmp_path / "bad", **params)
    assert not list((tmp_path / "bad").glob("candidate-*/*.jpg"))


def test_missing_inputs(film: Path, tmp_path: Path) -> None:
    angle = get_angle("comedy")
    with pytest.raises(InvalidInput, match="analysis"):
        ArtworkGenerator().generate(GenerationRequest(angle=angle, out_dir=tmp_path, title=TitleInfo("t", "T"), source_path=film))
    with pytest.raises(InvalidInput, match="source"):
        ArtworkGenerator().generate(GenerationRequest(angle=angle, out_dir=tmp_path, title=TitleInfo("t", "T"), analysis=_analysis()))
    from genperso.errors import MediaError

    with pytest.raises(MediaError):
        ArtworkGenerator().generate(GenerationRequest(angle=angle, out_dir=tmp_path, title=TitleInfo("t", "T"),
                                                      analysis=_analysis(), source_path=tmp_path / "nope.mp4"))


def test_text_heuristic_and_black_detection() -> None:
    plain = FRAMES["neutral"]
    assert text_score(np.asarray(Image.fromarray(_with_subtitle(plain)).convert("L"))) > 0.3
    assert text_score(np.asarray(Image.fromarray(plain).convert("L"))) < 0.15
    assert measure_frame(FRAMES["black"], faces=False).is_black
    assert not measure_frame(FRAMES["dark"], faces=False).is_black


def test_keyframe_preselection_decodes_only_the_picks(film: Path, tmp_path: Path) -> None:
    """With analysis keyframes on disk, ranking happens on them; full-res decode only for picks."""
    data = tmp_path / "data"
    base = _analysis()
    shots = []
    for s in base.shots:
        rel = f"analysis/tiny/keyframes/{s.index:04d}.jpg"
        (data / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(FRAMES[ORDER[s.index]]).save(data / rel, quality=90)
        shots.append(Shot.from_dict(s.to_dict() | {"keyframes": [rel]}))
    analysis = TitleAnalysis(base.title_id, 1, base.content_hash, base.stream, tuple(shots))
    for angle, want in (("comedy", "bright"), ("suspense", "dark")):
        req = GenerationRequest(angle=get_angle(angle), out_dir=tmp_path / angle, title=TitleInfo("tiny", "Tiny"),
                                analysis=analysis, params={"candidates": 1, "formats": "tile"}, source_path=film,
                                data_dir=data)
        out = ArtworkGenerator().generate(req)
        sel = out.candidates[0].record["selection"]
        assert sel["mode"] == "analysis-keyframes" and sel["frames_prescored"] >= 4
        assert sel["frames_decoded"] <= 1 + 2
        assert _shot_name(out.candidates[0]).startswith(want)


def test_burned_in_text_and_spoiler_guard(tmp_path: Path) -> None:
    # a bright colourful frame with subtitles would win comedy on looks alone: text must lose
    names = ["bright_sub", "neutral", "dark", "bright2"]
    frames = {"bright_sub": _with_subtitle(FRAMES["bright"]), **FRAMES}
    film = tmp_path / "subs.mp4"
    make_stills_film(film, [frames[k] for k in names], [DUR] * len(names))
    base = _analysis(["bright", "neutral", "dark", "bright2"])
    def run(**params):
        req = GenerationRequest(angle=get_angle("comedy"), out_dir=tmp_path / f"o{len(params)}", title=TitleInfo("t", "T"),
                                analysis=base, params={"formats": "tile", **params}, source_path=film)
        return [names[c.record["source"]["shot_index"]] for c in ArtworkGenerator().generate(req).candidates]
    picked = run(candidates=1, spoiler_guard=0.0)
    assert picked == ["bright2"]  # not the subtitled bright frame
    # the last 30 % (bright2's shot) is off limits by default guard 0.3 here, allowed with allow_spoilers
    assert "bright2" not in run(candidates=3, spoiler_guard=0.3)
    assert "bright2" in run(candidates=3, spoiler_guard=0.3, allow_spoilers=True)


def test_extract_frames_edges(film: Path, tmp_path: Path) -> None:
    from genperso.errors import MediaError
    from genperso.generators.artwork_frames import extract_frames

    total = DUR * len(ORDER)
    last = extract_frames(film, [total + 5.0])[0]  # clamped to the end: the final shot (bright2)
    assert total - 0.5 <= last.time <= total and last.rgb.shape == (H, W, 3)
    assert abs(last.rgb.astype(float).mean() - FRAMES["bright2"].astype(float).mean()) < 12
    first, again = extract_frames(film, [0.6, 0.6], sharpest=False)
    assert np.array_equal(first.rgb, again.rgb)
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video at all" * 100)
    with pytest.raises(MediaError):
        extract_frames(bad, [1.0])
