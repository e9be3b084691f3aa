"""Brand safety for genperso: classifiers, a per-audience policy, and the gate nothing unsafe passes.

``check_texts`` / ``check_images`` / ``check_video`` / ``check_audio`` return ``Verdict``s;
``gate(kind, candidates, profile=...)`` returns the best candidate the policy allows (never a
blocked one), records every decision and queues unresolved cases for human review.
``policy_version()`` is part of every asset cache key.
"""

from __future__ import annotations

from .base import CATEGORIES, CLASSIFIERS, CONTENT_CATEGORIES, TIERS, Classifier, Scores, Verdict, get_classifier
from .check import check_audio, check_images, check_texts, check_video
from .gate import GateResult, gate
from .policy import PROFILES, load_policy, policy_version
from .registry import load_classifiers

load_classifiers()

__all__ = [
    "CATEGORIES",
    "CONTENT_CATEGORIES",
    "TIERS",
    "PROFILES",
    "Classifier",
    "CLASSIFIERS",
    "Scores",
    "Verdict",
    "GateResult",
    "get_classifier",
    "check_texts",
    "check_images",
    "check_video",
    "check_audio",
    "gate",
    "policy_version",
    "load_policy",
]
