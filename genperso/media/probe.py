"""Probe a media file's streams with PyAV (the FFmpeg libraries) and validate it for use.

Handles 5.1 audio, files without audio, variable frame rate (detected from packet timestamps)
and rotation metadata; rejects missing, empty, truncated or corrupt files, files without a
video stream, unsupported codecs and absurd sizes or durations with a clear ``MediaError``.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

from ..errors import MediaError
from ..types import StreamInfo

__all__ = ["probe", "probe_audio", "validate_video", "file_sha256", "AudioInfo"]


def file_sha256(path: str | Path, chunk: int = 4 * 1024 * 1024) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(chunk)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


def _check_file(path: Path) -> None:
    if not path.exists():
        raise MediaError(f"file not found: {path}", path=str(path))
    if not path.is_file():
        raise MediaError(f"not a regular file: {path}", path=str(path))
    if path.stat().st_size == 0:
        raise MediaError(f"file is empty (0 bytes): {path}", path=str(path))


def _open(path: Path):  # type: ignore[no-untyped-def]
    import av

    try:
        return av.open(str(path), metadata_errors="ignore")
    except av.error.InvalidDataError as exc:
        raise MediaError(f"not a media file or corrupt container: {path.name} ({exc})", path=str(path)) from None
    except av.error.FFmpegError as exc:
        raise MediaError(f"cannot open {path.name}: {exc}", path=str(path)) from None


def probe(path: str | Path, *, check_decode: bool = True) -> StreamInfo:
    """Stream facts of a video file. ``check_decode`` decodes the first and the last frames to
    catch truncated files whose header looks fine."""
    import av

    path = Path(path)
    _check_file(path)
    with _open(path) as c:
        vstreams = [s for s in c.streams if s.type == "video" and not _is_cover_art(s)]
        if not vstreams:
            raise MediaError(f"no video stream in {path.name}", path=str(path))
        vs = vstreams[0]
        if vs.codec_context is None or not vs.codec_context.name:
            raise MediaError(f"unsupported video codec in {path.name}", path=str(path))
        astreams = [s for s in c.streams if s.type == "audio"]
        as_ = astreams[0] if astreams else None

        duration = _duration(c, vs)
        rate = vs.average_rate or vs.guessed_rate or vs.base_rate
        fps = float(rate) if rate else 0.0
        width, height = int(vs.codec_context.width or 0), int(vs.codec_context.height or 0)
        rotation = 0
        try:
            rotation = int(float(vs.metadata.get("rotate", 0)))
        except (TypeError, ValueError):
            rotation = 0
        vfr = False
        if check_decode:
            vfr = _check_decodes(c, vs, path, duration)
        n_frames = int(vs.frames) if vs.frames else (int(round(duration * fps)) if fps else None)
        info = StreamInfo(
            duration=round(duration, 4),
            width=width,
            height=height,
            fps=round(fps, 4),
            video_codec=vs.codec_context.name,
            n_frames=n_frames,
            variable_frame_rate=vfr,
            rotation=rotation,
            has_audio=as_ is not None,
            audio_codec=as_.codec_context.name if as_ is not None else None,
            audio_channels=int(as_.codec_context.channels or 0) if as_ is not None else 0,
            audio_sample_rate=int(as_.codec_context.sample_rate or 0) if as_ is not None else 0,
            audio_layout=(as_.codec_context.layout.name if as_ is not None and as_.codec_context.layout else None),
            container=c.format.name,
            bit_rate=int(c.bit_rate) if c.bit_rate else None,
        )
    if av is None:  # pragma: no cover
        raise MediaError("PyAV missing")
    return info


def _is_cover_art(stream) -> bool:  # type: ignore[no-untyped-def]
    disp = getattr(stream, "disposition", None)
    try:
        import av

        return bool(disp is not None and disp & av.stream.Disposition.attached_pic)
    except Exception:  # noqa: BLE001
        return False


def _duration(c, vs) -> float:  # type: ignore[no-untyped-def]
    if vs.duration is not None and vs.time_base is not None:
        d = float(vs.duration * vs.time_base)
        if d > 0:
            return d
    if c.duration is not None and c.duration > 0:
        return float(c.duration) / 1_000_000.0
    return 0.0


def _check_decodes(c, vs, path: Path, duration: float) -> bool:  # type: ignore[no-untyped-def]
    """Decode a few frames at the start and near the end. Returns whether the frame rate varies."""
    import av

    pts: list[float] = []
    try:
        for frame in c.decode(vs):
            if frame.time is not None:
                pts.append(float(frame.time))
            if len(pts) >= 24:
                break
    except av.error.FFmpegError as exc:
        raise MediaError(f"cannot decode video of {path.name}: {exc}", path=str(path)) from None
    if not pts:
        raise MediaError(f"no decodable video frames in {path.name} (truncated or corrupt)", path=str(path))
    if duration > 2.0:
        target = max(0.0, duration - 1.0)
        last: float | None = None
        try:
            c.seek(int(target / vs.time_base), stream=vs, any_frame=False, backward=True)
            for frame in c.decode(vs):
                last = float(frame.time) if frame.time is not None else last
                if last is not None and last >= target - 0.5:
                    break
        except av.error.FFmpegError:
            last = None
        # the loop stops at target - 0.5; a file whose frames end before half of its declared
        # duration (or before that stop point, for short files) is truncated
        if last is None or last < min(duration * 0.5, target - 0.5):
            raise MediaError(
                f"{path.name} looks truncated: header says {duration:.1f} s but frames near the end "
                "cannot be decoded",
                path=str(path),
            )
    diffs = [b - a for a, b in zip(pts, pts[1:]) if b > a]
    if len(diffs) >= 4:
        lo, hi = min(diffs), max(diffs)
        return hi > lo * 1.5 + 1e-4
    return False


def validate_video(info: StreamInfo, *, max_duration: float, max_width: int, max_height: int, path: str = "") -> None:
    """Reject absurd sizes and durations with a message naming the limit."""
    name = Path(path).name if path else "file"
    if not math.isfinite(info.duration) or info.duration <= 0:
        raise MediaError(f"{name} has no usable duration")
    if info.duration > max_duration:
        raise MediaError(f"{name} is {info.duration:.0f} s long; the limit is {max_duration:.0f} s")
    if info.width <= 0 or info.height <= 0:
        raise MediaError(f"{name} has invalid dimensions {info.width}x{info.height}")
    if info.width < 16 or info.height < 16:
        raise MediaError(f"{name} is too small ({info.width}x{info.height}); minimum 16x16")
    if info.width > max_width or info.height > max_height:
        raise MediaError(f"{name} is {info.width}x{info.height}; the limit is {max_width}x{max_height}")
    if info.fps <= 0 or info.fps > 480:
        raise MediaError(f"{name} has an unusable frame rate ({info.fps})")


class AudioInfo:
    def __init__(self, duration: float, channels: int, sample_rate: int, codec: str) -> None:
        self.duration = duration
        self.channels = channels
        self.sample_rate = sample_rate
        self.codec = codec


def probe_audio(path: str | Path) -> AudioInfo:
    """Facts of an audio file (or the audio of a video). No audio stream -> MediaError."""
    path = Path(path)
    _check_file(path)
    with _open(path) as c:
        astreams = [s for s in c.streams if s.type == "audio"]
        if not astreams:
            raise MediaError(f"no audio stream in {path.name}", path=str(path))
        s = astreams[0]
        dur = float(s.duration * s.time_base) if s.duration and s.time_base else (c.duration or 0) / 1e6
        return AudioInfo(dur, int(s.codec_context.channels or 0), int(s.codec_context.sample_rate or 0), s.codec_context.name)
