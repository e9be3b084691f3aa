"""OpenTimelineIO export of a trailer so an editor can relink to the source media and refine it.

Tracks: V1 picture (source ranges of the film, then the title card still), A1 film sound of
the same ranges (with the gains used in the mix), A2 the music bed (library track or film
score). Crop windows, grade, ducking and scores travel as ``metadata["genperso"]``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .trailer_crop import CropWindow
from .trailer_music import MusicBed
from .trailer_plan import TrailerPlan

__all__ = ["write_otio"]


def write_otio(
    path: Path,
    *,
    name: str,
    plan: TrailerPlan,
    source_path: Path,
    source_duration: float,
    bed: MusicBed,
    bed_duration: float | None,
    card_png: Path,
    crops: Sequence[CropWindow],
    segment_gains_db: Sequence[float],
    meta: Mapping[str, Any],
) -> Path:
    import opentimelineio as otio

    rate = plan.fps

    def rt(seconds: float) -> otio.opentime.RationalTime:
        return otio.opentime.RationalTime(round(seconds * rate), rate)

    def tr(start: float, dur: float) -> otio.opentime.TimeRange:
        return otio.opentime.TimeRange(rt(start), rt(dur))

    def frames_range(start: float, frames: int) -> otio.opentime.TimeRange:
        return otio.opentime.TimeRange(rt(start), otio.opentime.RationalTime(frames, rate))

    src_uri = Path(source_path).resolve().as_uri()
    tl = otio.schema.Timeline(name=name)
    tl.metadata["genperso"] = dict(meta)
    v1 = otio.schema.Track(name="V1 picture", kind=otio.schema.TrackKind.Video)
    a1 = otio.schema.Track(name="A1 film sound", kind=otio.schema.TrackKind.Audio)
    a2 = otio.schema.Track(name="A2 music bed", kind=otio.schema.TrackKind.Audio)
    for k, c in enumerate(plan.cuts):
        ref = otio.schema.ExternalReference(target_url=src_uri, available_range=tr(0.0, source_duration))
        clip = otio.schema.Clip(name=f"shot {c.shot_index}", media_reference=ref,
                                source_range=frames_range(c.src_in, c.frames))
        clip.metadata["genperso"] = {"shot_index": c.shot_index, "phase": c.phase, "score": c.score,
                                     "crop": crops[k].to_dict() if k < len(crops) else None}
        v1.append(clip)
        aref = otio.schema.ExternalReference(target_url=src_uri, available_range=tr(0.0, source_duration))
        aclip = otio.schema.Clip(name=f"shot {c.shot_index} sound", media_reference=aref,
                                 source_range=frames_range(c.src_in, c.frames))
        if k < len(segment_gains_db):
            aclip.metadata["genperso"] = {"gain_db": segment_gains_db[k]}
        a1.append(aclip)
    card_frames = int(round(plan.duration * rate)) - int(round(plan.card_start * rate))
    card_ref = otio.schema.ExternalReference(target_url=Path(card_png).resolve().as_uri(),
                                             available_range=otio.opentime.TimeRange(rt(0), otio.opentime.RationalTime(card_frames, rate)))
    card = otio.schema.Clip(name="title card", media_reference=card_ref,
                            source_range=otio.opentime.TimeRange(rt(0), otio.opentime.RationalTime(card_frames, rate)))
    v1.append(card)
    a1.append(otio.schema.Gap(source_range=otio.opentime.TimeRange(rt(0), otio.opentime.RationalTime(card_frames, rate))))
    total_frames = int(round(plan.duration * rate))
    if bed.source == "none":  # no music at all: an empty music track keeps the layout
        a2.append(otio.schema.Gap(source_range=otio.opentime.TimeRange(rt(0), otio.opentime.RationalTime(total_frames, rate))))
        tl.tracks.extend([v1, a1, a2])
        path.parent.mkdir(parents=True, exist_ok=True)
        otio.adapters.write_to_file(tl, str(path))
        return path
    bed_ref = otio.schema.ExternalReference(
        target_url=Path(bed.path).resolve().as_uri(),
        available_range=tr(0.0, bed_duration) if bed_duration else None,
    )
    bed_clip = otio.schema.Clip(name=bed.title or "music bed", media_reference=bed_ref,
                                source_range=otio.opentime.TimeRange(rt(bed.offset), otio.opentime.RationalTime(total_frames, rate)))
    bed_clip.metadata["genperso"] = bed.record()
    a2.append(bed_clip)
    tl.tracks.extend([v1, a1, a2])
    path.parent.mkdir(parents=True, exist_ok=True)
    otio.adapters.write_to_file(tl, str(path))
    return path
