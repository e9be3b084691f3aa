"""The one place that runs ffmpeg. Argument lists only, never a shell string.

The binary is ``GENPERSO_FFMPEG`` if set, else the static build shipped by ``imageio-ffmpeg``
(it has libx264, aac, mp3, webp, loudnorm/ebur128, drawtext and rubberband), else ``ffmpeg`` on PATH.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from ..errors import MediaError, Retryable

__all__ = ["ffmpeg_exe", "run_ffmpeg", "FFmpegResult", "measure_loudness", "Loudness", "loudnorm_filter"]


@functools.lru_cache(maxsize=1)
def ffmpeg_exe() -> str:
    env = os.environ.get("GENPERSO_FFMPEG")
    if env:
        return env
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except Exception:  # noqa: BLE001 - fall back to PATH
        exe = shutil.which("ffmpeg")
        if exe:
            return exe
    raise MediaError("ffmpeg not found: pip install imageio-ffmpeg or install ffmpeg")


class FFmpegResult:
    def __init__(self, returncode: int, stdout: bytes, stderr: str) -> None:
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr


def run_ffmpeg(
    args: Sequence[str | os.PathLike[str]],
    *,
    timeout: float | None = None,
    check: bool = True,
    capture_stdout: bool = False,
    what: str = "ffmpeg",
) -> FFmpegResult:
    """Run ``ffmpeg -hide_banner -nostdin <args>``; raise MediaError with ffmpeg's own last lines."""
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", *[os.fspath(a) for a in args]]
    try:
        proc = subprocess.run(
            cmd,
            stdout=subprocess.PIPE if capture_stdout else subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise Retryable(f"{what} timed out after {timeout} s") from exc
    stderr = proc.stderr.decode("utf-8", "replace")
    if check and proc.returncode != 0:
        tail = "\n".join(line for line in stderr.strip().splitlines()[-6:])
        raise MediaError(f"{what} failed (exit {proc.returncode}): {tail}")
    return FFmpegResult(proc.returncode, proc.stdout or b"", stderr)


class Loudness:
    """EBU R128 measurement (ffmpeg ebur128 filter with true peak)."""

    def __init__(self, integrated_lufs: float, true_peak_dbtp: float, lra_lu: float) -> None:
        self.integrated_lufs = integrated_lufs
        self.true_peak_dbtp = true_peak_dbtp
        self.lra_lu = lra_lu

    def to_dict(self) -> dict[str, float]:
        return {
            "integrated_lufs": self.integrated_lufs,
            "true_peak_dbtp": self.true_peak_dbtp,
            "loudness_range_lu": self.lra_lu,
        }


_I_RE = re.compile(r"I:\s+(-?[\d.]+|-inf) LUFS")
_LRA_RE = re.compile(r"LRA:\s+(-?[\d.]+) LU")
_PEAK_RE = re.compile(r"Peak:\s+(-?[\d.]+|-inf) dBFS")


def measure_loudness(path: str | Path, *, stream: str = "a:0", timeout: float | None = None) -> Loudness:
    """Integrated loudness, true peak and loudness range of a file's audio (EBU R128)."""
    res = run_ffmpeg(
        ["-i", str(path), "-map", f"0:{stream}", "-filter:a", "ebur128=peak=true", "-f", "null", "-"],
        timeout=timeout,
        what="loudness measurement",
    )
    summary = res.stderr.rsplit("Summary:", 1)[-1]
    i = _I_RE.search(summary)
    lra = _LRA_RE.search(summary)
    peak = _PEAK_RE.search(summary)
    if not i:
        raise MediaError(f"could not measure loudness of {path}")

    def num(m: re.Match[str] | None, default: float) -> float:
        if not m:
            return default
        return float("-inf") if m.group(1) == "-inf" else float(m.group(1))

    return Loudness(num(i, -70.0), num(peak, -120.0), num(lra, 0.0))


def loudnorm_filter(measured: Loudness, *, target_lufs: float, true_peak: float = -1.5, lra: float = 11.0) -> str:
    """Second pass of two-pass EBU R128 normalisation (ffmpeg ``loudnorm`` in linear mode).

    Use ``measure_loudness`` (first pass) on the un-normalised audio, then apply this filter.
    Aim ``true_peak`` a little below the hard limit (e.g. -1.5 for a -1 dBTP ceiling): the
    limiter works on 4x oversampled peaks but encoders add a little overshoot."""
    mi = measured.integrated_lufs if measured.integrated_lufs > -70 else -70.0
    mtp = measured.true_peak_dbtp if measured.true_peak_dbtp > -99 else -99.0
    return (
        f"loudnorm=I={target_lufs}:TP={true_peak}:LRA={max(lra, measured.lra_lu + 1):.1f}"
        f":measured_I={mi:.2f}:measured_TP={mtp:.2f}:measured_LRA={measured.lra_lu:.2f}"
        f":measured_thresh={mi - 10:.2f}:linear=true:print_format=none"
    )
