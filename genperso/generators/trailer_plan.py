"""The trailer cut plan: which shots, which part of each, where on the timeline.

Steps: eligible shots (no black/blank shots, fades trimmed away, nothing after the spoiler
cutoff) → selection by angle score with diversity (near-duplicate rejection on a colour/feature
vector, no adjacent source shots unless needed, coverage of the film) → structure (hook → build
in film order → peak in rising score → title card) → timing: every cut lands on a beat of the
music bed (segment durations are beat multiples, snapped to whole frames), each segment is a
window of its shot whose in/out points never fall inside a spoken line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import MediaError
from ..types import Angle, Shot, SpeechSegment, TitleAnalysis

__all__ = ["PlannedCut", "TrailerPlan", "plan_trailer", "speech_safe_starts", "eligible_shots", "shot_vector"]

EDGE_TRIM = 0.08  # seconds trimmed at both ends of every shot (cut-detection boundary frames)
FADE_TRIM = 0.6  # seconds trimmed after a fade-in / before a fade-out
SPEECH_MARGIN = 0.04  # a cut point must be this far outside a spoken line
DUP_DISTANCE = 0.06  # feature distance below which two shots count as near-duplicates
PREROLL_COST = 0.12  # preference per second of decode pre-roll before an in-point (render speed)


@dataclass(frozen=True)
class PlannedCut:
    shot_index: int
    src_in: float
    src_out: float
    tl_in: float
    tl_out: float
    frames: int
    phase: str  # hook | build | peak
    score: float
    speech_lines: int  # whole spoken lines kept inside this segment

    @property
    def duration(self) -> float:
        return self.tl_out - self.tl_in


@dataclass(frozen=True)
class TrailerPlan:
    cuts: tuple[PlannedCut, ...]
    card_start: float
    duration: float
    fps: float
    spoiler_cutoff: float
    beats: tuple[float, ...]  # timeline beats used for snapping (0 .. duration)
    excluded: dict[str, int]

    def to_dict(self) -> dict[str, object]:
        return {
            "cuts": [c.__dict__ | {"duration": round(c.duration, 4)} for c in self.cuts],
            "card_start": self.card_start,
            "duration": self.duration,
            "fps": self.fps,
            "spoiler_cutoff": round(self.spoiler_cutoff, 3),
            "excluded": dict(self.excluded),
        }


def _hex_rgb(h: str) -> tuple[float, float, float]:
    h = h.lstrip("#")
    if len(h) != 6:
        return (0.5, 0.5, 0.5)
    try:
        return tuple(int(h[i : i + 2], 16) / 255.0 for i in (0, 2, 4))  # type: ignore[return-value]
    except ValueError:
        return (0.5, 0.5, 0.5)


def shot_vector(shot: Shot) -> np.ndarray:
    """Appearance vector for near-duplicate detection: dominant colours + tone + motion."""
    cols = [_hex_rgb(c) for c in shot.dominant_colours[:2]] or [(shot.brightness,) * 3]
    while len(cols) < 2:
        cols.append(cols[0])
    return np.array([*cols[0], *cols[1], shot.brightness, shot.contrast * 2, min(shot.colourfulness, 1.5) / 1.5,
                     min(shot.motion * 4, 1.0), min(shot.face_count, 3) / 3], dtype=np.float64)


def _usable(shot: Shot, next_shot: Shot | None, cutoff: float) -> tuple[float, float]:
    a = shot.start + EDGE_TRIM + (FADE_TRIM if shot.transition_in == "fade" else 0.0)
    b = shot.end - EDGE_TRIM - (FADE_TRIM if next_shot is not None and next_shot.transition_in == "fade" else 0.0)
    return a, min(b, cutoff)


def eligible_shots(analysis: TitleAnalysis, cutoff: float, min_len: float) -> tuple[list[int], dict[str, int], dict[int, tuple[float, float]]]:
    shots = analysis.shots
    keep, usable = [], {}
    excluded = {"black_or_blank": 0, "spoiler": 0, "too_short": 0, "end_credits": 0}
    median = float(np.median([s.duration for s in shots])) if shots else 0.0
    for i, s in enumerate(shots):
        if s.is_black or s.is_blank:
            excluded["black_or_blank"] += 1
            continue
        if s.start >= 0.75 * analysis.duration and s.duration >= max(30.0, 8.0 * median):
            # one very long "shot" near the end is a credits roll (scrolling text never cuts)
            excluded["end_credits"] += 1
            continue
        if s.start + EDGE_TRIM >= cutoff:
            excluded["spoiler"] += 1
            continue
        a, b = _usable(s, shots[i + 1] if i + 1 < len(shots) else None, cutoff)
        if b - a < min_len:
            excluded["too_short"] += 1
            continue
        keep.append(i)
        usable[i] = (a, b)
    return keep, excluded, usable


def speech_safe_starts(
    a: float, b: float, d: float, speech: Sequence[SpeechSegment], step: float
) -> tuple[np.ndarray, np.ndarray]:
    """Window starts x in [a, b-d] (grid ``step``) such that neither x nor x+d lies inside a
    spoken line; returns (starts, number of whole lines inside each window)."""
    if b - a < d - 1e-9:
        return np.zeros(0), np.zeros(0, dtype=int)
    xs = np.arange(a, b - d + 1e-9, step)
    if xs.size == 0:
        xs = np.array([a])
    ok = np.ones(xs.size, dtype=bool)
    lines = np.zeros(xs.size, dtype=int)
    for seg in speech:
        if seg.end < a - d or seg.start > b + d:
            continue
        lo, hi = seg.start - SPEECH_MARGIN, seg.end + SPEECH_MARGIN
        ok &= ~((xs > lo) & (xs < hi))
        ok &= ~((xs + d > lo) & (xs + d < hi))
        lines += ((xs <= lo) & (xs + d >= hi)).astype(int)
    return xs[ok], lines[ok]


def _select(order_scores: np.ndarray, pool: list[int], analysis: TitleAnalysis, n_want: int, cutoff: float,
            rng: np.random.Generator, jitter: float) -> list[int]:
    """Greedy MMR selection: score - redundancy - adjacency - coverage penalties (vectorised)."""
    pool_arr = np.asarray(pool)
    vecs = np.stack([shot_vector(analysis.shots[i]) for i in pool])
    dist = np.linalg.norm(vecs[:, None, :] - vecs[None, :, :], axis=2) / 3.0
    n_bins = max(4, min(12, n_want))
    bins = np.array([min(n_bins - 1, int(analysis.shots[i].start / max(cutoff, 1e-6) * n_bins)) for i in pool])
    base = np.asarray(order_scores, dtype=np.float64)[pool_arr]
    if jitter > 0:
        base = base + rng.uniform(-jitter, jitter, size=base.size)
    dmin = np.full(len(pool), np.inf)
    adjacent = np.zeros(len(pool), dtype=bool)
    bin_count = np.zeros(n_bins)
    free = np.ones(len(pool), dtype=bool)
    chosen: list[int] = []
    while free.any() and len(chosen) < n_want:
        v = base.copy()
        if chosen:
            v -= np.where(dmin < DUP_DISTANCE, 1.0, 0.0)  # near-duplicate: only if nothing else is left
            v -= 0.15 * np.clip(0.35 - dmin, 0.0, None)
            v -= np.where(adjacent, 0.5, 0.0)  # adjacent source shots only when needed
        v -= 0.06 * bin_count[bins]
        v[~free] = -np.inf
        j = int(np.argmax(v))
        chosen.append(int(pool_arr[j]))
        free[j] = False
        dmin = np.minimum(dmin, dist[j])
        adjacent |= np.abs(pool_arr - pool_arr[j]) == 1
        bin_count[bins[j]] += 1
    return chosen


def _structure(chosen: list[int], scores: np.ndarray, n_slots: int) -> list[tuple[int, str]]:
    """hook (best shot outside the peak) → build (film order) → peak (rising score)."""
    main = chosen[:n_slots]
    reserve = chosen[n_slots:]
    if not main:
        return []
    n_peak = max(1, round(0.35 * len(main)))
    by_score = sorted(main, key=lambda i: -scores[i])
    peak = sorted(by_score[:n_peak], key=lambda i: scores[i])
    rest = by_score[n_peak:]
    hook = rest[:1]
    build = sorted(rest[1:])
    seq = [(i, "hook") for i in hook] + [(i, "build") for i in build] + [(i, "peak") for i in peak]
    return seq + [(i, "reserve") for i in reserve]


def _free(usable: tuple[float, float], used: list[tuple[float, float]], gap: float = 0.3) -> list[tuple[float, float]]:
    """Parts of a shot's usable range not yet used (with a gap), longest first."""
    free = [usable]
    for a, b in used:
        nxt = []
        for fa, fb in free:
            if b + gap <= fa or a - gap >= fb:
                nxt.append((fa, fb))
                continue
            if a - gap > fa:
                nxt.append((fa, a - gap))
            if b + gap < fb:
                nxt.append((b + gap, fb))
        free = nxt
    return sorted(free, key=lambda r: r[0] - r[1])


def _place(shot: Shot, free: list[tuple[float, float]], t: float, ends: list[float], want: float,
           speech: Sequence[SpeechSegment], step: float, fps: float, likes_speech: bool, phase: str,
           score: float, keyframes: np.ndarray | None = None) -> PlannedCut | None:
    """The best speech-safe window of ``shot`` ending on one of ``ends`` (closest to ``want`` first)."""
    t_frame = int(round(t * fps))
    for end in sorted(ends, key=lambda e: abs((e - t) - want)):
        n_frames = int(round(end * fps)) - t_frame
        if n_frames <= 0:
            continue
        d = n_frames / fps
        for a, b in free:
            xs, lines = speech_safe_starts(a, b, d, speech, step)
            if xs.size == 0:
                continue
            if b - a >= 2 * d + 0.3:  # room for a second window later: take the first part
                pref = -np.abs(xs - a) / max(shot.duration, 1e-6)
            else:  # the middle of the shot (action settled, no boundary frames)
                pref = -np.abs(xs + d / 2 - (a + b) / 2) / max(shot.duration, 1e-6)
            pref = pref + (0.5 * lines if likes_speech else -0.25 * lines)
            if keyframes is not None and keyframes.size:
                # seconds decoded before the in-point (from the previous source keyframe): cheaper renders
                k = np.clip(np.searchsorted(keyframes, xs + 1e-6, side="right") - 1, 0, None)
                pref = pref - PREROLL_COST * np.clip(xs - keyframes[k], 0.0, 10.0)
            j = int(np.argmax(pref))
            x = float(xs[j])
            return PlannedCut(shot_index=shot.index, src_in=round(x, 4), src_out=round(x + d, 4),
                              tl_in=round(t_frame / fps, 4), tl_out=round((t_frame + n_frames) / fps, 4),
                              frames=n_frames, phase=phase, score=round(score, 4), speech_lines=int(lines[j]))
    return None


def plan_trailer(
    analysis: TitleAnalysis,
    angle: Angle,
    scores: np.ndarray,
    beats: Sequence[float],
    duration: float,
    *,
    fps: float,
    card_seconds: float = 3.0,
    allow_spoilers: bool = False,
    spoiler_guard_fraction: float = 0.15,
    variant: int = 0,
    keyframes: Sequence[float] | None = None,
    seed: int = 0,
) -> TrailerPlan:
    """Plan one trailer; ``beats`` are timeline beat times of the music bed (seconds from 0)."""
    lo, hi = (float(x) for x in angle.style.shot_seconds)
    cutoff = analysis.duration if allow_spoilers else analysis.duration * (1.0 - spoiler_guard_fraction)
    speech = analysis.audio.speech_segments if analysis.audio else ()
    likes_speech = float(dict(angle.style.weights).get("speech", 0.0)) > 0

    # beats on the frame grid, with 0 and a card start that is itself a beat
    grid = sorted({round(float(b) * fps) / fps for b in beats if 0.0 <= b <= duration})
    grid = [0.0] + [b for b in grid if b > 0.0]
    if len(grid) >= 3 and grid[-1] < duration - 1e-6:  # bed beats run out: continue its pulse
        per = float(np.median(np.diff(grid)))
        while grid[-1] + per <= duration + 1e-6:
            grid.append(round((grid[-1] + per) * fps) / fps)
    card_target = duration - card_seconds
    card_start = min((b for b in grid if duration - 5.0 <= b <= duration - 2.0), key=lambda b: abs(b - card_target),
                     default=round(card_target * fps) / fps)
    grid = [b for b in grid if b < card_start - 1e-6] + [card_start]
    body = card_start
    period = float(np.median(np.diff(grid))) if len(grid) > 2 else 0.5

    pool, excluded, usable = eligible_shots(analysis, cutoff, min(lo, period * 1.5))
    if not pool:
        raise MediaError(
            f"no usable shots for a trailer of {analysis.title_id!r}: {excluded['black_or_blank']} black/blank, "
            f"{excluded['spoiler']} after the spoiler cutoff, {excluded['too_short']} too short"
        )
    desired = {"hook": hi, "build": (lo + hi) / 2, "peak": lo, "reserve": (lo + hi) / 2}
    n_slots = max(2, int(round(body / ((lo + hi) / 2))))
    # candidate k: the shots at the heart of candidates 0..k-1 are demoted, plus a little noise
    demoted = np.asarray(scores, dtype=np.float64).copy()
    n_want = min(len(pool), 2 * n_slots + 6)
    for v in range(variant + 1):
        jitter = 0.05 * min(v, 3) + (0.05 if seed else 0.0)  # a regenerate seed re-rolls near-ties
        chosen = _select(demoted, pool, analysis, n_want, cutoff, np.random.default_rng([seed, v]), jitter=jitter)
        if v < variant:
            demoted[chosen[:n_slots]] -= 0.2
    seq = _structure(chosen, scores, n_slots)
    # any eligible shot not chosen is a last resort (e.g. many near-duplicates)
    seq += [(i, "reserve") for i in sorted(set(pool) - set(chosen), key=lambda i: -scores[i])]

    kf = np.asarray(sorted(keyframes), dtype=np.float64) if keyframes else None
    # a second part of a strong shot beats a weak shot: weak ones (below the pool median) come last
    floor = float(np.median([scores[i] for i in pool]))
    cuts: list[PlannedCut] = []
    used: dict[int, list[tuple[float, float]]] = {}
    t = 0.0
    step = 1.0 / fps
    while body - t > 0.5 / fps:
        remaining = body - t
        ends = [b for b in grid if lo - 1e-6 <= b - t <= hi + 1e-6 and (body - b < 1e-6 or body - b >= lo - 1e-6)]
        if remaining <= hi * 1.5 + 1e-6 and remaining >= lo * 0.5:
            ends.append(body)
        if not ends:  # relax: any beat that leaves no gap shorter than one beat
            ends = [b for b in grid if b - t > 1e-6 and (body - b < 1e-6 or body - b >= period - 1e-6)][:8] or [body]
        ends = sorted(set(ends))
        relaxed = sorted({b for b in grid if b - t >= max(period, 0.5) - 1e-6 and b - t <= 2 * hi
                          and (body - b < 1e-6 or body - b >= max(period, 0.5) - 1e-6)})
        placed = None
        # unused shots in structure order, then other parts of used shots; then relaxed lengths
        passes = [(e, reuse, only_good) for e in (ends, relaxed) for only_good in (True, False) for reuse in (False, True)]
        for cand_ends, reuse, only_good in passes:
            for k, (idx, phase) in enumerate(seq):
                if (idx in used) != reuse or (reuse and cuts and cuts[-1].shot_index == analysis.shots[idx].index):
                    continue
                if only_good and scores[idx] < floor:
                    continue
                if phase == "reserve":
                    phase = "peak" if cuts and cuts[-1].phase == "peak" else ("build" if cuts else "hook")
                placed = _place(analysis.shots[idx], _free(usable[idx], used.get(idx, [])), t, cand_ends, desired[phase],
                                speech, step, fps, likes_speech, phase, float(scores[idx]), kf)
                if placed is not None:
                    used.setdefault(idx, []).append((placed.src_in, placed.src_out))
                    if not reuse:
                        seq.append(seq.pop(k)[:1] + ("reserve",))  # keep it as a reuse candidate
                    break
            if placed is not None:
                break
        if placed is None:
            raise MediaError(
                f"not enough usable footage for a {duration:.0f} s trailer of {analysis.title_id!r} "
                f"(filled {t:.1f} of {body:.1f} s with {len(cuts)} shots)"
            )
        cuts.append(placed)
        t = int(round(placed.tl_out * fps)) / fps  # on the frame grid (tl_out is rounded for the record)
    return TrailerPlan(cuts=tuple(cuts), card_start=round(body, 4), duration=float(duration), fps=fps,
                       spoiler_cutoff=cutoff, beats=tuple(round(b, 4) for b in grid), excluded=excluded)
