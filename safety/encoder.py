"""The text gate's encoder: the stock MiniLM with the shipped low-rank adapter merged in.

``safety/adapter.npz`` (written by ``python -m safety.finetune``) holds only the low-rank factors;
the first use in a process merges them into the local MiniLM weights and writes the result as a
model directory in the model cache (``settings.models_dir / "safety-encoder" / <base>-<adapter>``;
written under a temporary name and renamed, so concurrent workers never read half a model). From
there the ordinary ``Embedder`` loads it, exporting its ONNX graph once like the stock model's, so
the gate costs one MiniLM pass per text, as before. Without an adapter file the gate falls back
to the stock embedder (and its head must then have been fit on stock vectors).
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import tempfile
from pathlib import Path

from genperso.models.embed import Embedder, _dir_fingerprint, _package_model_dir, get_embedder

from .finetune import ADAPTER_FILE, Adapter, load_adapter, merged_state

__all__ = ["merged_model_dir", "get_safety_embedder", "adapter_fingerprint"]

WEIGHTS = "model.safetensors"


def merged_model_dir(base_dir: Path, adapter: Adapter, cache_dir: Path) -> Path:
    """The model directory of ``base_dir`` with ``adapter`` merged, created on first use."""
    from safetensors.numpy import load_file, save_file

    target = cache_dir / "safety-encoder" / f"{_dir_fingerprint(base_dir)}-{adapter.fingerprint}"
    if (target / WEIGHTS).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        for item in base_dir.iterdir():
            if item.name == WEIGHTS:
                continue
            (shutil.copytree if item.is_dir() else shutil.copy2)(item, tmp / item.name)
        config = json.loads((base_dir / "config.json").read_text(encoding="utf-8"))
        # recorded in config.json so the directory's fingerprint (and its ONNX export) differ from the stock model's
        config["genperso_safety_adapter"] = adapter.fingerprint
        (tmp / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True), encoding="utf-8")
        save_file(merged_state(load_file(str(base_dir / WEIGHTS)), adapter), str(tmp / WEIGHTS))
        os.chmod(tmp, 0o755)
        try:
            tmp.rename(target)
        except OSError:  # another worker finished first: theirs is the same merge
            if not (target / WEIGHTS).is_file():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def adapter_fingerprint(path: Path = ADAPTER_FILE) -> str | None:
    return load_adapter(path).fingerprint if path.is_file() else None


@functools.lru_cache(maxsize=2)
def _load(adapter_path: str, base: str | None) -> Embedder:
    from genperso.config import get_settings

    settings = get_settings()
    base_dir = Path(base) if base else _package_model_dir()
    model_dir = merged_model_dir(base_dir, load_adapter(Path(adapter_path)), settings.models_dir)
    return Embedder(model_dir, device="cpu", backend=os.environ.get("GENPERSO_EMBED_BACKEND", "auto"))


def get_safety_embedder(adapter_path: Path = ADAPTER_FILE) -> Embedder:
    """The process-wide gate encoder: stock MiniLM + the shipped adapter (the stock embedder
    when there is no adapter file)."""
    if not adapter_path.is_file():
        return get_embedder()
    from genperso.config import get_settings

    return _load(str(adapter_path), get_settings().embed_model)
