"""Fine-tune the text gate's encoder: low-rank (LoRA) adapters on MiniLM plus the softmax head.

    python -m safety.finetune              # train on the corpus, write safety/adapter.npz + head.npz
    python -m safety.finetune --cv         # stratified 5-fold cross-validation (gate figures)

A linear head on frozen MiniLM sentence vectors (``safety.train_head``) cannot move the vectors
themselves: "Sex on the Beach cocktail hour" and an explicit line sit close together because
they share words. Here the encoder learns too. Each attention projection and feed-forward matrix
``W`` of the six layers gets a trainable low-rank update ``W + (alpha / r) * B @ A`` (rank ``r``;
``B`` starts at zero, so training starts from the stock model), trained jointly with the head
(initialised from the logistic-regression fit on the stock vectors) by cross-entropy over
{safe, categories} on the gate's own pre-pass of each text (``safety.text.head_input``).

The update is merged into the weights for service (``safety.encoder``): the gate then runs one
MiniLM pass per text, as before, through the same ONNX path. Only the low-rank factors and the
head are shipped (``safety/adapter.npz``, about 1 MB). Training is deterministic on CPU (fixed
seeds, fixed batch order, one thread).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .base import CONTENT_CATEGORIES
from .train_head import CLASSES, CORPUS, HEAD_FILE, corpus_sha256, load_corpus, predict_proba

__all__ = ["ADAPTER_FILE", "ADAPTER_VERSION", "TARGETS", "FRAMES", "FinetuneConfig", "Adapter", "framed_rows",
           "train_adapter", "load_adapter", "save_adapter", "merged_state", "cross_validate", "KNEES", "knee_figures",
           "main"]

ADAPTER_FILE = Path(__file__).resolve().parent / "adapter.npz"
ADAPTER_VERSION = "lora-2026-11-24.4"
# the linear maps of each BERT layer that get a low-rank update
TARGETS = ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense",
           "intermediate.dense", "output.dense")
MAX_LEN = 48  # texts are <= 80 characters; 48 word pieces cover them with room


@dataclass(frozen=True)
class FinetuneConfig:
    rank: int = 8
    layers: int = 3  # the top ``layers`` of the six get adapters; the rest run once, frozen (cached)
    alpha: float = 16.0
    dropout: float = 0.1
    epochs: int = 8
    batch_size: int = 32
    lr: float = 1e-3  # adapters
    head_lr: float = 3e-3
    weight_decay: float = 0.01
    head_c: float = 4.0  # the initial head: logistic regression on the stock vectors
    label_smoothing: float = 0.0
    seed: int = 2  # the shipped weights; seed 1 trained too and was not chosen (see text.HEAD_MEDIUM_P)
    frame_rate: float = 0.5  # share of texts that also train in a playlist framing (``framed_rows``)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Adapter:
    """Low-rank factors per target matrix (``encoder.layer.N.<target>`` -> (A (r, in), B (out, r)))
    plus the softmax head over {safe, categories} that reads the adapted encoder's unit vectors."""

    factors: dict[str, tuple[np.ndarray, np.ndarray]]
    scale: float
    head_w: np.ndarray
    head_b: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def fingerprint(self) -> str:
        h = hashlib.sha256()
        for name in sorted(self.factors):
            a, b = self.factors[name]
            h.update(name.encode())
            h.update(np.ascontiguousarray(a, dtype=np.float32).tobytes())
            h.update(np.ascontiguousarray(b, dtype=np.float32).tobytes())
        h.update(str(self.scale).encode())
        return h.hexdigest()[:16]


def save_adapter(adapter: Adapter, path: Path = ADAPTER_FILE) -> None:
    arrays: dict[str, np.ndarray] = {}
    for i, (name, (a, b)) in enumerate(sorted(adapter.factors.items())):
        arrays[f"A{i}"] = a.astype(np.float32)
        arrays[f"B{i}"] = b.astype(np.float32)
    meta = dict(adapter.meta, names=sorted(adapter.factors), scale=adapter.scale)
    np.savez_compressed(path, W=adapter.head_w.astype(np.float32), b=adapter.head_b.astype(np.float32),
                        meta=np.asarray(json.dumps(meta, sort_keys=True)), **arrays)


def load_adapter(path: Path = ADAPTER_FILE) -> Adapter:
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(str(z["meta"]))
        factors = {name: (np.asarray(z[f"A{i}"]), np.asarray(z[f"B{i}"])) for i, name in enumerate(meta["names"])}
        return Adapter(factors, float(meta["scale"]), np.asarray(z["W"]), np.asarray(z["b"]), meta)


def merged_state(state: dict[str, Any], adapter: Adapter) -> dict[str, Any]:
    """Base weights (name -> array, ``encoder.layer.N.<target>.weight`` keys, with or without a
    model prefix) with the adapter's updates added: ``W + scale * B @ A``."""
    out = dict(state)
    for name, (a, b) in adapter.factors.items():
        keys = [k for k in state if k.endswith(f"{name}.weight")]
        if len(keys) != 1:
            raise ValueError(f"adapter target {name!r} matches {len(keys)} weights in the base model")
        w = np.asarray(state[keys[0]], dtype=np.float32)
        delta = adapter.scale * (b.astype(np.float32) @ a.astype(np.float32))
        if delta.shape != w.shape:
            raise ValueError(f"adapter target {name!r}: update {delta.shape} vs weight {w.shape}")
        out[keys[0]] = (w + delta).astype(np.float32)
    return out


# --- training (torch) -------------------------------------------------------------------------


def _lora_model(model_dir: Path, cfg: FinetuneConfig) -> tuple[Any, dict[str, Any]]:
    import torch
    from transformers import AutoModel

    class LoRALinear(torch.nn.Module):
        def __init__(self, base: torch.nn.Linear, gen: torch.Generator) -> None:
            super().__init__()
            self.base = base
            self.a = torch.nn.Parameter(torch.randn(cfg.rank, base.in_features, generator=gen) / base.in_features ** 0.5)
            self.b = torch.nn.Parameter(torch.zeros(base.out_features, cfg.rank))
            self.drop = torch.nn.Dropout(cfg.dropout)
            self.scale = cfg.alpha / cfg.rank

        def forward(self, x: Any) -> Any:
            return self.base(x) + (self.drop(x) @ self.a.T @ self.b.T) * self.scale

    model = AutoModel.from_pretrained(str(model_dir), local_files_only=True).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    gen = torch.Generator().manual_seed(cfg.seed)
    wrapped: dict[str, Any] = {}
    n_layers = len(model.encoder.layer)
    if not 1 <= cfg.layers <= n_layers:
        raise ValueError(f"layers must be 1..{n_layers}, got {cfg.layers}")
    for li in range(n_layers - cfg.layers, n_layers):
        layer = model.encoder.layer[li]
        for target in TARGETS:
            parent_path, attr = target.rsplit(".", 1)
            parent = layer.get_submodule(parent_path)
            lora = LoRALinear(getattr(parent, attr), gen)
            setattr(parent, attr, lora)
            wrapped[f"encoder.layer.{li}.{target}"] = lora
    return model, wrapped


class _Cached:
    """The frozen bottom of the encoder run once per text: hidden states after layer ``start``
    (unpadded, one (len, dim) array per text); batches are padded from them."""

    def __init__(self, model: Any, tok: Any, texts: Sequence[str], start: int, batch_size: int = 128) -> None:
        import torch

        self.start = start
        self.states: list[Any] = [None] * len(texts)
        enc = tok(list(texts), truncation=True, max_length=MAX_LEN, padding=False, return_token_type_ids=True)
        order = np.argsort([len(x) for x in enc["input_ids"]], kind="stable")
        with torch.inference_mode():
            for i in range(0, len(order), batch_size):
                idx = order[i : i + batch_size]
                batch = tok.pad({"input_ids": [enc["input_ids"][j] for j in idx],
                                 "token_type_ids": [enc["token_type_ids"][j] for j in idx]}, return_tensors="pt")
                h = model.embeddings(input_ids=batch["input_ids"], token_type_ids=batch["token_type_ids"])
                mask = _mask4(model, batch["attention_mask"], h)
                for layer in model.encoder.layer[:start]:
                    h = _out(layer(h, mask))
                for r, j in enumerate(idx):
                    self.states[j] = h[r, : len(enc["input_ids"][j])].clone()

    def batch(self, idx: Sequence[int]) -> tuple[Any, Any]:
        import torch

        width = max(int(self.states[j].shape[0]) for j in idx)
        dim = int(self.states[idx[0]].shape[1])
        h = torch.zeros(len(idx), width, dim)
        mask = torch.zeros(len(idx), width, dtype=torch.long)
        for r, j in enumerate(idx):
            n = int(self.states[j].shape[0])
            h[r, :n] = self.states[j]
            mask[r, :n] = 1
        return h, mask


def _out(x: Any) -> Any:
    return x[0] if isinstance(x, tuple) else x


def _mask4(model: Any, mask2d: Any, h: Any) -> Any:
    mask, _ = model._create_attention_masks(attention_mask=mask2d, encoder_attention_mask=None, embedding_output=h,
                                            encoder_hidden_states=None, cache=None)
    return mask


def _top(model: Any, cached: _Cached, idx: Sequence[int]) -> Any:
    """Unit sentence vectors of texts ``idx`` from their cached states through the top layers."""
    import torch

    h, mask2d = cached.batch(idx)
    mask = _mask4(model, mask2d, h)
    for layer in model.encoder.layer[cached.start :]:
        h = _out(layer(h, mask))
    m = mask2d.unsqueeze(-1).to(h.dtype)
    return torch.nn.functional.normalize((h * m).sum(1) / m.sum(1).clamp(min=1e-9), p=2, dim=1)


def _encode(model: Any, cached: _Cached, batch_size: int = 128) -> np.ndarray:
    import torch

    model.eval()
    n = len(cached.states)
    order = np.argsort([int(s.shape[0]) for s in cached.states], kind="stable")
    out = np.zeros((n, model.config.hidden_size), np.float32)
    with torch.inference_mode():
        for i in range(0, n, batch_size):
            idx = order[i : i + batch_size]
            out[idx] = _top(model, cached, list(idx)).numpy()
    return out


# framings a generated title wraps around its core ("<core>: Lo-Fi Beats", "Songs for <core>"). In
# the hand-written corpus they are much rarer on unsafe texts (6-16 %) than on safe ones (15-25 %),
# which taught the head that a music framing means "safe" ("Songs to Cut To", "Jump From the 12th
# Floor Sleep Music" passed); a framed copy of a random share of every label makes them uninformative
FRAMES = (
    "{} Mix", "{}: Lo-Fi Beats", "{} (Sleep Music)", "{} Anthems", "{}: Late Night Mix", "{} Playlist",
    "{} Sessions", "{}: Ambient Set", "{} Radio", "{} Vibes", "{} Jams", "{} Party Mix", "{}: The Podcast",
    "{} Soundtrack", "{}: Workout Edition", "{} Hits", "{} Essentials", "{}: Deep Cuts", "{} Lo-Fi",
    "{} Techno", "{}: Road Trip Songs", "{} Chill Beats", "{}: Study Music", "{} Unplugged",
    "{}: Friday Night Set", "{} Karaoke", "{} (Acoustic)", "{}: Throwback Hits", "{} - Remix",
    "Songs for {}", "Music to {}", "Lo-Fi {}", "Late Night {}", "Playlist: {}", "Beats for {}",
    "{} | Episode 4", "{}: A Tagline", "\"{}\" and Other Hits", "Sunday {}", "{} on Repeat",
)


def framed_rows(rows: Sequence[dict], rate: float, seed: int = 0) -> list[dict]:
    """Copies of a random ``rate`` share of ``rows`` (any label; texts up to 60 characters) wrapped in
    a random playlist framing from ``FRAMES``, with their labels. Deterministic for a seed."""
    rng = np.random.default_rng(seed + 7919)
    out: list[dict] = []
    for r in rows:
        if rng.random() >= rate:
            continue
        frame = FRAMES[int(rng.integers(len(FRAMES)))]
        core = r["text"].strip().rstrip(".!")
        if len(core) > 60:
            continue
        out.append({**r, "text": frame.format(core), "framed": True})
    return out


def _model_dir() -> Path:
    from genperso.config import get_settings
    from genperso.models.embed import _package_model_dir

    configured = get_settings().embed_model
    return Path(configured) if configured else _package_model_dir()


def train_adapter(texts: Sequence[str], y: np.ndarray, cfg: FinetuneConfig = FinetuneConfig(), *,
                  model_dir: Path | None = None, progress: bool = True,
                  also_encode: Sequence[Sequence[str]] = ()) -> tuple[Adapter, list[np.ndarray]]:
    """Fit adapters and head on pre-passed ``texts`` with labels ``y`` (indices into ``CLASSES``).

    ``also_encode``: lists of texts to embed with the trained encoder (held-out folds, anchors);
    their unit vectors are returned alongside the adapter.
    """
    import torch
    from transformers import AutoTokenizer

    from .train_head import fit

    torch.manual_seed(cfg.seed)
    model_dir = model_dir or _model_dir()
    tok = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
    model, wrapped = _lora_model(model_dir, cfg)
    start = len(model.encoder.layer) - cfg.layers
    texts = list(texts)
    cached = _Cached(model, tok, texts, start)
    # the head starts from logistic regression on the stock vectors (B = 0: the stock encoder)
    x0 = _encode(model, cached)
    w0, b0 = fit(x0, y, cfg.head_c)
    head = torch.nn.Linear(x0.shape[1], len(CLASSES))
    with torch.no_grad():
        head.weight.copy_(torch.from_numpy(w0))
        head.bias.copy_(torch.from_numpy(b0))
    lora_params = [p for m in wrapped.values() for p in (m.a, m.b)]
    opt = torch.optim.AdamW([{"params": lora_params, "lr": cfg.lr},
                             {"params": head.parameters(), "lr": cfg.head_lr}], weight_decay=cfg.weight_decay)
    n = len(texts)
    steps = cfg.epochs * -(-n // cfg.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=[cfg.lr, cfg.head_lr], total_steps=steps,
                                                pct_start=0.1, anneal_strategy="linear")
    yt = torch.from_numpy(np.asarray(y, dtype=np.int64))
    rng = np.random.default_rng(cfg.seed)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=steps, desc="fine-tune", unit="step", leave=False)
    for _ in range(cfg.epochs):
        model.train()
        order = rng.permutation(n)
        for i in range(0, n, cfg.batch_size):
            idx = order[i : i + cfg.batch_size]
            logits = head(_top(model, cached, list(idx)))
            loss = torch.nn.functional.cross_entropy(logits, yt[idx], label_smoothing=cfg.label_smoothing)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{loss.item():.3f}")
    if bar is not None:
        bar.close()
    model.eval()
    factors = {name: (m.a.detach().numpy().copy(), m.b.detach().numpy().copy()) for name, m in wrapped.items()}
    adapter = Adapter(factors, cfg.alpha / cfg.rank, head.weight.detach().numpy().copy(),
                      head.bias.detach().numpy().copy(), {"config": cfg.as_dict(), "version": ADAPTER_VERSION})
    encoded = [_encode(model, _Cached(model, tok, list(t), start)) for t in also_encode]
    return adapter, encoded


# --- cross-validation of the whole gate --------------------------------------------------------


def cross_validate(rows: Sequence[dict], cfg: FinetuneConfig = FinetuneConfig(), folds: int = 5,
                   out: Path | None = None) -> dict:
    """Out-of-fold: per fold, train on the rest, embed the held-out texts and the zero-shot anchors
    with that fold's encoder and score them through the gate (``safety.text.gate_scores``) exactly
    as in service. Writes the per-text out-of-fold arrays to ``out`` (npz) for knee selection."""
    from sklearn.model_selection import StratifiedKFold

    from .text import EXEMPLARS_FILE, _Anchors, head_input

    anchors = _Anchors(EXEMPLARS_FILE)
    texts = [head_input(r["text"]) for r in rows]
    y = np.asarray([CLASSES.index(r["label"]) for r in rows])
    vecs = np.zeros((len(rows), 384), np.float32)
    anchor_vecs = np.zeros((folds, len(anchors.texts), 384), np.float32)
    fold_of = np.zeros(len(rows), np.int64)
    head = np.zeros((len(rows), len(CLASSES)), np.float32)
    t0 = time.perf_counter()
    for f, (tr, te) in enumerate(StratifiedKFold(folds, shuffle=True, random_state=cfg.seed).split(texts, y)):
        extra = framed_rows([rows[i] for i in tr], cfg.frame_rate, cfg.seed + f)
        tr_texts = [texts[i] for i in tr] + [head_input(r["text"]) for r in extra]
        tr_y = np.concatenate([y[tr], np.asarray([CLASSES.index(r["label"]) for r in extra], dtype=y.dtype)])
        adapter, (v_te, v_anc) = train_adapter(tr_texts, tr_y, cfg,
                                               also_encode=([texts[i] for i in te], anchors.texts))
        vecs[te] = v_te
        anchor_vecs[f] = v_anc
        fold_of[te] = f
        head[te] = predict_proba(v_te, adapter.head_w, adapter.head_b)
        print(f"fold {f + 1}/{folds} done ({time.perf_counter() - t0:.0f} s)", file=sys.stderr, flush=True)
    if out is not None:
        np.savez_compressed(out, vecs=vecs, anchors=anchor_vecs, fold=fold_of, head=head, y=y)
    acc = float((head.argmax(1) == y).mean())
    res: dict[str, Any] = {"config": cfg.as_dict(), "oof_head_accuracy": round(acc, 4),
                           "log_loss": float(-np.mean(np.log(np.maximum(head[np.arange(len(y)), y], 1e-9))))}
    res["gate"] = gate_grid(rows, anchors, anchor_vecs, fold_of, vecs, head)
    return res


# head knee pairs (HEAD_MEDIUM_P, HEAD_HIGH_P) tried by the cross-validation and ``bench/safety.py --knees``
KNEES = ((0.9, 0.93), (0.8, 0.85), (0.75, 0.8), (0.7, 0.75), (0.6, 0.65), (0.5, 0.6), (0.45, 0.55), (0.4, 0.5),
         (0.35, 0.475), (0.3, 0.45))


def knee_figures(rows: Sequence[dict], sem: np.ndarray, sim: np.ndarray, head: np.ndarray,
                 knees: Sequence[tuple[float, float]] = KNEES, veto: float | None = None) -> list[dict]:
    """The gate's figures (``safety.train_head._figures``: kids/adult recall, hard-negative and
    plain-safe FPR) on ``rows`` for each knee pair, from precomputed zero-shot ``sem``/``sim`` and
    head probabilities (n, 7) each; ``veto``: ``HEAD_VETO_SAFE_P`` for the run (None: no veto)."""
    from . import text as T
    from .train_head import _figures

    lex = [T.analyse_text(r["text"]) for r in rows]
    pc = T.profanity_check_probs(lex)
    saved = (T.HEAD_MEDIUM_P, T.HEAD_HIGH_P, T.HEAD_VETO_SAFE_P)
    out = []
    try:
        for med, high in knees:
            T.HEAD_MEDIUM_P, T.HEAD_HIGH_P, T.HEAD_VETO_SAFE_P = med, high, veto
            sc = np.asarray([[T.combine_scores(lex[i], sem[i], sim[i], float(pc[i]), True, head[i]).scores[c]
                              for c in CONTENT_CATEGORIES] for i in range(len(rows))])
            out.append({"knees": [med, high], **_figures(sc, rows)})
    finally:
        T.HEAD_MEDIUM_P, T.HEAD_HIGH_P, T.HEAD_VETO_SAFE_P = saved
    return out


def gate_grid(rows: Sequence[dict], anchors: Any, anchor_vecs: np.ndarray, fold: np.ndarray, vecs: np.ndarray,
              head: np.ndarray) -> list[dict]:
    """Out-of-fold gate figures (``knee_figures``) for each head knee pair, with and without the
    zero-shot scorer and the veto."""
    from . import text as T

    sem = np.zeros_like(head)
    sim = np.zeros_like(head)
    for f in np.unique(fold):
        m = fold == f
        sem[m], sim[m] = T.semantic_scores(vecs[m], anchor_vecs[f], anchors.owners)
    out = []
    for zero_shot in (False, True):
        for veto in (T.HEAD_VETO_SAFE_P or 0.97, None):
            s0 = sem if zero_shot else np.zeros_like(sem)
            for fig in knee_figures(rows, s0, sim, head, KNEES, veto):
                out.append({"zero_shot": zero_shot, "veto": veto, **fig})
                med, high = fig["knees"]
                print(f"zero_shot={zero_shot!s:5} veto={veto!s:4} knees={med}/{high}: kids recall "
                      f"{fig['recall_unsafe_kids']:.3f}, adult severe {fig['recall_severe_adult']:.3f}, hard-neg "
                      f"FPR kids {fig['hard_negative_fpr_kids']:.3f} adult {fig['hard_negative_fpr_adult']:.3f}, "
                      f"plain-safe FPR kids {fig['plain_safe_fpr_kids']:.3f}", file=sys.stderr, flush=True)
    return out


def train(corpus: Path = CORPUS, cfg: FinetuneConfig = FinetuneConfig(), adapter_out: Path = ADAPTER_FILE,
          head_out: Path = HEAD_FILE) -> dict:
    """Fit on the whole corpus; write the adapter and the head (``head.npz``, read by the gate)."""
    from .text import head_input

    rows = load_corpus(corpus)
    train_rows = list(rows) + framed_rows(rows, cfg.frame_rate, cfg.seed)
    texts = [head_input(r["text"]) for r in train_rows]
    y = np.asarray([CLASSES.index(r["label"]) for r in train_rows])
    adapter, _ = train_adapter(texts, y, cfg)
    sha = corpus_sha256(corpus)
    adapter.meta.update({"corpus_sha256": sha, "n": len(rows), "n_framed": len(train_rows) - len(rows)})
    save_adapter(adapter, adapter_out)
    meta = {"version": ADAPTER_VERSION, "corpus_sha256": sha, "n": len(rows), "classes": list(CLASSES),
            "encoder": f"adapter@{adapter.fingerprint}", "config": cfg.as_dict()}
    np.savez(head_out, W=adapter.head_w.astype(np.float32), b=adapter.head_b.astype(np.float32),
             meta=np.asarray(json.dumps(meta, sort_keys=True)))
    return meta


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=CORPUS)
    ap.add_argument("--cv", action="store_true", help="5-fold cross-validation instead of writing weights")
    ap.add_argument("--cv-out", type=Path, default=None, help="npz of the out-of-fold vectors (with --cv)")
    ap.add_argument("--cv-from", type=Path, default=None, help="gate figures from a saved --cv-out npz (no training)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a FinetuneConfig field")
    args = ap.parse_args(argv)
    base = FinetuneConfig()
    over: dict[str, Any] = {}
    for kv in args.set:
        k, _, v = kv.partition("=")
        if k not in base.__dict__:
            ap.error(f"unknown setting {k!r}; expected one of {sorted(base.__dict__)}")
        over[k] = type(getattr(base, k))(v)
    cfg = FinetuneConfig(**{**base.__dict__, **over})
    if args.cv_from:
        from .text import EXEMPLARS_FILE, _Anchors

        with np.load(args.cv_from) as z:
            grid = gate_grid(load_corpus(args.corpus), _Anchors(EXEMPLARS_FILE), z["anchors"], z["fold"], z["vecs"],
                             z["head"])
        print(json.dumps({"gate": grid}))
    elif args.cv:
        print(json.dumps(cross_validate(load_corpus(args.corpus), cfg, out=args.cv_out)))
    else:
        print(json.dumps(train(args.corpus, cfg)))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
