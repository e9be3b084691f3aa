"""Tempo and beat grid of music: octave-aware, not quantised to the frame grid.

``estimate_tempo`` works on librosa's onset-strength envelope:

1. *Candidates*: librosa's own tempo plus the strongest peaks of a harmonic-sum spectrum of the
   envelope, each at the metrical levels x1/3, x1/2, x2/3, x1, x3/2, x2, x3.
2. *Refinement*: each candidate is moved to the maximum of the harmonic sum
   ``sum_h |X(h f)|`` of a heavily zero-padded FFT of the envelope (resolution ~0.005 %), so
   the estimate is continuous, not one of librosa's frame-lag tempi.
3. *Salience*: a time-domain comb (teeth one period apart, best phase) on the envelope; its
   contrast (mean at the teeth / overall mean) is high when every tooth sits on an onset, and
   drops at double time (teeth on empty off-beats).
4. *Metrical level*: salience x a perceptual log-normal prior around 120 BPM (one octave wide),
   or, with ``prior_bpm=(lo, hi)``, the most salient level inside that range (e.g. a running
   cadence of 150-180 picks the double-time level of an 85 BPM song).
5. *Beats*: the comb's phase gives a constant-tempo grid; each beat is then nudged towards the
   nearest strong onset (median-smoothed, so slow drift is followed but not jitter). When the
   grid fits the onsets badly (a live recording with a drifting tempo), librosa's dynamic
   programming tracker at the chosen tempo provides the beats instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InvalidInput, MediaError

__all__ = ["TempoEstimate", "estimate_tempo", "load_audio", "onset_envelope", "librosa_beat_tempo", "autocorr_tempo", "METRICAL_LEVELS", "BPM_RANGE"]

METRICAL_LEVELS: tuple[float, ...] = (1 / 3, 1 / 2, 2 / 3, 1.0, 3 / 2, 2.0, 3.0)
BPM_RANGE: tuple[float, float] = (30.0, 300.0)
_FRAME_RATE = 86.0  # onset frames per second (hop 256 at 22.05 kHz)
_PRIOR_CENTER = 120.0
_PRIOR_OCTAVES = 0.85  # width of the log-normal tempo prior (librosa uses 1.0; see bench/remix.py)
_PULSE_SHARE = 0.15  # a level is a pulse when its weakest tooth class keeps this share of its salience
_HARMONICS = (1.0, 0.8, 0.6, 0.45)  # weights of |X(h f)|, h = 1..4
_MIN_SECONDS = 3.0
_ONSET_LATENCY = 0.0165  # s: the onset envelope peaks this long after a click (measured on click tracks)


@dataclass(frozen=True)
class TempoEstimate:
    """Tempo of a signal. ``bpm == 0`` and ``confidence == 0`` mean "no steady beat found"
    (silence, too short, or no periodic onsets). ``beats`` are seconds from the start.
    ``candidates`` are (bpm, score) pairs, best first, including the other metrical levels."""

    bpm: float
    confidence: float
    beats: np.ndarray
    candidates: tuple[tuple[float, float], ...] = ()
    beat_source: str = "grid"  # grid (comb phase + onset nudges) | dynamic (librosa DP) | none
    comb_contrast: float = 0.0  # teeth mean / envelope mean at the chosen tempo
    librosa_bpm: float = 0.0  # librosa's frame-quantised estimate (start_bpm 120), for comparison
    extra: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {
            "bpm": round(self.bpm, 4),
            "confidence": round(self.confidence, 4),
            "n_beats": int(len(self.beats)),
            "beats": [round(float(b), 4) for b in self.beats],
            "candidates": [[round(b, 3), round(s, 4)] for b, s in self.candidates],
            "beat_source": self.beat_source,
            "comb_contrast": round(self.comb_contrast, 4),
            "librosa_bpm": round(self.librosa_bpm, 3),
        }


def _empty(librosa_bpm: float = 0.0) -> TempoEstimate:
    return TempoEstimate(0.0, 0.0, np.zeros(0), (), "none", 0.0, librosa_bpm)


# --------------------------------------------------------------------------------------------
# Audio loading
# --------------------------------------------------------------------------------------------


def load_audio(path: str | Path, sr: int = 22050, mono: bool = True) -> tuple[np.ndarray, int]:
    """Decode the first audio stream of any media file at ``sr`` Hz (ffmpeg, float32).

    Returns ``(y, sr)``: shape (n,) when ``mono``, else (channels, n) (librosa's layout).
    Missing/empty/corrupt files or files without an audio stream raise ``MediaError``."""
    from .ffmpeg import run_ffmpeg
    from .probe import probe_audio

    if not (1000 <= int(sr) <= 192000):
        raise InvalidInput(f"sample rate must be 1000..192000 Hz, got {sr}")
    path = Path(path)
    info = probe_audio(path)  # existence, container and "has an audio stream" checks
    channels = 1 if mono else max(1, min(int(info.channels or 2), 8))
    res = run_ffmpeg(
        ["-v", "error", "-i", str(path), "-map", "0:a:0", "-vn", "-ac", str(channels), "-ar", str(int(sr)),
         "-f", "f32le", "-acodec", "pcm_f32le", "-"],
        capture_stdout=True,
        what=f"decoding the audio of {path.name}",
    )
    data = np.frombuffer(res.stdout, dtype="<f4")
    usable = len(data) - len(data) % channels
    if usable == 0:
        raise MediaError(f"no decodable audio in {path.name}", path=str(path))
    y = data[:usable].reshape(-1, channels).T.copy()
    if not np.all(np.isfinite(y)):
        raise MediaError(f"decoded audio of {path.name} contains NaN/inf samples", path=str(path))
    return (y[0] if mono else y), int(sr)


# --------------------------------------------------------------------------------------------
# Estimation
# --------------------------------------------------------------------------------------------


def _to_mono(y: np.ndarray) -> np.ndarray:
    y = np.asarray(y, dtype=np.float32)
    if y.ndim == 1:
        return y
    if y.ndim == 2:
        axis = 0 if y.shape[0] <= y.shape[1] else 1  # (channels, n) or (n, channels)
        return y.mean(axis=axis).astype(np.float32)
    raise InvalidInput(f"audio must be 1-D or 2-D, got shape {y.shape}")


def onset_envelope(y: np.ndarray, sr: int) -> tuple[np.ndarray, float, int]:
    """librosa onset strength at ~86 frames/s. Returns (envelope, frame_rate, hop)."""
    import librosa

    hop = max(32, int(round(sr / _FRAME_RATE)))
    n_fft = 1 << int(round(math.log2(hop * 8)))
    o = librosa.onset.onset_strength(y=y, sr=sr, hop_length=hop, n_fft=n_fft)
    return o.astype(np.float64), sr / hop, hop


def _log_prior(bpm: float, center: float = _PRIOR_CENTER, octaves: float = _PRIOR_OCTAVES) -> float:
    return math.exp(-0.5 * (math.log2(bpm / center) / octaves) ** 2)


class _Spectrum:
    """|FFT| of the mean-removed envelope, zero-padded for a fine, continuous frequency axis."""

    def __init__(self, o: np.ndarray, fr: float) -> None:
        x = o - o.mean()
        n_fft = 1 << max(18, int(math.ceil(math.log2(len(x) * 16))))
        self.mag = np.abs(np.fft.rfft(x * np.hanning(len(x)), n=n_fft))
        self.df = fr / n_fft  # Hz per bin

    def at(self, hz: np.ndarray) -> np.ndarray:
        idx = hz / self.df
        return np.interp(idx, np.arange(len(self.mag)), self.mag, right=0.0)

    def harmonic_sum(self, bpm: np.ndarray) -> np.ndarray:
        f = np.asarray(bpm, dtype=np.float64) / 60.0
        return sum(w * self.at(f * h) for h, w in enumerate(_HARMONICS, start=1))


def _refine(spec: _Spectrum, bpm: float, rel: float = 0.015, step: float = 5e-5) -> float:
    """Local maximum of the harmonic sum near ``bpm`` (window re-centred when the max is at its edge)."""
    for _ in range(4):
        grid = bpm * np.exp(np.arange(-rel, rel + step / 2, step))
        i = int(np.argmax(spec.harmonic_sum(grid)))
        bpm = float(grid[i])
        if 0 < i < len(grid) - 1:
            break
    return bpm


def _comb(o_s: np.ndarray, fr: float, bpm: float) -> tuple[float, float, float]:
    """(contrast, pulse salience, best phase in frames) of a comb with one tooth per beat.

    ``contrast`` = mean envelope at the teeth (best phase) / overall mean. ``pulse salience``
    is the same for the weakest residue class of teeth (mod 2 and mod 3) minus one: a level
    whose every second (or third) tooth falls on silence is not a pulse, while accents on
    every second beat do not make the half-time level look better than the beat itself."""
    period = 60.0 * fr / bpm
    n = len(o_s)
    phases = np.arange(0.0, period, 0.25)
    k = np.arange(int((n - 1) // period) + 1)
    pos = phases[:, None] + k[None, :] * period
    valid = pos <= n - 1
    vals = np.interp(pos, np.arange(n), o_s) * valid
    means = vals.sum(axis=1) / np.maximum(valid.sum(axis=1), 1)
    best = int(np.argmax(means))
    mean = max(float(o_s.mean()), 1e-9)
    row, ok = vals[best], valid[best]
    weakest = float(means[best])
    for m in (2, 3):
        for r in range(m):
            sel = ok & (k % m == r)
            if sel.sum() >= 2:
                weakest = min(weakest, float(row[sel].mean()))
    return float(means[best] / mean), max(weakest / mean - 1.0, 0.0), float(phases[best])


def _comb_refine(o_s: np.ndarray, fr: float, bpm: float, rel: float = 0.002, step: float = 5e-5) -> float:
    """Fine search of the comb's contrast around a spectral estimate (sharper than the spectrum:
    the comb sums every harmonic of the beat period); re-centred when the max is at the edge."""
    for _ in range(4):
        grid = bpm * np.exp(np.arange(-rel, rel + step / 2, step))
        contrasts = [_comb(o_s, fr, float(b))[0] for b in grid]
        i = int(np.argmax(contrasts))
        bpm = float(grid[i])
        if 0 < i < len(grid) - 1:
            break
    return bpm


def _candidate_seeds(spec: _Spectrum, librosa_bpm: float) -> list[float]:
    grid = 40.0 * np.exp(np.arange(0.0, math.log(240.0 / 40.0), 0.002))
    h = spec.harmonic_sum(grid)
    peaks = [i for i in range(1, len(h) - 1) if h[i] >= h[i - 1] and h[i] > h[i + 1]]
    peaks.sort(key=lambda i: -h[i])
    seeds = [librosa_bpm] if librosa_bpm > 0 else []
    seeds += [float(grid[i]) for i in peaks[:3]]
    return seeds


def _beats(o_s: np.ndarray, o: np.ndarray, fr: float, hop: int, sr: int, bpm: float, phase: float,
           duration: float) -> tuple[np.ndarray, str]:
    """Comb grid nudged to nearby strong onsets; librosa DP when the grid fits badly."""
    from scipy.ndimage import median_filter

    period = 60.0 * fr / bpm
    n = len(o_s)
    grid = np.arange(phase, n - 1, period)
    if len(grid) < 2:
        return np.zeros(0), "none"
    thresh = float(o_s.mean() + o_s.std())
    win = max(1, int(round(0.12 * period)))
    offsets = np.zeros(len(grid))
    hit = np.zeros(len(grid), dtype=bool)
    for i, g in enumerate(grid):
        lo, hi = max(0, int(round(g)) - win), min(n, int(round(g)) + win + 1)
        seg = o_s[lo:hi]
        j = int(np.argmax(seg))
        if seg[j] > thresh:
            hit[i] = True
            offsets[i] = lo + j - g
    # share of beats on an onset; at a double-time level only every second beat needs one
    fit = max(float(hit.mean()), float(hit[0::2].mean()), float(hit[1::2].mean()))
    if fit < 0.5 and duration > 8.0:
        import librosa

        _, frames = librosa.beat.beat_track(onset_envelope=o, sr=sr, hop_length=hop, bpm=bpm, units="frames")
        if len(frames) >= 2:
            return frames.astype(np.float64) / fr, "dynamic"
    smooth = median_filter(np.where(hit, offsets, 0.0), size=9, mode="nearest") if len(grid) >= 9 else offsets * 0
    beats = (grid + smooth) / fr - _ONSET_LATENCY
    beats = beats[(beats >= 0.0) & (beats <= duration)]
    return beats, "grid"


def estimate_tempo(y: np.ndarray, sr: int, *, prior_bpm: tuple[float, float] | None = None) -> TempoEstimate:
    """Tempo (continuous BPM, chosen metrical level), confidence 0..1, beat times and candidates.

    ``prior_bpm=(lo, hi)`` picks the most salient metrical level inside that range (e.g. a target
    cadence); without it a log-normal prior around 120 BPM decides between x0.5 / x1 / x2."""
    import librosa

    if sr <= 0:
        raise InvalidInput(f"sample rate must be positive, got {sr}")
    if prior_bpm is not None:
        lo, hi = (float(v) for v in prior_bpm)
        if not (0 < lo <= hi) or not math.isfinite(hi):
            raise InvalidInput(f"prior_bpm must be (low, high) with 0 < low <= high, got {prior_bpm!r}")
    mono = _to_mono(y)
    if not np.all(np.isfinite(mono)):
        raise InvalidInput("audio contains NaN or infinite samples")
    duration = len(mono) / sr
    if duration < _MIN_SECONDS or float(np.sqrt(np.mean(mono.astype(np.float64) ** 2))) < 1e-5:
        return _empty()
    o, fr, hop = onset_envelope(mono, sr)
    if float(o.max()) <= 0 or float(o.std()) < 1e-9:
        return _empty()
    # librosa's own estimate (a seed, and reported): its standard ~43 frames/s envelope, made here by
    # max-pooling ours in pairs (the autocorrelation tempogram costs 4x as much at full rate)
    o2 = o[: len(o) // 2 * 2].reshape(-1, 2).max(axis=1)
    lib = float(np.atleast_1d(librosa.feature.tempo(onset_envelope=o2, sr=sr, hop_length=hop * 2))[0])

    from scipy.ndimage import gaussian_filter1d

    o_s = gaussian_filter1d(o, sigma=1.0)
    spec = _Spectrum(o, fr)
    seeds = _candidate_seeds(spec, lib)
    cands: list[float] = []
    for s in seeds:
        for lvl in METRICAL_LEVELS:
            b = s * lvl
            if BPM_RANGE[0] <= b <= BPM_RANGE[1] and all(abs(math.log(b / c)) > 0.004 for c in cands):
                cands.append(b)
    refined: list[float] = []
    for c in cands:
        r = _refine(spec, c)
        if all(abs(math.log(r / x)) > 0.01 for x in refined):
            refined.append(r)
    scored: list[tuple[float, float, float, float]] = []  # bpm, score, comb salience, pulse salience
    for b in refined:
        contrast, pulse, _ = _comb(o_s, fr, b)
        salience = max(contrast - 1.0, 0.0)
        is_pulse = pulse >= _PULSE_SHARE * salience  # not a level with empty teeth
        scored.append((b, salience * _log_prior(b) if is_pulse else 0.0, salience, pulse))
    if not scored or max(s[1] for s in scored) <= 0.0:
        return _empty(lib)
    scored.sort(key=lambda t: -t[1])
    chosen = scored[0]
    if prior_bpm is not None:
        chosen = _pick_in_range(scored, chosen, lo, hi)
    bpm = _comb_refine(o_s, fr, chosen[0])
    contrast, _, phase = _comb(o_s, fr, bpm)
    salience = max(contrast - 1.0, 0.0)
    beats, source = _beats(o_s, o, fr, hop, sr, bpm, phase, duration)
    top = scored[0][1]
    rival = max((s[1] for s in scored if not _metrically_related(s[0], bpm)), default=0.0)
    margin = 1.0 - rival / top if top > 0 else 0.0
    confidence = (salience / (salience + 1.0)) * (0.5 + 0.5 * max(margin, 0.0))
    candidates = tuple((round(b, 4), round(sc, 5)) for b, sc, _, _ in scored[:8])
    return TempoEstimate(float(bpm), float(confidence), beats, candidates, source, float(contrast), lib)


def _pick_in_range(scored: list[tuple[float, float, float, float]], best: tuple[float, float, float, float],
                   lo: float, hi: float) -> tuple[float, float, float, float]:
    """The most salient candidate inside [lo, hi]: duple levels of the best tempo (x0.5, x1, x2,
    x4, x0.25) first, then triple ones (x1.5, x3, x2/3, x1/3), then any salient candidate."""
    best_sal = max(s[2] for s in scored)
    inside = [s for s in scored if lo * 0.98 <= s[0] <= hi * 1.02 and s[2] >= 0.2 * best_sal]
    for levels in ((0.25, 0.5, 1.0, 2.0, 4.0), (1 / 3, 2 / 3, 1.5, 3.0)):
        related = [s for s in inside if any(abs(math.log(s[0] / best[0] / lvl)) < 0.02 for lvl in levels)]
        if related:
            return max(related, key=lambda s: s[2])
    return max(inside, key=lambda s: s[2]) if inside else best


def _metrically_related(a: float, b: float, tol: float = 0.03) -> bool:
    r = a / b
    return any(abs(math.log(r / lvl)) < tol for lvl in (*METRICAL_LEVELS, 4.0, 0.25))


def librosa_beat_tempo(y: np.ndarray, sr: int, *, start_bpm: float = 120.0, hop_length: int = 512,
                       regression: bool = False) -> float:
    """Plain ``librosa.beat.beat_track`` tempo: the baseline, and an independent check of a remix.

    With ``regression`` the tempo is the least-squares slope of librosa's own beat times against
    their index (not quantised to the frame grid, still librosa's beats and metrical level)."""
    import librosa

    mono = _to_mono(y)
    tempo, frames = librosa.beat.beat_track(y=mono, sr=sr, hop_length=hop_length, start_bpm=start_bpm)
    bpm = float(np.atleast_1d(tempo)[0])
    if regression and len(frames) >= 8:
        t = librosa.frames_to_time(frames, sr=sr, hop_length=hop_length)
        ibi = np.diff(t)
        med = float(np.median(ibi))
        # keep the runs of regular beats; drop the tracker's occasional skipped/doubled beat
        idx = np.concatenate([[0], np.cumsum(np.maximum(np.round(ibi / med), 1))])
        slope = float(np.polyfit(idx, t, 1)[0])
        if slope > 0:
            bpm = 60.0 / slope
    return bpm


def autocorr_tempo(y: np.ndarray, sr: int, near_bpm: float, *, n_beats: int = 16, window: float = 0.05) -> float:
    """Tempo near ``near_bpm`` from plain librosa primitives (onset strength, autocorrelation):
    the autocorrelation peak at a lag of ``n_beats`` beats, parabolically interpolated, divided by
    ``n_beats``. Independent of ``estimate_tempo``'s spectrum and comb; used to verify remixes.
    Returns 0.0 when no peak lies within ``window`` (relative) of the expected lag."""
    import librosa

    mono = _to_mono(y)
    hop = max(32, int(round(sr / _FRAME_RATE)))
    o = librosa.onset.onset_strength(y=mono, sr=sr, hop_length=hop)
    fr = sr / hop
    expect = n_beats * 60.0 * fr / near_bpm
    while expect > 0.5 * len(o) and n_beats > 2:  # short audio: a shorter lag
        n_beats //= 2
        expect = n_beats * 60.0 * fr / near_bpm
    lo, hi = int(math.floor(expect * (1 - window))), int(math.ceil(expect * (1 + window)))
    if hi + 2 >= len(o) or lo < 2:
        return 0.0
    ac = librosa.autocorrelate(o - o.mean(), max_size=hi + 2)
    k = lo + int(np.argmax(ac[lo:hi + 1]))
    if k in (lo, hi):
        return 0.0
    a, b, c = ac[k - 1], ac[k], ac[k + 1]
    den = a - 2 * b + c
    delta = 0.5 * (a - c) / den if den < 0 else 0.0
    lag = k + float(np.clip(delta, -0.5, 0.5))
    return 60.0 * fr * n_beats / lag
