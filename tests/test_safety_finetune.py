"""The gate's fine-tuned encoder: LoRA training (safety.finetune) and its merged serving form
(safety.encoder) must agree, and the shipped adapter must belong to the shipped head and corpus."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from safety.finetune import ADAPTER_FILE, ADAPTER_VERSION, FRAMES, Adapter, FinetuneConfig, framed_rows, load_adapter, \
    merged_state, save_adapter, train_adapter
from safety.text import HEAD_FILE, head_input, load_head
from safety.train_head import CLASSES, CORPUS, corpus_sha256, load_corpus

TEXTS = ["Crush the Hill Sprints", "bump a line in the club toilet", "Sunday Pancake Jazz",
         "nobody would notice if I was gone", "Those People Should Go Back", "Kill the Zombie Process",
         "Clothes Off, Lights Low", "I'll find where your brother sleeps", "f*** this traffic"]
LABELS = np.asarray([0, 5, 0, 6, 4, 0, 3, 2, 1])


def test_shipped_adapter_belongs_to_the_head_and_the_corpus() -> None:
    adapter = load_adapter()
    head = load_head()
    assert head.encoder == f"adapter@{adapter.fingerprint}", "head and adapter differ: run python -m safety.finetune"
    assert adapter.meta["corpus_sha256"] == corpus_sha256(CORPUS), "corpus changed: run python -m safety.finetune"
    assert adapter.meta["version"] == ADAPTER_VERSION
    assert np.array_equal(adapter.head_w, head.w) and np.array_equal(adapter.head_b, head.b)
    assert ADAPTER_FILE.stat().st_size < 4_000_000  # low-rank factors only, not a copy of the model


def test_framed_copies_keep_labels_cover_every_label_and_are_deterministic() -> None:
    rows = load_corpus(CORPUS)
    framed = framed_rows(rows, 0.5, seed=3)
    assert framed == framed_rows(rows, 0.5, seed=3)
    assert framed != framed_rows(rows, 0.5, seed=4)
    by_text = {r["text"].strip().rstrip(".!"): r for r in rows}
    labels = {r["label"] for r in rows}
    share = {lab: sum(f["label"] == lab for f in framed) / sum(r["label"] == lab for r in rows) for lab in labels}
    # every label is framed at about the same rate, so a framing says nothing about the label
    assert all(0.4 < v < 0.6 for v in share.values()), share
    for f in framed[:200]:
        cores = [t for t in FRAMES if _unframe(t, f["text"]) in by_text]
        assert cores, f["text"]
        assert by_text[_unframe(cores[0], f["text"])]["label"] == f["label"]
    assert framed_rows(rows, 0.0) == []


def _unframe(template: str, text: str) -> str | None:
    pre, _, post = template.partition("{}")
    if text.startswith(pre) and text.endswith(post) and len(text) > len(pre) + len(post):
        return text[len(pre): len(text) - len(post)]
    return None


def test_merge_adds_the_low_rank_update() -> None:
    rng = np.random.default_rng(0)
    w = rng.normal(size=(6, 4)).astype(np.float32)
    a, b = rng.normal(size=(2, 4)).astype(np.float32), rng.normal(size=(6, 2)).astype(np.float32)
    adapter = Adapter({"encoder.layer.0.attention.self.query": (a, b)}, 0.5, np.zeros((7, 4)), np.zeros(7))
    state = {"encoder.layer.0.attention.self.query.weight": w, "encoder.layer.0.attention.self.query.bias": w[0]}
    out = merged_state(state, adapter)
    np.testing.assert_allclose(out["encoder.layer.0.attention.self.query.weight"], w + 0.5 * b @ a, rtol=1e-6)
    assert out["encoder.layer.0.attention.self.query.bias"] is state["encoder.layer.0.attention.self.query.bias"]
    with pytest.raises(ValueError, match="matches 0 weights"):
        merged_state({"x.weight": w}, adapter)


def test_training_is_deterministic_and_the_merged_encoder_serves_the_trained_vectors(tmp_path: Path) -> None:
    from genperso.models.embed import Embedder, _package_model_dir, get_embedder

    from safety.encoder import merged_model_dir

    texts = [head_input(t) for t in TEXTS]
    cfg = FinetuneConfig(epochs=2, layers=2, batch_size=4, lr=5e-3, head_lr=5e-3)
    a1, (v1,) = train_adapter(texts, LABELS, cfg, progress=False, also_encode=[texts])
    a2, _ = train_adapter(texts, LABELS, cfg, progress=False)
    assert a1.fingerprint == a2.fingerprint  # same seed, same batches -> same factors
    assert any(np.abs(b).max() > 0 for _, b in a1.factors.values())  # B left zero would be the stock model
    assert len(a1.factors) == 2 * 6  # six matrices in each of the top two layers

    stock = get_embedder().encode(texts)
    assert float(np.abs(v1 - stock).max()) > 1e-3  # the encoder itself moved

    save_adapter(a1, tmp_path / "adapter.npz")
    loaded = load_adapter(tmp_path / "adapter.npz")
    assert loaded.fingerprint == a1.fingerprint
    model_dir = merged_model_dir(_package_model_dir(), loaded, tmp_path / "models")
    assert merged_model_dir(_package_model_dir(), loaded, tmp_path / "models") == model_dir  # built once
    assert json.loads((model_dir / "config.json").read_text())["genperso_safety_adapter"] == a1.fingerprint
    served = Embedder(model_dir, backend="torch").encode(texts)
    np.testing.assert_allclose(served, v1, atol=2e-5)  # training path == merged serving path


def test_the_gate_runs_on_the_adapted_encoder() -> None:
    from safety.text import TextClassifier

    clf = TextClassifier()
    assert clf.models["head"].startswith(load_head().version)
    assert clf._embedder.model_dir.parent.name == "safety-encoder"
    x = clf._embedder.encode([head_input(r["text"]) for r in load_corpus()[::25]])
    y = np.asarray([CLASSES.index(r["label"]) for r in load_corpus()[::25]])
    acc = float((load_head().proba(x).argmax(axis=1) == y).mean())
    assert acc >= 0.9, acc  # its own training texts


def test_knee_figures_at_the_shipped_knees_match_the_served_gate() -> None:
    """The sweep that chose the knees (``bench/safety.py --knees``) scores texts exactly as the
    served gate does, and leaves the gate's constants as it found them."""
    from safety import check_texts
    from safety import text as T
    from safety.finetune import knee_figures

    rows = [json.loads(line) for line in (Path(__file__).resolve().parents[1] / "assets" / "safety_eval" /
                                          "texts.jsonl").read_text(encoding="utf-8").splitlines()[::8]]
    shipped = (T.HEAD_MEDIUM_P, T.HEAD_HIGH_P, T.HEAD_VETO_SAFE_P)
    sem, sim, head = T.TextClassifier()._semantic([head_input(r["text"]) for r in rows])
    fig = knee_figures(rows, sem, sim, head, [shipped[:2]], shipped[2])[0]
    assert (T.HEAD_MEDIUM_P, T.HEAD_HIGH_P, T.HEAD_VETO_SAFE_P) == shipped
    kids = [v.decision != "allow" for v in check_texts([r["text"] for r in rows], profile="kids")]
    unsafe = [k for k, r in zip(kids, rows) if r["label"] != "safe"]
    hard = [k for k, r in zip(kids, rows) if r["hard_negative"]]
    assert unsafe and hard
    assert fig["recall_unsafe_kids"] == round(sum(unsafe) / len(unsafe), 3)
    assert fig["hard_negative_fpr_kids"] == round(sum(hard) / len(hard), 3)
    # another knee pair gives other figures (the sweep does move the knees)
    loose = knee_figures(rows, sem, sim, head, [(0.3, 0.45)], shipped[2])[0]
    assert loose["recall_unsafe_kids"] >= fig["recall_unsafe_kids"]
    assert loose != fig
