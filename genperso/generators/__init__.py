"""Asset generators (trailer, artwork, titles, remix) behind one ABC; see ``base``."""

from __future__ import annotations

import importlib

from .base import GENERATORS, Candidate, GenerationOutput, GenerationRequest, Generator, GeneratorConfig, get_generator, register

__all__ = [
    "GENERATORS",
    "Candidate",
    "GenerationOutput",
    "GenerationRequest",
    "Generator",
    "GeneratorConfig",
    "get_generator",
    "register",
    "load_generators",
]

# Modules (relative to this package) that register generators. Add a line per generator.
GENERATOR_MODULES: tuple[str, ...] = ("artwork", "trailer", "remix", "titles")


def load_generators() -> None:
    for name in GENERATOR_MODULES:
        importlib.import_module(f"{__name__}.{name}")
