"""Mastering of generated audio: EBU R128 loudness, true-peak ceiling, encoding by file extension
(.m4a AAC, .mp3, .wav) with metadata tags. Atomic: the file appears complete or not at all.

Single pass: the mix is measured in memory (``measure_array``: ITU-R BS.1770-4 K-weighting and
gating, EBU Tech 3342 loudness range, 4x oversampled true peak; the filter constants of
libebur128 / ffmpeg's ``ebur128``), peaks are limited only when the gain to the target would push
the true peak over the ceiling, the gain is applied in numpy and the audio is piped to ONE
encode. The encoded file is decoded and measured again (what the record reports); a codec
overshoot over the ceiling costs a re-encode with a small trim.
"""

from __future__ import annotations

import math
import os
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InvalidInput, MediaError
from ..logs import get_logger
from .ffmpeg import Loudness, ffmpeg_exe

__all__ = ["MasterResult", "master_audio", "measure_array", "true_peak", "CODECS"]

log = get_logger("genperso.media.master")
_CODEC_MARGIN_DB = 0.5  # true-peak head-room left for encoder overshoot

# extension -> ffmpeg codec arguments
CODECS: dict[str, list[str]] = {
    ".m4a": ["-c:a", "aac", "-b:a", "192k", "-movflags", "+faststart"],
    ".mp3": ["-c:a", "libmp3lame", "-b:a", "192k", "-id3v2_version", "3"],
    ".wav": ["-c:a", "pcm_s16le"],
}


@dataclass(frozen=True)
class MasterResult:
    path: Path
    codec: str
    before: Loudness  # the un-normalised mix
    after: Loudness  # the encoded file, re-measured
    passes: int  # measure + encode = 2; more when codec overshoot needed a trim
    seconds: float
    limited: int = 0  # look-ahead limiter passes before the gain (peaky material)
    decoded: np.ndarray | None = field(default=None, repr=False, compare=False)  # the encoded file, (ch, n) at sr

    def to_dict(self) -> dict[str, object]:
        return {
            "path": str(self.path),
            "codec": self.codec,
            "input_loudness": self.before.to_dict(),
            "integrated_lufs": round(self.after.integrated_lufs, 2),
            "true_peak_dbtp": round(self.after.true_peak_dbtp, 2),
            "loudness_range_lu": round(self.after.lra_lu, 2),
            "passes": self.passes,
            "limiter_passes": self.limited,
            "seconds": round(self.seconds, 3),
        }


def _tag_args(tags: Mapping[str, str]) -> list[str]:
    out: list[str] = []
    for k, v in tags.items():
        if not k.replace("_", "").isalnum():
            raise InvalidInput(f"metadata tag name {k!r} must be alphanumeric")
        out += ["-metadata", f"{k}={str(v)[:4000]}"]
    return out


def master_audio(y: np.ndarray, sr: int, out_path: str | Path, *, target_lufs: float = -14.0,
                 true_peak_ceiling: float = -1.0, tags: Mapping[str, str] | None = None) -> MasterResult:
    """Normalise ``y`` (channels, n) to ``target_lufs`` integrated with true peak below
    ``true_peak_ceiling`` dBTP and encode it to ``out_path`` (format from the extension)."""
    t0 = time.perf_counter()
    out = Path(out_path)
    ext = out.suffix.lower()
    if ext not in CODECS:
        raise InvalidInput(f"output must end in one of {', '.join(CODECS)}; got {out.name!r}")
    y = np.asarray(y, dtype=np.float32)
    if y.ndim == 1:
        y = y[None, :]
    if y.size == 0 or not np.all(np.isfinite(y)):
        raise InvalidInput("audio to master is empty or contains NaN/inf samples")
    if float(np.max(np.abs(y))) < 1e-6:
        raise InvalidInput("audio to master is silent: nothing to normalise")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.{os.getpid()}-{time.monotonic_ns()}.tmp{ext}")
    before = measured = measure_array(y, sr)
    # aim under the ceiling: the encoder adds some overshoot to the true peak
    aim_tp = true_peak_ceiling - _CODEC_MARGIN_DB
    limited = 0
    while limited < 3 and measured.true_peak_dbtp + (target_lufs - measured.integrated_lufs) > aim_tp + 0.1:
        # the gain to the target would push the true peak over the ceiling: limit the peaks first
        # (look-ahead, 4x oversampled), so the gain itself stays linear
        gain_db = target_lufs - measured.integrated_lufs
        y = _limit_true_peak(y, sr, 10 ** ((aim_tp - 0.2 - gain_db) / 20))
        measured = measure_array(y, sr)
        limited += 1
    gain_db = target_lufs - measured.integrated_lufs
    gain_db = min(gain_db, aim_tp + 0.1 - measured.true_peak_dbtp)  # never over the ceiling (limiter gave up)
    try:
        _encode(y * np.float32(10 ** (gain_db / 20)), sr, tmp, ext, tags or {})
        decoded = _decode(tmp, sr, y.shape[0])
        after = measure_array(decoded, sr)
        passes = 2
        trim = 0.0
        while passes < 4 and after.true_peak_dbtp > true_peak_ceiling:
            # codec overshoot: trade a little loudness for the hard true-peak ceiling
            trim += after.true_peak_dbtp - true_peak_ceiling + 0.2
            _encode(y * np.float32(10 ** ((gain_db - trim) / 20)), sr, tmp, ext, tags or {})
            decoded = _decode(tmp, sr, y.shape[0])
            after = measure_array(decoded, sr)
            passes += 1
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    if after.true_peak_dbtp > true_peak_ceiling + 0.05:
        log.warning("master.true_peak_over", path=str(out), true_peak=after.true_peak_dbtp)
    return MasterResult(out, CODECS[ext][1], before, after, passes, time.perf_counter() - t0, limited, decoded)


# --------------------------------------------------------------------------------------------
# In-memory EBU R128 measurement
# --------------------------------------------------------------------------------------------


def _k_weighting(sr: int) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """BS.1770 pre-filter (high shelf) and RLB high-pass for ``sr``, as libebur128 derives them."""
    f0, g, q = 1681.974450955533, 3.999843853973347, 0.7071752369554196
    k = math.tan(math.pi * f0 / sr)
    vh = 10 ** (g / 20.0)
    vb = vh ** 0.4996667741545416
    a0 = 1.0 + k / q + k * k
    pre = (np.array([(vh + vb * k / q + k * k) / a0, 2.0 * (k * k - vh) / a0, (vh - vb * k / q + k * k) / a0]),
           np.array([1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0]))
    f0, q = 38.13547087602444, 0.5003270373238773
    k = math.tan(math.pi * f0 / sr)
    a0 = 1.0 + k / q + k * k
    rlb = (np.array([1.0, -2.0, 1.0]), np.array([1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0]))
    return pre, rlb


def _gated(power: np.ndarray, relative_lu: float) -> np.ndarray:
    """Block powers above the absolute (-70 LUFS) and the relative gate."""
    p = power[power > 10 ** ((-70.0 + 0.691) / 10)]
    if p.size == 0:
        return p
    return p[p > float(np.mean(p)) * 10 ** (relative_lu / 10)]


def measure_array(y: np.ndarray, sr: int) -> Loudness:
    """Integrated loudness (BS.1770-4: 400 ms blocks every 100 ms, gates -70 LUFS and -10 LU),
    loudness range (EBU Tech 3342: 3 s blocks, gates -70 LUFS and -20 LU, 10th..95th percentile)
    and true peak (4x oversampled) of ``y`` (channels, n) or (n,); stereo/mono weights 1."""
    from concurrent.futures import ThreadPoolExecutor

    y = np.atleast_2d(y)
    with ThreadPoolExecutor(1) as pool:  # the true peak runs beside the K-weighting (scipy frees the GIL)
        peak = pool.submit(true_peak, y)
        integrated, lra = _loudness(y, sr)
        tp = peak.result()
    return Loudness(integrated, 20 * math.log10(tp) if tp > 0 else float("-inf"), lra)


def _loudness(y: np.ndarray, sr: int) -> tuple[float, float]:
    from scipy.signal import lfilter

    pre, rlb = _k_weighting(sr)
    z = lfilter(rlb[0], rlb[1], lfilter(pre[0], pre[1], y.astype(np.float64), axis=1), axis=1)  # f64: faster too
    hop = max(1, int(round(0.1 * sr)))
    n_hops = z.shape[1] // hop
    seg = np.square(z[:, : n_hops * hop], out=z[:, : n_hops * hop]).reshape(z.shape[0], n_hops, hop).sum(axis=(0, 2))
    csum = np.concatenate([[0.0], np.cumsum(seg)])

    def blocks(n: int) -> np.ndarray:
        return (csum[n:] - csum[:-n]) / (n * hop) if n_hops >= n else np.zeros(0)

    def lufs(p: float) -> float:
        return -0.691 + 10 * math.log10(p) if p > 0 else float("-inf")

    gated = _gated(blocks(4), -10.0)
    integrated = lufs(float(np.mean(gated))) if gated.size else -70.0
    st = _gated(blocks(30), -20.0)
    lra = 0.0
    if st.size > 1:
        st_lufs = -0.691 + 10 * np.log10(st)
        lra = float(np.percentile(st_lufs, 95) - np.percentile(st_lufs, 10))
    return integrated, lra


_TP_UP = 4
_TP_CHUNK = 8192
_TP_PAD = 32  # input samples of context each side (> half the interpolation filter)


def true_peak(y: np.ndarray) -> float:
    """Largest |sample| of ``y`` (channels, n) upsampled 4x with scipy's polyphase low-pass (the
    one ``resample_poly`` uses). Only chunks whose sample peak, times the filter's gain bound, could
    beat the largest true peak found so far are upsampled: exact, and cheap on real music."""
    from scipy.signal import firwin, upfirdn

    y = np.atleast_2d(y)
    n = y.shape[1]
    h = firwin(2 * 10 * _TP_UP + 1, 1.0 / _TP_UP, window=("kaiser", 5.0)) * _TP_UP
    bound = max(float(np.abs(h[i::_TP_UP]).sum()) for i in range(_TP_UP))  # |interp| <= bound * max|x|
    n_chunks = -(-n // _TP_CHUNK)
    padded = np.zeros(n_chunks * _TP_CHUNK, dtype=np.float32)
    padded[:n] = np.abs(y).max(axis=0)
    chunk_max = padded.reshape(n_chunks, _TP_CHUNK).max(axis=1)
    # a chunk's interpolated values depend on its neighbours' samples within the filter support
    near = np.maximum(chunk_max, np.maximum(np.r_[0.0, chunk_max[:-1]], np.r_[chunk_max[1:], 0.0]))
    best = float(chunk_max.max())
    for c in np.argsort(-near):
        if near[c] * bound <= best:
            break
        lo, hi = max(0, c * _TP_CHUNK - _TP_PAD), min(n, (c + 1) * _TP_CHUNK + _TP_PAD)
        up = upfirdn(h, y[:, lo:hi], up=_TP_UP, axis=1)
        # keep outputs whose filter support lies inside [lo, hi) or touches the signal's ends
        first = 0 if lo == 0 else len(h)
        last = up.shape[1] if hi == n else up.shape[1] - len(h)
        if last > first:
            best = max(best, float(np.abs(up[:, first:last]).max()))
    return best


def _limit_true_peak(y: np.ndarray, sr: int, ceiling: float, lookahead_s: float = 0.008) -> np.ndarray:
    """Look-ahead peak limiter on 4x oversampled peaks: the gain at each sample is the minimum of
    the needed gains within +-lookahead, smoothed by a moving average half that long (which keeps
    it below every needed gain, so no oversampled peak exceeds ``ceiling``)."""
    from scipy.ndimage import maximum_filter1d, minimum_filter1d, uniform_filter1d
    from scipy.signal import resample_poly

    n = y.shape[1]
    up = np.abs(resample_poly(y, 4, 1, axis=1))[:, : 4 * n]
    up = np.pad(up, ((0, 0), (0, 4 * n - up.shape[1])))
    peak = up.reshape(y.shape[0], n, 4).max(axis=2).max(axis=0)
    peak = np.maximum(peak, maximum_filter1d(np.abs(y).max(axis=0), size=1))
    need = np.minimum(1.0, ceiling / np.maximum(peak, 1e-12))
    w = max(1, int(lookahead_s * sr))
    gain = minimum_filter1d(need, size=2 * w + 1, mode="nearest")
    gain = uniform_filter1d(gain, size=w, mode="nearest")
    return (y * gain[None, :].astype(np.float32)).astype(np.float32)


def _encode(y: np.ndarray, sr: int, dst: Path, ext: str, tags: Mapping[str, str]) -> None:
    """Encode float samples (channels, n), piped to ffmpeg, into ``dst``."""
    cmd = [ffmpeg_exe(), "-hide_banner", "-y", "-v", "error", "-f", "f32le", "-ar", str(sr), "-ac", str(y.shape[0]),
           "-i", "pipe:0", *CODECS[ext], *_tag_args(tags), str(dst)]
    data = np.ascontiguousarray(y.T, dtype="<f4").tobytes()
    proc = subprocess.run(cmd, input=data, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    if proc.returncode != 0:
        dst.unlink(missing_ok=True)
        tail = "\n".join(proc.stderr.decode("utf-8", "replace").strip().splitlines()[-6:])
        raise MediaError(f"encoding the mastered audio failed (exit {proc.returncode}): {tail}")


def _decode(path: Path, sr: int, channels: int) -> np.ndarray:
    """The encoded file back as float samples (channels, n) at ``sr`` (for the measurement)."""
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-i", str(path), "-map", "0:a:0",
           "-ac", str(channels), "-ar", str(sr), "-f", "f32le", "-acodec", "pcm_f32le", "-"]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    data = np.frombuffer(proc.stdout, dtype="<f4")
    if proc.returncode != 0 or data.size < channels:
        tail = "\n".join(proc.stderr.decode("utf-8", "replace").strip().splitlines()[-6:])
        raise MediaError(f"decoding the mastered audio failed (exit {proc.returncode}): {tail}", path=str(path))
    return data[: data.size - data.size % channels].reshape(-1, channels).T.copy()
