"""Image safety: blank/black frames, title legibility (WCAG contrast), nudity (NudeNet, optional
plugin) and an optional CLIP zero-shot classifier (when ``settings.clip_model`` is a local dir).

Every classifier receives an ``ImageArtifact`` (RGB uint8 array + optional title text/box) so
the same code judges image files, generated artwork and sampled video frames.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from genperso.errors import InvalidInput, MediaError, NotFound

from .base import Classifier, ClassifierUnavailable, Scores, register

__all__ = [
    "ImageArtifact",
    "load_image",
    "contrast_ratio",
    "title_contrast",
    "QualityClassifier",
    "NudityClassifier",
    "ClipClassifier",
    "CLIP_PROMPTS",
]

MAX_SIDE = 1280  # larger images are downscaled on load (checks never need more)
WCAG_AA = 4.5


@dataclass(frozen=True)
class ImageArtifact:
    rgb: np.ndarray  # (h, w, 3) uint8
    source: str = ""
    title_text: str | None = None
    title_box: tuple[int, int, int, int] | None = None  # x, y, w, h in ``rgb`` pixels


def load_image(path: str | Path, max_side: int = MAX_SIDE) -> tuple[np.ndarray, float]:
    """RGB uint8 array (downscaled to ``max_side``) and the scale applied. Clear errors."""
    from PIL import Image, UnidentifiedImageError

    p = Path(path)
    if not p.exists():
        raise NotFound(f"image file not found: {p}", path=str(p))
    if not p.is_file():
        raise MediaError(f"not a file: {p}", path=str(p))
    try:
        with Image.open(p) as im:
            im.draft("RGB", (max_side, max_side))
            im = im.convert("RGB")
            scale = 1.0
            if max(im.size) > max_side:
                scale = max_side / max(im.size)
                im = im.resize((max(1, round(im.width * scale)), max(1, round(im.height * scale))))
            arr = np.asarray(im, dtype=np.uint8)
    except UnidentifiedImageError:
        raise MediaError(f"not a readable image (unknown or corrupt format): {p}", path=str(p)) from None
    except OSError as exc:
        raise MediaError(f"cannot read image {p}: {exc}", path=str(p)) from None
    if arr.size == 0:
        raise MediaError(f"empty image: {p}", path=str(p))
    return arr, scale


def _relative_luminance(rgb: np.ndarray) -> np.ndarray:
    """WCAG 2.x relative luminance of sRGB uint8 pixels (..., 3) -> (...)."""
    c = rgb.astype(np.float32) / 255.0
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return lin @ np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)


def contrast_ratio(l1: float, l2: float) -> float:
    hi, lo = max(l1, l2), min(l1, l2)
    return (hi + 0.05) / (lo + 0.05)


def title_contrast(rgb: np.ndarray, box: tuple[int, int, int, int]) -> tuple[float, float]:
    """(WCAG contrast ratio between the text and background pixels in ``box``, text fraction).

    Pixels in the box are split in two by an Otsu threshold on luminance; the smaller group is
    the text. Each group is summarised by its median (robust to anti-aliased edges). A box with
    no second group (a flat region: no visible text) has contrast 1.0.
    """
    x, y, w, h = (int(v) for v in box)
    H, W = rgb.shape[:2]
    if w <= 0 or h <= 0 or x < 0 or y < 0 or x + w > W or y + h > H:
        raise InvalidInput(f"title_box {box} is outside the {W}x{H} image", field="title_box")
    lum = _relative_luminance(rgb[y : y + h, x : x + w]).ravel()
    if lum.size < 4 or float(lum.max() - lum.min()) < 1e-3:
        return 1.0, 0.0
    hist, edges = np.histogram(lum, bins=64, range=(float(lum.min()), float(lum.max()) + 1e-6))
    p = hist.astype(np.float64) / hist.sum()
    mids = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(p)
    mu = np.cumsum(p * mids)
    between = (mu[-1] * w0 - mu) ** 2 / np.clip(w0 * (1 - w0), 1e-12, None)
    thr = mids[int(np.argmax(between[:-1]))]
    low, high = lum[lum <= thr], lum[lum > thr]
    text, bg = (low, high) if low.size < high.size else (high, low)
    frac = text.size / lum.size
    if frac < 0.005:
        return 1.0, frac
    return contrast_ratio(float(np.median(text)), float(np.median(bg))), frac


@register
class QualityClassifier(Classifier):
    """Black/blank/uniform frames and title legibility. Always available (numpy only)."""

    name = "image-quality"
    modalities = ("image",)
    version = "quality-2026-11-24.1"

    def classify(self, artifact: Any) -> Scores:
        a: ImageArtifact = artifact
        small = a.rgb[:: max(1, a.rgb.shape[0] // 180), :: max(1, a.rgb.shape[1] // 320)]
        luma = small.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
        mean, std = float(luma.mean()), float(luma.std())
        p99 = float(np.percentile(luma, 99))
        if std < 2.0 or p99 < 20.0:
            blank = 1.0
        else:
            blank = float(np.clip((10.0 - std) / 8.0, 0.0, 1.0)) * (1.0 if mean < 24 or mean > 235 else 0.7)
        reasons: list[str] = []
        if blank >= 0.3:
            reasons.append(f"blank/black frame (mean luma {mean:.0f}, std {std:.1f})")
        scores = {"blank": blank}
        if a.title_box is not None:
            ratio, frac = title_contrast(a.rgb, a.title_box)
            legibility = float(np.clip((WCAG_AA - ratio) / 3.0, 0.0, 1.0))
            scores["legibility"] = legibility
            if ratio < WCAG_AA:
                what = "no visible text" if frac < 0.005 else f"contrast {ratio:.2f}:1"
                reasons.append(f"title {a.title_text or ''!r} {what} < {WCAG_AA}:1 (WCAG AA)".replace(" '' ", " "))
        elif a.title_text:
            reasons.append("title legibility not checked: no title_box given")
        return Scores(scores, tuple(reasons))


def _fit(rgb: np.ndarray, side: int) -> np.ndarray:
    import cv2

    h, w = rgb.shape[:2]
    if max(h, w) <= side:
        return rgb
    s = side / max(h, w)
    return cv2.resize(rgb, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)


_EXPOSED = {
    "FEMALE_GENITALIA_EXPOSED": 1.0, "MALE_GENITALIA_EXPOSED": 1.0, "ANUS_EXPOSED": 1.0,
    "FEMALE_BREAST_EXPOSED": 0.95, "BUTTOCKS_EXPOSED": 0.85,
}
_COVERED = {"FEMALE_GENITALIA_COVERED": 0.45, "FEMALE_BREAST_COVERED": 0.35, "BUTTOCKS_COVERED": 0.35,
            "ANUS_COVERED": 0.45}


@register
class NudityClassifier(Classifier):
    """NudeNet's bundled ONNX detector. Optional plugin: its licence files say AGPL-3.0 while its
    metadata says MIT, so it is not a hard dependency (``pip install genperso[nsfw]``)."""

    name = "nudenet"
    modalities = ("image",)
    version = "nudenet-320n+skin-1"
    optional = True
    min_detection = 0.45

    def __init__(self) -> None:
        try:
            import nudenet
            import onnxruntime as ort
        except ImportError as exc:
            raise ClassifierUnavailable(f"nudenet is not installed ({exc}); nudity is not checked") from None
        so = ort.SessionOptions()
        so.intra_op_num_threads = int(os.environ.get("GENPERSO_SAFETY_THREADS", "2"))
        so.inter_op_num_threads = 1
        model = Path(nudenet.__file__).resolve().parent / "320n.onnx"
        if not model.exists():
            raise ClassifierUnavailable(f"nudenet model file missing: {model}")
        self._det = nudenet.NudeDetector(model_path=str(model))
        self._det.onnx_session = ort.InferenceSession(str(model), so, providers=["CPUExecutionProvider"])
        self._lock = threading.Lock()
        try:
            self.version = f"nudenet-{metadata.version('nudenet')}-320n+skin-1"  # type: ignore[misc]
        except metadata.PackageNotFoundError:  # pragma: no cover
            pass

    def classify(self, artifact: Any) -> Scores:
        a: ImageArtifact = artifact
        rgb = _fit(a.rgb, 640)
        bgr = np.ascontiguousarray(rgb[:, :, ::-1])
        with self._lock:
            dets = self._det.detect(bgr)
        score = 0.0
        reasons: list[str] = []
        for d in dets:
            cls, conf = d["class"], float(d["score"])
            weight = _EXPOSED.get(cls) or _COVERED.get(cls)
            if weight is None or conf < self.min_detection:
                continue
            # NudeNet fires at 0.5-0.7 on fur, skin-less cartoon bellies etc.: its confidence is
            # ramped from 0.4 (nothing) to 0.8 (certain) and weighted by the share of
            # skin-coloured pixels in the box (YCrCb skin range, any skin tone)
            skin = _skin_fraction(rgb, d["box"])
            s = weight * float(np.clip((conf - 0.4) / 0.4, 0.0, 1.0)) * float(np.clip((skin - 0.1) / 0.4, 0.0, 1.0))
            score = max(score, s)
            reasons.append(f"nudenet: {cls.lower()} ({conf:.2f}, skin {skin:.0%})")
        if score < 0.35:
            reasons = []
        return Scores({"sexual": float(min(1.0, score))}, tuple(reasons[:4]))


def _skin_fraction(rgb: np.ndarray, box: list[int]) -> float:
    import cv2

    x, y, w, h = (max(0, int(v)) for v in box)
    region = rgb[y : y + h, x : x + w]
    if region.size == 0:
        return 0.0
    ycc = cv2.cvtColor(np.ascontiguousarray(region), cv2.COLOR_RGB2YCrCb)
    Y, Cr, Cb = ycc[..., 0], ycc[..., 1], ycc[..., 2]
    return float(((Cr >= 135) & (Cr <= 175) & (Cb >= 85) & (Cb <= 130) & (Y > 60)).mean())


# zero-shot prompts: "safe" prompts absorb ordinary film/artwork content
CLIP_PROMPTS: dict[str, tuple[str, ...]] = {
    "safe": ("a still from an animated family film", "a landscape with trees and sky", "a movie poster",
             "people smiling", "a cute cartoon animal", "a sports photo", "a city street",
             "text on a plain background"),
    "violence": ("a photo of graphic violence with blood", "a person pointing a gun at someone", "a dead body",
                 "a bloody wound"),
    "sexual": ("a photo of naked people", "pornography", "explicit sexual content"),
    "hate": ("a nazi swastika flag", "a hateful racist symbol"),
    "drugs": ("a person injecting drugs with a syringe", "lines of cocaine and drug paraphernalia",
              "a person smoking a joint"),
    "self_harm": ("self-harm cuts on a wrist", "a noose hanging from the ceiling"),
}


@register
class ClipClassifier(Classifier):
    """CLIP zero-shot over category prompts; only when ``settings.clip_model`` is a local dir."""

    name = "clip"
    modalities = ("image",)
    version = "clip-zeroshot-2026-11-24.1"
    optional = True

    def __init__(self) -> None:
        from genperso.config import get_settings

        model_dir = get_settings().clip_model
        if not model_dir:
            raise ClassifierUnavailable("no CLIP model configured (GENPERSO_CLIP_MODEL); CLIP check skipped")
        path = Path(model_dir).expanduser()
        if not path.is_dir():
            raise ClassifierUnavailable(f"CLIP model directory not found: {path}")
        import torch
        from transformers import AutoTokenizer, CLIPModel

        self._torch = torch
        self.model = CLIPModel.from_pretrained(str(path), local_files_only=True).eval()
        tok = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        self.size = int(self.model.config.vision_config.image_size)
        self.labels: list[str] = []
        prompts: list[str] = []
        for cat, ps in CLIP_PROMPTS.items():
            for p in ps:
                self.labels.append(cat)
                prompts.append(p)
        with torch.inference_mode():
            enc = tok(prompts, padding=True, truncation=True, max_length=77, return_tensors="pt")
            feats = _features(self.model.get_text_features(**enc))
            self.text = torch.nn.functional.normalize(feats, dim=-1)
        self.scale = float(self.model.logit_scale.exp().item())
        self.version = f"clip-zeroshot@{_dir_digest(path)}"  # type: ignore[misc]
        self._lock = threading.Lock()

    def _pixels(self, rgb: np.ndarray) -> Any:
        import cv2

        h, w = rgb.shape[:2]
        s = self.size / min(h, w)
        size = (max(self.size, round(w * s)), max(self.size, round(h * s)))
        img = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
        y0, x0 = (img.shape[0] - self.size) // 2, (img.shape[1] - self.size) // 2
        img = img[y0 : y0 + self.size, x0 : x0 + self.size].astype(np.float32) / 255.0
        mean = np.array([0.48145466, 0.4578275, 0.40821073], dtype=np.float32)
        std = np.array([0.26862954, 0.26130258, 0.27577711], dtype=np.float32)
        return self._torch.from_numpy(((img - mean) / std).transpose(2, 0, 1).copy())[None]

    def classify(self, artifact: Any) -> Scores:
        a: ImageArtifact = artifact
        torch = self._torch
        with self._lock, torch.inference_mode():
            feats = _features(self.model.get_image_features(pixel_values=self._pixels(a.rgb)))
            img = torch.nn.functional.normalize(feats, dim=-1)
            probs = torch.softmax(self.scale * img @ self.text.T, dim=-1)[0].numpy()
        scores: dict[str, float] = {}
        for label, p in zip(self.labels, probs):
            if label != "safe":
                scores[label] = scores.get(label, 0.0) + float(p)
        top = max(scores, key=scores.__getitem__)
        reasons = (f"clip: {top} ({scores[top]:.2f})",) if scores[top] >= 0.35 else ()
        return Scores(scores, reasons)


def _dir_digest(path: Path) -> str:
    import hashlib

    h = hashlib.sha256()
    for name in ("config.json", "tokenizer.json", "vocab.json"):
        if (path / name).exists():
            h.update((path / name).read_bytes())
    for w in sorted(path.glob("*.safetensors")) + sorted(path.glob("*.bin")):
        h.update(f"{w.name}:{w.stat().st_size}".encode())
    return h.hexdigest()[:12]


def _features(out: Any) -> Any:
    """``get_*_features`` returns a tensor (transformers 4) or an output object (transformers 5)."""
    return out if hasattr(out, "shape") else out.pooler_output
