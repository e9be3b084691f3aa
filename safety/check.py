"""Public checks per modality: texts, images, a rendered video, an audio remix.

Each returns ``Verdict``s decided by the policy for an audience ``profile`` (kids, teen, adult)
and optional ``brand``/``title_id`` rules. Optional classifiers that cannot load (NudeNet not
installed, no CLIP model configured) are skipped and the verdict's reasons say so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from genperso.errors import InvalidInput, MediaError, NotFound

from .base import Scores, Verdict, available_classifiers, get_classifier, merge_scores, worst_decision
from .image import ImageArtifact, load_image
from .policy import load_policy, validate_profile
from .registry import load_classifiers
from .text import TextClassifier, rule_scores

__all__ = ["check_texts", "check_images", "check_frames", "check_video", "check_audio", "combine_verdicts"]

MAX_TEXT_CHARS = 10_000


def _text_models(clf: TextClassifier) -> dict[str, str]:
    return dict(clf.models)


def check_texts(
    texts: Sequence[str],
    *,
    profile: str = "adult",
    brand: str | None = None,
    title_id: str | None = None,
    require_terms: bool = True,
) -> list[Verdict]:
    """One verdict per text (batched through the embedder)."""
    validate_profile(profile)
    if isinstance(texts, str):
        raise InvalidInput("check_texts takes a sequence of texts, not one string")
    for t in texts:
        if not isinstance(t, str):
            raise InvalidInput(f"texts must be strings, got {type(t).__name__}")
        if len(t) > MAX_TEXT_CHARS:
            raise InvalidInput(f"text too long for the safety check ({len(t)} > {MAX_TEXT_CHARS} characters)")
    if not texts:
        return []
    load_classifiers()
    pol = load_policy()
    clf: TextClassifier = get_classifier("text")  # type: ignore[assignment]
    content = clf.classify_batch(list(texts), semantic_mode=pol.semantic_mode)
    rules = pol.rules_for(brand, title_id)
    brand_scores = rule_scores(texts, rules, require=require_terms) if rules else [Scores({"brand": 0.0})] * len(texts)
    models = _text_models(clf) | {"policy": pol.version}
    out: list[Verdict] = []
    for c, b in zip(content, brand_scores):
        scores = merge_scores([c.scores, b.scores])
        out.append(pol.verdict(scores, profile=profile, brand=brand, title_id=title_id,
                               reasons=c.reasons + b.reasons, models=models, modality="text"))
    return out


def _judge_images(artifacts: Sequence[ImageArtifact]) -> tuple[list[Scores], dict[str, str], list[str]]:
    load_classifiers()
    classifiers, notes = available_classifiers("image")
    models = {c.name: c.model_version() for c in classifiers}
    results: list[Scores] = []
    for a in artifacts:
        parts = [c.classify(a) for c in classifiers]
        results.append(Scores(merge_scores([p.scores for p in parts]), tuple(r for p in parts for r in p.reasons)))
    return results, models, notes


def check_images(
    paths: Sequence[str | Path],
    *,
    profile: str = "adult",
    title_text: str | None = None,
    title_box: tuple[int, int, int, int] | None = None,
) -> list[Verdict]:
    """One verdict per image file. ``title_box`` (x, y, w, h, original pixels) enables the
    legibility check (WCAG contrast of the title text against its background)."""
    validate_profile(profile)
    if isinstance(paths, (str, Path)):
        raise InvalidInput("check_images takes a sequence of paths, not one path")
    if title_box is not None and (len(title_box) != 4 or any(int(v) != v for v in title_box)):
        raise InvalidInput(f"title_box must be four integers (x, y, w, h), got {title_box!r}", field="title_box")
    artifacts: list[ImageArtifact] = []
    for p in paths:
        rgb, scale = load_image(p)
        box = None
        if title_box is not None:
            x, y, w, h = (int(v) for v in title_box)
            H, W = round(rgb.shape[0] / scale), round(rgb.shape[1] / scale)
            if w <= 0 or h <= 0 or x < 0 or y < 0 or x + w > W or y + h > H:
                raise InvalidInput(f"title_box {title_box} is outside the {W}x{H} image {p}", field="title_box")
            if scale < 1.0:  # the image was downscaled on load: scale the box, keep it inside
                x, y = min(int(x * scale), rgb.shape[1] - 1), min(int(y * scale), rgb.shape[0] - 1)
                w = max(1, min(round(w * scale), rgb.shape[1] - x))
                h = max(1, min(round(h * scale), rgb.shape[0] - y))
            box = (x, y, w, h)
        artifacts.append(ImageArtifact(rgb, str(p), title_text, box))  # type: ignore[arg-type]
    return check_frames(artifacts, profile=profile)


def check_frames(artifacts: Sequence[ImageArtifact], *, profile: str = "adult") -> list[Verdict]:
    pol = load_policy()
    results, models, notes = _judge_images(artifacts)
    models = models | {"policy": pol.version}
    return [pol.verdict(r.scores, profile=profile, reasons=r.reasons + tuple(notes), models=models,
                        modality="image") for r in results]


def _sample_frames(path: Path, samples: int, width: int = 320) -> list[tuple[float, np.ndarray]]:
    import av

    if not path.exists():
        raise NotFound(f"video file not found: {path}", path=str(path))
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError) as exc:  # type: ignore[attr-defined]
        raise MediaError(f"cannot open video {path}: {exc}", path=str(path)) from None
    out: list[tuple[float, np.ndarray]] = []
    try:
        if not container.streams.video:
            raise MediaError(f"no video stream in {path}", path=str(path))
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        tb = float(stream.time_base) if stream.time_base else 1.0
        duration = float(stream.duration * tb) if stream.duration else (container.duration or 0) / 1e6
        if duration <= 0:
            raise MediaError(f"video {path} has no duration", path=str(path))
        times = [duration * (i + 0.5) / samples for i in range(samples)]
        for t in times:
            container.seek(int(t / tb), stream=stream, backward=True, any_frame=False)
            for frame in container.decode(stream):
                ft = float(frame.pts * tb) if frame.pts is not None else t
                if ft + 1e-3 >= t or ft >= duration:
                    h = max(2, round(frame.height * width / max(1, frame.width)) // 2 * 2)
                    out.append((ft, frame.to_ndarray(width=width, height=h, format="rgb24")))
                    break
    except av.error.FFmpegError as exc:  # type: ignore[attr-defined]
        raise MediaError(f"cannot decode video {path}: {exc}", path=str(path)) from None
    finally:
        container.close()
    if not out:
        raise MediaError(f"no decodable frames in {path}", path=str(path))
    return out


def check_video(
    path: str | Path,
    *,
    profile: str = "adult",
    transcript: str | None = None,
    samples: int = 12,
    brand: str | None = None,
    title_id: str | None = None,
) -> Verdict:
    """Sampled frames through the image classifiers, the transcript through the text ones.
    A few black frames (fades) are normal: ``blank`` is the fraction of blank samples."""
    validate_profile(profile)
    if not 1 <= samples <= 200:
        raise InvalidInput(f"samples must be 1..200, got {samples}")
    frames = _sample_frames(Path(path), samples)
    pol = load_policy()
    results, models, notes = _judge_images([ImageArtifact(f, f"{path}@{t:.2f}s") for t, f in frames])
    content = merge_scores([{k: v for k, v in r.scores.items() if k != "blank"} for r in results])
    blank_frac = sum(r.scores.get("blank", 0.0) >= 0.8 for r in results) / len(results)
    scores = content | {"blank": float(blank_frac)}
    reasons: list[str] = [f"{blank_frac:.0%} of {len(results)} sampled frames blank"] if blank_frac >= 0.3 else []
    for (t, _), r in zip(frames, results):
        reasons.extend(f"{t:.1f}s {x}" for x in r.reasons if not x.startswith("blank"))
    parts = [pol.verdict(scores, profile=profile, brand=brand, title_id=title_id,
                         reasons=tuple(reasons) + tuple(notes),
                         models=models | {"policy": pol.version}, modality="video")]
    if transcript and transcript.strip():
        tv = check_texts([transcript[:MAX_TEXT_CHARS]], profile=profile, brand=brand, title_id=title_id,
                         require_terms=False)[0]
        parts.append(tv)
    return combine_verdicts(parts, modality="video", profile=profile, brand=brand, title_id=title_id)


def check_audio(
    metadata: Mapping[str, Any],
    *,
    profile: str = "adult",
    transcript: str | None = None,
    brand: str | None = None,
    title_id: str | None = None,
) -> Verdict:
    """Explicit flags of the remix and its source tracks, track titles and the transcript.

    ``metadata``: ``{"explicit": bool, "title": str, "tracks": [{"id", "title", "explicit"}]}``
    (any subset). An explicit flag scores profanity 0.95 (floor tier)."""
    validate_profile(profile)
    if not isinstance(metadata, Mapping):
        raise InvalidInput("audio metadata must be a mapping")
    tracks = metadata.get("tracks") or metadata.get("source_tracks") or metadata.get("sources") or []
    if not isinstance(tracks, (list, tuple)):
        raise InvalidInput("audio metadata 'tracks' must be a list")
    catalog_flags = _catalog_explicit([str(t.get("track") or t.get("id")) for t in tracks
                                       if isinstance(t, Mapping) and (t.get("track") or t.get("id"))])
    explicit: list[str] = []
    if metadata.get("explicit"):
        explicit.append("the remix is flagged explicit")
    texts: list[str] = [str(metadata["title"])] if metadata.get("title") else []
    for tr in tracks:
        if not isinstance(tr, Mapping):
            raise InvalidInput("each audio track must be a mapping")
        tid = str(tr.get("track") or tr.get("id") or "")
        if tr.get("explicit") or catalog_flags.get(tid):
            where = "" if tr.get("explicit") else " in the music catalog"
            explicit.append(f"source track {tid or tr.get('title') or '?'} is flagged explicit{where}")
        if tr.get("title"):
            texts.append(str(tr["title"]))
    if transcript and transcript.strip():
        texts.append(transcript[:MAX_TEXT_CHARS])
    pol = load_policy()
    scores = {"profanity": 0.95 if explicit else 0.0}
    parts = [pol.verdict(scores, profile=profile, brand=brand, title_id=title_id, reasons=tuple(explicit),
                         models={"audio-metadata": "explicit-flags-1", "policy": pol.version}, modality="audio")]
    if texts:
        parts.extend(check_texts(texts, profile=profile, brand=brand, title_id=title_id, require_terms=False))
    return combine_verdicts(parts, modality="audio", profile=profile, brand=brand, title_id=title_id)


def _catalog_explicit(track_ids: list[str]) -> dict[str, bool]:
    """Explicit flags of library tracks by id (the remix record names tracks, not their flags)."""
    if not track_ids:
        return {}
    import sqlalchemy as sa

    from genperso.catalog import session_scope
    from genperso.catalog.titles import MusicTrackRow

    with session_scope() as s:
        rows = s.execute(sa.select(MusicTrackRow.id, MusicTrackRow.explicit).where(MusicTrackRow.id.in_(track_ids)))
        return {str(i): bool(e) for i, e in rows}


def combine_verdicts(parts: Sequence[Verdict], *, modality: str, profile: str, brand: str | None = None,
                     title_id: str | None = None) -> Verdict:
    """Worst case over parts: max score per category, re-decided by the policy."""
    if not parts:
        raise InvalidInput("nothing to combine")
    pol = load_policy()
    scores = merge_scores([p.scores for p in parts])
    models: dict[str, str] = {}
    for p in parts:
        models.update(p.models)
    reasons = tuple(dict.fromkeys(r for p in parts for r in p.reasons if " -> " not in r))
    v = pol.verdict(scores, profile=profile, brand=brand, title_id=title_id, reasons=reasons, models=models,
                    modality=modality)
    # a part's own decision (e.g. brand rules on a transcript) can only make it stricter
    decision = worst_decision([v.decision] + [p.decision for p in parts])
    return Verdict(decision, v.scores, v.label, v.reasons, v.models, modality, v.tier)
