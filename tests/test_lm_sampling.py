"""Nucleus sampling of ``models.lm`` without loading a model: the sampled tokens stay in the exact
top-k / top-p set (computed here by a full sort) and their log-probabilities are renormalised."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from genperso.models.lm import LanguageModel  # noqa: E402


def _picker() -> LanguageModel:
    lm = LanguageModel.__new__(LanguageModel)  # only _pick is used: no weights needed
    lm._torch = torch
    return lm


def _nucleus(row: np.ndarray, top_k: int, top_p: float) -> dict[int, float]:
    """Reference: full sort, keep top_k, softmax, smallest head whose mass reaches top_p."""
    order = np.argsort(-row, kind="stable")
    if top_k:
        order = order[:top_k]
    p = np.exp(row[order] - row[order].max())
    p /= p.sum()
    before = np.cumsum(p) - p
    keep = before <= top_p
    q = p[keep] / p[keep].sum()
    return {int(t): float(x) for t, x in zip(order[keep], q)}


@pytest.mark.parametrize("top_k", [0, 50])
@pytest.mark.parametrize("top_p", [0.5, 0.95])
def test_pick_samples_only_the_nucleus_with_renormalised_logprobs(top_k: int, top_p: float) -> None:
    rng = np.random.default_rng(3)
    # a flat row (its nucleus needs far more than 256 tokens) and a peaked one
    logits = np.stack([rng.normal(0, 0.3, 5000), rng.normal(0, 3.0, 5000)]).astype(np.float32)
    gen = torch.Generator().manual_seed(0)
    lm = _picker()
    refs = [_nucleus(r.astype(np.float64), top_k, top_p) for r in logits]
    assert len(refs[0]) > 256 or top_k
    seen: list[set[int]] = [set(), set()]
    for _ in range(200):
        tok, lp = lm._pick(torch.from_numpy(logits), top_k, top_p, gen)
        for row, (t, l) in enumerate(zip(tok.tolist(), lp.tolist())):
            assert t in refs[row]
            assert l == pytest.approx(np.log(refs[row][t]), abs=1e-4)
            seen[row].add(t)
    assert len(seen[0]) > 20  # the flat row really is sampled, not argmax'ed


def test_pick_keeps_the_top_token_when_it_alone_exceeds_top_p() -> None:
    logits = torch.tensor([[10.0, 0.0, 0.0, 0.0], [0.0, 0.0, 9.0, 0.0]])
    tok, lp = _picker()._pick(logits, 0, 0.5, torch.Generator().manual_seed(1))
    assert tok.tolist() == [0, 2] and np.allclose(lp.tolist(), [0.0, 0.0])
