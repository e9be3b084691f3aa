"""Reframing for other aspect ratios (9:16 vertical): face-aware, then saliency-aware crops.

Per segment the crop window centre comes from the shot's face boxes (area-weighted, largest
face first), else from a saliency centroid of its keyframes (colour distinctness + edges, cheap
on the analysis-size keyframe), else the frame centre. Centres are smoothed: low-confidence
saliency is pulled toward the centre, consecutive segments of nearby shots are blended, and
within a segment the window pans linearly between keyframe centres at a bounded speed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..types import Shot

__all__ = ["CropWindow", "crop_windows", "crop_filter", "saliency_centroid", "motion_centroid", "ASPECTS"]

ASPECTS: dict[str, tuple[int, int]] = {"16:9": (16, 9), "9:16": (9, 16)}
MAX_PAN = 0.08  # max pan speed, in source widths per second


@dataclass(frozen=True)
class CropWindow:
    """Crop in source pixels; ``x_end`` differs from ``x`` for a pan across the segment."""

    x: int
    y: int
    w: int
    h: int
    x_end: int
    method: str  # faces | saliency | centre | full

    def to_dict(self) -> dict[str, object]:
        return {"x": self.x, "y": self.y, "w": self.w, "h": self.h, "x_end": self.x_end, "method": self.method}


def _centroid(sal: np.ndarray) -> tuple[float, float, float]:
    total = float(sal.sum())
    if total <= 1e-9:
        return 0.5, 0.5, 0.0
    h, w = sal.shape
    cols = sal.sum(0)
    cx = float((cols * (np.arange(w) + 0.5)).sum() / total / w)
    cy = float((sal.sum(1) * (np.arange(h) + 0.5)).sum() / total / h)
    # confidence: how concentrated the mass is horizontally (spread over the whole width -> 0)
    spread = float(np.sqrt((cols * ((np.arange(w) + 0.5) / w - cx) ** 2).sum() / total))
    return cx, cy, float(np.clip(1.0 - spread / 0.29, 0.0, 1.0))  # 0.29 ~ std of a uniform spread


def saliency_centroid(rgb: np.ndarray) -> tuple[float, float, float]:
    """(cx, cy, confidence) in 0..1: colour distinctness of smoothed regions (Lab), a little edge
    energy, and a mild centre prior (subjects sit near the middle more often than not)."""
    import cv2

    img = np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8)[..., :3]) if np.ndim(rgb) == 3 else None
    if img is None or img.shape[0] < 4 or img.shape[1] < 4 or img.shape[2] < 3:
        return 0.5, 0.5, 0.0
    h, w = img.shape[:2]
    k = max(3, (w // 16) | 1)
    lab = cv2.cvtColor(img, cv2.COLOR_RGB2LAB).astype(np.float32)
    smooth = cv2.blur(lab, (k, k))
    distinct = np.linalg.norm(smooth - lab.reshape(-1, 3).mean(0), axis=2)
    edges = cv2.blur(np.abs(cv2.Laplacian(lab[..., 0], cv2.CV_32F)), (k, k))
    if distinct.max() <= 1e-6 and edges.max() <= 1e-6:
        return 0.5, 0.5, 0.0
    sal = distinct / max(float(distinct.max()), 1e-6) + 0.3 * edges / max(float(edges.max()), 1e-6)
    sal = np.clip(sal - np.percentile(sal, 60), 0, None) ** 2
    xs = (np.arange(w) + 0.5) / w
    sal *= np.exp(-0.5 * ((xs - 0.5) / 0.35) ** 2)[None, :]
    return _centroid(sal)


def motion_centroid(rgb0: np.ndarray, rgb1: np.ndarray) -> tuple[float, float, float]:
    """(cx, cy, confidence) of what changed between two keyframes of a shot (the moving subject
    when the camera holds still; a pan changes everything, so confidence drops to ~0)."""
    import cv2

    a = np.asarray(rgb0, dtype=np.float32).mean(2)
    b = np.asarray(rgb1, dtype=np.float32).mean(2)
    if a.shape != b.shape or a.shape[0] < 4:
        return 0.5, 0.5, 0.0
    k = max(3, (a.shape[1] // 16) | 1)
    diff = cv2.blur(np.abs(a - b), (k, k))
    if diff.max() < 8.0:  # nothing moved
        return 0.5, 0.5, 0.0
    diff = np.clip(diff - np.percentile(diff, 70), 0, None) ** 2
    return _centroid(diff)


def _face_centre(shot: Shot) -> float | None:
    if not shot.faces:
        return None
    faces = sorted(shot.faces, key=lambda f: -f.area)
    big = [f for f in faces if f.area >= 0.5 * faces[0].area]
    wsum = sum(f.area for f in big)
    return float(sum(f.center[0] * f.area for f in big) / max(wsum, 1e-9))


def _keyframe_centres(shot: Shot, data_dir: Path | None, t0: float, t1: float) -> list[tuple[float, float, float]]:
    """(time, cx, confidence) for keyframes of the shot (those inside [t0, t1] first)."""
    from PIL import Image

    frames: list[tuple[float, np.ndarray]] = []
    for k, rel in enumerate(shot.keyframes):
        p = Path(rel)
        if data_dir is not None and not p.is_absolute():
            p = data_dir / p
        if not p.is_file():
            continue
        t = shot.keyframe_times[k] if k < len(shot.keyframe_times) else (shot.start + shot.end) / 2
        try:
            with Image.open(p) as im:
                im.thumbnail((160, 160))
                frames.append((t, np.asarray(im.convert("RGB"))))
        except OSError:
            continue
    out = []
    for j, (t, arr) in enumerate(frames):
        cx, _, conf = saliency_centroid(arr)
        if len(frames) > 1:  # a moving subject outweighs a static salient region
            other = frames[j + 1][1] if j + 1 < len(frames) else frames[j - 1][1]
            mx, _, mconf = motion_centroid(arr, other)
            if mconf > 0.3:
                wm = 1.5 * mconf
                cx, conf = (cx * conf + mx * wm) / (conf + wm), max(conf, mconf)
        out.append((t, cx, conf))
    inside = [o for o in out if t0 <= o[0] <= t1]
    return inside or out


def crop_windows(
    shots: Sequence[Shot],
    segments: Sequence[tuple[int, float, float]],
    src_w: int,
    src_h: int,
    aspect: str,
    data_dir: Path | None = None,
) -> list[CropWindow]:
    """One crop window per (shot index, src_in, src_out) segment for the target ``aspect``."""
    aw, ah = ASPECTS[aspect]
    target = aw / ah
    src = src_w / src_h
    if abs(src - target) < 0.01:
        return [CropWindow(0, 0, src_w, src_h, 0, "full") for _ in segments]
    if src < target:  # source taller than target: crop height, keep the upper-middle (faces sit high)
        ch = int(round(src_w / target / 2) * 2)
        y = int(max(0, min(src_h - ch, round(src_h * 0.45 - ch / 2))))
        return [CropWindow(0, y, src_w, ch, 0, "centre") for _ in segments]
    cw = int(src_h * target / 2 + 0.5) * 2
    half = cw / 2 / src_w
    by_index = {s.index: s for s in shots}
    raw: list[tuple[float, float, str]] = []  # (start centre, end centre, method)
    for idx, a, b in segments:
        shot = by_index[idx]
        fc = _face_centre(shot)
        if fc is not None:
            raw.append((fc, fc, "faces"))
            continue
        kc = _keyframe_centres(shot, data_dir, a, b)
        if kc:
            cents = [0.5 + (cx - 0.5) * conf for _, cx, conf in kc]
            c0, c1 = cents[0], cents[-1]
            if len(kc) > 1 and b > a:
                max_shift = MAX_PAN * (b - a)
                c1 = c0 + float(np.clip(c1 - c0, -max_shift, max_shift))
            raw.append((c0, c1, "saliency"))
        else:
            raw.append((0.5, 0.5, "centre"))
    # smoothing across segments cut from the same or neighbouring shots (one continuous scene)
    smoothed = list(raw)
    for k in range(1, len(raw)):
        if abs(segments[k][0] - segments[k - 1][0]) <= 1 and raw[k][2] != "faces":
            prev = smoothed[k - 1][1]
            smoothed[k] = (0.5 * raw[k][0] + 0.5 * prev, 0.5 * raw[k][1] + 0.5 * prev, raw[k][2])
    out = []
    for c0, c1, method in smoothed:
        def px(c: float) -> int:
            c = float(np.clip(c, half, 1 - half))
            return int(round(c * src_w - cw / 2))

        out.append(CropWindow(px(c0), 0, cw, src_h, px(c1), method))
    return out


def crop_filter(win: CropWindow, duration: float) -> str:
    """ffmpeg ``crop`` for the window, panning linearly from ``x`` to ``x_end`` over ``duration``."""
    if win.method == "full":
        return "null"
    if win.x_end == win.x or duration <= 0:
        return f"crop={win.w}:{win.h}:{win.x}:{win.y}"
    dx = win.x_end - win.x
    return f"crop={win.w}:{win.h}:x={win.x}+{dx}*min(t/{duration:.4f}\\,1):y={win.y}"
