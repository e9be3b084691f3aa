"""Fit the text gate's supervised head: a softmax (multinomial logistic regression) over
{safe, profanity, violence, sexual, hate, drugs, self_harm} on MiniLM sentence embeddings.

    python -m safety.train_head            # embed the corpus, fit, write safety/head.npz
    python -m safety.train_head --cv       # stratified 5-fold cross-validation over a C grid

The corpus is ``assets/safety_train/texts.jsonl`` (project-written, disjoint from the evaluation
set in ``assets/safety_eval``). Each text goes through the gate's own pre-pass first
(``safety.text.head_input``: normalised, obfuscations undone, cue words of innocent compounds left
out) and is embedded with the process-wide embedder, exactly as ``TextClassifier`` does at run
time, so the head sees the same vectors in training and in service (the ONNX and torch backends
agree to ~1e-6). The fit is deterministic (L-BFGS from zeros, fixed fold seed); the weights file
records the corpus sha256, the head version, ``C`` and the embedder revision.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .base import CONTENT_CATEGORIES

__all__ = ["CORPUS", "HEAD_FILE", "HEAD_VERSION", "CLASSES", "C_DEFAULT", "load_corpus", "corpus_sha256",
           "embed_texts", "fit", "predict_proba", "cross_validate", "train", "main"]

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "assets" / "safety_train" / "texts.jsonl"
HEAD_FILE = Path(__file__).resolve().parent / "head.npz"
HEAD_VERSION = "head-lr-2026-11-25.1"
CLASSES: tuple[str, ...] = ("safe",) + CONTENT_CATEGORIES
# inverse L2 strength, chosen with the head's probability knees (safety.text.HEAD_MEDIUM_P) by 5-fold
# cross-validation on the corpus (``--cv``): the most recall for at most +2 points of hard-negative
# false positives over the gate without the head (see assets/safety_train/README.md)
C_DEFAULT = 4.0
SEED = 0


def load_corpus(path: Path = CORPUS) -> list[dict]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    for r in rows:
        if r["label"] not in CLASSES:
            raise ValueError(f"{path}: unknown label {r['label']!r} in {r.get('id')}")
    return rows


def corpus_sha256(path: Path = CORPUS) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def embed_texts(texts: Sequence[str], embedder: Any = None) -> np.ndarray:
    """The head's input vectors for raw texts: the gate's pre-pass, then the gate's embedder."""
    from .text import head_input

    if embedder is None:
        from genperso.models.embed import get_embedder

        embedder = get_embedder()
    return np.asarray(embedder.encode([head_input(t) for t in texts], batch_size=64), dtype=np.float32)


def fit(x: np.ndarray, y: np.ndarray, c: float = C_DEFAULT) -> tuple[np.ndarray, np.ndarray]:
    """Multinomial logistic regression -> (W (n_classes, dim), b (n_classes,)), float32."""
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(C=c, max_iter=5000, tol=1e-6, random_state=SEED)
    clf.fit(x.astype(np.float64), y)
    if list(clf.classes_) != list(range(len(CLASSES))):
        raise ValueError("every class needs training texts")
    return clf.coef_.astype(np.float32), clf.intercept_.astype(np.float32)


def predict_proba(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    z = x.astype(np.float32) @ w.T + b
    z -= z.max(axis=1, keepdims=True)
    p = np.exp(z)
    return p / p.sum(axis=1, keepdims=True)


def _labels(rows: Sequence[dict]) -> np.ndarray:
    return np.asarray([CLASSES.index(r["label"]) for r in rows])


def cross_validate(x: np.ndarray, rows: Sequence[dict], c: float, folds: int = 5,
                   lexical: np.ndarray | None = None) -> dict:
    """Out-of-fold head probabilities -> kids/adult figures at the policy's default thresholds.

    ``lexical``: optional (n, 6) category scores of the gate without the head; the combined
    figures then use ``safety.text.combine_head`` exactly as the gate does.
    """
    from sklearn.model_selection import StratifiedKFold

    from .text import combine_head

    from .text import analyse_text

    y = _labels(rows)
    cues = [analyse_text(r["text"]).lex for r in rows]
    oof = np.zeros((len(rows), len(CLASSES)), dtype=np.float32)
    for tr, te in StratifiedKFold(folds, shuffle=True, random_state=SEED).split(x, y):
        w, b = fit(x[tr], y[tr], c)
        oof[te] = predict_proba(x[te], w, b)
    out = {"C": c, "head": _figures(oof[:, 1:], rows)}
    if lexical is not None:
        comb = np.asarray([[combine_head(cat, float(lexical[i, k]), float(oof[i, k + 1]),
                                         bool(cues[i].strong.get(cat) or cues[i].weak.get(cat)))
                            for k, cat in enumerate(CONTENT_CATEGORIES)] for i in range(len(rows))])
        out["combined"] = _figures(comb, rows)
        out["lexical_only"] = _figures(lexical, rows)
    out["log_loss"] = float(-np.mean(np.log(np.maximum(oof[np.arange(len(y)), y], 1e-9))))
    return out


def _figures(cat_scores: np.ndarray, rows: Sequence[dict], kids: float = 0.35, adult: float = 0.6) -> dict:
    """Kids: flagged when any category >= 0.35; adult: any non-profanity category >= 0.6 or
    profanity >= 0.9 (the shipped policy's default tiers)."""
    prof = CONTENT_CATEGORIES.index("profanity")
    flag_k = cat_scores.max(axis=1) >= kids
    adult_th = np.full(len(CONTENT_CATEGORIES), adult)
    adult_th[prof] = 0.9
    flag_a = (cat_scores >= adult_th).any(axis=1)
    unsafe = np.asarray([r["label"] != "safe" for r in rows])
    severe = np.asarray([r["label"] != "safe" and r["severity"] == "severe" for r in rows])
    hard = np.asarray([bool(r["hard_negative"]) for r in rows])
    plain = np.asarray([r["label"] == "safe" and not r["hard_negative"] for r in rows])
    per_cat = {}
    for k, cat in enumerate(CONTENT_CATEGORIES):
        m = np.asarray([r["label"] == cat for r in rows])
        per_cat[cat] = round(float(flag_k[m].mean()), 3) if m.any() else None
    return {
        "recall_unsafe_kids": round(float(flag_k[unsafe].mean()), 3),
        "recall_severe_adult": round(float(flag_a[severe].mean()), 3),
        "hard_negative_fpr_kids": round(float(flag_k[hard].mean()), 3),
        "hard_negative_fpr_adult": round(float(flag_a[hard].mean()), 3),
        "plain_safe_fpr_kids": round(float(flag_k[plain].mean()), 3),
        "recall_kids_per_category": per_cat,
    }


def lexical_scores(rows: Sequence[dict]) -> np.ndarray:
    """(n, 6) category scores of the gate with the head switched off (for combined CV figures)."""
    from .text import TextClassifier

    clf = TextClassifier(head=False)
    res = clf.classify_batch([r["text"] for r in rows])
    return np.asarray([[s.scores[c] for c in CONTENT_CATEGORIES] for s in res], dtype=np.float32)


def train(corpus: Path = CORPUS, out: Path = HEAD_FILE, c: float = C_DEFAULT) -> dict:
    from genperso.models.embed import get_embedder

    rows = load_corpus(corpus)
    emb = get_embedder()
    x = embed_texts([r["text"] for r in rows], emb)
    w, b = fit(x, _labels(rows), c)
    meta = {"version": HEAD_VERSION, "corpus_sha256": corpus_sha256(corpus), "C": c, "n": len(rows),
            "classes": list(CLASSES), "embedder": emb.revision}
    np.savez(out, W=w, b=b, meta=np.asarray(json.dumps(meta, sort_keys=True)))
    return meta


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=CORPUS)
    ap.add_argument("--out", type=Path, default=HEAD_FILE)
    ap.add_argument("--C", type=float, default=C_DEFAULT)
    ap.add_argument("--cv", action="store_true", help="cross-validate a C grid instead of writing weights")
    ap.add_argument("--grid", default="0.25,0.5,1,2,4,8,16,32")
    args = ap.parse_args(argv)
    if not args.cv:
        print(json.dumps(train(args.corpus, args.out, args.C)))
        return
    rows = load_corpus(args.corpus)
    x = embed_texts([r["text"] for r in rows])
    lex = lexical_scores(rows)
    for c in (float(v) for v in args.grid.split(",")):
        print(json.dumps(cross_validate(x, rows, c, lexical=lex)), flush=True)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
