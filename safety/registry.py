"""Which modules define classifiers (importing one registers its classes in ``CLASSIFIERS``)."""

from __future__ import annotations

import importlib

__all__ = ["CLASSIFIER_MODULES", "load_classifiers"]

# Modules (relative to this package) that define classifiers. Add a line per new plugin.
CLASSIFIER_MODULES: tuple[str, ...] = (
    "text",
    "image",
)


def load_classifiers() -> None:
    for name in CLASSIFIER_MODULES:
        importlib.import_module(f"{__package__}.{name}")
