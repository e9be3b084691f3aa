"""The colour looks of :mod:`genperso.media.grade` on 8-bit YUV 4:2:0 video, at a fraction of the
cost of a full-resolution ``lut3d`` (which needs a float-RGB round trip of every pixel).

The look is split into what needs full resolution and what does not:

* the look's **tone curve on the grey axis**, ``TY`` (output luma code of a grey input, sampled
  from :func:`~genperso.media.grade.apply_grade` itself), applied to every full-resolution luma
  sample as a table lookup (``lut2``);
* everything else (saturation, split toning, white balance, the colour-dependent part of the
  per-channel curves) is a smooth function of colour. It is computed exactly, with the look's
  own 3D LUT (:func:`~genperso.media.grade.grade_lut_file`), on a half-resolution copy: 640x360
  for 720p, the resolution the 4:2:0 chroma already has. The graded chroma planes are used as
  they are; the graded half-resolution luma minus ``TY`` of the half-resolution input luma is a
  smooth residual, upsampled and added to ``TY(Y)``.

So the output is ``Y' = TY(Y) + up(Y'_low - TY(Y_low))``, ``U' = U'_low``, ``V' = V'_low``: exact
on flat colour, and on real footage within about the reference LUT's own interpolation error
(tests/test_grade_yuv.py; ``bench/trailer.py`` reports the ΔE against the full-resolution
``lut3d`` on frames of the bench film). Colour conversions around the LUT are pinned to BT.709
limited range, the matrix ``TY`` is computed for. About two thirds of the full-resolution
``lut3d``'s CPU cost in the trailer render (~3.0 vs ~4.5 CPU-s for 30 s of 720p).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import InvalidInput
from .grade import _escape_filter_value, apply_grade, get_look, grade_lut_file, lut3d_filter

__all__ = ["grey_curve", "yuv_grade_graph", "video_grade_graph", "srgb_to_lab", "GRADE_METHODS"]

# "yuv": this module's split grade; "lut3d": the full-resolution float-RGB lut3d (the reference)
GRADE_METHODS = ("yuv", "lut3d")

# BT.709, limited ("tv") range, 8-bit codes
_KR, _KB = 0.2126, 0.0722
_KG = 1.0 - _KR - _KB


def _rgb_to_codes(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    y = _KR * r + _KG * g + _KB * b
    return 16.0 + 219.0 * y, 128.0 + 224.0 * (b - y) / (2 * (1 - _KB)), 128.0 + 224.0 * (r - y) / (2 * (1 - _KR))


def _codes_to_rgb(y: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    yn, un, vn = (y - 16.0) / 219.0, (u - 128.0) / 224.0, (v - 128.0) / 224.0
    r = yn + 2 * (1 - _KR) * vn
    b = yn + 2 * (1 - _KB) * un
    g = (yn - _KR * r - _KB * b) / _KG
    return np.stack([r, g, b], axis=-1)


def grey_curve(look: str, strength: float = 1.0) -> np.ndarray:
    """``TY``: output luma code (float) of the look for each grey input luma code 0..255."""
    codes = np.arange(256, dtype=np.float64)
    grey = np.clip((codes - 16.0) / 219.0, 0.0, 1.0)
    rgb = np.repeat(grey[:, None], 3, axis=1).astype(np.float32)
    out = apply_grade(rgb, look, strength).astype(np.float64)
    return _rgb_to_codes(out)[0]


def _table_expr(values: np.ndarray, lo: int = 0, hi: int = 256) -> str:
    """An ffmpeg expression of ``x`` (0..255) returning ``values[x]``: a binary search tree of
    ``if(lt(x,m),…,…)``, evaluated once per table entry when ``lut2`` builds its table."""
    if hi - lo == 1:
        return str(int(values[lo]))
    mid = (lo + hi) // 2
    return f"if(lt(x\\,{mid})\\,{_table_expr(values, lo, mid)}\\,{_table_expr(values, mid, hi)})"


def yuv_grade_graph(look: str, lut_dir: Path, size: tuple[int, int], src: str, out: str, *,
                    strength: float = 1.0, prefix: str = "grd") -> str:
    """Filtergraph chains (``;``-joined) grading yuv420p video of ``size`` from label ``src`` to
    label ``out`` (labels with brackets, e.g. ``"[body0]"``). Neutral is a plain ``null``."""
    if get_look(look).name == "neutral" or strength == 0.0:
        return f"{src}null{out}"
    w, h = size
    if w % 2 or h % 2:
        raise InvalidInput(f"yuv420p grade needs an even frame size, got {w}x{h}", field="size")
    ty = _table_expr(np.clip(np.rint(grey_curve(look, strength)), 0, 255).astype(int))
    lut = _escape_filter_value(str(grade_lut_file(look, lut_dir, strength=strength)))
    full, half, low, low2, graded = (f"[{prefix}_{n}]" for n in ("full", "half", "low", "low2", "graded"))
    m709 = "in_color_matrix=bt709:out_color_matrix=bt709:in_range=tv:out_range=tv"
    return ";".join([
        f"{src}format=yuv420p,split{full}{half}",
        # half resolution = the chroma's own resolution: the whole look, exactly, with its 3D LUT
        f"{half}scale={w // 2}:{h // 2}:flags=bilinear,format=yuv444p,split{low}{low2}",
        f"{low2}scale={w // 2}:{h // 2}:{m709},format=gbrpf32le,lut3d=file={lut}:interp=tetrahedral,"
        f"scale={w // 2}:{h // 2}:{m709},format=yuv444p{graded}",
        # residual luma Y'_low - TY(Y_low) (offset 128) and the graded chroma, upsampled to the frame
        f"{low}{graded}lut2=c0=clip(y-{ty}+128\\,0\\,255):c1=y:c2=y,scale={w}:{h}:flags=bilinear,format=yuv420p[{prefix}_res]",
        # full resolution luma: the grey-axis tone curve plus the residual
        f"{full}[{prefix}_res]lut2=c0=clip({ty}+y-128\\,0\\,255):c1=y:c2=y{out}",
    ])


def video_grade_graph(look: str, lut_dir: Path, size: tuple[int, int], src: str, out: str, *,
                      method: str = "yuv", strength: float = 1.0) -> str:
    """The look on yuv420p video from label ``src`` to ``out``: ``method`` "yuv" (this module) or
    "lut3d" (full-resolution float-RGB ``lut3d``, the slower reference)."""
    if method == "yuv":
        return yuv_grade_graph(look, lut_dir, size, src, out, strength=strength)
    if method != "lut3d":
        raise InvalidInput(f"grade method must be one of {', '.join(GRADE_METHODS)}, got {method!r}", field="method")
    f = lut3d_filter(look, lut_dir, strength=strength)
    # lut3d's SIMD path works on planar float RGB: converting first halves its cost
    return f"{src}null{out}" if f == "null" else f"{src}format=gbrpf32le,{f},format=yuv420p{out}"


def srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """CIE L*a*b* (D65) of sRGB values in 0..1 (..., 3): the space the grade's fidelity to the
    full-resolution reference is measured in (ΔE = Euclidean distance)."""
    rgb = np.clip(rgb, 0, 1)
    lin = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    m = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
    xyz = lin @ m.T / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > 216 / 24389, np.cbrt(xyz), (24389 / 27 * xyz + 16) / 116)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], -1)
