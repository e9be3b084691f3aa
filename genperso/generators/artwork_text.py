"""Title treatment: the title name set in the angle's typographic style, legibly placed.

* Typography from ``angle.style``: case (upper/title/lower), text and accent colours, font (an
  OFL file under ``assets/fonts``), size and tracking derived from the angle's pace (fast angles
  set bigger, widely tracked capitals; calm ones smaller, tighter title case).
* Placement: a few candidate zones per format (bottom/top, centred, left or right aligned);
  each is scored by overlap with (grown) face boxes first, then background busyness (mean
  gradient magnitude), saliency density (keeps off the subject when no face is detected, e.g.
  animation) and the angle's zone preference. Faces are never covered if any zone avoids them.
* Legibility: WCAG 2 contrast between the text colour and the *actual pixels behind the glyphs*
  (the text mask dilated by a few pixels), summarised by the 5th percentile of the per-pixel
  ratio (the worst 5 %). Below 4.5:1 a gradient scrim (dark for light text, light for dark text)
  is added behind the text zone with increasing opacity until the measured ratio passes; the
  final measured ratio and the scrim opacity are returned for the record.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..config import ASSETS_DIR
from ..errors import InvalidInput
from ..types import AngleStyle, FaceBox

__all__ = [
    "TitleTreatment",
    "MIN_CONTRAST",
    "relative_luminance",
    "hex_rgb",
    "contrast_percentile",
    "apply_case",
    "render_title",
    "font_path",
]

MIN_CONTRAST = 4.5
_SCRIM_STEPS = (0.0, 0.35, 0.5, 0.62, 0.74, 0.85, 0.93, 1.0)


@dataclass(frozen=True)
class TitleTreatment:
    text: str
    zone: str
    box: tuple[int, int, int, int]  # x, y, w, h of the text block (px)
    font_size: int
    tracking_px: float
    lines: int
    contrast_ratio: float  # 5th percentile WCAG ratio against the pixels behind the text
    contrast_plain: float  # the same before any scrim
    scrim_alpha: float
    face_overlap: float  # share of the text block covering (grown) faces
    busyness: float

    def to_dict(self) -> dict[str, object]:
        return {
            "text": self.text,
            "zone": self.zone,
            "box": list(self.box),
            "font_size": self.font_size,
            "tracking_px": round(self.tracking_px, 2),
            "lines": self.lines,
            "contrast_ratio": round(self.contrast_ratio, 2),
            "contrast_without_scrim": round(self.contrast_plain, 2),
            "scrim_alpha": self.scrim_alpha,
            "face_overlap": round(self.face_overlap, 4),
            "busyness": round(self.busyness, 4),
        }


def hex_rgb(colour: str) -> tuple[int, int, int]:
    c = colour.strip().lstrip("#")
    if len(c) == 3:
        c = "".join(ch * 2 for ch in c)
    try:
        if len(c) != 6:
            raise ValueError
        return (int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16))
    except ValueError:
        raise InvalidInput(f"bad colour {colour!r}: use #rrggbb", field="colour") from None


def relative_luminance(rgb: np.ndarray) -> np.ndarray:
    """WCAG 2 relative luminance of sRGB uint8 values (last axis 3)."""
    c = np.asarray(rgb, dtype=np.float32) / 255.0
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return lin @ np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)


def contrast_percentile(text_rgb: tuple[int, int, int], background: np.ndarray, q: float = 5.0) -> float:
    """``q``-th percentile of the WCAG contrast ratio of ``text_rgb`` against each background pixel."""
    lt = float(relative_luminance(np.array(text_rgb, dtype=np.uint8)))
    lb = relative_luminance(background.reshape(-1, 3))
    if lb.size == 0:
        return 21.0
    ratio = (np.maximum(lt, lb) + 0.05) / (np.minimum(lt, lb) + 0.05)
    return float(np.percentile(ratio, q))


def apply_case(text: str, case: str) -> str:
    if case == "upper":
        return text.upper()
    if case == "lower":
        return text.lower()
    if case == "title":
        return " ".join(w[:1].upper() + w[1:] for w in text.split(" "))
    return text


def font_path(style: AngleStyle) -> Path:
    """The angle's font under ``assets/fonts`` (OFL); any path tricks fall back to font.ttf."""
    fonts = ASSETS_DIR / "fonts"
    name = Path(style.font).name
    p = fonts / name
    return p if p.suffix.lower() in (".ttf", ".otf") and p.is_file() else fonts / "font.ttf"


@functools.lru_cache(maxsize=64)
def _font(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size)


def _zones(w: int, h: int, pace: float) -> list[tuple[str, float, float, str]]:
    """(name, anchor x 0..1, anchor y 0..1 of the block centre, alignment), preferred first."""
    portrait = h > w
    low, high = (0.84, 0.13) if portrait else (0.82, 0.16)
    centred = [("bottom-centre", 0.5, low, "c"), ("top-centre", 0.5, high, "c")]
    left = [("bottom-left", 0.06, low, "l"), ("top-left", 0.06, high, "l"),
            ("bottom-right", 0.94, low, "r"), ("top-right", 0.94, high, "r")]
    mid = [("middle-centre", 0.5, 0.5, "c")]
    # fast, bold angles centre their title; calmer ones set it off to the side in landscape
    order = centred + left if (pace >= 0.5 or portrait) else left + centred
    return order + mid


def _layout(text: str, style: AngleStyle, w: int, h: int, scale: float = 1.0) -> tuple[ImageFont.FreeTypeFont, list[str], float, int]:
    """Font, lines, tracking (px) and line height fitting the width budget."""
    fpath = str(font_path(style))
    upper = style.text_case == "upper"
    tracking_em = 0.12 if upper else (0.03 if style.text_case == "title" else 0.0)
    portrait = h > w
    budget = (0.86 if portrait else 0.62) * w * scale
    base = (0.105 * w if portrait else 0.085 * h) * (0.88 + 0.25 * float(style.pace)) * scale
    if upper:
        base *= 0.85  # capitals are visually larger
    words = text.split()
    candidates = [[text]]
    if len(words) > 1:
        cut = min(range(1, len(words)), key=lambda i: abs(len(" ".join(words[:i])) - len(" ".join(words[i:]))))
        candidates.append([" ".join(words[:cut]), " ".join(words[cut:])])
    size = int(base)
    min_size = max(12, int(0.035 * min(w, h)))
    while True:
        for lines in candidates:
            font = _font(fpath, size)
            track = tracking_em * size
            width = max(font.getlength(line) + track * max(len(line) - 1, 0) for line in lines)
            if width <= budget:
                return font, lines, track, int(size * 1.18)
        if size <= min_size:
            return font, candidates[-1], track, int(size * 1.18)
        size = max(min_size, int(size * 0.9))


def _draw_mask(lines: Sequence[str], font: ImageFont.FreeTypeFont, track: float, line_h: int, align: str,
               accent_h: int) -> tuple[Image.Image, Image.Image]:
    widths = [font.getlength(t) + track * max(len(t) - 1, 0) for t in lines]
    bw = int(np.ceil(max(widths))) + 4
    asc, desc = font.getmetrics()
    bh = line_h * (len(lines) - 1) + asc + desc + accent_h * 3
    text_mask = Image.new("L", (bw, bh), 0)
    accent_mask = Image.new("L", (bw, bh), 0)
    d = ImageDraw.Draw(text_mask)
    for li, (line, lw) in enumerate(zip(lines, widths)):
        x = 2.0 + {"c": (bw - 4 - lw) / 2, "r": bw - 4 - lw}.get(align, 0.0)
        y = li * line_h
        for ch in line:
            d.text((x, y), ch, font=font, fill=255)
            x += font.getlength(ch) + track
    if accent_h:
        rule_w = max(widths) * 0.22
        x0 = 2 + {"c": (bw - 4 - rule_w) / 2, "r": bw - 4 - rule_w}.get(align, 0.0)
        y0 = line_h * (len(lines) - 1) + asc + desc + accent_h
        ImageDraw.Draw(accent_mask).rectangle([x0, y0, x0 + rule_w, y0 + accent_h - 1], fill=255)
    return text_mask, accent_mask


def render_title(
    rgb: np.ndarray,
    title: str,
    style: AngleStyle,
    faces: Sequence[FaceBox] = (),
) -> tuple[np.ndarray, TitleTreatment]:
    """Set ``title`` on ``rgb`` (uint8, H x W x 3) per ``style``; faces are normalised boxes
    relative to this image. Returns the new image and what was done (with measured contrast)."""
    h, w = rgb.shape[:2]
    text = apply_case(" ".join(title.split()), style.text_case)
    if not text:
        raise InvalidInput("title name is empty", field="title")
    colour = hex_rgb(style.text_colour)
    accent = hex_rgb(style.accent_colour)
    # busyness on a quarter-size gradient map; face overlap analytically
    q = 4
    small = cv2.resize(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), (max(1, w // q), max(1, h // q)), interpolation=cv2.INTER_AREA)
    sg = small.astype(np.float32) / 255.0
    grad = np.abs(cv2.Sobel(sg, cv2.CV_32F, 1, 0, ksize=3)) + np.abs(cv2.Sobel(sg, cv2.CV_32F, 0, 1, ksize=3))
    grown = []
    for f in faces:
        mx, my = f.w * 0.15, f.h * 0.15
        grown.append(((f.x - mx) * w, (f.y - my) * h, (f.x + f.w + mx) * w, (f.y + f.h + my) * h))

    # saliency density (1 = frame average) keeps the title off the subject when no face is known
    from .artwork_crop import saliency_map

    sal = saliency_map(rgb)
    sal_h, sal_w = sal.shape
    sal_mean = float(sal.mean()) or 1.0

    def sal_density(x: int, y: int, bw: int, bh: int) -> float:
        sx0, sx1 = int(x / w * sal_w), max(int(x / w * sal_w) + 1, int(np.ceil((x + bw) / w * sal_w)))
        sy0, sy1 = int(y / h * sal_h), max(int(y / h * sal_h) + 1, int(np.ceil((y + bh) / h * sal_h)))
        return float(sal[sy0:sy1, sx0:sx1].mean()) / sal_mean

    def face_overlap(x: int, y: int, bw: int, bh: int) -> float:
        area = 0.0
        for fx0, fy0, fx1, fy1 in grown:
            area += max(0.0, min(fx1, x + bw) - max(fx0, x)) * max(0.0, min(fy1, y + bh) - max(fy0, y))
        return min(1.0, area / float(bw * bh))

    # full size first; if every zone would cover a face, try smaller type before covering one
    best = None
    for scale in (1.0, 0.8, 0.65, 0.5):
        font, lines, track, line_h = _layout(text, style, w, h, scale)
        accent_h = max(2, int(font.size * 0.06))
        text_mask, accent_mask = _draw_mask(lines, font, track, line_h, "c", accent_h)
        bw, bh = text_mask.size
        for pref, (name, ax, ay, align) in enumerate(_zones(w, h, float(style.pace))):
            x = {"c": int(round(ax * w - bw / 2)), "r": int(round(ax * w - bw))}.get(align, int(round(ax * w)))
            y = int(round(ay * h - bh / 2))
            x, y = min(max(x, 0), max(w - bw, 0)), min(max(y, 0), max(h - bh, 0))
            overlap = face_overlap(x, y, bw, bh)
            busy = float(grad[y // q : (y + bh) // q + 1, x // q : (x + bw) // q + 1].mean())
            cost = 50.0 * overlap + busy + 0.1 * sal_density(x, y, bw, bh) + 0.03 * pref
            cost += (0.25 if name.startswith("middle") else 0.0) + (1.0 - scale)
            if best is None or cost < best[0]:
                best = (cost, name, x, y, align, overlap, busy, (font, lines, track, line_h, accent_h, text_mask, accent_mask))
        if best[5] == 0.0:
            break
    assert best is not None
    _, zone, x, y, align, overlap, busy, (font, lines, track, line_h, accent_h, text_mask, accent_mask) = best
    bw, bh = text_mask.size
    if align != "c":
        text_mask, accent_mask = _draw_mask(lines, font, track, line_h, align, accent_h)

    # the scrim band: rows from beyond the text to the image edge it sits on
    pad = int(0.6 * bh)
    if zone.startswith("bottom"):
        r0, r1 = max(0, y - pad), h
    elif zone.startswith("top"):
        r0, r1 = 0, min(h, y + bh + pad)
    else:
        r0, r1 = max(0, y - pad), min(h, y + bh + pad)
    idx = np.arange(h, dtype=np.float32)
    ramp = np.zeros(h, dtype=np.float32)
    if zone.startswith("bottom"):
        ramp[r0:r1] = np.clip((idx[r0:r1] - r0) / max(1, y - r0 + bh // 3), 0, 1)
    elif zone.startswith("top"):
        ramp[r0:r1] = np.clip((r1 - idx[r0:r1]) / max(1, r1 - (y + bh * 2 // 3)), 0, 1)
    else:
        ramp[r0:r1] = np.clip(np.minimum(idx[r0:r1] - r0, r1 - idx[r0:r1]) / max(1, pad), 0, 1)

    # text, shadow and halo only need the text block plus the shadow's reach
    off = max(1, font.size // 30)
    sigma = font.size / 18
    m = int(3 * sigma) + off + 4
    x0, y0, x1, y1 = max(0, x - m), max(0, y - m), min(w, x + bw + m), min(h, y + bh + m)
    rh, rw = y1 - y0, x1 - x0
    full = np.zeros((rh, rw), dtype=np.float32)
    acc = np.zeros((rh, rw), dtype=np.float32)
    tm = np.asarray(text_mask, dtype=np.float32)[: h - y, : w - x] / 255.0
    am = np.asarray(accent_mask, dtype=np.float32)[: h - y, : w - x] / 255.0
    full[y - y0 : y - y0 + tm.shape[0], x - x0 : x - x0 + tm.shape[1]] = tm
    acc[y - y0 : y - y0 + am.shape[0], x - x0 : x - x0 + am.shape[1]] = am
    # pixels behind the glyphs: text mask dilated a little (the halo the eye reads against)
    halo = cv2.dilate((full > 0.25).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0

    # soft drop shadow (part of the background the text sits on)
    light_text = float(relative_luminance(np.array(colour, dtype=np.uint8))) > 0.4
    shade = np.array((0, 0, 0) if light_text else (255, 255, 255), dtype=np.float32)
    shifted = np.zeros_like(full)
    shifted[off:, off:] = full[:-off, :-off]
    shadow = cv2.GaussianBlur(shifted, (0, 0), sigma)
    base = rgb[y0:y1, x0:x1].astype(np.float32)
    base += (shade - base) * (0.45 * shadow)[..., None]

    behind = base[halo]
    plain = contrast_percentile(colour, np.clip(behind, 0, 255).astype(np.uint8))
    measured, alpha = plain, 0.0
    ramp_halo = np.broadcast_to(ramp[y0:y1, None], halo.shape)[halo]
    for a in _SCRIM_STEPS:
        if a > 0.0:
            behind_a = behind + (shade - behind) * (a * ramp_halo)[:, None]
            measured = contrast_percentile(colour, np.clip(behind_a, 0, 255).astype(np.uint8))
        alpha = a
        if measured >= MIN_CONTRAST:
            break
    result = rgb.copy()
    if alpha > 0.0:  # shadow and scrim are both blends towards ``shade``: order does not matter
        band = result[r0:r1].astype(np.float32)
        band += (shade - band) * (alpha * ramp[r0:r1])[:, None, None]
        result[r0:r1] = np.clip(np.rint(band), 0, 255).astype(np.uint8)
        base += (shade - base) * (alpha * ramp[y0:y1])[:, None, None]
    block = base + (np.array(colour, dtype=np.float32) - base) * full[..., None]
    block += (np.array(accent, dtype=np.float32) - block) * acc[..., None]
    result[y0:y1, x0:x1] = np.clip(np.rint(block), 0, 255).astype(np.uint8)
    info = TitleTreatment(
        text=text,
        zone=zone,
        box=(x, y, bw, bh),
        font_size=int(font.size),
        tracking_px=track,
        lines=len(lines),
        contrast_ratio=measured,
        contrast_plain=plain,
        scrim_alpha=alpha,
        face_overlap=overlap,
        busyness=busy,
    )
    return result, info
