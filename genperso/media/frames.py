"""Per-image features of video frames (pure functions on numpy arrays, OpenCV underneath).

Every function takes an 8-bit image: ``gray`` (H, W) or ``bgr`` (H, W, 3), as OpenCV holds them.
The analysis pipeline computes the cheap ones (luma statistics, frame difference, sharpness)
on every decoded analysis-size frame and the expensive ones (dominant colours, faces) only on
the keyframes it keeps.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass

import cv2
import numpy as np

from ..types import FaceBox

__all__ = [
    "BLACK_LUMA",
    "BLANK_STD",
    "LumaStats",
    "luma_stats",
    "frame_difference",
    "motion_plane",
    "sharpness",
    "colourfulness",
    "dominant_colours",
    "is_black_frame",
    "is_blank_frame",
    "detect_faces",
    "to_gray",
]

BLACK_LUMA = 16.0  # mean luma (0..255) below which a frame counts as black
BLANK_STD = 6.0  # luma standard deviation (0..255) below which a frame counts as flat/blank
_MOTION_WIDTH = 160  # frame differences are taken at this width (robust to noise and cheap)


@dataclass(frozen=True)
class LumaStats:
    mean: float  # 0..255
    std: float  # 0..255


def to_gray(bgr: np.ndarray) -> np.ndarray:
    if bgr.ndim == 2:
        return bgr
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)


def luma_stats(gray: np.ndarray) -> LumaStats:
    mean, std = cv2.meanStdDev(gray)
    return LumaStats(float(mean[0, 0]), float(std[0, 0]))


def motion_plane(gray: np.ndarray) -> np.ndarray:
    """The small luma plane frame differences are taken on (``_MOTION_WIDTH`` wide)."""
    h, w = gray.shape[:2]
    if w <= _MOTION_WIDTH:
        return gray
    return cv2.resize(gray, (_MOTION_WIDTH, max(1, round(h * _MOTION_WIDTH / w))), interpolation=cv2.INTER_AREA)


def frame_difference(prev: np.ndarray, cur: np.ndarray) -> float:
    """Mean absolute difference of two motion planes, 0..1."""
    return float(cv2.mean(cv2.absdiff(prev, cur))[0]) / 255.0


def sharpness(gray: np.ndarray) -> float:
    """Variance of the Laplacian (focus measure; higher is sharper)."""
    _, std = cv2.meanStdDev(cv2.Laplacian(gray, cv2.CV_16S, ksize=3))
    return float(std[0, 0]) ** 2


def colourfulness(bgr: np.ndarray) -> float:
    """Hasler & Suesstrunk (2003) colourfulness metric divided by 100 (about 0..1.5)."""
    b, g, r = (bgr[..., i].astype(np.float32) for i in range(3))
    rg = r - g
    yb = 0.5 * (r + g) - b
    std = float(np.sqrt(rg.var() + yb.var()))
    mean = float(np.sqrt(rg.mean() ** 2 + yb.mean() ** 2))
    return (std + 0.3 * mean) / 100.0


def dominant_colours(bgr: np.ndarray, k: int = 5, *, min_share: float = 0.03) -> tuple[str, ...]:
    """The ``k`` most frequent colours as ``#rrggbb``, most frequent first.

    Deterministic: pixels of a 96 px thumbnail are quantised to 8 levels per channel; each of the
    most populated bins reports the mean colour of its pixels. Bins under ``min_share`` of the
    pixels are ignored, so a flat frame yields a single colour."""
    h, w = bgr.shape[:2]
    if w > 96:
        bgr = cv2.resize(bgr, (96, max(1, round(h * 96 / w))), interpolation=cv2.INTER_AREA)
    px = bgr.reshape(-1, 3).astype(np.int32)
    q = px >> 5
    bins = (q[:, 2] << 6) | (q[:, 1] << 3) | q[:, 0]
    counts = np.bincount(bins, minlength=512)
    order = np.argsort(-counts, kind="stable")
    out: list[str] = []
    n = px.shape[0]
    for b in order[:k]:
        if counts[b] == 0 or counts[b] < min_share * n:
            break
        mean = px[bins == b].mean(axis=0)
        bl, gr, rd = (int(round(v)) for v in mean)
        out.append(f"#{rd:02x}{gr:02x}{bl:02x}")
    return tuple(out)


def is_black_frame(stats: LumaStats) -> bool:
    return stats.mean < BLACK_LUMA and stats.std < 2 * BLANK_STD


def is_blank_frame(stats: LumaStats) -> bool:
    return stats.std < BLANK_STD


_local = threading.local()


@functools.lru_cache(maxsize=1)
def _cascade_path() -> str:
    return str(cv2.data.haarcascades) + "haarcascade_frontalface_alt2.xml"


def _cascade() -> cv2.CascadeClassifier:
    # CascadeClassifier is not thread-safe: one instance per thread.
    c = getattr(_local, "cascade", None)
    if c is None:
        c = cv2.CascadeClassifier(_cascade_path())
        if c.empty():  # pragma: no cover - the file ships with opencv-python
            raise RuntimeError(f"cannot load Haar cascade {_cascade_path()}")
        _local.cascade = c
    return c


def detect_faces(bgr_or_gray: np.ndarray, *, min_size_frac: float = 0.07, max_width: int = 400) -> tuple[FaceBox, ...]:
    """Frontal faces (OpenCV Haar ``haarcascade_frontalface_alt2``) as normalised boxes, largest first.

    Runs on a histogram-equalised gray copy at most ``max_width`` wide with a 1.2 scale step
    (about 20 ms a keyframe); faces smaller than ``min_size_frac`` of the frame width are
    ignored (too small to matter for framing)."""
    gray = to_gray(bgr_or_gray)
    h, w = gray.shape[:2]
    if w > max_width:
        gray = cv2.resize(gray, (max_width, max(1, round(h * max_width / w))), interpolation=cv2.INTER_AREA)
    gh, gw = gray.shape[:2]
    if luma_stats(gray).std < BLANK_STD:  # flat frame: nothing to find
        return ()
    gray = cv2.equalizeHist(gray)
    side = max(20, int(min_size_frac * gw))
    found = _cascade().detectMultiScale(gray, scaleFactor=1.2, minNeighbors=4, minSize=(side, side))
    boxes = [
        FaceBox(round(float(x) / gw, 4), round(float(y) / gh, 4), round(float(fw) / gw, 4), round(float(fh) / gh, 4))
        for (x, y, fw, fh) in (found if len(found) else [])
    ]
    boxes.sort(key=lambda b: -b.area)
    return tuple(boxes)
