"""The ONNX Runtime path of the MiniLM embedder agrees with the torch path and falls back to it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from genperso.errors import InvalidInput
from genperso.models import embed as embed_mod
from genperso.models import embed_onnx

TEXTS = [
    "Kill It At The Gym",
    "sweet romantic love stories about couples falling in love",
    "x",
    "",
    "a much longer line of dialogue " * 40,  # past the 256-token truncation
    "Ünïcödé — emoji 🎸 and punctuation!?",
]


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("embed-models")


@pytest.fixture(scope="module")
def torch_vecs() -> np.ndarray:
    return embed_mod.Embedder(backend="torch").encode(TEXTS)


@pytest.fixture(scope="module")
def onnx_fp32(cache_dir: Path) -> embed_mod.Embedder:
    return embed_mod.Embedder(backend="onnx", cache_dir=cache_dir)


def test_onnx_fp32_matches_torch(onnx_fp32: embed_mod.Embedder, torch_vecs: np.ndarray) -> None:
    assert onnx_fp32.backend == "onnx" and onnx_fp32.precision == "fp32"
    v = onnx_fp32.encode(TEXTS)
    assert v.shape == (len(TEXTS), embed_mod.EMBED_DIM) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert float((v * torch_vecs).sum(1).min()) > 0.99999
    # same vectors, same revision: cache keys built on it stay valid
    assert onnx_fp32.revision == embed_mod.Embedder(backend="torch").revision


def test_vectors_do_not_depend_on_batch_mates(onnx_fp32: embed_mod.Embedder) -> None:
    together = onnx_fp32.encode(TEXTS, batch_size=3)
    onnx_fp32._cache.clear()
    alone = np.stack([onnx_fp32.encode([t])[0] for t in TEXTS])
    np.testing.assert_allclose(together, alone, atol=1e-5)


def test_export_is_reused(cache_dir: Path, onnx_fp32: embed_mod.Embedder) -> None:
    path = onnx_fp32._onnx.path
    assert path.is_relative_to(cache_dir) and path.stat().st_mode & 0o044 == 0o044
    before = path.stat().st_mtime_ns
    again = embed_mod.Embedder(backend="onnx", cache_dir=cache_dir)
    assert again._onnx.path == path and path.stat().st_mtime_ns == before
    assert not list(path.parent.glob("*.tmp"))


def test_int8_is_labelled_and_close(cache_dir: Path, torch_vecs: np.ndarray) -> None:
    e = embed_mod.Embedder(backend="onnx", precision="int8", cache_dir=cache_dir)
    assert e.precision == "int8" and e.revision.endswith("+onnx-int8")
    v = e.encode(TEXTS)
    assert float((v * torch_vecs).sum(1).min()) > 0.95


def test_auto_falls_back_to_torch_when_export_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, torch_vecs: np.ndarray
) -> None:
    def broken(*a: object, **k: object) -> Path:
        raise RuntimeError("no onnx exporter here")

    monkeypatch.setattr(embed_onnx, "export_onnx", broken)
    e = embed_mod.Embedder(backend="auto", precision="int8", cache_dir=tmp_path)
    assert e.backend == "torch" and e.precision == "fp32" and not e.revision.endswith("int8")
    np.testing.assert_allclose(e.encode(TEXTS[:2]), torch_vecs[:2], atol=1e-5)
    with pytest.raises(InvalidInput, match="ONNX embedding backend unavailable"):
        embed_mod.Embedder(backend="onnx", cache_dir=tmp_path)


def test_bad_options_rejected() -> None:
    with pytest.raises(InvalidInput):
        embed_mod.Embedder(backend="tensorrt")
    with pytest.raises(InvalidInput):
        embed_mod.Embedder(precision="fp8")


def test_concurrent_encodes_agree(onnx_fp32: embed_mod.Embedder) -> None:
    from concurrent.futures import ThreadPoolExecutor

    texts = [f"playlist number {i} for a rainy evening" for i in range(200)]
    onnx_fp32._cache.clear()
    with ThreadPoolExecutor(4) as pool:
        parts = list(pool.map(lambda k: onnx_fp32.encode(texts[k::4] + texts[:10]), range(4)))
    onnx_fp32._cache.clear()
    ref = onnx_fp32.encode(texts)
    for k, part in enumerate(parts):
        np.testing.assert_allclose(part[: len(texts[k::4])], ref[k::4], atol=1e-5)
        np.testing.assert_allclose(part[len(texts[k::4]) :], ref[:10], atol=1e-5)
