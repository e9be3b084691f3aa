"""Smart crop: never cuts a face, keeps all faces when they fit, exact aspect, upscale flag."""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
import pytest

from genperso.generators.artwork_crop import FORMATS, CropBox, choose_crop, face_cut, resize_to, saliency_map
from genperso.types import FaceBox

ASPECTS = [w / h for (w, h, _) in FORMATS.values()] + [2.39, 4 / 3, 3 / 4, 0.5]
FRAMES = [(1280, 720), (720, 1280), (640, 480), (1920, 800)]


@dataclass(frozen=True)
class FaceCase:
    name: str
    faces: tuple[FaceBox, ...]


FIXED = [
    FaceCase("none", ()),
    FaceCase("one centre", (FaceBox(0.45, 0.3, 0.1, 0.18),)),
    FaceCase("one at left edge", (FaceBox(0.0, 0.2, 0.12, 0.2),)),
    FaceCase("one at right edge", (FaceBox(0.88, 0.5, 0.12, 0.2),)),
    FaceCase("two far apart", (FaceBox(0.05, 0.3, 0.1, 0.18), FaceBox(0.82, 0.35, 0.1, 0.18))),
    FaceCase("three in a row", tuple(FaceBox(0.2 + 0.22 * i, 0.3, 0.12, 0.2) for i in range(3))),
    FaceCase("big close-up", (FaceBox(0.3, 0.1, 0.4, 0.75),)),
    FaceCase("row of five", tuple(FaceBox(0.02 + 0.2 * i, 0.4, 0.16, 0.25) for i in range(5))),
]


def _random_cases(n: int, seed: int = 7) -> list[FaceCase]:
    rng = random.Random(seed)
    out = []
    for k in range(n):
        faces: list[FaceBox] = []
        want = rng.randint(1, 4)
        while len(faces) < want:  # detector boxes of different people do not overlap
            w = rng.uniform(0.04, 0.3)
            h = min(0.95, w * rng.uniform(1.2, 2.0))
            f = FaceBox(rng.uniform(0, 1 - w), rng.uniform(0, 1 - h), w, h)
            if all(f.x > g.x + g.w + 0.02 or g.x > f.x + f.w + 0.02 or f.y > g.y + g.h + 0.02
                   or g.y > f.y + f.h + 0.02 for g in faces):
                faces.append(f)
        out.append(FaceCase(f"random-{k}", tuple(faces)))
    return out


def _max_window(fw, fh, aspect):
    return (fh * aspect, fh) if fw / fh > aspect else (fw, fw / aspect)


def _face_fits(f, fw, fh, aspect) -> bool:
    ww, wh = _max_window(fw, fh, aspect)
    return f.w * fw <= ww and f.h * fh <= wh


def test_face_larger_than_the_window_is_reported() -> None:
    face = (FaceBox(0.3, 0.05, 0.4, 0.9),)  # taller than a 2.39:1 window of a 16:9 frame
    res = choose_crop(1280, 720, face, np.full((36, 64), 1 / (36 * 64)), 2.39)
    assert res.faces_cut == 1 == face_cut(res.box, face, 1280, 720)
    # the cut is balanced: the window stays on the face's middle (eyes), not a face-free sliver
    assert res.box.y <= 0.05 * 720 + 0.9 * 720 * 0.5 <= res.box.y + res.box.h


def _uncut_placement_exists(faces, fw, fh, aspect) -> bool:
    """Brute-force oracle: some window (zoom 1, or zoomed keeping >= 1 face whole) cuts no face."""
    if not faces:
        return True
    r = np.array([(f.x * fw, f.y * fh, (f.x + f.w) * fw, (f.y + f.h) * fh) for f in faces])
    for zoom in (1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4):
        ww, wh = _max_window(fw, fh, aspect)
        ww, wh = ww * zoom, wh * zoom
        xs, ys = np.meshgrid(np.arange(0, fw - ww + 1, 4.0), np.arange(0, fh - wh + 1, 4.0))
        x, y = xs.reshape(-1, 1), ys.reshape(-1, 1)
        inside = (r[:, 0] >= x - 1) & (r[:, 1] >= y - 1) & (r[:, 2] <= x + ww + 1) & (r[:, 3] <= y + wh + 1)
        overl = (r[:, 0] < x + ww) & (r[:, 2] > x) & (r[:, 1] < y + wh) & (r[:, 3] > y)
        ok = ~(overl & ~inside).any(1)
        if zoom < 1.0:
            ok &= inside.any(1)
        if ok.any():
            return True
    return False


def _fits_in_max_window(faces, fw, fh, aspect) -> bool:
    if fw / fh > aspect:
        ww, wh = fh * aspect, fh
    else:
        ww, wh = fw, fw / aspect
    x0 = min(f.x for f in faces) * fw
    x1 = max(f.x + f.w for f in faces) * fw
    y0 = min(f.y for f in faces) * fh
    y1 = max(f.y + f.h for f in faces) * fh
    return (x1 - x0) * 1.3 <= ww and (y1 - y0) * 1.3 <= wh


@pytest.mark.parametrize("case", FIXED + _random_cases(16), ids=lambda c: c.name)
def test_crop_never_cuts_a_face(case: FaceCase) -> None:
    rng = np.random.default_rng(1)
    for fw, fh in FRAMES:
        sal = saliency_map((rng.random((90, 160, 3)) * 255).astype(np.uint8))
        for aspect in ASPECTS:
            res = choose_crop(fw, fh, case.faces, sal, aspect)
            b = res.box
            assert 0 <= b.x and 0 <= b.y and b.x + b.w <= fw and b.y + b.h <= fh, (b, fw, fh)
            assert abs(b.w / b.h - aspect) < 2.0 / min(b.w, b.h) + 1e-3, (b, aspect)
            cut = face_cut(b, case.faces, fw, fh)
            assert res.faces_cut == cut  # the crop reports what it did
            if _uncut_placement_exists(case.faces, fw, fh, aspect):
                assert cut == 0, (case.name, fw, fh, aspect, b)
            if case.faces and _fits_in_max_window(case.faces, fw, fh, aspect):
                assert res.faces_in == len(case.faces), (case.name, fw, fh, aspect, res)


def test_zooms_in_to_keep_faces_rather_than_dropping_all() -> None:
    # five faces across a 16:9 frame: a 9:16 window cannot hold them all, but must hold >= 1 whole
    faces = FIXED[-1].faces
    sal = np.full((36, 64), 1 / (36 * 64))
    res = choose_crop(1280, 720, faces, sal, 9 / 16)
    assert res.faces_in >= 1 and face_cut(res.box, faces, 1280, 720) == 0


def test_subject_follows_saliency_without_faces() -> None:
    img = np.full((360, 640, 3), 128, np.uint8)
    img[150:210, 520:580] = (255, 0, 0)  # a lone salient object on the right
    res = choose_crop(640, 360, (), saliency_map(img), 9 / 16)
    assert res.box.x <= 520 and res.box.x + res.box.w >= 580


def test_resize_upscale_flag_and_exact_size() -> None:
    img = (np.random.default_rng(0).random((180, 320, 3)) * 255).astype(np.uint8)
    out, up, factor = resize_to(img, CropBox(0, 0, 320, 180), (1920, 1080))
    assert out.shape == (1080, 1920, 3) and up and factor == pytest.approx(6.0)
    big = (np.random.default_rng(0).random((1080, 1920, 3)) * 255).astype(np.uint8)
    out, up, factor = resize_to(big, CropBox(100, 0, 720, 1080), (1000, 1500))
    assert out.shape == (1500, 1000, 3) and up  # 720 -> 1000 wide is an upscale
    out, up, factor = resize_to(big, CropBox(0, 0, 1920, 1080), (1280, 720))
    assert out.shape == (720, 1280, 3) and not up and factor < 1
