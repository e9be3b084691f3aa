"""The text gate's supervised head (safety/head.npz, fit with the encoder's adapter by
``python -m safety.finetune``; ``safety.train_head`` is the logistic regression on stock vectors
that starts it)."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pytest

from safety import check_texts
from safety.text import HEAD_FILE, combine_head, head_score, load_head
from safety.finetune import ADAPTER_VERSION
from safety.train_head import CLASSES, CORPUS, corpus_sha256, embed_texts, fit, load_corpus


def test_shipped_head_matches_the_corpus() -> None:
    with np.load(HEAD_FILE, allow_pickle=False) as z:
        meta = json.loads(str(z["meta"]))
    assert meta["corpus_sha256"] == corpus_sha256(CORPUS), "corpus changed: run python -m safety.finetune"
    assert meta["version"] == ADAPTER_VERSION
    assert tuple(meta["classes"]) == CLASSES
    head = load_head()
    assert head.w.shape == (len(CLASSES), 384) and head.b.shape == (len(CLASSES),)


def test_corpus_labels_and_lengths() -> None:
    rows = load_corpus()
    labels = [r["label"] for r in rows]
    assert 0.4 <= labels.count("safe") / len(rows) <= 0.6
    assert all(labels.count(c) >= 100 for c in CLASSES[1:])
    assert all(len(r["text"]) <= 80 for r in rows)
    assert all((r["severity"] is None) == (r["label"] == "safe") for r in rows)
    assert len({r["text"].lower() for r in rows}) == len(rows)


def test_initial_head_fit_is_deterministic() -> None:
    # the logistic regression on stock vectors that the fine-tuning starts from; every 5th text
    rows = load_corpus()[::5]
    x = embed_texts([r["text"] for r in rows])
    y = np.asarray([CLASSES.index(r["label"]) for r in rows])
    w1, b1 = fit(x, y, 4.0)
    w2, b2 = fit(x, y, 4.0)
    assert np.array_equal(w1, w2) and np.array_equal(b1, b2)
    # training accuracy on stock vectors: 0.84 on the 9,370-text corpus (0.85+ before batch 5 added
    # other languages, which stock MiniLM hardly separates)
    assert float((x @ w1.T + b1).argmax(axis=1).__eq__(y).mean()) >= 0.80


def test_head_score_mapping() -> None:
    from safety.text import HEAD_HIGH_P, HEAD_MEDIUM_P, NO_CUE_DAMP

    assert head_score("drugs", 0.0) == 0.0
    assert head_score("drugs", HEAD_MEDIUM_P) == pytest.approx(0.35)  # kids: block
    assert head_score("drugs", HEAD_HIGH_P) == pytest.approx(0.6)  # adult: review
    assert head_score("drugs", 1.0) == pytest.approx(1.0)
    assert head_score("profanity", 1.0) <= 0.55  # mild vs severe swearing is the lexicon's call
    assert combine_head("violence", 0.93, 0.1) == 0.93  # a strong term is never lowered by the head's score
    # with no lexical cue of the category, head evidence is discounted like the zero-shot scorer's
    p = (HEAD_HIGH_P + 1.0) / 2
    assert combine_head("sexual", 0.0, p, cued=True) == pytest.approx(head_score("sexual", p))
    assert combine_head("sexual", 0.0, p, cued=False) == pytest.approx(NO_CUE_DAMP * head_score("sexual", p))


def test_veto_spares_slurs() -> None:
    from safety.text import HEAD_VETO_P, HEAD_VETO_SAFE_P, vetoed

    assert HEAD_VETO_SAFE_P is not None
    assert vetoed("drugs", 0.99, HEAD_VETO_P / 2, strong=True)
    assert not vetoed("drugs", HEAD_VETO_SAFE_P - 0.01, 0.0, strong=True)
    assert not vetoed("hate", 0.999, 0.0, strong=True)  # the head never saw slurs
    assert vetoed("hate", 0.999, 0.0, strong=False)
    v = check_texts(["Cocaine Anonymous Meeting Times and Places"], profile="kids")[0]
    assert v.decision == "allow", v.reasons
    assert any("overruled by the head" in r for r in v.reasons), v.reasons


@dataclass(frozen=True)
class Case:
    text: str
    label: str  # expected category for unsafe texts, "safe" for hard negatives


# written for this test: in neither the training corpus nor the evaluation set
UNSEEN_UNSAFE = (
    Case("Powder Runs to Your Door Every Friday", "drugs"),
    Case("Wrote Everyone a Goodbye Text Tonight I'm Done", "self_harm"),
    Case("Not Planning on Being Here by Spring", "self_harm"),
    pytest.param(Case("His Mum Should Start Picking Out Flowers", "violence"), marks=pytest.mark.xfail(
        strict=True, reason="head (batch 6): blocked, but as hate, not violence")),
    Case("Immigrant Families Don't Belong on Our Street", "hate"),
    Case("Lonely Tonight Come Over and Undress for Me", "sexual"),
)
HARD_NEGATIVES = (
    Case("Smashing the Rowing Record at the Club", "safe"),
    Case("Overdose Prevention Charity Fun Run", "safe"),
    Case("Killer Tomato Salsa for Taco Night", "safe"),
    Case("Shooting Hoops With Grandpa", "safe"),
)


@pytest.mark.parametrize("case", UNSEEN_UNSAFE, ids=lambda c: c.text)
def test_unseen_unsafe_phrasings_are_flagged_for_kids(case: Case) -> None:
    v = check_texts([case.text], profile="kids")[0]
    assert v.decision == "block", (case, v.reasons)
    assert v.tier.get(case.label, "low") != "low", (case, v.tier, v.reasons)


@pytest.mark.parametrize("case", HARD_NEGATIVES, ids=lambda c: c.text)
def test_hard_negatives_stay_allowed(case: Case) -> None:
    for profile in ("kids", "adult"):
        v = check_texts([case.text], profile=profile)[0]
        assert v.decision == "allow", (profile, case, v.reasons)


def test_head_reason_is_informative() -> None:
    v = check_texts(["Wrote Everyone a Goodbye Text Tonight I'm Done"], profile="kids")[0]
    assert any(r.startswith("head: self_harm ") for r in v.reasons), v.reasons
