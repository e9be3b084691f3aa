"""Colour looks shared by artwork (``apply_grade`` on pixels) and trailers (ffmpeg ``lut3d``).

One definition per look: a per-pixel function of RGB (exposure, white balance, filmic
S-curve, black lift, saturation, split toning). Because it is purely per-pixel, the 3D LUT
written by :func:`grade_lut_file` is sampled *from* :func:`apply_grade` itself, so stills and
video get the same look by construction (up to trilinear/tetrahedral interpolation error).

Looks are deliberately subtle: a viewer should feel the mood, not notice a filter.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InvalidInput

__all__ = ["Look", "LOOKS", "GRADE_VERSION", "get_look", "apply_grade", "grade_lut_file", "lut3d_filter"]

GRADE_VERSION = "1"

# Rec.709 luma weights (sRGB primaries), used for saturation and tone-zone weights.
_LUMA = np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)


@dataclass(frozen=True)
class Look:
    """Parameters of one look. Identity values: exposure 1, wb (1,1,1), contrast 0, lift 0,
    saturation 1, tints 0."""

    name: str
    exposure: float = 1.0  # multiplies linear-ish values before the curve (>1 brighter)
    wb: tuple[float, float, float] = (1.0, 1.0, 1.0)  # per-channel white-balance gains
    contrast: float = 0.0  # S-curve strength 0..0.6 (pivot 0.5)
    lift: float = 0.0  # raised black level (faded / soft looks)
    rolloff: float = 0.0  # highlight compression 0..0.3 (filmic shoulder)
    saturation: float = 1.0
    shadow_tint: tuple[float, float, float] = (0.0, 0.0, 0.0)  # added in the shadows
    highlight_tint: tuple[float, float, float] = (0.0, 0.0, 0.0)  # added in the highlights


LOOKS: dict[str, Look] = {
    look.name: look
    for look in (
        Look("neutral"),
        Look("filmic_neutral", contrast=0.22, lift=0.015, rolloff=0.12, saturation=0.96),
        Look(
            "teal_orange",
            contrast=0.3,
            rolloff=0.08,
            saturation=1.06,
            shadow_tint=(-0.035, 0.012, 0.045),
            highlight_tint=(0.045, 0.014, -0.035),
        ),
        Look(
            "warm_soft",
            wb=(1.035, 1.0, 0.94),
            contrast=0.08,
            lift=0.035,
            rolloff=0.15,
            saturation=0.92,
            highlight_tint=(0.02, 0.004, 0.0),
        ),
        Look("bright_pop", exposure=1.07, contrast=0.2, rolloff=0.1, saturation=1.22),
        Look(
            "cold_desat",
            exposure=0.96,
            wb=(0.95, 1.0, 1.06),
            contrast=0.28,
            saturation=0.72,
            shadow_tint=(-0.01, 0.005, 0.03),
        ),
        Look(
            "golden_hour",
            exposure=1.03,
            wb=(1.06, 1.01, 0.89),
            contrast=0.14,
            rolloff=0.1,
            saturation=1.08,
            highlight_tint=(0.03, 0.018, -0.01),
        ),
        Look("vivid", contrast=0.28, rolloff=0.06, saturation=1.32),
        Look(
            "noir_teal",
            exposure=0.93,
            contrast=0.42,
            saturation=0.55,
            shadow_tint=(-0.02, 0.02, 0.03),
            highlight_tint=(0.0, 0.01, 0.012),
        ),
    )
}


def get_look(look: str) -> Look:
    try:
        return LOOKS[look]
    except (KeyError, TypeError):
        raise InvalidInput(f"unknown colour look {look!r}; known: {', '.join(sorted(LOOKS))}", field="look") from None


def _grade_float(rgb: np.ndarray, lk: Look) -> np.ndarray:
    """The look itself on float32 RGB 0..1 (any leading shape, last axis 3)."""
    x = rgb.astype(np.float32, copy=True)
    if lk.exposure != 1.0 or lk.wb != (1.0, 1.0, 1.0):
        x *= np.asarray(lk.wb, dtype=np.float32) * np.float32(lk.exposure)
        np.clip(x, 0.0, 1.0, out=x)
    if lk.contrast:
        # monotonic S-curve around 0.5: x - k sin(2 pi x) / (2 pi), k < 1 keeps it increasing
        x -= np.float32(lk.contrast) * np.sin(np.float32(2 * np.pi) * x) / np.float32(2 * np.pi)
    if lk.rolloff:
        # soft shoulder: compress the top quarter smoothly (continuous slope at 0.75)
        t = np.clip((x - 0.75) / 0.25, 0.0, 1.0)
        x -= np.float32(lk.rolloff * 0.25) * t * t * 0.5
    if lk.lift:
        x = np.float32(lk.lift) + np.float32(1.0 - lk.lift) * x
    if lk.saturation != 1.0 or any(lk.shadow_tint) or any(lk.highlight_tint):
        luma = x @ _LUMA
        if lk.saturation != 1.0:
            x = luma[..., None] + np.float32(lk.saturation) * (x - luma[..., None])
        if any(lk.shadow_tint):
            w = np.clip(1.0 - luma, 0.0, 1.0) ** 2
            x += w[..., None] * np.asarray(lk.shadow_tint, dtype=np.float32)
        if any(lk.highlight_tint):
            w = np.clip(luma, 0.0, 1.0) ** 2
            x += w[..., None] * np.asarray(lk.highlight_tint, dtype=np.float32)
    np.clip(x, 0.0, 1.0, out=x)
    return x


def apply_grade(rgb: np.ndarray, look: str, strength: float = 1.0) -> np.ndarray:
    """Grade an RGB image (H x W x 3, or any ``... x 3``): float 0..1 or uint8 in, same dtype out.

    ``strength`` 0..1 blends between the original (0) and the full look (1).
    """
    lk = get_look(look)
    arr = np.asarray(rgb)
    if arr.ndim < 1 or arr.shape[-1] != 3:
        raise InvalidInput(f"apply_grade expects RGB with a last axis of 3, got shape {arr.shape}", field="rgb")
    if not (0.0 <= float(strength) <= 1.0):
        raise InvalidInput(f"grade strength must be in [0, 1], got {strength!r}", field="strength")
    is_u8 = arr.dtype == np.uint8
    if not is_u8 and not np.issubdtype(arr.dtype, np.floating):
        raise InvalidInput(f"apply_grade expects uint8 or float RGB, got {arr.dtype}", field="rgb")
    if lk.name == "neutral" or strength == 0.0:
        return arr.copy()
    if is_u8:
        # per-pixel function of 256^3 inputs: grade via a 33^3 LUT would blur; grading float is exact
        x = arr.astype(np.float32) * np.float32(1.0 / 255.0)
    else:
        x = arr.astype(np.float32)
    y = _grade_float(x, lk)
    if strength < 1.0:
        y = x + np.float32(strength) * (y - x)
    if is_u8:
        return np.clip(np.rint(y * 255.0), 0, 255).astype(np.uint8)
    return y.astype(arr.dtype, copy=False)


def grade_lut_file(look: str, out_dir: Path, size: int = 33, strength: float = 1.0) -> Path:
    """Write (once) a ``.cube`` 3D LUT sampled from :func:`apply_grade`; return its path.

    The file name carries the look, grade version, size and strength, so a changed look
    definition (bump ``GRADE_VERSION``) never reuses a stale LUT.
    """
    get_look(look)
    if not (2 <= int(size) <= 65):
        raise InvalidInput(f"LUT size must be 2..65, got {size!r}", field="size")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tag = f"{int(round(strength * 100)):03d}"
    path = out_dir / f"grade-{look}-v{GRADE_VERSION}-{size}-s{tag}.cube"
    if path.exists() and path.stat().st_size > 0:
        return path
    grid = np.linspace(0.0, 1.0, size, dtype=np.float32)
    # .cube order: red changes fastest, then green, then blue
    b, g, r = np.meshgrid(grid, grid, grid, indexing="ij")
    rgb = np.stack([r, g, b], axis=-1).reshape(-1, 3)
    out = apply_grade(rgb, look, strength)
    lines = [f'TITLE "genperso {look} v{GRADE_VERSION}"', f"LUT_3D_SIZE {size}", "DOMAIN_MIN 0.0 0.0 0.0", "DOMAIN_MAX 1.0 1.0 1.0"]
    lines.extend(f"{v[0]:.6f} {v[1]:.6f} {v[2]:.6f}" for v in out)
    fd, tmp = tempfile.mkstemp(prefix=".lut-", suffix=".cube", dir=out_dir)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write("\n".join(lines) + "\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _escape_filter_value(value: str) -> str:
    # level 1: option value inside a filter description; level 2: the filtergraph itself
    lvl1 = value.replace("\\", "\\\\").replace("'", "\\'").replace(":", "\\:")
    return "".join("\\" + c if c in "\\'[],;" else c for c in lvl1)


def lut3d_filter(look: str, lut_dir: Path, size: int = 33, strength: float = 1.0) -> str:
    """An ffmpeg ``-vf`` fragment applying the look (``lut3d`` with tetrahedral interpolation).

    Neutral returns ``"null"`` so callers can always splice the result into a filter chain.
    """
    if get_look(look).name == "neutral" or strength == 0.0:
        return "null"
    path = grade_lut_file(look, lut_dir, size=size, strength=strength)
    return f"lut3d=file={_escape_filter_value(str(path))}:interp=tetrahedral"
