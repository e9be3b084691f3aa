"""Beat-aligned crossfades between tracks that already share one tempo.

Each track comes with its beat times (seconds, in its own time line). A transition overlaps the
last usable downbeat of the outgoing track with the first downbeat of the incoming one, fades
over ``n_beats`` beats with equal-power curves, and so keeps every beat of both tracks on the
same grid through the overlap. Downbeats: the beat class (mod the meter) with the strongest
low-frequency onsets.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import InvalidInput

__all__ = ["MixTrack", "Transition", "MixResult", "downbeat_class", "beat_mix"]


@dataclass(frozen=True)
class MixTrack:
    y: np.ndarray  # (channels, n) float32, already at the mix tempo
    sr: int
    beats: np.ndarray  # seconds, in this track's time line
    label: str = ""

    @property
    def duration(self) -> float:
        return self.y.shape[1] / self.sr


@dataclass(frozen=True)
class Transition:
    out_start: float  # output time where the fade starts (a beat of both tracks)
    out_end: float
    from_track: int
    to_track: int
    from_beat: float  # the outgoing track's own time of its beat at out_start
    to_beat: float  # the incoming track's own time of its beat at out_start
    from_downbeat: bool
    to_downbeat: bool

    def to_dict(self) -> dict[str, object]:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class MixResult:
    y: np.ndarray
    sr: int
    transitions: tuple[Transition, ...]
    spans: tuple[tuple[float, float, float], ...]  # per track: (output start, source start, source end)
    beats: np.ndarray  # output beat times (seconds)


def downbeat_class(y: np.ndarray, sr: int, beats: np.ndarray, meter: int = 4) -> int:
    """Which beat index class (mod ``meter``) carries the downbeats: the one with the strongest
    bass onsets (kick drums land on the one); 0 when undecidable."""
    import librosa

    if len(beats) < 2 * meter:
        return 0
    mono = y.mean(axis=0) if y.ndim == 2 else y
    hop = 512
    o = librosa.onset.onset_strength(y=mono, sr=sr, hop_length=hop, fmax=300.0, n_mels=6)
    frames = np.clip(np.round(beats * sr / hop).astype(int), 0, len(o) - 1)
    strength = np.array([o[np.clip(f - 1, 0, None):f + 2].max() for f in frames])
    means = [float(strength[c::meter].mean()) for c in range(meter)]
    best = int(np.argmax(means))
    return best if means[best] > 1.05 * float(np.mean(means)) else 0


def _curves(n: int) -> tuple[np.ndarray, np.ndarray]:
    t = (np.arange(n, dtype=np.float64) + 0.5) / max(n, 1)
    return np.cos(t * np.pi / 2).astype(np.float32), np.sin(t * np.pi / 2).astype(np.float32)


def beat_mix(tracks: Sequence[MixTrack], bpm: float, *, n_beats: int = 8, meter: int = 4,
             max_track_seconds: float | None = None) -> MixResult:
    """Concatenate ``tracks`` (all at ``bpm``) with beat-aligned crossfades of ``n_beats`` beats."""
    if not tracks:
        raise InvalidInput("nothing to mix: no tracks")
    if not (1 <= n_beats <= 64):
        raise InvalidInput(f"crossfade length must be 1..64 beats, got {n_beats}")
    sr = tracks[0].sr
    ch = tracks[0].y.shape[0]
    if any(t.sr != sr or t.y.shape[0] != ch for t in tracks):
        raise InvalidInput("tracks to mix must share one sample rate and channel count")
    fade_s = n_beats * 60.0 / bpm
    downs = [downbeat_class(t.y, sr, np.asarray(t.beats), meter) for t in tracks]

    # source in/out points (seconds in each track's own time line)
    ins: list[float] = [0.0] * len(tracks)
    outs: list[float] = [t.duration for t in tracks]
    in_beat_idx: list[int | None] = [None] * len(tracks)
    out_beat_idx: list[int | None] = [None] * len(tracks)
    for i in range(1, len(tracks)):
        b = np.asarray(tracks[i].beats)
        cand = [k for k in range(len(b)) if k % meter == downs[i]] or list(range(len(b)))
        if not cand:
            raise InvalidInput(f"track {tracks[i].label or i} has no beats to mix on")
        in_beat_idx[i] = cand[0]
        ins[i] = float(b[cand[0]])
    for i in range(len(tracks) - 1):
        a = np.asarray(tracks[i].beats)
        lo = ins[i] + (fade_s if i > 0 else 0.0)  # the previous fade-in must be over
        hi = tracks[i].duration - fade_s - 0.05
        if max_track_seconds:
            hi = min(hi, ins[i] + (fade_s if i > 0 else 0.0) + max_track_seconds)
        cand = [k for k in range(len(a)) if lo <= a[k] <= hi and k % meter == downs[i]]
        cand = cand or [k for k in range(len(a)) if lo <= a[k] <= hi]
        if not cand:
            raise InvalidInput(
                f"track {tracks[i].label or i} is too short for a {n_beats}-beat crossfade at {bpm:.1f} BPM"
            )
        out_beat_idx[i] = cand[-1]
        outs[i] = float(a[cand[-1]]) + fade_s
    if max_track_seconds and len(tracks) >= 1:
        last = len(tracks) - 1
        outs[last] = min(outs[last], ins[last] + (fade_s if last > 0 else 0.0) + max_track_seconds)

    # place the tracks on the output time line (sample-exact, from the beat times)
    starts = [0]  # output sample where each track's in-point lands
    for i in range(1, len(tracks)):
        fade_from_src = outs[i - 1] - fade_s  # the outgoing beat, in track i-1's time
        starts.append(starts[i - 1] + int(round((fade_from_src - ins[i - 1]) * sr)))
    total = starts[-1] + int(round((outs[-1] - ins[-1]) * sr))
    mix = np.zeros((ch, total), dtype=np.float32)
    nf = int(round(fade_s * sr))
    fade_out, fade_in = _curves(nf)
    transitions: list[Transition] = []
    spans: list[tuple[float, float, float]] = []
    out_beats: list[np.ndarray] = []
    for i, t in enumerate(tracks):
        s0, s1 = int(round(ins[i] * sr)), min(int(round(outs[i] * sr)), t.y.shape[1])
        seg = t.y[:, s0:s1].copy()
        if i > 0:
            seg[:, :nf] *= fade_in[: seg.shape[1]]
        if i < len(tracks) - 1:
            seg[:, seg.shape[1] - nf:] *= fade_out[-min(nf, seg.shape[1]):]
        end = min(starts[i] + seg.shape[1], total)
        mix[:, starts[i]:end] += seg[:, : end - starts[i]]
        spans.append((starts[i] / sr, ins[i], outs[i]))
        b = np.asarray(t.beats)
        own_end = outs[i] - fade_s if i < len(tracks) - 1 else outs[i]  # the next track owns the overlap
        keep = b[(b >= ins[i] - 1e-6) & (b < own_end - 1e-6)]
        out_beats.append(keep - ins[i] + starts[i] / sr)
        if i > 0:
            fb = outs[i - 1] - fade_s
            transitions.append(Transition(
                out_start=starts[i] / sr, out_end=starts[i] / sr + fade_s, from_track=i - 1, to_track=i,
                from_beat=fb, to_beat=ins[i],
                from_downbeat=out_beat_idx[i - 1] is not None and out_beat_idx[i - 1] % meter == downs[i - 1],
                to_downbeat=in_beat_idx[i] is not None and in_beat_idx[i] % meter == downs[i],
            ))
    if outs[-1] < tracks[-1].duration - 0.05:  # the last track was cut: fade its end over one beat
        n_end = min(int(round(60.0 / bpm * sr)), mix.shape[1])
        mix[:, mix.shape[1] - n_end:] *= fade_out[np.linspace(0, nf - 1, n_end).astype(int)] if nf else 0.0
    beats = np.sort(np.concatenate(out_beats)) if out_beats else np.zeros(0)
    return MixResult(mix, sr, tuple(transitions), tuple(spans), beats)
