"""The classifier extension point and the verdict value object.

A ``Classifier`` turns one artifact (a text, an image array, ...) into per-category scores
(0..1) and human-readable reasons. Classifiers are registered by name in the plain dict
``CLASSIFIERS`` and instantiated lazily, once per process, by ``get_classifier``; heavy imports
and model loads happen on first use. A ``Verdict`` is the policy's decision over those scores.
"""

from __future__ import annotations

import abc
import threading
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from genperso.errors import InvalidInput

__all__ = [
    "CATEGORIES",
    "CONTENT_CATEGORIES",
    "TIERS",
    "Decision",
    "Scores",
    "Verdict",
    "Classifier",
    "ClassifierUnavailable",
    "CLASSIFIERS",
    "register",
    "get_classifier",
    "available_classifiers",
    "worst_decision",
    "merge_scores",
    "forget_instances",
]

# GARM-aligned content categories (see assets/safety_policy.toml) and operational categories.
CONTENT_CATEGORIES: tuple[str, ...] = ("profanity", "violence", "sexual", "hate", "drugs", "self_harm")
CATEGORIES: tuple[str, ...] = CONTENT_CATEGORIES + ("brand", "blank", "legibility")
TIERS: tuple[str, ...] = ("floor", "high", "medium", "low")  # worst first
Decision = Literal["allow", "review", "block"]
_DECISION_RANK = {"allow": 0, "review": 1, "block": 2}


@dataclass(frozen=True)
class Scores:
    """What one classifier says about one artifact."""

    scores: dict[str, float]
    reasons: tuple[str, ...] = ()
    skipped: bool = False  # the classifier could not judge this artifact (said so in reasons)


@dataclass(frozen=True)
class Verdict:
    decision: Decision
    scores: dict[str, float]
    label: str
    reasons: tuple[str, ...]
    models: dict[str, str]
    modality: str
    tier: dict[str, str] = field(default_factory=dict)

    @property
    def allowed(self) -> bool:
        return self.decision == "allow"

    def to_dict(self) -> dict[str, Any]:
        return {
            "decision": self.decision,
            "label": self.label,
            "scores": {k: round(float(v), 4) for k, v in sorted(self.scores.items())},
            "tier": dict(sorted(self.tier.items())),
            "reasons": list(self.reasons),
            "models": dict(sorted(self.models.items())),
            "modality": self.modality,
        }


class ClassifierUnavailable(RuntimeError):
    """An optional classifier whose dependency or model is missing (the gate says so and goes on)."""


class Classifier(abc.ABC):
    """One small interface: ``name``, ``modalities``, ``version``; ``classify(artifact) -> Scores``."""

    name: ClassVar[str]
    modalities: ClassVar[tuple[str, ...]]
    version: ClassVar[str]
    optional: ClassVar[bool] = False

    @abc.abstractmethod
    def classify(self, artifact: Any) -> Scores:
        """Score one artifact; categories not judged are simply absent."""

    def classify_batch(self, artifacts: list[Any]) -> list[Scores]:
        return [self.classify(a) for a in artifacts]

    def model_version(self) -> str:
        return self.version


CLASSIFIERS: dict[str, type[Classifier]] = {}
_instances: dict[str, Classifier] = {}
_unavailable: dict[str, str] = {}
_lock = threading.Lock()


def register(cls: type[Classifier]) -> type[Classifier]:
    CLASSIFIERS[cls.name] = cls
    return cls


def get_classifier(name: str) -> Classifier:
    """The process-wide instance (created on first use). Raises ``ClassifierUnavailable``."""
    with _lock:
        inst = _instances.get(name)
        if inst is not None:
            return inst
        if name in _unavailable:
            raise ClassifierUnavailable(_unavailable[name])
        cls = CLASSIFIERS.get(name)
        if cls is None:
            raise InvalidInput(f"unknown safety classifier {name!r}; known: {sorted(CLASSIFIERS)}")
        try:
            inst = cls()
        except ClassifierUnavailable as exc:
            _unavailable[name] = str(exc)
            raise
        _instances[name] = inst
        return inst


def available_classifiers(modality: str) -> tuple[list[Classifier], list[str]]:
    """Instances for ``modality`` and the notes about optional ones that could not load."""
    out: list[Classifier] = []
    notes: list[str] = []
    for name, cls in sorted(CLASSIFIERS.items()):
        if modality not in cls.modalities:
            continue
        try:
            out.append(get_classifier(name))
        except ClassifierUnavailable as exc:
            notes.append(f"{name} unavailable: {exc}")
    return out, notes


def forget_instances() -> None:
    """Drop loaded instances (tests that change settings such as ``clip_model``)."""
    with _lock:
        _instances.clear()
        _unavailable.clear()


def worst_decision(decisions: list[str]) -> Decision:
    if not decisions:
        return "allow"
    return max(decisions, key=lambda d: _DECISION_RANK[d])  # type: ignore[return-value]


def merge_scores(parts: list[dict[str, float]]) -> dict[str, float]:
    out: dict[str, float] = {}
    for p in parts:
        for k, v in p.items():
            out[k] = max(out.get(k, 0.0), float(v))
    return out
