"""ONNX Runtime path for the MiniLM sentence embedder: exported once from the local weights.

The encoder plus mean pooling and L2 normalisation is exported with ``torch.onnx`` (no download)
into the model cache (``settings.models_dir / "minilm-onnx" / <fingerprint>``); ``int8`` is the
same graph after onnxruntime's dynamic per-channel int8 quantisation of the MatMul weights
(about 2x faster on CPU, cosine to the fp32 embedding >= 0.97; its activations are quantised per
batch, so a vector moves slightly with its batch mates, by up to ~0.04 per component: the safety
gate, whose decisions must be reproducible, uses fp32). Files are written to a temporary
name and renamed, so concurrent workers never load a half-written model. Exporting needs the
``onnx`` package; running needs only ``onnxruntime``.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["OnnxEncoder", "onnx_model_path", "export_onnx", "PRECISIONS", "RECIPE"]

log = logging.getLogger(__name__)

PRECISIONS = ("fp32", "int8")
RECIPE = "v1"  # bump when the exported graph changes (inputs, pooling, opset, quantisation)
OPSET = 17
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def onnx_model_path(cache_dir: Path, fingerprint: str, precision: str) -> Path:
    if precision not in PRECISIONS:
        raise ValueError(f"unknown embedding precision {precision!r}; expected one of {PRECISIONS}")
    return cache_dir / "minilm-onnx" / f"{fingerprint}-{RECIPE}" / f"model-{precision}.onnx"


def _atomic_target(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".onnx.tmp", dir=path.parent)
    os.close(fd)
    os.chmod(tmp, 0o644)  # a shared model cache: readable by every worker user
    return Path(tmp)


def _export_fp32(model_dir: Path, path: Path) -> None:
    import torch
    from transformers import AutoModel, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
    model = AutoModel.from_pretrained(str(model_dir), local_files_only=True).eval()

    class Pooled(torch.nn.Module):
        def __init__(self, encoder: torch.nn.Module) -> None:
            super().__init__()
            self.encoder = encoder

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                                  token_type_ids=token_type_ids).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1)

    enc = tok(["an example sentence", "a second, longer example sentence"], padding=True, return_tensors="pt")
    tmp = _atomic_target(path)
    try:
        dyn = {k: {0: "batch", 1: "tokens"} for k in INPUTS} | {"embedding": {0: "batch"}}
        with torch.inference_mode(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer notes about the HF mask code paths: expected
            torch.onnx.export(Pooled(model), tuple(enc[k] for k in INPUTS), str(tmp), input_names=list(INPUTS),
                              output_names=["embedding"], dynamic_axes=dyn, opset_version=OPSET, dynamo=False)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _quantise(src: Path, path: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    tmp = _atomic_target(path)
    try:
        quantize_dynamic(str(src), str(tmp), weight_type=QuantType.QInt8, per_channel=True)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def export_onnx(model_dir: Path, cache_dir: Path, fingerprint: str, precision: str) -> Path:
    """The exported (and for int8 quantised) model file, created on first use."""
    path = onnx_model_path(cache_dir, fingerprint, precision)
    if path.exists():
        return path
    t0 = time.perf_counter()
    fp32 = onnx_model_path(cache_dir, fingerprint, "fp32")
    if not fp32.exists():
        _export_fp32(model_dir, fp32)
    if precision == "int8":
        _quantise(fp32, path)
    log.info("embedding model exported to ONNX", extra={"path": str(path), "precision": precision,
                                                        "seconds": round(time.perf_counter() - t0, 2)})
    return path


class OnnxEncoder:
    """An onnxruntime session over the exported graph: token arrays in, unit-norm vectors out."""

    def __init__(self, path: Path, threads: int | None = None) -> None:
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.intra_op_num_threads = threads or _default_threads()
        so.inter_op_num_threads = 1
        # no busy-waiting between batches: workers share the cores with other processes
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.path = path
        self.session = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        self.inputs = tuple(i.name for i in self.session.get_inputs())

    def __call__(self, ids: np.ndarray, mask: np.ndarray, types: np.ndarray) -> np.ndarray:
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        out = self.session.run(None, {k: feed[k] for k in self.inputs})[0]
        return np.asarray(out, dtype=np.float32)


def _default_threads() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)
