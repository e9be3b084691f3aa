"""Mastering of generated audio: EBU R128 loudness (two-pass loudnorm), true-peak ceiling,
encoding by file extension (.m4a AAC, .mp3, .wav) with metadata tags. Atomic: the file appears
complete or not at all.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InvalidInput, MediaError
from ..logs import get_logger
from .ffmpeg import Loudness, loudnorm_filter, measure_loudness, run_ffmpeg

__all__ = ["MasterResult", "master_audio", "CODECS"]

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
    passes: int  # measure + loudnorm = 2; more when codec overshoot needed a trim
    seconds: float
    limited: int = 0  # look-ahead limiter passes before loudnorm (peaky material)

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
    import soundfile as sf

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
    tag = f"{os.getpid()}-{time.monotonic_ns()}"
    raw = out.with_name(f".{out.stem}.{tag}.raw.wav")
    tmp = out.with_name(f".{out.stem}.{tag}.tmp{ext}")
    try:
        sf.write(str(raw), y.T, sr, subtype="FLOAT")  # float: peaks above 0 dBFS survive to loudnorm
        before = measured = measure_loudness(raw)
        # aim under the ceiling: the encoder adds some overshoot to the true peak
        aim_tp = true_peak_ceiling - _CODEC_MARGIN_DB
        limited = 0
        while limited < 3 and measured.true_peak_dbtp + (target_lufs - measured.integrated_lufs) > aim_tp + 0.1:
            # the gain to the target would push the true peak over the ceiling: limit the peaks
            # first (look-ahead, 4x oversampled), so loudnorm can stay in its linear mode
            gain_db = target_lufs - measured.integrated_lufs
            y = _limit_true_peak(y, sr, 10 ** ((aim_tp - 0.2 - gain_db) / 20))
            sf.write(str(raw), y.T, sr, subtype="FLOAT")
            measured = measure_loudness(raw)
            limited += 1
        filt = loudnorm_filter(measured, target_lufs=target_lufs, true_peak=aim_tp)
        _encode(raw, tmp, f"{filt},aresample={sr}", ext, tags or {})
        after = measure_loudness(tmp)
        passes = 2
        trim = 0.0
        while passes < 4 and after.true_peak_dbtp > true_peak_ceiling:
            # codec overshoot: trade a little loudness for the hard true-peak ceiling
            trim += after.true_peak_dbtp - true_peak_ceiling + 0.2
            _encode(raw, tmp, f"{filt},aresample={sr},volume=-{trim:.2f}dB", ext, tags or {})
            after = measure_loudness(tmp)
            passes += 1
        os.replace(tmp, out)
    finally:
        raw.unlink(missing_ok=True)
        tmp.unlink(missing_ok=True)
    if after.true_peak_dbtp > true_peak_ceiling + 0.05:
        log.warning("master.true_peak_over", path=str(out), true_peak=after.true_peak_dbtp)
    return MasterResult(out, CODECS[ext][1], before, after, passes, time.perf_counter() - t0, limited)


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


def _encode(src: Path, dst: Path, filt: str, ext: str, tags: Mapping[str, str]) -> None:
    try:
        run_ffmpeg(
            ["-y", "-v", "error", "-i", str(src), "-af", filt, *CODECS[ext], *_tag_args(tags), str(dst)],
            what="encoding the mastered audio",
        )
    except MediaError:
        dst.unlink(missing_ok=True)
        raise
