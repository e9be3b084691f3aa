"""The trailer's end title card: the title's name in the angle's typography (OFL font), over a
blurred, darkened still of the trailer's strongest shot (or an accent-colour gradient)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import InvalidInput
from ..types import AngleStyle
from .artwork_text import apply_case, font_path

__all__ = ["render_title_card", "cased"]


def cased(text: str, case: str) -> str:
    """The angle's text case (the same rule as the artwork's title treatment)."""
    return apply_case(text, case)


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    h = hex_colour.lstrip("#")
    try:
        return tuple(int(h[i : i + 2], 16) for i in (0, 2, 4))  # type: ignore[return-value]
    except (ValueError, IndexError):
        raise InvalidInput(f"bad colour {hex_colour!r} in the angle style (use #rrggbb)") from None


def render_title_card(name: str, style: AngleStyle, size: tuple[int, int], out_path: Path,
                      background: Path | None = None, tagline: str = "") -> Path:
    """Write an opaque RGB PNG of ``size`` with the title centred; returns ``out_path``."""
    from PIL import Image, ImageDraw, ImageFilter, ImageFont

    w, h = size
    accent = _rgb(style.accent_colour)
    if background is not None and background.is_file():
        with Image.open(background) as im:
            bg = im.convert("RGB")
        scale = max(w / bg.width, h / bg.height)
        bg = bg.resize((max(w, int(bg.width * scale + 1)), max(h, int(bg.height * scale + 1))))
        left, top = (bg.width - w) // 2, (bg.height - h) // 2
        bg = bg.crop((left, top, left + w, top + h)).filter(ImageFilter.GaussianBlur(radius=max(w, h) / 60))
        arr = np.asarray(bg, dtype=np.float32) * 0.45 + np.asarray(accent, dtype=np.float32) * 0.08
    else:
        yy = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
        arr = np.broadcast_to(np.asarray(accent, dtype=np.float32) * (0.55 - 0.4 * yy), (h, w, 3))
    arr = np.clip(arr + 12.0, 0, 255)  # never a black frame
    img = Image.fromarray(arr.astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(img)
    font_file = font_path(style)  # under assets/fonts only (OFL), font.ttf otherwise
    text = cased(name.strip() or "Untitled", style.text_case)
    max_w = int(w * 0.84)
    fs = int(min(w, h) * (0.16 if w >= h else 0.11))
    while True:
        font = ImageFont.truetype(str(font_file), fs)
        lines = _wrap(draw, text, font, max_w)
        widest = max(draw.textlength(line, font=font) for line in lines)
        if (widest <= max_w and len(lines) <= 3) or fs <= 14:
            break
        fs = int(fs * 0.9)
    line_h = int(fs * 1.2)
    total = line_h * len(lines)
    y = (h - total) // 2 - int(fs * 0.2)
    colour = _rgb(style.text_colour)
    for line in lines:
        tw = draw.textlength(line, font=font)
        x = (w - tw) / 2
        draw.text((x + max(1, fs // 30), y + max(1, fs // 30)), line, font=font, fill=(0, 0, 0))
        draw.text((x, y), line, font=font, fill=colour)
        y += line_h
    rule_w = int(min(max_w, widest) * 0.5)
    rule_y = y + int(fs * 0.25)
    draw.rectangle([(w - rule_w) // 2, rule_y, (w + rule_w) // 2, rule_y + max(2, fs // 18)], fill=accent)
    if tagline:
        small = ImageFont.truetype(str(font_file), max(12, fs // 3))
        tl = cased(tagline, style.text_case)
        draw.text(((w - draw.textlength(tl, font=small)) / 2, rule_y + int(fs * 0.5)), tl, font=small, fill=colour)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    img.save(out_path, "PNG")
    return out_path


def _wrap(draw: object, text: str, font: object, max_w: int) -> list[str]:
    words = text.split()
    lines: list[str] = []
    cur = ""
    for word in words:
        cand = f"{cur} {word}".strip()
        if not cur or draw.textlength(cand, font=font) <= max_w:  # type: ignore[attr-defined]
            cur = cand
        else:
            lines.append(cur)
            cur = word
    lines.append(cur)
    return lines
