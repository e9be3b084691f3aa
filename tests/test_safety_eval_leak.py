"""The text gate's anchors must not leak the held-out half of the safety evaluation set.

``bench/safety.py`` reports the ``test`` split; an anchor sentence that contains a ``test`` text (or
is contained in one) would make that figure a memory test rather than a generalisation test.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EVAL = ROOT / "assets" / "safety_eval" / "texts.jsonl"
ANCHORS = ROOT / "safety" / "exemplars.toml"


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[^a-z0-9 ]+", "", text.lower())).strip()


def _anchor_sentences() -> list[str]:
    data = tomllib.loads(ANCHORS.read_text(encoding="utf-8"))
    out: list[str] = []
    for value in data.values():
        if isinstance(value, dict):
            out.extend(str(s) for s in value.get("exemplars", []))
            if isinstance(value.get("description"), str):
                out.append(value["description"])
    return out


def test_anchor_file_has_sentences() -> None:
    assert len(_anchor_sentences()) > 50


def test_no_anchor_overlaps_a_test_split_text() -> None:
    rows = [json.loads(line) for line in EVAL.read_text(encoding="utf-8").splitlines() if line.strip()]
    held_out = [_norm(r["text"]) for r in rows if r["split"] == "test"]
    assert held_out
    leaks = []
    for anchor in _anchor_sentences():
        a = _norm(anchor)
        leaks.extend((anchor, t) for t in held_out if len(t) >= 8 and len(a) >= 8 and (t in a or a in t))
    assert not leaks, f"anchors overlapping test-split texts: {leaks}"


TRAIN = ROOT / "assets" / "safety_train" / "texts.jsonl"


def test_training_corpus_is_disjoint_from_every_eval_text() -> None:
    """The head's training corpus must not contain (or be contained in) any evaluation text, any split."""
    rows = [json.loads(line) for line in EVAL.read_text(encoding="utf-8").splitlines() if line.strip()]
    train = [json.loads(line) for line in TRAIN.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(train) >= 1500
    evals = [_norm(r["text"]) for r in rows]
    leaks = []
    for r in train:
        a = _norm(r["text"])
        leaks.extend((r["text"], t) for t in evals if a == t or (len(t) >= 8 and len(a) >= 8 and (t in a or a in t)))
    assert not leaks, f"training texts overlapping evaluation texts: {leaks[:20]}"
