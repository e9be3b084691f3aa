"""Colour looks: same look for stills (apply_grade) and video (ffmpeg lut3d from grade_lut_file)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from genperso.angles.catalog import load_angles
from genperso.errors import InvalidInput
from genperso.media.ffmpeg import run_ffmpeg
from genperso.media.grade import LOOKS, apply_grade, grade_lut_file, lut3d_filter


def _test_image(h: int = 96, w: int = 128) -> np.ndarray:
    """Smooth hue/brightness sweep plus saturated and grey patches: covers the RGB cube."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    hue = xx / w
    val = 0.1 + 0.9 * yy / h
    r = np.clip(np.abs(hue * 6 - 3) - 1, 0, 1)
    g = np.clip(2 - np.abs(hue * 6 - 2), 0, 1)
    b = np.clip(2 - np.abs(hue * 6 - 4), 0, 1)
    img = np.stack([r, g, b], -1) * val[..., None]
    img[:16, :32] = 0.5  # grey patch
    img[-16:, -32:] = (0.9, 0.75, 0.6)  # skin-like patch
    return (img * 255).round().astype(np.uint8)


def test_every_angle_look_is_defined() -> None:
    for angle in load_angles():
        assert angle.style.grade in LOOKS, angle.id


@pytest.mark.parametrize("look", sorted(LOOKS))
def test_dtype_shape_preserved_and_subtle(look: str) -> None:
    img = _test_image()
    out = apply_grade(img, look)
    assert out.dtype == np.uint8 and out.shape == img.shape
    f = apply_grade(img.astype(np.float32) / 255, look)
    assert f.dtype == np.float32 and f.min() >= 0 and f.max() <= 1
    diff = np.abs(out.astype(int) - img.astype(int)).mean()
    if look == "neutral":
        assert diff == 0
    else:
        assert 1.0 < diff < 40.0, diff  # visible but subtle
    half = apply_grade(img, look, 0.5)
    assert np.abs(half.astype(int) - img.astype(int)).mean() <= diff + 0.5


def test_looks_go_the_intended_way() -> None:
    img = _test_image()

    def sat(a: np.ndarray) -> float:
        f = a.astype(np.float32)
        return float((f.max(-1) - f.min(-1)).mean())

    assert sat(apply_grade(img, "vivid")) > sat(img) > sat(apply_grade(img, "cold_desat"))
    warm = apply_grade(img, "golden_hour").astype(float)
    assert (warm[..., 0] - warm[..., 2]).mean() > (img[..., 0].astype(float) - img[..., 2]).mean()
    cold = apply_grade(img, "cold_desat").astype(float)
    assert (cold[..., 2] - cold[..., 0]).mean() > (img[..., 2].astype(float) - img[..., 0]).mean()


def test_unknown_look_and_bad_input() -> None:
    with pytest.raises(InvalidInput, match="unknown colour look"):
        apply_grade(_test_image(), "sepia_dream")
    with pytest.raises(InvalidInput):
        grade_lut_file("nope", Path("/tmp"))
    with pytest.raises(InvalidInput):
        apply_grade(np.zeros((4, 4), np.uint8), "vivid")
    with pytest.raises(InvalidInput):
        apply_grade(_test_image(), "vivid", strength=1.5)


@pytest.mark.parametrize("look", ["teal_orange", "cold_desat", "golden_hour", "noir_teal", "bright_pop"])
def test_ffmpeg_lut3d_matches_apply_grade(tmp_path: Path, look: str) -> None:
    img = _test_image()
    src = tmp_path / "in.png"
    Image.fromarray(img).save(src)
    lut_dir = tmp_path / "luts dir"  # a space in the path must survive filter escaping
    lut = grade_lut_file(look, lut_dir)
    assert lut.read_text().splitlines()[1] == "LUT_3D_SIZE 33"
    assert grade_lut_file(look, lut_dir) == lut  # cached
    out = tmp_path / "out.png"
    run_ffmpeg(["-y", "-i", src, "-vf", lut3d_filter(look, lut_dir), "-pix_fmt", "rgb24", out])
    via_ffmpeg = np.asarray(Image.open(out).convert("RGB")).astype(int)
    direct = apply_grade(img, look).astype(int)
    err = np.abs(via_ffmpeg - direct)
    assert err.mean() < 1.0, err.mean()
    assert np.percentile(err, 99.5) <= 3, np.percentile(err, 99.5)


def test_neutral_filter_is_null(tmp_path: Path) -> None:
    assert lut3d_filter("neutral", tmp_path) == "null"
