"""The generator extension point: one small ABC and a plain dict registry.

A generator turns (title analysis, angle, parameters) into ranked candidates. ``__init__`` is
cheap; heavy imports and model loads happen lazily, once per process. Outputs carry their
lineage (source shots/frames, seeds, model revisions, timings) so the review UI can show it.
"""

from __future__ import annotations

import abc
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Mapping

from ..types import Angle, TitleAnalysis, TitleInfo

__all__ = [
    "GeneratorConfig",
    "GenerationRequest",
    "Candidate",
    "GenerationOutput",
    "Generator",
    "GENERATORS",
    "register",
    "get_generator",
]


@dataclass(frozen=True)
class GeneratorConfig:
    """Base config; subclasses add fields. Part of the asset key (canonical JSON)."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class GenerationRequest:
    """Everything a generator needs. ``analysis``/``title`` may be None for title-free kinds
    (playlist titles, remixes of library tracks)."""

    angle: Angle
    out_dir: Path
    title: TitleInfo | None = None
    analysis: TitleAnalysis | None = None
    params: Mapping[str, Any] = field(default_factory=dict)  # duration, aspect, candidates, context...
    seed: int = 0
    data_dir: Path | None = None  # where analysis keyframes (relative paths) live
    source_path: Path | None = None  # the title version's media file (full-resolution frames, audio)


@dataclass(frozen=True)
class Candidate:
    """One generated candidate, best first in ``GenerationOutput.candidates``."""

    rank: int
    score: float
    files: Mapping[str, str]  # role -> absolute path (e.g. {"trailer.mp4": "/.../trailer.mp4"})
    record: Mapping[str, Any]  # lineage: source shots/frames, seeds, scores, timings
    text: str | None = None  # text candidates (titles/taglines)


@dataclass(frozen=True)
class GenerationOutput:
    generator: str
    version: str
    candidates: tuple[Candidate, ...]
    model_revisions: Mapping[str, str] = field(default_factory=dict)
    timings: Mapping[str, float] = field(default_factory=dict)
    safety: Mapping[str, Any] | None = None  # filled by the safety gate (diffusers-style)


class Generator(abc.ABC):
    name: ClassVar[str]
    version: ClassVar[str]
    config_cls: ClassVar[type[GeneratorConfig]] = GeneratorConfig
    kind: ClassVar[str]  # asset kind: trailer | artwork | titles | remix

    def __init__(self, config: GeneratorConfig | None = None) -> None:
        self.config = config or self.config_cls()

    @abc.abstractmethod
    def generate(self, request: GenerationRequest) -> GenerationOutput:
        """Produce ranked candidates into ``request.out_dir``."""

    def model_revisions(self) -> Mapping[str, str]:
        """Model ids/revisions that determine the output (part of the asset key)."""
        return {}


GENERATORS: dict[str, type[Generator]] = {}


def register(cls: type[Generator]) -> type[Generator]:
    GENERATORS[cls.name] = cls
    return cls


def get_generator(kind: str) -> type[Generator]:
    from ..errors import NotFound
    from . import load_generators

    load_generators()
    for cls in GENERATORS.values():
        if cls.kind == kind or cls.name == kind:
            return cls
    raise NotFound(f"no generator for asset kind {kind!r}; known: {sorted(GENERATORS)}")
