"""Optional CLIP image-text model, loaded once per process from a local directory.

The directory (``GENPERSO_CLIP_MODEL``) holds a transformers ``CLIPModel`` (config.json +
weights) and its tokenizer files; it is never fetched from a hub (offline mode is forced).
Images are preprocessed here (resize shortest side, centre crop, CLIP mean/std) so no image
processor class or torchvision is needed; ``preprocessor_config.json`` overrides mean/std/size.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import InvalidInput, MediaError

__all__ = ["ClipModel", "get_clip", "CLIP_MEAN", "CLIP_STD"]

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def _fingerprint(path: Path) -> str:
    h = hashlib.sha256()
    for name in ("config.json", "tokenizer.json", "vocab.json", "merges.txt", "preprocessor_config.json"):
        p = path / name
        if p.exists():
            h.update(name.encode())
            h.update(p.read_bytes())
    for name in ("model.safetensors", "pytorch_model.bin"):
        p = path / name
        if p.exists():
            h.update(f"{name}:{p.stat().st_size}".encode())
    return h.hexdigest()[:12]


class ClipModel:
    """Unit-norm CLIP embeddings for images (file paths or RGB arrays) and texts."""

    def __init__(self, model_dir: str | Path, device: str = "cpu") -> None:
        self.model_dir = Path(model_dir).expanduser()
        if not (self.model_dir / "config.json").is_file():
            raise InvalidInput(
                f"CLIP model directory {self.model_dir} has no config.json; set GENPERSO_CLIP_MODEL to a local "
                "transformers CLIPModel directory (saved with save_pretrained)"
            )
        import torch
        from transformers import AutoTokenizer, CLIPModel

        self._torch = torch
        try:
            self.model = CLIPModel.from_pretrained(str(self.model_dir), local_files_only=True).to(device).eval()
            self.tokenizer = AutoTokenizer.from_pretrained(str(self.model_dir), local_files_only=True)
        except (OSError, ValueError) as exc:
            raise InvalidInput(f"cannot load the CLIP model from {self.model_dir}: {exc}") from None
        self.device = device
        self.image_size = int(self.model.config.vision_config.image_size)
        self.mean, self.std = CLIP_MEAN, CLIP_STD
        pp = self.model_dir / "preprocessor_config.json"
        if pp.is_file():
            cfg = json.loads(pp.read_text(encoding="utf-8"))
            self.mean = tuple(cfg.get("image_mean", self.mean))
            self.std = tuple(cfg.get("image_std", self.std))
        self.max_text_len = int(self.model.config.text_config.max_position_embeddings)
        name = self.model.config.name_or_path or self.model_dir.name
        self.revision = f"clip:{Path(str(name)).name}@{_fingerprint(self.model_dir)}"
        self._lock = threading.Lock()

    def _pixels(self, images: Sequence[str | Path | np.ndarray]) -> np.ndarray:
        from PIL import Image

        size = self.image_size
        out = np.zeros((len(images), 3, size, size), dtype=np.float32)
        mean = np.asarray(self.mean, dtype=np.float32)[:, None, None]
        std = np.asarray(self.std, dtype=np.float32)[:, None, None]
        for i, item in enumerate(images):
            try:
                if isinstance(item, np.ndarray):
                    img = Image.fromarray(np.asarray(item, dtype=np.uint8)).convert("RGB")
                else:
                    with Image.open(item) as im:
                        img = im.convert("RGB")
            except (OSError, ValueError) as exc:
                raise MediaError(f"cannot read image {item if not isinstance(item, np.ndarray) else 'array'}: {exc}") from None
            w, h = img.size
            scale = size / min(w, h)
            img = img.resize((max(size, round(w * scale)), max(size, round(h * scale))), Image.Resampling.BICUBIC)
            w, h = img.size
            left, top = (w - size) // 2, (h - size) // 2
            arr = np.asarray(img.crop((left, top, left + size, top + size)), dtype=np.float32) / 255.0
            out[i] = (arr.transpose(2, 0, 1) - mean) / std
        return out

    def encode_images(self, images: Sequence[str | Path | np.ndarray], batch_size: int = 16) -> np.ndarray:
        torch = self._torch
        chunks = []
        for b in range(0, len(images), batch_size):
            px = torch.from_numpy(self._pixels(images[b : b + batch_size])).to(self.device)
            with self._lock, torch.inference_mode():
                pooled = self.model.vision_model(pixel_values=px).pooler_output
                feats = self.model.visual_projection(pooled)
                feats = torch.nn.functional.normalize(feats, p=2, dim=-1)
            chunks.append(feats.cpu().numpy().astype(np.float32))
        dim = int(self.model.config.projection_dim)
        return np.concatenate(chunks) if chunks else np.zeros((0, dim), dtype=np.float32)

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        torch = self._torch
        with self._lock, torch.inference_mode():
            enc = self.tokenizer(list(texts), padding=True, truncation=True, max_length=self.max_text_len,
                                 return_tensors="pt")
            out = self.model.text_model(input_ids=enc["input_ids"].to(self.device),
                                        attention_mask=enc["attention_mask"].to(self.device))
            feats = self.model.text_projection(out.pooler_output)
            feats = torch.nn.functional.normalize(feats, p=2, dim=-1)
        return feats.cpu().numpy().astype(np.float32)


@functools.lru_cache(maxsize=2)
def _load(model_dir: str, device: str) -> ClipModel:
    return ClipModel(model_dir, device=device)


def get_clip(model_dir: str | Path | None = None) -> ClipModel:
    """The process-wide CLIP model from ``model_dir`` or ``settings.clip_model``."""
    from ..config import get_settings

    s = get_settings()
    d = model_dir or s.clip_model
    if not d:
        raise InvalidInput("no CLIP model configured: set GENPERSO_CLIP_MODEL to a local CLIPModel directory")
    return _load(str(Path(d).expanduser().resolve()), s.device)
