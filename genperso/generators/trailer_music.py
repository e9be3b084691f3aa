"""The trailer's music bed: a library track matching the angle's tempo and energy, or the film's
own score; plus the bed's beat grid on the trailer timeline."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import MediaError
from ..media.ffmpeg import run_ffmpeg
from ..types import Angle, TitleAnalysis

__all__ = ["MusicBed", "choose_bed", "film_score_bed", "silent_bed", "library_tracks", "tempo_fit", "timeline_beats"]


@dataclass(frozen=True)
class MusicBed:
    source: str  # "library" | "film score"
    path: str
    offset: float  # start in the bed file (a beat)
    tempo_bpm: float
    beats: tuple[float, ...]  # beat times in the bed file
    energy: float | None = None
    track_id: str | None = None
    title: str = ""
    licence: str = ""
    attribution: str = ""
    loudness_lufs: float | None = None
    match: float = 0.0

    def record(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("beats")
        d["n_beats"] = len(self.beats)
        return d


def tempo_fit(bpm: float, lo: float, hi: float) -> float:
    """0 (far) .. 1 (inside the range), accepting half/double time as a slightly worse fit."""
    best = 0.0
    for mult, penalty in ((1.0, 0.0), (2.0, 0.15), (0.5, 0.15)):
        b = bpm * mult
        dist = 0.0 if lo <= b <= hi else min(abs(b - lo), abs(b - hi)) / max(lo, 1.0)
        best = max(best, max(0.0, 1.0 - 3.0 * dist) - penalty)
    return best


def library_tracks(settings: Any = None) -> list[dict[str, Any]]:
    """All music library rows (dicts) with a tempo and a beat grid."""
    from ..catalog import session_scope
    from ..catalog.titles import MusicRepo

    with session_scope(settings) as s:
        rows = [r.to_dict() for r in MusicRepo(s).list()]
    return [r for r in rows if r.get("tempo_bpm") and r.get("beats") and not r.get("explicit")]


def _pick_offset(track: Mapping[str, Any], duration: float, energy_target: float) -> float:
    """A start beat so the bed covers ``duration``; louder sections for energetic angles."""
    beats = np.asarray(track["beats"], dtype=np.float64)
    room = float(track["duration"]) - duration - 0.5
    starts = beats[(beats >= 0) & (beats <= room)]
    if starts.size == 0:
        return float(beats[0]) if beats.size and beats[0] <= max(room, 0) else 0.0
    cand = starts[:: max(1, len(starts) // 24)]  # up to ~24 candidate start beats, on bar-ish spacing
    try:
        import librosa

        y, sr = librosa.load(track["path"], sr=8000, mono=True)
    except Exception:  # noqa: BLE001 - unreadable for analysis: first beat after a short intro
        return float(cand[min(len(cand) - 1, 1)])
    hop = 400
    rms = librosa.feature.rms(y=y, frame_length=800, hop_length=hop)[0]
    fr = sr / hop
    means = np.array([rms[int(s * fr) : int((s + duration) * fr)].mean() if int((s + duration) * fr) <= rms.size else 0.0
                      for s in cand])
    if not np.any(means > 0):
        return float(cand[0])
    ranks = np.argsort(np.argsort(means)) / max(len(means) - 1, 1)
    want = 0.5 + 0.5 * energy_target  # never pick the quietest stretch: a bed must carry the cut
    first_loud = means >= 0.25 * means.max()  # avoid starting in a near-silent intro
    j = int(np.argmin(np.abs(ranks - want) + np.where(first_loud, 0.0, 10.0)))
    return float(cand[j])


def choose_bed(angle: Angle, duration: float, tracks: Sequence[Mapping[str, Any]], *, variant: int = 0) -> MusicBed | None:
    """Best library track for the angle (tempo fit 60%, energy fit 40%); None if none is long enough."""
    lo, hi = angle.style.tempo_bpm
    scored = []
    for t in tracks:
        if float(t.get("duration") or 0) < duration + 1.0 or not Path(str(t["path"])).is_file():
            continue
        e = t.get("energy")
        efit = 1.0 - abs(float(e) - angle.style.music_energy) if e is not None else 0.5
        scored.append((0.6 * tempo_fit(float(t["tempo_bpm"]), lo, hi) + 0.4 * efit, t))
    if not scored:
        return None
    scored.sort(key=lambda x: (-x[0], x[1]["id"]))
    match, t = scored[min(variant, len(scored) - 1)]
    offset = _pick_offset(t, duration, angle.style.music_energy)
    return MusicBed(
        source="library", path=str(t["path"]), offset=round(offset, 4), tempo_bpm=float(t["tempo_bpm"]),
        beats=tuple(float(b) for b in t["beats"]), energy=t.get("energy"), track_id=str(t["id"]),
        title=str(t.get("title") or ""), licence=str(t.get("licence") or ""),
        attribution=str(t.get("attribution") or ""), loudness_lufs=t.get("loudness_lufs"), match=round(match, 4),
    )


def film_score_bed(analysis: TitleAnalysis, source_path: Path, duration: float, cutoff: float, work_dir: Path) -> MusicBed:
    """The film's own soundtrack as the bed: a music passage before the spoiler cutoff (longest
    detected music segment, else the first stretch after the opening), beats from the analysis or
    tracked here with librosa on that window."""
    audio = analysis.audio
    windows = [(a, b) for a, b in (audio.music_segments if audio else ()) if min(b, cutoff) - a >= duration]
    if windows:
        start = max(windows, key=lambda w: w[1] - w[0])[0]
    else:
        start = min(max(0.0, 0.1 * analysis.duration), max(0.0, cutoff - duration))
    if start + duration > analysis.duration + 1e-3:
        raise MediaError(f"the film is shorter ({analysis.duration:.1f} s) than the {duration:.0f} s trailer")
    span = min(duration + 8.0, analysis.duration - start)
    beats = [b for b in (audio.beats if audio else ()) if start <= b <= start + span]
    tempo = float(audio.tempo_bpm) if audio and audio.tempo_bpm else 0.0
    if len(beats) < duration / 2.0:
        import librosa

        wav = work_dir / "film-score-window.wav"
        run_ffmpeg(["-y", "-ss", f"{start:.3f}", "-t", f"{span:.3f}", "-i", str(source_path), "-vn", "-ac", "1",
                    "-ar", "22050", str(wav)], what="film score extraction")
        y, sr = librosa.load(str(wav), sr=22050, mono=True)
        bpm, frames = librosa.beat.beat_track(y=y, sr=sr, units="frames")
        beats = [start + float(t) for t in librosa.frames_to_time(frames, sr=sr)]
        tempo = float(np.atleast_1d(bpm)[0])
        wav.unlink(missing_ok=True)
    if len(beats) < 4:  # no pulse at all: a regular grid at 100 bpm keeps the pacing musical
        tempo = tempo or 100.0
        beats = list(np.arange(start, start + duration + 1e-6, 60.0 / tempo))
    # start on the first beat that still leaves a full trailer of film sound after it
    offset = min([b for b in beats if b + duration <= analysis.duration + 1e-3] or [start])
    beats = [b for b in beats if offset <= b <= offset + duration + 1e-3]
    return MusicBed(source="film score", path=str(source_path), offset=round(float(offset), 4), tempo_bpm=round(tempo, 2),
                    beats=tuple(float(b) for b in beats), title="film score", licence="film score")


def silent_bed(angle: Angle, duration: float, work_dir: Path) -> MusicBed:
    """No library track and a film without sound: a silent bed with a regular pulse at the middle
    of the angle's tempo range, so the cut keeps its rhythm (the record says there is no music)."""
    lo, hi = angle.style.tempo_bpm
    bpm = (lo + hi) / 2
    path = work_dir / "silent-bed.wav"
    run_ffmpeg(["-y", "-f", "lavfi", "-i", f"anullsrc=r=48000:cl=stereo", "-t", f"{duration + 1:.3f}", str(path)],
               what="silent bed")
    beats = tuple(float(b) for b in np.arange(0.0, duration + 1e-6, 60.0 / bpm))
    return MusicBed(source="none", path=str(path), offset=0.0, tempo_bpm=bpm, beats=beats, title="no music",
                    licence="")


def timeline_beats(bed: MusicBed, duration: float) -> list[float]:
    """Bed beats mapped onto the trailer timeline (0 = bed offset), within 0..duration."""
    return [round(b - bed.offset, 4) for b in bed.beats if 0.0 <= b - bed.offset <= duration + 1e-6]
