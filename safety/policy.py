"""The safety policy: score thresholds -> GARM risk tiers -> allow/review/block per audience
profile, with brand and title rules, loaded from ``assets/safety_policy.toml``.

``policy_version()`` hashes the policy file together with every registered classifier's
version, so any change to either changes every asset cache key.
"""

from __future__ import annotations

import functools
import hashlib
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from genperso.config import ASSETS_DIR
from genperso.errors import InvalidInput

from .base import CATEGORIES, TIERS, Decision, Verdict, worst_decision

__all__ = [
    "PROFILES",
    "Rules",
    "Policy",
    "policy_file",
    "load_policy",
    "reset_policy",
    "policy_version",
    "validate_profile",
]

PROFILES: tuple[str, ...] = ("kids", "teen", "adult")
_DECISIONS = ("allow", "review", "block")


def policy_file() -> Path:
    return Path(os.environ.get("GENPERSO_SAFETY_POLICY") or ASSETS_DIR / "safety_policy.toml")


def validate_profile(profile: str) -> str:
    if profile not in PROFILES:
        raise InvalidInput(f"unknown safety profile {profile!r}; use one of: {', '.join(PROFILES)}", field="profile")
    return profile


@dataclass(frozen=True)
class Rules:
    """Brand or title rules: terms are lower-case; matched on normalised text as whole words."""

    blocked_terms: tuple[str, ...] = ()
    competitors: tuple[str, ...] = ()
    required_terms: tuple[str, ...] = ()
    categories: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Policy:
    version: str
    digest: str
    thresholds: Mapping[str, Mapping[str, float]]
    profiles: Mapping[str, Mapping[str, Any]]
    brands: Mapping[str, Rules]
    titles: Mapping[str, Rules]
    semantic_mode: str = "all"

    def tier(self, category: str, score: float) -> str:
        th = self.thresholds.get(category) or self.thresholds["default"]
        if score >= th["floor"]:
            return "floor"
        if score >= th["high"]:
            return "high"
        if score >= th["medium"]:
            return "medium"
        return "low"

    def review_servable(self, profile: str) -> bool:
        return bool(self.profiles[validate_profile(profile)].get("review_servable", False))

    def rules_for(self, brand: str | None, title_id: str | None) -> list[Rules]:
        out: list[Rules] = []
        if brand is not None:
            r = self.brands.get(brand.lower())
            if r is not None:
                out.append(r)
        if title_id is not None:
            r = self.titles.get(title_id)
            if r is not None:
                out.append(r)
        return out

    def decide_category(self, category: str, tier: str, profile: str, brand: str | None = None,
                        title_id: str | None = None) -> Decision:
        prof = self.profiles[validate_profile(profile)]
        table = prof.get("categories", {}).get(category) or prof["tiers"]
        decision: str = table.get(tier, prof["tiers"][tier])
        for rules in self.rules_for(brand, title_id):
            override = rules.categories.get(category)
            if override and tier in override:
                # brand/title rules can only make the decision stricter, never looser than the profile
                decision = worst_decision([decision, override[tier]])
        return decision  # type: ignore[return-value]

    def verdict(
        self,
        scores: Mapping[str, float],
        *,
        profile: str,
        brand: str | None = None,
        title_id: str | None = None,
        reasons: tuple[str, ...] = (),
        models: Mapping[str, str] | None = None,
        modality: str = "text",
    ) -> Verdict:
        """Scores (category -> 0..1) -> tiers -> the worst per-category decision."""
        validate_profile(profile)
        tiers: dict[str, str] = {}
        decisions: dict[str, str] = {}
        for cat, score in scores.items():
            t = self.tier(cat, float(score))
            tiers[cat] = t
            decisions[cat] = self.decide_category(cat, t, profile, brand, title_id)
        decision = worst_decision(list(decisions.values()))
        flagged = [c for c in scores if decisions[c] != "allow"]
        risky = flagged or [c for c in scores if tiers[c] != "low"]
        label = max(risky, key=lambda c: (TIERS[::-1].index(tiers[c]), scores[c])) if risky else "safe"
        extra = tuple(f"{c}: {tiers[c]} risk ({scores[c]:.2f}) -> {decisions[c]} for {profile}" for c in flagged)
        return Verdict(
            decision=decision,
            scores={k: float(v) for k, v in scores.items()},
            label=label,
            reasons=tuple(reasons) + extra,
            models=dict(models or {}),
            modality=modality,
            tier=tiers,
        )


def _rules(data: Mapping[str, Any], where: str) -> Rules:
    def terms(key: str) -> tuple[str, ...]:
        raw = data.get(key, [])
        if not isinstance(raw, list) or not all(isinstance(t, str) and t.strip() for t in raw):
            raise InvalidInput(f"safety policy {where}.{key} must be a list of non-empty strings")
        return tuple(t.strip().lower() for t in raw)

    cats = data.get("categories", {}) or {}
    _check_tables(cats, where)
    return Rules(terms("blocked_terms"), terms("competitors"), terms("required_terms"), cats)


def _check_tables(cats: Mapping[str, Any], where: str) -> None:
    for cat, table in cats.items():
        if cat not in CATEGORIES:
            raise InvalidInput(f"safety policy {where}: unknown category {cat!r}; known: {', '.join(CATEGORIES)}")
        for tier, dec in table.items():
            if tier not in TIERS or dec not in _DECISIONS:
                raise InvalidInput(f"safety policy {where}.{cat}: bad entry {tier!r} = {dec!r}")


def _parse(path: Path) -> Policy:
    try:
        raw_bytes = path.read_bytes()
        data = tomllib.loads(raw_bytes.decode("utf-8"))
    except FileNotFoundError:
        raise InvalidInput(f"safety policy file not found: {path}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"safety policy file {path} is not valid TOML: {exc}") from None
    version = str(data.get("version") or "")
    if not version:
        raise InvalidInput(f"safety policy file {path} has no version")
    thresholds = data.get("thresholds", {})
    if "default" not in thresholds:
        raise InvalidInput(f"safety policy file {path}: [thresholds] needs a default entry")
    for cat, th in thresholds.items():
        if not {"floor", "high", "medium"} <= set(th) or not th["floor"] >= th["high"] >= th["medium"]:
            raise InvalidInput(f"safety policy thresholds.{cat} need floor >= high >= medium")
    profiles = data.get("profiles", {})
    for p in PROFILES:
        prof = profiles.get(p)
        if not prof or set(prof.get("tiers", {})) != set(TIERS):
            raise InvalidInput(f"safety policy file {path}: profile {p!r} must map every tier {TIERS}")
        if any(d not in _DECISIONS for d in prof["tiers"].values()):
            raise InvalidInput(f"safety policy profiles.{p}.tiers: decisions must be allow|review|block")
        _check_tables(prof.get("categories", {}), f"profiles.{p}.categories")
    mode = str(data.get("text", {}).get("semantic", "all"))
    if mode not in ("all", "cued"):
        raise InvalidInput(f"safety policy text.semantic must be 'all' or 'cued', not {mode!r}")
    brands = {k.lower(): _rules(v, f"brands.{k}") for k, v in data.get("brands", {}).items()}
    titles = {k: _rules(v, f"titles.{k}") for k, v in data.get("titles", {}).items()}
    return Policy(
        version=version,
        digest=hashlib.sha256(raw_bytes).hexdigest()[:12],
        thresholds=thresholds,
        profiles=profiles,
        brands=brands,
        titles=titles,
        semantic_mode=mode,
    )


@functools.lru_cache(maxsize=8)
def _load(path: str, mtime_ns: int) -> Policy:
    return _parse(Path(path))


def load_policy(path: str | Path | None = None) -> Policy:
    """The policy (re-read when the file changes)."""
    p = Path(path) if path else policy_file()
    try:
        mtime = p.stat().st_mtime_ns
    except FileNotFoundError:
        raise InvalidInput(f"safety policy file not found: {p}") from None
    return _load(str(p), mtime)


def reset_policy() -> None:
    _load.cache_clear()


def policy_version() -> str:
    """``<policy version>+<file digest>+<classifier digest>``: part of every asset cache key."""
    from .base import CLASSIFIERS
    from .registry import load_classifiers

    load_classifiers()
    pol = load_policy()
    cls_sig = ",".join(f"{n}={c.version}" for n, c in sorted(CLASSIFIERS.items()))
    return f"{pol.version}+{pol.digest}+{hashlib.sha256(cls_sig.encode()).hexdigest()[:8]}"
