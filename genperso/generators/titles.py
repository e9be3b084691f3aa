"""Playlist titles and taglines: a small local LM proposes, filters and MiniLM rank, safety gates.

``generate_titles(brief)`` samples more titles than needed from the causal LM (``models.lm``,
SmolLM2-135M-Instruct by default) with a short few-shot chat prompt built from the brief, cleans
and filters them (length <= 40, Latin letters, no prompt echo, no repetition, no near-duplicates),
checks every survivor with ``safety.check_texts`` (blocked ones are dropped, "review" ones are
kept but never marked servable) and ranks them by MiniLM similarity to the brief plus small
fluency and length terms. When no model title survives, template titles from the angle keywords
and the context are used instead, flagged ``fallback: true``.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import GenPersoError, InvalidInput
from ..logs import get_logger
from ..types import sha256_hex
from .base import Candidate, GenerationOutput, GenerationRequest, Generator, GeneratorConfig, register
from .titles_text import MAX_CHARS, Brief, build_messages, clean_title, make_brief, near_duplicate_key, reject_reason, template_titles

__all__ = ["TitlesConfig", "TitleCandidate", "TitlesResult", "generate_titles", "TitlesGenerator", "safety_check",
           "rank_titles"]

log = get_logger("genperso.generators.titles")


@dataclass(frozen=True)
class TitlesConfig(GeneratorConfig):
    samples: int = 12  # sampled per request (one batched generate call)
    max_new_tokens: int = 12  # a 40-character title is ~8 tokens; sampling stops at a newline
    temperature: float = 0.9
    top_p: float = 0.95
    w_fluency: float = 0.05
    w_length: float = 0.05
    near_duplicate_cos: float = 0.92


@dataclass(frozen=True)
class TitleCandidate:
    text: str
    score: float
    parts: Mapping[str, float]
    verdict: Mapping[str, Any]
    servable: bool
    fallback: bool
    source: str  # model | template

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "score": round(self.score, 4), "parts": {k: round(v, 4) for k, v in self.parts.items()},
                "servable": self.servable, "fallback": self.fallback, "source": self.source, "verdict": dict(self.verdict)}


@dataclass(frozen=True)
class TitlesResult:
    candidates: tuple[TitleCandidate, ...]
    brief: str
    prompt_hash: str
    seed: int
    model_revisions: Mapping[str, str]
    rejected: tuple[Mapping[str, str], ...] = ()
    timings: Mapping[str, float] = field(default_factory=dict)

    @property
    def fallback(self) -> bool:
        return bool(self.candidates) and self.candidates[0].fallback

    def to_dict(self) -> dict[str, Any]:
        return {"brief": self.brief, "prompt_hash": self.prompt_hash, "seed": self.seed, "fallback": self.fallback,
                "model_revisions": dict(self.model_revisions), "candidates": [c.to_dict() for c in self.candidates],
                "rejected": [dict(r) for r in self.rejected], "timings": {k: round(v, 3) for k, v in self.timings.items()}}


def safety_check(texts: Sequence[str], *, profile: str, brand: str | None) -> list[Any]:
    """``safety.check_texts``; a missing safety package is an error, never a silent pass."""
    try:
        from safety import check_texts
    except ImportError as exc:
        raise GenPersoError(
            f"the safety package is not importable ({exc}); titles are never returned unchecked"
        ) from exc
    return list(check_texts(list(texts), profile=profile, brand=brand)) if texts else []


def _length_term(text: str) -> float:
    return float(max(0.0, 1.0 - abs(len(text) - 22) / 30.0))


def _fluency_term(mean_logprob: float | None) -> float:
    if mean_logprob is None:
        return 0.5
    return float(np.clip((mean_logprob + 4.0) / 4.0, 0.0, 1.0))


def rank_titles(brief_text: str, texts: Sequence[str], logprobs: Sequence[float | None], cfg: TitlesConfig,
                embed_fn: Any = None) -> list[tuple[str, float, dict[str, float], np.ndarray]]:
    """(text, score, parts, embedding), best first, near-duplicates (cosine) removed."""
    if not texts:
        return []
    if embed_fn is None:
        from ..models.embed import embed as embed_fn
    vecs = embed_fn([brief_text, *texts])
    b, tv = vecs[0], vecs[1:]
    scored = []
    for t, v, lp in zip(texts, tv, logprobs):
        parts = {"similarity": float(np.dot(b, v)), "fluency": _fluency_term(lp), "length": _length_term(t)}
        score = parts["similarity"] + cfg.w_fluency * parts["fluency"] + cfg.w_length * parts["length"]
        scored.append((t, score, parts, v))
    scored.sort(key=lambda s: -s[1])
    kept: list[tuple[str, float, dict[str, float], np.ndarray]] = []
    for s in scored:
        if all(float(np.dot(s[3], k[3])) < cfg.near_duplicate_cos for k in kept):
            kept.append(s)
    return kept


def generate_titles(brief: Brief, *, n: int = 5, seed: int = 0, config: TitlesConfig | None = None,
                    brand: str | None = None, lm: Any = None, use_model: bool = True) -> TitlesResult:
    """Ranked, safety-checked titles for ``brief`` (at most ``n``, each <= 40 characters)."""
    from ..config import get_settings

    cfg = config or TitlesConfig()
    if not (1 <= n <= get_settings().max_candidates):
        raise InvalidInput(f"n must be 1..{get_settings().max_candidates}, got {n}")
    timings: dict[str, float] = {}
    revisions: dict[str, str] = {}
    brief_text = brief.describe()
    rejected: list[dict[str, str]] = []
    raw_texts: list[tuple[str, float | None, bool]] = []
    prompt_hash = ""
    if use_model:
        t0 = time.perf_counter()
        if lm is None:
            from ..models.lm import get_lm

            lm = get_lm()
        timings["load_s"] = time.perf_counter() - t0
        messages = build_messages(brief)
        prompt = lm.prompt(messages)
        prompt_hash = sha256_hex(prompt)[:16]
        revisions["lm"] = lm.revision
        # the system prompt and few-shot turns are the same for every brief: prefilled once per process
        shared = {"prefix": lm.prompt_prefix(messages[:-1])} if hasattr(lm, "prompt_prefix") else {}
        # raw samples far over the limit cannot clean down to a usable title (quotes, "Title:", asides
        # come off; the rest stays): stop spending decoding steps on them
        t0 = time.perf_counter()
        samples = lm.sample(prompt, n=max(cfg.samples, n), seed=seed, max_new_tokens=cfg.max_new_tokens,
                            temperature=cfg.temperature, top_p=cfg.top_p, max_chars=MAX_CHARS * 3 // 2, **shared)
        timings["generate_s"] = time.perf_counter() - t0
        raw_texts = [(s.text, s.mean_logprob, getattr(s, "complete", True)) for s in samples]

    # clean + filter + exact/near-exact duplicates
    t0 = time.perf_counter()
    seen: set[str] = set()
    texts: list[str] = []
    lps: list[float | None] = []
    for raw, lp, complete in raw_texts:
        t = clean_title(raw)
        why = reject_reason(t) if complete else "cut at the token or length limit"
        key = near_duplicate_key(t)
        if why is None and key in seen:
            why = "duplicate"
        if why:
            rejected.append({"text": raw.strip()[:80], "reason": why})
            continue
        seen.add(key)
        texts.append(t)
        lps.append(lp)
    cands = _checked(brief, brief_text, texts, lps, cfg, brand, fallback=False, rejected=rejected)
    if not any(c.servable for c in cands):
        tmpl = [t for t in template_titles(brief) if reject_reason(t) is None]
        cands += _checked(brief, brief_text, tmpl, [None] * len(tmpl), cfg, brand, fallback=True, rejected=rejected)
    cands.sort(key=lambda c: (not c.servable, -c.score))
    timings["rank_s"] = time.perf_counter() - t0
    from ..models.embed import get_embedder

    revisions["embed"] = get_embedder().revision
    try:
        from safety import policy_version

        revisions["safety_policy"] = str(policy_version())
    except ImportError:  # pragma: no cover - safety_check already failed loudly before this point
        pass
    return TitlesResult(tuple(cands[:n]), brief_text, prompt_hash, seed, revisions, tuple(rejected), timings)


def _checked(brief: Brief, brief_text: str, texts: list[str], lps: list[float | None], cfg: TitlesConfig,
             brand: str | None, *, fallback: bool, rejected: list[dict[str, str]]) -> list[TitleCandidate]:
    ranked = rank_titles(brief_text, texts, lps, cfg)
    dropped = set(texts) - {r[0] for r in ranked}
    rejected += [{"text": t, "reason": "near-duplicate"} for t in texts if t in dropped]
    verdicts = safety_check([r[0] for r in ranked], profile=brief.context.maturity, brand=brand)
    out = []
    for (text, score, parts, _), v in zip(ranked, verdicts):
        if v.decision == "block":
            rejected.append({"text": text, "reason": "safety: block", "detail": "; ".join(v.reasons)[:200]})
            continue
        out.append(TitleCandidate(text, score, parts, v.to_dict(), v.decision == "allow", fallback,
                                  "template" if fallback else "model"))
    return out


@register
class TitlesGenerator(Generator):
    """Asset kind "titles": ``params`` = {"n": 5, "context": {...}, "tracks"?: [...], "brand"?: str}."""

    name = "titles"
    version = "1"
    kind = "titles"
    config_cls = TitlesConfig

    def generate(self, request: GenerationRequest) -> GenerationOutput:
        params = dict(request.params)
        try:
            n = int(params.get("n", 5))
        except (TypeError, ValueError):
            raise InvalidInput(f"params.n must be an integer, got {params.get('n')!r}") from None
        title = request.title
        brief = make_brief(request.angle, params.get("context"), params.get("tracks") or (),
                           title.name if title else None, title.genres if title else ())
        brand = params.get("brand") or (title.brand if title else None)
        res = generate_titles(brief, n=n, seed=request.seed, config=self.config, brand=brand)  # type: ignore[arg-type]
        request.out_dir.mkdir(parents=True, exist_ok=True)
        path = request.out_dir / "titles.json"
        tmp = path.with_name(f".titles.json.tmp{os.getpid()}")
        tmp.write_text(json.dumps(res.to_dict(), indent=2, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, path)
        cands = tuple(
            Candidate(rank=i, score=round(c.score, 4), files={"titles.json": str(path)}, text=c.text,
                      record=c.to_dict() | {"prompt_hash": res.prompt_hash, "seed": res.seed,
                                            "model_revisions": dict(res.model_revisions), "angle": request.angle.id})
            for i, c in enumerate(res.candidates)
        )
        return GenerationOutput(self.name, self.version, cands, dict(res.model_revisions), dict(res.timings))

    def model_revisions(self) -> Mapping[str, str]:
        from ..models.embed import get_embedder
        from ..models.lm import get_lm

        return {"lm": get_lm().revision, "embed": get_embedder().revision}

