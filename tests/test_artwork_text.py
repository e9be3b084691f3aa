"""Title treatment: measured contrast >= 4.5:1 on any background, faces not covered, style."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from genperso.angles.catalog import load_angles
from genperso.generators.artwork_text import (
    MIN_CONTRAST,
    apply_case,
    contrast_percentile,
    hex_rgb,
    relative_luminance,
    render_title,
)
from genperso.types import AngleStyle, FaceBox


def _backgrounds(h: int, w: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(3)
    noise = (rng.random((h // 8, w // 8, 3)) * 255).astype(np.uint8)
    busy = cv2.resize(noise, (w, h), interpolation=cv2.INTER_NEAREST)
    stripes = np.zeros((h, w, 3), np.uint8)
    stripes[:, ::6] = 255
    return {
        "white": np.full((h, w, 3), 255, np.uint8),
        "light-grey": np.full((h, w, 3), 200, np.uint8),
        "black": np.zeros((h, w, 3), np.uint8),
        "busy": busy,
        "stripes": stripes,
        "yellow": np.full((h, w, 3), (255, 230, 60), np.uint8),
    }


def _independent_contrast(out: np.ndarray, colour: tuple[int, int, int], box: tuple[int, int, int, int]) -> float:
    """Re-measure on the output alone: glyph pixels are those at the text colour; compare the
    text colour with the ring of pixels 2-4 px around them (25th percentile, AA edges excluded)."""
    x, y, bw, bh = box
    region = out[y : y + bh, x : x + bw].astype(int)
    glyph = (np.abs(region - np.array(colour)).max(-1) <= 12).astype(np.uint8)
    near = cv2.dilate(glyph, np.ones((3, 3), np.uint8))
    ring = (cv2.dilate(glyph, np.ones((9, 9), np.uint8)) > 0) & (near == 0)
    assert ring.sum() > 50
    return contrast_percentile(colour, region[ring].astype(np.uint8), q=25)


@pytest.mark.parametrize("angle", [a.id for a in load_angles()])
def test_contrast_meets_wcag_on_every_background(angle: str) -> None:
    ids = [a.id for a in load_angles()]
    style = next(a for a in load_angles() if a.id == angle).style
    # landscape hero and portrait poster, alternating over the angles (each angle's style once)
    for size in [((1080, 1920), (1500, 1000))[ids.index(angle) % 2]]:
        for name, bg in _backgrounds(*size).items():
            out, info = render_title(bg, "Big Buck Bunny", style)
            assert out.shape == bg.shape and out.dtype == np.uint8
            assert info.contrast_ratio >= MIN_CONTRAST, (angle, name, info)
            assert _independent_contrast(out, hex_rgb(style.text_colour), info.box) >= MIN_CONTRAST - 0.3, (angle, name)
            if name == "black":
                assert info.scrim_alpha == 0.0  # no scrim where none is needed
            if name in ("white", "yellow"):
                assert info.scrim_alpha > 0.0 and info.contrast_plain < MIN_CONTRAST


def test_title_avoids_faces() -> None:
    style = AngleStyle(pace=0.9, text_case="upper")
    bg = np.full((1080, 1920, 3), 40, np.uint8)
    faces = (FaceBox(0.3, 0.62, 0.4, 0.35), FaceBox(0.4, 0.02, 0.2, 0.3))  # bottom and top centre taken
    out, info = render_title(bg, "The Long Title Of A Film", style, faces)
    assert info.face_overlap == 0.0, info
    x, y, bw, bh = info.box
    for f in faces:
        fx0, fy0, fx1, fy1 = f.x * 1920, f.y * 1080, (f.x + f.w) * 1920, (f.y + f.h) * 1080
        assert x >= fx1 or x + bw <= fx0 or y >= fy1 or y + bh <= fy0


def test_case_and_styles_differ_between_angles() -> None:
    assert apply_case("big buck bunny", "upper") == "BIG BUCK BUNNY"
    assert apply_case("big buck bunny", "title") == "Big Buck Bunny"
    bg = np.full((1080, 1920, 3), 30, np.uint8)
    by = {a.id: render_title(bg, "big buck bunny", a.style)[1] for a in load_angles()}
    assert by["action"].text == "BIG BUCK BUNNY" and by["romance"].text == "Big Buck Bunny"
    assert by["action"].tracking_px > by["romance"].tracking_px
    assert by["action"].zone != by["romance"].zone  # bold centred vs calm side-set


def test_luminance_and_bad_colour() -> None:
    assert relative_luminance(np.array([255, 255, 255], np.uint8)) == pytest.approx(1.0)
    assert contrast_percentile((255, 255, 255), np.zeros((10, 3), np.uint8)) == pytest.approx(21.0)
    from genperso.errors import InvalidInput

    with pytest.raises(InvalidInput):
        hex_rgb("not-a-colour")
