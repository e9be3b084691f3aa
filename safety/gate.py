"""The gate: check generated candidates best-first and return the first one the policy allows.

* "artwork": every image file of the candidate (title legibility when the record carries the
  artwork generator's ``formats[*].title.box`` or flat ``title_text``/``title_box``), plus
  ``candidate.text`` if any;
* "trailer": the mp4 through ``check_video`` plus ``record["transcript"]``;
* "titles": ``candidate.text``;
* "remix": ``record`` metadata (``explicit``, ``sources``/``tracks`` with explicit flags, or
  the music catalog's flag for their track ids, ``title``) plus ``record["transcript"]``.

A candidate whose verdict is "review" is never served automatically (unless the profile in the
policy sets ``review_servable = true``): the gate moves on to the next candidate. If none
passes, ``chosen`` is None, the decision is "block" (every candidate blocked) or "review" (at
least one awaits a human), and the case is queued in the review table. Every verdict is
recorded in the audit table. A candidate whose check fails (missing file, corrupt media) is
treated as blocked, with the error as its reason.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import structlog

from genperso.errors import GenPersoError, InvalidInput
from genperso.generators.base import Candidate

from .base import Verdict
from .check import check_audio, check_images, check_texts, check_video, combine_verdicts
from .policy import load_policy, policy_version, validate_profile

__all__ = ["GateResult", "gate", "check_candidate", "GATE_KINDS"]

log = structlog.get_logger("safety.gate")
GATE_KINDS: dict[str, str] = {"artwork": "image", "trailer": "video", "titles": "text", "remix": "audio"}
_IMAGE_EXT = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif"}
_VIDEO_EXT = {".mp4", ".mov", ".m4v", ".webm", ".mkv"}


@dataclass(frozen=True)
class GateResult:
    decision: str  # allow | review | block
    chosen: Candidate | None
    chosen_verdict: Verdict | None
    verdicts: tuple[tuple[int, Verdict], ...]  # (candidate rank, verdict), in checking order
    policy_version: str
    review_id: str | None = None
    gate_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "decision": self.decision,
            "chosen_rank": self.chosen.rank if self.chosen else None,
            "chosen_verdict": self.chosen_verdict.to_dict() if self.chosen_verdict else None,
            "verdicts": [{"rank": r, **v.to_dict()} for r, v in self.verdicts],
            "policy_version": self.policy_version,
            "review_id": self.review_id,
            "gate_id": self.gate_id,
        }


def _blocked(reason: str, modality: str) -> Verdict:
    return Verdict("block", {}, "error", (reason,), {}, modality, {})


def check_candidate(kind: str, c: Candidate, *, profile: str, brand: str | None, title_id: str | None) -> Verdict:
    modality = GATE_KINDS[kind]
    rec: Mapping[str, Any] = c.record or {}
    parts: list[Verdict] = []
    if kind == "artwork":
        images = [p for p in c.files.values() if Path(p).suffix.lower() in _IMAGE_EXT]
        if not images:
            return _blocked("artwork candidate has no image file", modality)
        for paths, text, box in _artwork_groups(images, rec):
            parts.extend(check_images(paths, profile=profile, title_text=text, title_box=box))
        if c.text:
            parts.extend(check_texts([c.text], profile=profile, brand=brand, title_id=title_id))
    elif kind == "trailer":
        videos = [p for p in c.files.values() if Path(p).suffix.lower() in _VIDEO_EXT]
        if not videos:
            return _blocked("trailer candidate has no video file", modality)
        for v in videos:
            parts.append(check_video(v, profile=profile, transcript=rec.get("transcript"), brand=brand,
                                     title_id=title_id))
    elif kind == "titles":
        if not c.text or not c.text.strip():
            return _blocked("titles candidate has no text", modality)
        parts.extend(check_texts([c.text], profile=profile, brand=brand, title_id=title_id))
    elif kind == "remix":
        parts.append(check_audio(rec, profile=profile, transcript=rec.get("transcript"), brand=brand,
                                 title_id=title_id))
    return combine_verdicts(parts, modality=modality, profile=profile, brand=brand, title_id=title_id)


def _artwork_groups(images: list[str], rec: Mapping[str, Any]) -> list[tuple[list[str], str | None, Any]]:
    """Image files grouped with the title text and box drawn on them.

    Two record layouts are understood: the artwork generator's ``formats`` (format -> {"files":
    {ext: path}, "title": {"text", "box": [x, y, w, h]}}) and flat ``title_text``/``title_box``
    keys that apply to every image. Files not covered by a format are checked without a box."""
    groups: list[tuple[list[str], str | None, Any]] = []
    covered: set[str] = set()
    formats = rec.get("formats")
    if isinstance(formats, Mapping):
        for entry in formats.values():
            if not isinstance(entry, Mapping):
                continue
            files = entry.get("files") or {}
            paths = [str(p) for p in (files.values() if isinstance(files, Mapping) else files) if str(p) in images]
            title = entry.get("title") if isinstance(entry.get("title"), Mapping) else {}
            box = title.get("box")
            if paths:
                groups.append((paths, title.get("text"), tuple(int(v) for v in box) if box else None))
                covered.update(paths)
    rest = [p for p in images if p not in covered]
    if rest:
        box = rec.get("title_box")
        groups.append((rest, rec.get("title_text"), tuple(int(v) for v in box) if box else None))
    return groups


def gate(
    kind: str,
    candidates: Sequence[Candidate],
    *,
    profile: str = "adult",
    brand: str | None = None,
    title_id: str | None = None,
    record: bool = True,
) -> GateResult:
    """The first candidate (best rank first) the policy allows; nothing blocked is ever chosen."""
    if kind not in GATE_KINDS:
        raise InvalidInput(f"unknown asset kind {kind!r} for the safety gate; use one of {', '.join(GATE_KINDS)}")
    validate_profile(profile)
    pol = load_policy()
    version = policy_version()
    servable = {"allow", "review"} if pol.review_servable(profile) else {"allow"}
    gate_id = str(uuid.uuid4())
    verdicts: list[tuple[int, Verdict]] = []
    chosen: Candidate | None = None
    chosen_verdict: Verdict | None = None
    by_rank: dict[int, Candidate] = {}
    for c in sorted(candidates, key=lambda c: c.rank):
        by_rank[c.rank] = c
        try:
            v = check_candidate(kind, c, profile=profile, brand=brand, title_id=title_id)
        except GenPersoError as exc:
            v = _blocked(f"check failed: {exc.message}", GATE_KINDS[kind])
        verdicts.append((c.rank, v))
        if v.decision in servable:
            chosen, chosen_verdict = c, v
            break
    if chosen is not None:
        decision = chosen_verdict.decision  # type: ignore[union-attr]
    else:
        decision = "review" if any(v.decision == "review" for _, v in verdicts) else "block"
    review_id: str | None = None
    if record:
        review_id = _record(kind, profile, brand, title_id, gate_id, version, verdicts, by_rank, chosen)
    log.info("safety gate", kind=kind, profile=profile, decision=decision,
             chosen=chosen.rank if chosen else None, checked=len(verdicts), review_id=review_id)
    return GateResult(decision, chosen, chosen_verdict, tuple(verdicts), version, review_id, gate_id)


def _artifact(c: Candidate) -> str:
    if c.text:
        return c.text[:500]
    return ", ".join(str(p) for p in c.files.values())[:1000]


def _record(kind: str, profile: str, brand: str | None, title_id: str | None, gate_id: str, version: str,
            verdicts: list[tuple[int, Verdict]], by_rank: dict[int, Candidate], chosen: Candidate | None) -> str | None:
    from genperso.catalog import session_scope
    from genperso.catalog.safety import SafetyRepo

    with session_scope() as s:
        repo = SafetyRepo(s)
        review_id: str | None = None
        if chosen is None:
            item = repo.enqueue_review(
                gate_id=gate_id, kind=kind, profile=profile, brand=brand, title_id=title_id,
                decision="review" if any(v.decision == "review" for _, v in verdicts) else "block",
                policy_version=version,
                candidates=[{"rank": r, "files": dict(by_rank[r].files), "text": by_rank[r].text,
                             "score": by_rank[r].score, "verdict": v.to_dict()} for r, v in verdicts],
            )
            review_id = item.id
        for rank, v in verdicts:
            repo.add_decision(
                gate_id=gate_id, kind=kind, modality=v.modality, profile=profile, brand=brand, title_id=title_id,
                candidate_rank=rank, artifact=_artifact(by_rank[rank]), decision=v.decision, label=v.label,
                scores=v.scores, tiers=v.tier, reasons=list(v.reasons), models=v.models, policy_version=version,
                chosen=chosen is not None and chosen.rank == rank, review_id=review_id,
            )
    return review_id
