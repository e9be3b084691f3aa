"""Helpers for the serving tests (API, cache, pipeline, integration): real small generators,
a rule-based safety gate adapter, a deterministic angle chooser and catalog titles with a
real stored analysis (keyframes are real JPEG files)."""

from __future__ import annotations

import hashlib
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from genperso.catalog import session_scope
from genperso.catalog.titles import AnalysisRow, TitleRow, TitleVersionRow
from genperso.config import Settings
from genperso.generators.base import Candidate, GenerationOutput, GenerationRequest, Generator, GeneratorConfig
from genperso.types import AngleDecision, Context, Shot, StreamInfo, TitleAnalysis, UserProfile

ANGLE_IDS = ("action", "romance", "comedy", "suspense", "family", "spectacle", "mystery", "drama")


class CountingMixin:
    calls: int = 0
    lock = threading.Lock()

    @classmethod
    def count(cls) -> None:
        with cls.lock:
            cls.calls += 1


@dataclass(frozen=True)
class SwatchConfig(GeneratorConfig):
    size: tuple[int, int] = (64, 36)
    delay_s: float = 0.0


class SwatchGenerator(CountingMixin, Generator):
    """Artwork: a PNG per candidate, coloured from (angle, title hash, seed). ``params.unsafe``
    marks candidates the test gate blocks."""

    name = "test-swatch"
    version = "1"
    kind = "artwork"
    config_cls = SwatchConfig
    calls = 0

    def generate(self, request: GenerationRequest) -> GenerationOutput:
        from PIL import Image

        type(self).count()
        if self.config.delay_s:
            time.sleep(self.config.delay_s)
        n = int(request.params.get("candidates", 2))
        cands = []
        for i in range(n):
            h = hashlib.sha256(f"{request.angle.id}{request.seed}{i}".encode()).digest()
            p = Path(request.out_dir) / f"cand{i}.png"
            Image.new("RGB", tuple(self.config.size), (h[0], h[1], h[2])).save(p)
            cands.append(Candidate(rank=i, score=1.0 - i / 10, files={"hero.png": str(p)},
                                   record={"seed": request.seed, "i": i,
                                           "unsafe": bool(request.params.get("unsafe"))}))
        return GenerationOutput(self.name, self.version, tuple(cands), {"swatch": "v1"}, {"total": 0.001})

    def model_revisions(self) -> Mapping[str, str]:
        return {"swatch": "v1"}


class ClipGenerator(CountingMixin, Generator):
    """Trailer: copies the title's source film (a real MP4) as the candidate."""

    name = "test-clip"
    version = "1"
    kind = "trailer"
    calls = 0

    def generate(self, request: GenerationRequest) -> GenerationOutput:
        type(self).count()
        assert request.source_path is not None
        p = Path(request.out_dir) / "trailer.mp4"
        shutil.copyfile(request.source_path, p)
        return GenerationOutput(self.name, self.version,
                                (Candidate(0, 1.0, {"trailer.mp4": str(p)}, {"source": "copy"}),))


class NameGenerator(CountingMixin, Generator):
    name = "test-names"
    version = "1"
    kind = "titles"
    calls = 0

    def generate(self, request: GenerationRequest) -> GenerationOutput:
        type(self).count()
        assert request.title is not None
        texts = [f"{request.title.name}: the {request.angle.name} cut", "Bad words damn"]
        return GenerationOutput(self.name, self.version, tuple(
            Candidate(i, 1.0 - i / 10, {}, {"i": i}, text=t) for i, t in enumerate(texts)))


@dataclass(frozen=True)
class GateResult:
    decision: str
    chosen: Any
    chosen_verdict: Any = None
    verdicts: tuple[Any, ...] = ()
    policy_version: str = "test-policy-1"
    review_id: str | None = None


@dataclass
class RuleGate:
    """Safety gate adapter: blocks candidates whose record says ``unsafe`` or whose text holds a
    listed word; ``review_kinds`` send their first passing candidate to review."""

    banned_words: tuple[str, ...] = ("damn",)
    review_kinds: tuple[str, ...] = ()
    calls: list[str] = field(default_factory=list)

    def __call__(self, kind: str, candidates: Sequence[Candidate], *, profile: str | None = None,
                 brand: str | None = None, title_id: str | None = None) -> GateResult:
        self.calls.append(kind)
        for c in candidates:
            if c.record.get("unsafe"):
                continue
            if c.text and any(w in c.text.lower() for w in self.banned_words):
                continue
            return GateResult("review" if kind in self.review_kinds else "allow", c)
        return GateResult("block", None)

    def version(self) -> str:
        return "test-policy-1"


class HashChooser:
    """Deterministic angle per (user, title): a stand-in for the bandit with a fixed propensity."""

    def __init__(self, angles: Sequence[str] = ANGLE_IDS, fixed: str | None = None) -> None:
        self.angles = tuple(angles)
        self.fixed = fixed

    def choose(self, user: UserProfile, title_id: str, context: Context) -> AngleDecision:
        h = int(hashlib.sha256(f"{user.user_id}|{title_id}".encode()).hexdigest()[:8], 16)
        angle = self.fixed or self.angles[h % len(self.angles)]
        return AngleDecision(decision_id=f"d{h:x}", user_id=user.user_id, title_id=title_id, angle_id=angle,
                             propensity=1.0 / len(self.angles), policy="hash")


def add_title(settings: Settings, title_id: str = "film1", *, name: str = "The Test Film", n_shots: int = 3,
              serving_policy: str = "auto", source: Path | None = None, content_hash: str | None = None) -> str:
    """A catalog title with one analysed version; keyframes are real JPEGs. Returns the hash."""
    from PIL import Image

    content_hash = content_hash or hashlib.sha256(f"{title_id}-{n_shots}-{name}".encode()).hexdigest()
    kdir = settings.analysis_dir / content_hash / "keyframes"
    kdir.mkdir(parents=True, exist_ok=True)
    shots = []
    for i in range(n_shots):
        kf = kdir / f"shot{i:03d}.jpg"
        Image.new("RGB", (320, 180), (40 + 60 * i % 200, 90, 140)).save(kf)
        shots.append(Shot(index=i, start=2.0 * i, end=2.0 * i + 2.0,
                          keyframes=(str(kf.relative_to(settings.data_dir)),), keyframe_times=(2.0 * i + 1,),
                          sharpness=100.0 + i, brightness=0.4))
    stream = StreamInfo(duration=2.0 * n_shots, width=320, height=180, fps=25.0, video_codec="h264")
    analysis = TitleAnalysis(title_id=title_id, version=1, content_hash=content_hash, stream=stream,
                             shots=tuple(shots))
    src = source or (settings.media_dir / f"{content_hash}.mp4")
    if source is None:
        src.parent.mkdir(parents=True, exist_ok=True)
        src.write_bytes(b"\x00" * 64)
    with session_scope(settings) as s:
        t = s.get(TitleRow, title_id)
        if t is None:
            t = TitleRow(id=title_id, name=name, genres=["Action"], maturity_rating="PG")
            s.add(t)
        t.serving_policy = serving_policy
        version = 1 + len(list(s.query(TitleVersionRow).filter_by(title_id=title_id)))
        s.add(TitleVersionRow(title_id=title_id, version=version, content_hash=content_hash, source_path=str(src),
                              size_bytes=src.stat().st_size, stream=stream.to_dict(), status="ready"))
        s.add(AnalysisRow(content_hash=content_hash, title_id=title_id, version=version, analysis_version="test",
                          n_shots=n_shots, data={**analysis.to_dict(), "version": version}))
        s.flush()
        t.current_version = version
    return content_hash


def make_pipeline(settings: Settings, *, gate: RuleGate | None = None, chooser: Any = None,
                  delay_s: float = 0.0, dispatcher: Any = None) -> Any:
    from genperso.pipeline import Pipeline

    gens = {"artwork": SwatchGenerator(SwatchConfig(delay_s=delay_s)), "trailer": ClipGenerator(),
            "titles": NameGenerator()}
    return Pipeline(settings, gate=gate or RuleGate(), chooser=chooser or HashChooser(),
                    policy_version=lambda: "test-policy-1", generators=gens, dispatcher=dispatcher)


def drain(pipeline: Any, timeout: float = 20.0) -> None:
    d = pipeline.dispatcher
    if hasattr(d, "drain"):
        assert d.drain(timeout), "jobs did not finish in time"


class FlakyMixin:
    """``params.fail_times``: raise Retryable that many times (counted in a file), then succeed."""

    @staticmethod
    def maybe_fail(request: GenerationRequest) -> None:
        from genperso.errors import Retryable

        n = int(request.params.get("fail_times", 0))
        if not n:
            return
        marker = Path(request.data_dir or ".") / f"flaky-{request.angle.id}-{request.seed}.count"
        done = int(marker.read_text()) if marker.exists() else 0
        if done < n:
            marker.write_text(str(done + 1))
            raise Retryable(f"transient failure {done + 1} of {n}")


class FlakySwatchGenerator(FlakyMixin, SwatchGenerator):
    name = "test-swatch-flaky"

    def generate(self, request: GenerationRequest) -> GenerationOutput:
        self.maybe_fail(request)
        return super().generate(request)


def worker_pipeline(settings: Settings) -> Any:
    """``GENPERSO_PIPELINE_FACTORY=serving_support:worker_pipeline`` for the integration tests:
    the test generators, rule gate and hash chooser, with the default cache/storage/dispatcher."""
    from genperso.pipeline import Pipeline

    gens = {"artwork": FlakySwatchGenerator(SwatchConfig(delay_s=0.2)), "trailer": ClipGenerator(),
            "titles": NameGenerator()}
    return Pipeline(settings, gate=RuleGate(), chooser=HashChooser(fixed="action"),
                    policy_version=lambda: "test-policy-1", generators=gens)
