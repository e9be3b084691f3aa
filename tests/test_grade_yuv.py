"""The trailer's YUV grade (tone curve on luma + the 3D LUT at chroma resolution) against the look
itself (apply_grade on RGB) and against the full-resolution lut3d reference, measured in ΔE."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from genperso.angles.catalog import load_angles
from genperso.errors import InvalidInput
from genperso.media.ffmpeg import run_ffmpeg
from genperso.media.grade import apply_grade
from genperso.media.grade_yuv import grey_curve, srgb_to_lab, video_grade_graph

W, H = 256, 144
KR, KB = 0.2126, 0.0722
KG = 1 - KR - KB


def _rgb(y: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    yn, un, vn = (y - 16.0) / 219.0, (u - 128.0) / 224.0, (v - 128.0) / 224.0
    r, b = yn + 2 * (1 - KR) * vn, yn + 2 * (1 - KB) * un
    return np.stack([r, (yn - KR * r - KB * b) / KG, b], -1)


def _yuv(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    y = rgb @ np.array([KR, KG, KB])
    return 16 + 219 * y, 128 + 224 * (rgb[..., 2] - y) / (2 * (1 - KB)), 128 + 224 * (rgb[..., 0] - y) / (2 * (1 - KR))


def _up(c: np.ndarray) -> np.ndarray:
    return c.repeat(2, 0).repeat(2, 1)


def _delta_e(a: tuple[np.ndarray, ...], b: tuple[np.ndarray, ...]) -> np.ndarray:
    return np.linalg.norm(srgb_to_lab(_rgb(a[0], _up(a[1]), _up(a[2]))) - srgb_to_lab(_rgb(b[0], _up(b[1]), _up(b[2]))), axis=-1)


def _test_frame() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Smooth colour field (hue across, brightness down, saturation varying) with flat patches."""
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float64)
    hue, val, sat = xx / W, 0.08 + 0.88 * yy / H, 0.25 + 0.6 * (np.sin(xx / 17.0) * 0.5 + 0.5)
    rgb = np.stack([np.clip(np.abs(hue * 6 - 3) - 1, 0, 1), np.clip(2 - np.abs(hue * 6 - 2), 0, 1),
                    np.clip(2 - np.abs(hue * 6 - 4), 0, 1)], -1)
    rgb = (rgb * sat[..., None] + (1 - sat[..., None])) * val[..., None]
    rgb[:32, :64] = 0.45  # grey
    rgb[-32:, -64:] = (0.85, 0.66, 0.52)  # skin-like
    y, u, v = _yuv(rgb)
    down = lambda c: c.reshape(H // 2, 2, W // 2, 2).mean((1, 3))  # noqa: E731
    q = lambda a: np.clip(np.rint(a), 0, 255).astype(np.uint8)  # noqa: E731
    return q(y), q(down(u)), q(down(v))


def _grade_with_ffmpeg(tmp_path: Path, frame: tuple[np.ndarray, ...], look: str, method: str) -> tuple[np.ndarray, ...]:
    src, out = tmp_path / "in.yuv", tmp_path / f"out-{method}.yuv"
    src.write_bytes(b"".join(p.tobytes() for p in frame))
    graph = video_grade_graph(look, tmp_path / "luts", (W, H), "[0:v]", "[out]", method=method)
    run_ffmpeg(["-y", "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{W}x{H}", "-color_range", "tv",
                "-colorspace", "bt709", "-i", src, "-filter_complex", graph, "-map", "[out]", "-f", "rawvideo",
                "-pix_fmt", "yuv420p", out])
    raw = np.frombuffer(out.read_bytes(), np.uint8)
    return (raw[: W * H].reshape(H, W), raw[W * H: W * H * 5 // 4].reshape(H // 2, W // 2),
            raw[W * H * 5 // 4:].reshape(H // 2, W // 2))


def _apply_grade_yuv(frame: tuple[np.ndarray, ...], look: str) -> tuple[np.ndarray, ...]:
    """Ground truth: the look on each pixel's RGB (4:2:0 chroma shared by its 2x2 block)."""
    rgb = np.clip(_rgb(frame[0].astype(float), _up(frame[1]).astype(float), _up(frame[2]).astype(float)), 0, 1)
    y, u, v = _yuv(apply_grade(rgb.astype(np.float32), look).astype(np.float64))
    down = lambda c: c.reshape(H // 2, 2, W // 2, 2).mean((1, 3))  # noqa: E731
    return y, down(u), down(v)


@pytest.mark.parametrize("look", sorted({a.style.grade for a in load_angles()} - {"neutral"}))
def test_yuv_grade_matches_the_look_and_the_lut3d_reference(tmp_path: Path, look: str) -> None:
    frame = _test_frame()
    cheap = _grade_with_ffmpeg(tmp_path, frame, look, "yuv")
    truth = _apply_grade_yuv(frame, look)
    reference = _grade_with_ffmpeg(tmp_path, frame, look, "lut3d")
    change = _delta_e(tuple(p.astype(float) for p in frame), truth)
    assert change.mean() > 2.0  # the look does something, so the comparisons below mean something
    de_truth = _delta_e(tuple(p.astype(float) for p in cheap), truth)
    de_ref = _delta_e(tuple(p.astype(float) for p in cheap), tuple(p.astype(float) for p in reference))
    ref_truth = _delta_e(tuple(p.astype(float) for p in reference), truth)
    assert de_truth.mean() < 1.0 and np.percentile(de_truth, 95) < 2.0, (de_truth.mean(), np.percentile(de_truth, 95))
    assert de_ref.mean() < 1.0 and np.percentile(de_ref, 95) < 2.0, (de_ref.mean(), np.percentile(de_ref, 95))
    # no worse than the full-resolution lut3d's own interpolation error, give or take
    assert de_truth.mean() < ref_truth.mean() + 0.5, (de_truth.mean(), ref_truth.mean())


def test_flat_grey_gets_the_tone_curve_exactly(tmp_path: Path) -> None:
    look = "teal_orange"
    for code in (40, 126, 200):
        frame = (np.full((H, W), code, np.uint8), np.full((H // 2, W // 2), 128, np.uint8),
                 np.full((H // 2, W // 2), 128, np.uint8))
        y, u, v = _grade_with_ffmpeg(tmp_path, frame, look, "yuv")
        ty, tu, tv = (float(np.mean(p)) for p in _apply_grade_yuv(frame, look))
        assert abs(int(np.median(y)) - ty) <= 1.0 and abs(ty - grey_curve(look)[code]) < 0.6
        assert abs(int(np.median(u)) - tu) <= 1.0 and abs(int(np.median(v)) - tv) <= 1.0


def test_grey_curve_is_monotonic_and_neutral_is_identity() -> None:
    for look in ("teal_orange", "bright_pop", "noir_teal"):
        c = grey_curve(look)
        assert np.all(np.diff(c[16:236]) >= -1e-6)
    np.testing.assert_allclose(grey_curve("neutral")[16:236], np.arange(16, 236), atol=1e-3)


def test_neutral_is_null_and_bad_method(tmp_path: Path) -> None:
    assert video_grade_graph("neutral", tmp_path, (W, H), "[a]", "[b]") == "[a]null[b]"
    with pytest.raises(InvalidInput):
        video_grade_graph("vivid", tmp_path, (W, H), "[a]", "[b]", method="magic")
    with pytest.raises(InvalidInput):
        video_grade_graph("vivid", tmp_path, (W + 1, H), "[a]", "[b]")
