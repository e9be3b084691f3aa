"""Text safety: lexical pre-pass + alt-profanity-check + MiniLM zero-shot category scores.

1. ``normalise`` undoes obfuscations; ``scan`` finds strong terms and weak cues per category
   (``lexicon`` + the slang, euphemisms and phrase patterns of ``slang``; cue words inside
   innocent compounds such as "drug store" are no cue and are left out of the embedded text).
2. ``alt-profanity-check`` (linear SVM) scores profanity, but only where the text has a
   profanity cue: on its own it fires on words like "kill" ("Kill It At The Gym" -> 0.87).
3. MiniLM embeds the de-obfuscated text; cosine similarity to each category's anchors
   (description + exemplars, ``exemplars.toml``) and to benign anchors (idioms such as "killing
   time", "shot at the title") gives a softmax over {safe, categories}. A weak cue alone never
   flags a text: the semantic score decides ("Shoot for the Stars" vs "shoot the cops").
4. Category score: strong term -> at least ``STRONG``; weak cue -> semantic; no cue -> damped
   semantic behind a higher similarity gate and near-tie with the benign anchors (or skipped
   entirely with ``semantic = "cued"`` in the policy, for throughput).
5. A supervised head (``safety/head.npz``) gives a softmax over {safe, categories}. Its encoder is
   MiniLM fine-tuned for the task: low-rank (LoRA) updates of the top layers, trained with the head
   on the project-written corpus ``assets/safety_train`` (``python -m safety.finetune``; the
   updates ship as ``safety/adapter.npz`` and are merged into the weights once per machine by
   ``safety.encoder``, so the gate still runs one MiniLM pass per text). Its probability for a
   category is one more score for that category (``combine_head``: the larger of the two; for
   profanity, where mild swearing must stay acceptable for adults and the lexicon is the
   authority, the head alone is capped at ``WEAK_PROFANITY_CAP``). It catches unsafe texts whose
   meaning is far from every anchor and that carry no cue (dealer slang, indirect threats,
   exclusion, indirect self-harm). Head evidence for a category with no lexical cue is discounted
   by ``NO_CUE_DAMP``, as the zero-shot scorer's is.
6. When the head is sure a text is safe (``vetoed``: "Cocaine Anonymous Meeting Schedule", "blue
   tits at the feeder", "Spotted Dick pudding"), it overrules the category's lexical and zero-shot
   evidence, except the strong terms of hate (slurs, which the corpus never spells out) and of
   self-harm (methods).

With the fine-tuned head the zero-shot scorer of step 3 is off (``ZERO_SHOT_WITH_ADAPTER``):
cross-validation shows it adds false positives faster than recall. It remains the scorer of the
gate on the stock encoder (``TextClassifier(head=False)``, or a head fit by
``python -m safety.train_head`` on stock vectors). The constants of steps 5 and 6 were chosen by
5-fold cross-validation on the training corpus, except the head's knees (``HEAD_MEDIUM_P``,
``HEAD_HIGH_P``), chosen on evaluation rounds 4-15 as validation data; rounds 16 and later are the
held-out test (``assets/safety_eval/README.md``).
"""

from __future__ import annotations

import functools
import json
import threading
import tomllib
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .base import CONTENT_CATEGORIES, Classifier, Scores, register
from .lexicon import LexHit, scan
from .multilingual import FOREIGN_STRONG, MILD
from .normalize import Normalised, normalise
from .policy import Rules

__all__ = ["TextClassifier", "TextAnalysis", "analyse_text", "rule_scores", "EXEMPLARS_FILE", "HEAD_FILE", "Head",
           "load_head", "head_input", "head_score", "combine_head", "combine_scores", "semantic_scores",
           "profanity_check_probs"]

EXEMPLARS_FILE = Path(__file__).resolve().parent / "exemplars.toml"
HEAD_FILE = Path(__file__).resolve().parent / "head.npz"
STRONG = 0.93  # score floor for an unambiguous term (>= every category's "floor" threshold)
WEAK_PROFANITY_CAP = 0.55  # mild swearing ("damn", "hell") alone stays medium risk
NO_CUE_DAMP = 0.85  # semantic-only evidence (no lexical cue at all) is discounted
TEMPERATURE = 0.035  # softmax temperature over mean top-k cosine similarities
TOP_K = 2
# absolute similarity gate: a softmax over anchors is confident even when nothing is similar
# ("Night Ride" is closer to the sexual anchors than to the benign ones, at cosine 0.40); the
# category similarity must clear ``lo`` (weak cue / no cue) and is ramped in over RAMP.
GATE_LO_CUED = 0.20
# 0.34 -> 0.26 once the lexicon's slang and patterns took over the cued cases: unsafe texts with no
# cue word at all ("carving lines into my skin") sit at 0.26-0.34 from their nearest anchors; on the
# dev split the hard-negative FPR did not move, on random benign playlist names 0.5% are flagged
GATE_LO_UNCUED = 0.26
# a category whose only cue sat inside an innocent compound ("drug store", "strip mall") keeps the
# stricter gate: the compound's words pull the embedding towards the category
GATE_LO_INNOCENT = 0.34
# with no cue of its own, a category must also come close to the benign anchors: its similarity
# may trail them by at most UNCUED_LEAD before it counts, ramped in over AMBIGUOUS_MARGIN ("Night
# Ride" is nearest to a sexual anchor but barely above the benign ones). Fit on the dev split.
UNCUED_LEAD = 0.02
GATE_RAMP = 0.10
# a category cued only by words whose innocent sense dominates ("party", "shots", "bridge";
# ``lexicon.AMBIGUOUS``) needs its anchors to beat the benign ones: a tie ("Jump Around Party
# Starters": drugs 0.37 vs safe 0.37) is no evidence. Its score is scaled by the cosine lead over
# the benign anchors, ramped in over AMBIGUOUS_MARGIN (fit on the dev split; the lead only damps,
# so a clear lead keeps the full score and adult review/block tiers are unaffected).
AMBIGUOUS_MARGIN = 0.05
# the supervised head's probability that reaches the medium (kids: block) and the high (adult:
# review) tier. Chosen on evaluation rounds 4-15 as validation data (the sweep is
# ``python bench/safety.py --knees 4,5,6,7,8,9,10,11,12,13,14,15``), never on later rounds (16 and
# later are held out), by a rule fixed before the sweep: the pair with the most recall whose kids
# hard-negative FPR and plain-safe FPR both stay <= 0.040 (a point of margin under the 5 % target),
# over two training seeds (seed 1: 0.80/0.85 qualified, 0.972 recall; the shipped head is seed 2).
# Rounds 4-15, n = 2,611, veto on:
#   knees      kids recall  adult severe  hard-neg FPR kids  plain-safe FPR kids
#   0.90/0.93  0.964        0.952         0.024              0.000
#   0.80/0.85  0.975        0.964         0.029              0.006
#   0.70/0.75  0.979        0.972         0.031              0.008
#   0.60/0.65  0.984        0.974         0.036              0.008
#   0.50/0.60  0.990        0.975         0.040              0.017
#   0.45/0.55  0.991        0.977         0.045              0.017
#   0.35/0.47  0.991        0.981         0.051              0.017
# (rounds 6-15 flatter recall: their misses steered training batches 3-6 or lexicon changes; see
# assets/safety_train/README.md and assets/safety_eval/README.md).
HEAD_MEDIUM_P = 0.50
HEAD_HIGH_P = 0.60
# the zero-shot anchor scorer alongside the fine-tuned head (that cross-validation, no veto): at
# knees 0.60/0.65 it lifts kids recall 0.814 -> 0.850 but hard-negative FPR 0.096 -> 0.133; the head
# alone reaches that recall at lower FPR (0.853 at 0.105 with knees 0.50/0.60)
ZERO_SHOT_WITH_ADAPTER = False
# the head overrules a category's lexical/zero-shot evidence when it gives the text "safe" at least
# HEAD_VETO_SAFE_P and the category at most HEAD_VETO_P: the score is capped at HEAD_VETO_CAP
# (below every profile's block threshold). None: no veto. That cross-validation, knees 0.50/0.60:
# hard-negative FPR kids 0.105 -> 0.082, adult 0.070 -> 0.053, for kids recall 0.853 -> 0.844
# (on the earlier 3,504-text corpus, 0.90 vs 0.97 for "safe" and 0.02 vs 0.05 for the category
# differed by < 0.5 point)
HEAD_VETO_SAFE_P: float | None = 0.97
HEAD_VETO_P = 0.02
HEAD_VETO_CAP = 0.3
VETO_EXEMPT = ("hate", "self_harm")
# strong terms of those categories that name the topic rather than a method or an intent: awareness,
# health and band titles use them ("Spotting Self-Harm Signs", "Suicidal Tendencies"), so the head
# may overrule them like any other category's
TOPIC_TERMS = frozenset(("self harm", "self-harm", "selfharm", "suicidal"))


@dataclass(frozen=True)
class TextAnalysis:
    norm: Normalised
    lex: LexHit


def analyse_text(text: str) -> TextAnalysis:
    norm = normalise(text)
    return TextAnalysis(norm, scan(norm))


def head_input(text: str) -> str:
    """The text the embedder (and so the head) sees: normalised, masks resolved, innocent-compound
    cue words left out."""
    return analyse_text(text).lex.resolved_text or text


def profanity_check_probs(analyses: Sequence[TextAnalysis], predict_prob: Any = None) -> np.ndarray:
    """alt-profanity-check's probability for each text with a profanity cue (0 for the others: the
    model is only asked where the lexicon saw swearing)."""
    if predict_prob is None:
        from profanity_check import predict_prob
    pc = np.zeros(len(analyses), dtype=np.float32)
    idx = [i for i, a in enumerate(analyses) if "profanity" in a.lex.strong or "profanity" in a.lex.weak]
    if idx:
        pc[idx] = predict_prob([analyses[i].lex.resolved_text for i in idx])
    return pc


def head_score(category: str, head_p: float) -> float:
    """The head's probability for a category -> a score on the policy's scale: piecewise linear
    through (HEAD_MEDIUM_P, 0.35) and (HEAD_HIGH_P, 0.6) (the default medium and high thresholds);
    profanity capped at ``WEAK_PROFANITY_CAP`` (the head does not tell mild from severe swearing)."""
    s = float(np.interp(head_p, (0.0, HEAD_MEDIUM_P, HEAD_HIGH_P, 1.0), (0.0, 0.35, 0.6, 1.0)))
    return min(s, WEAK_PROFANITY_CAP) if category == "profanity" else s


def combine_head(category: str, score: float, head_p: float, cued: bool = True) -> float:
    """A category's score given the other signals' ``score`` and the head's probability; with no
    lexical cue of the category (``cued`` false) the head's evidence is discounted by
    ``NO_CUE_DAMP`` like the zero-shot scorer's."""
    h = head_score(category, head_p)
    return max(score, h if cued else h * NO_CUE_DAMP)


def vetoed(category: str, head_safe: float, head_p: float, strong: bool, foreign: bool = False) -> bool:
    """Whether the fine-tuned head is sure enough that a text is safe to overrule a category's
    lexical and zero-shot evidence ("Cocaine Anonymous Meeting Schedule", "blue tits at the
    feeder"). ``strong``: the category has a strong term other than the topic names of
    ``TOPIC_TERMS``; the head may never overrule such a term of ``VETO_EXEMPT``: hate's are slurs,
    which the head never saw (the training corpus spells none out), and self-harm's name methods
    ("leap from the balcony"), where a confident head has been seen to be wrong. Nor may it overrule
    any term of another language (``foreign``: a strong term of any category,
    ``multilingual.FOREIGN_STRONG``, or a ``multilingual.MILD`` swear word), which a head trained on
    English text cannot judge."""
    if HEAD_VETO_SAFE_P is None or (strong and category in VETO_EXEMPT) or foreign:
        return False
    return head_safe >= HEAD_VETO_SAFE_P and head_p <= HEAD_VETO_P


@dataclass(frozen=True)
class Head:
    w: np.ndarray  # (n_classes, dim)
    b: np.ndarray  # (n_classes,)
    classes: tuple[str, ...]
    version: str
    corpus_sha256: str
    encoder: str = "stock"  # "stock" MiniLM or "adapter@<fingerprint>" (safety/adapter.npz merged in)

    def proba(self, vecs: np.ndarray) -> np.ndarray:
        """(n, dim) unit vectors -> (n, n_classes) probabilities over ``classes``."""
        z = vecs.astype(np.float32) @ self.w.T + self.b
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        return p / p.sum(axis=1, keepdims=True)


@functools.lru_cache(maxsize=4)
def load_head(path: Path = HEAD_FILE) -> Head:
    """The shipped head weights, read once per process."""
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(str(z["meta"]))
        head = Head(np.ascontiguousarray(z["W"], dtype=np.float32), np.asarray(z["b"], dtype=np.float32),
                    tuple(meta["classes"]), str(meta["version"]), str(meta["corpus_sha256"]),
                    str(meta.get("encoder", "stock")))
    if head.classes != ("safe",) + CONTENT_CATEGORIES:
        raise ValueError(f"{path}: head classes {head.classes} do not match the gate's categories")
    return head


def _contains(term: str, padded: str, words: frozenset[str]) -> bool:
    return f" {term} " in padded if " " in term else term in words


def rule_scores(texts: Sequence[str], rules: Sequence[Rules], *, require: bool = True) -> list[Scores]:
    """Brand/title rules -> a ``brand`` score: blocked term or competitor 1.0, missing required 0.6."""
    out: list[Scores] = []
    for text in texts:
        a = analyse_text(text)
        padded = f" {a.norm.text} "
        squashed = a.norm.text.replace(" ", "")
        words = frozenset(a.norm.words)
        score = 0.0
        reasons: list[str] = []
        for r in rules:
            for term in r.blocked_terms:
                if _contains(term, padded, words):
                    score = 1.0
                    reasons.append(f"brand rule: blocked term {term!r}")
            for term in r.competitors:
                if _contains(term, padded, words) or term.replace(" ", "") in squashed:
                    score = 1.0
                    reasons.append(f"brand rule: competitor name {term!r}")
            if require and r.required_terms and not any(
                _contains(t, padded, words) or t.replace(" ", "") in squashed for t in r.required_terms
            ):
                score = max(score, 0.6)
                reasons.append(f"brand rule: none of the required terms {list(r.required_terms)} present")
        out.append(Scores({"brand": score}, tuple(reasons)))
    return out


def _unit(x: float) -> float:
    return 0.0 if x < 0.0 else 1.0 if x > 1.0 else x


def _softmax(cls_scores: np.ndarray) -> np.ndarray:
    """Softmax over {safe, categories} of mean top-k similarities."""
    z = cls_scores.astype(np.float64)
    z = (z - z.max(axis=1, keepdims=True)) / TEMPERATURE
    p = np.exp(z)
    return (p / p.sum(axis=1, keepdims=True)).astype(np.float32)


def semantic_scores(vecs: np.ndarray, anchors: np.ndarray, owners: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors (n, dim) and anchor vectors owned by class index ``owners`` -> (softmax over
    {safe, categories}, mean top-k cosine per class), (n, n_classes) each."""
    sims = vecs @ anchors.T  # (n, n_anchors)
    n_cls = int(owners.max()) + 1
    cls_scores = np.empty((len(vecs), n_cls), dtype=np.float32)
    for ci in range(n_cls):
        s = sims[:, owners == ci]
        k = min(TOP_K, s.shape[1])
        cls_scores[:, ci] = np.sort(s, axis=1)[:, -k:].mean(axis=1)
    return _softmax(cls_scores), cls_scores


class _Anchors:
    def __init__(self, path: Path) -> None:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        self.version = str(data["version"])
        self.classes: tuple[str, ...] = ("safe",) + CONTENT_CATEGORIES
        texts: list[str] = []
        owners: list[int] = []
        for ci, cls in enumerate(self.classes):
            entry = data[cls]
            for t in [entry["description"], *entry["exemplars"]]:
                texts.append(t)
                owners.append(ci)
        self.texts = texts
        self.owners = np.asarray(owners)
        self.matrix: np.ndarray | None = None

    def ensure(self, embed: Any) -> np.ndarray:
        if self.matrix is None:
            self.matrix = np.asarray(embed(self.texts), dtype=np.float32)
        return self.matrix


@register
class TextClassifier(Classifier):
    name = "text"
    modalities = ("text",)
    version = "text-lex+pc+minilm-lora+head-2026-11-24.19"

    def __init__(self, *, head: bool = True, zero_shot: bool | None = None) -> None:
        from genperso.models.embed import get_embedder

        from profanity_check import predict_prob  # noqa: F401  (fail early if missing)

        self._predict_prob = predict_prob
        self._anchors = _Anchors(EXEMPLARS_FILE)
        self._head = load_head() if head else None
        if self._head is not None and self._head.encoder.startswith("adapter@"):
            from .encoder import adapter_fingerprint, get_safety_embedder

            found = adapter_fingerprint()
            if self._head.encoder != f"adapter@{found}":
                raise ValueError(f"{HEAD_FILE}: head fit for encoder {self._head.encoder}, but the shipped adapter is "
                                 f"{found}: run python -m safety.finetune")
            self._embedder = get_safety_embedder()
        else:
            self._embedder = get_embedder()
        # the zero-shot anchor scorer: on by default on the stock encoder (the gate without the
        # fine-tuned head), off on the adapted one, where cross-validation shows it adds false
        # positives faster than recall (see ZERO_SHOT_WITH_ADAPTER)
        adapted = self._embedder is not get_embedder()
        self.zero_shot = (ZERO_SHOT_WITH_ADAPTER if adapted else True) if zero_shot is None else zero_shot
        self._lock = threading.Lock()
        try:
            pc_version = metadata.version("alt-profanity-check")
        except metadata.PackageNotFoundError:  # pragma: no cover
            pc_version = "unknown"
        self.models = {
            "text": self.version,
            "alt-profanity-check": pc_version,
            "minilm": self._embedder.revision,
        }
        if self.zero_shot:
            self.models["exemplars"] = self._anchors.version
        if self._head is not None:
            self.models["head"] = f"{self._head.version}@{self._head.corpus_sha256[:12]}"

    def model_version(self) -> str:
        return self.version

    def classify(self, artifact: Any) -> Scores:
        return self.classify_batch([artifact])[0]

    def semantic(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(softmax probabilities over {safe, categories}, mean top-k cosine per class), (n, 7) each."""
        sem, sim, _ = self._semantic(texts)
        return sem, sim

    def _semantic(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``semantic`` plus the head's probabilities over {safe, categories} (zeros without a head)."""
        n_cls = 1 + len(CONTENT_CATEGORIES)
        if not texts:
            z = np.zeros((0, n_cls), dtype=np.float32)
            return z, z, z
        vecs = self._embedder.encode(list(texts), batch_size=64)
        head = self._head.proba(vecs) if self._head is not None else np.zeros((len(texts), n_cls), np.float32)
        if not self.zero_shot:
            z = np.zeros((len(texts), n_cls), dtype=np.float32)
            return z, z, head
        with self._lock:
            anchors = self._anchors.ensure(self._embedder.encode)
        sem, sim = semantic_scores(vecs, anchors, self._anchors.owners)
        return sem, sim, head

    def classify_batch(self, artifacts: list[Any], *, semantic_mode: str = "all") -> list[Scores]:
        texts = [a if isinstance(a, str) else str(a) for a in artifacts]
        analyses = [analyse_text(t) for t in texts]
        pc = profanity_check_probs(analyses, self._predict_prob)
        sem_idx = [i for i, a in enumerate(analyses) if semantic_mode == "all" or a.lex.cued]
        sem = np.zeros((len(texts), 1 + len(CONTENT_CATEGORIES)), dtype=np.float32)
        sim = np.zeros_like(sem)
        head = np.zeros_like(sem)
        if sem_idx:
            inputs = [analyses[i].lex.resolved_text or texts[i] for i in sem_idx]
            sem[sem_idx], sim[sem_idx], head[sem_idx] = self._semantic(inputs)
            # a text the encoder cannot read at all (emoji only, a script outside its vocabulary) is
            # nothing but unknown tokens, on which the head's output is noise ("🔥" came out as hate
            # 1.00): no head evidence for it
            for row, i in enumerate(sem_idx):
                if not any(ch.isascii() and ch.isalnum() for ch in inputs[row]) and self._unreadable(inputs[row]):
                    sem[i] = sim[i] = head[i] = 0.0
        sem_set = set(sem_idx)
        return [self._combine(a, sem[i], sim[i], float(pc[i]), i in sem_set, head[i]) for i, a in enumerate(analyses)]

    def _unreadable(self, text: str) -> bool:
        """Whether the encoder's tokenizer reads ``text`` as unknown tokens only (or nothing)."""
        tok = getattr(self._embedder, "tokenizer", None)
        if tok is None:
            return False
        ids = tok([text], add_special_tokens=False)["input_ids"][0]
        return all(t == tok.unk_token_id for t in ids)

    def _combine(self, a: TextAnalysis, sem: np.ndarray, sim: np.ndarray, pc: float, had_semantic: bool,
                 head: np.ndarray | None = None) -> Scores:
        return combine_scores(a, sem, sim, pc, had_semantic, head)


def combine_scores(a: TextAnalysis, sem: np.ndarray, sim: np.ndarray, pc: float, had_semantic: bool,
                   head: np.ndarray | None = None) -> Scores:
    """One text's category scores from its lexical analysis, zero-shot softmax ``sem`` and class
    similarities ``sim`` (over {safe, categories}), the profanity-check probability ``pc`` and the
    head's probabilities."""
    scores: dict[str, float] = {}
    reasons: list[str] = []
    if a.norm.obfuscated and a.lex.cued:
        reasons.append("obfuscation undone: " + " ".join(a.norm.words + a.norm.masks)[:80])
    if not had_semantic:
        reasons.append("semantic scorer skipped (no lexical cue; policy text.semantic = cued)")
    for ci, cat in enumerate(CONTENT_CATEGORIES, start=1):
        strong = a.lex.strong.get(cat)
        weak = a.lex.weak.get(cat)
        # the absolute gate is lowered only by a cue of this category (a profanity cue such
        # as "damn" says nothing about drugs)
        lo = GATE_LO_CUED if strong or weak else GATE_LO_INNOCENT if cat in a.lex.innocent else GATE_LO_UNCUED
        s = float(sem[ci]) * _unit((float(sim[ci]) - lo) / GATE_RAMP)
        if a.lex.only_ambiguous(cat):
            s *= _unit((float(sim[ci]) - float(sim[0])) / AMBIGUOUS_MARGIN)
        elif not (strong or weak):
            s *= _unit((float(sim[ci]) - float(sim[0]) + UNCUED_LEAD) / AMBIGUOUS_MARGIN)
        if strong:
            score = max(STRONG + 0.02 * (len(strong) - 1), s)
            reasons.append(f"{cat}: term {', '.join(repr(t) for t in strong[:3])}")
        elif weak:
            score = s
            if cat == "profanity":
                score = max(s, min(WEAK_PROFANITY_CAP, pc))
                if any(t in MILD for t in weak):  # "verdammt", "carajo": mild whatever the context
                    score = max(score, WEAK_PROFANITY_CAP)
            if score >= 0.35:
                reasons.append(f"{cat}: {', '.join(repr(t) for t in weak[:3])} in a {cat} context ({score:.2f})")
        else:
            score = s * NO_CUE_DAMP
            if score >= 0.35:
                reasons.append(f"{cat}: semantic similarity ({score:.2f})")
        if cat == "profanity" and (strong or weak) and pc >= 0.5:
            reasons.append(f"alt-profanity-check {pc:.2f}")
        foreign = any(t in FOREIGN_STRONG for t in strong or ()) or any(t in MILD for t in weak or ())
        exempt = bool(strong) and any(t not in TOPIC_TERMS for t in strong)
        if head is not None and vetoed(cat, head[0], head[ci], exempt, foreign) and score > HEAD_VETO_CAP:
            score = HEAD_VETO_CAP
            reasons.append(f"{cat}: cue overruled by the head (safe {float(head[0]):.2f}, {cat} {float(head[ci]):.2f})")
        if head is not None:
            combined = combine_head(cat, score, float(head[ci]), bool(strong or weak))
            if combined > score and combined >= 0.35:
                reasons.append(f"head: {cat} {float(head[ci]):.2f}")
            score = combined
        scores[cat] = float(min(1.0, score))
    return Scores(scores, tuple(reasons))
