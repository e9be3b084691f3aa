"""Shot boundaries and per-frame features from ONE reduced-size decode of a video.

Decoding is the bottleneck of the analysis, so the video is decoded exactly once, with PyAV
(the FFmpeg libraries, frame-threaded decoder, ``Settings.analysis_workers`` threads). Each
decoded frame is shrunk to the analysis width (``Settings.analysis_width``, 320 px) straight
from its YUV planes (bilinear, then one small YUV->BGR conversion), and that small frame feeds:

* PySceneDetect's ``AdaptiveDetector`` (hard cuts), frames passed to ``process_frame`` directly;
* luma mean/std (black, blank, brightness, contrast, fades) and the frame difference (motion);
* every ``keyframe_every_s`` seconds, and two frames after each detected cut, a keyframe
  *candidate*: sharpness (variance of Laplacian) and colourfulness on the small frame, plus a
  JPEG at most 640 px wide (resized from the YUV planes) written by a helper thread, so
  keyframes cost no second decode.

Detector choice: ``AdaptiveDetector`` (ContentDetector's HSV frame score compared with a rolling
average of its neighbours) keeps hard cuts but ignores the sustained high scores of camera
moves and fast action that make a fixed ContentDetector threshold fire. Neither detects fades:
a fade ramps luma over many frames, which adaptive detectors either miss or split into spurious
cuts. Fades are therefore found separately with a luma threshold, like PySceneDetect's
``ThresholdDetector``: runs of black frames, the luma ramps that lead into and out of them
(fade-out / fade-in), and content cuts inside those ramps are dropped. Black runs of at least
``min_black_s`` become shots of their own (flagged black later); shorter ones a single boundary.
Frame times are the decoder's presentation timestamps, so variable frame rate is handled.
"""

from __future__ import annotations

import math
import queue
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from ..errors import MediaError
from ..logs import get_logger
from ..types import StreamInfo
from . import frames as F

__all__ = ["ShotDetectorConfig", "Candidate", "VideoScan", "ShotSpan", "scan_video", "segment_shots", "detect_shots"]

log = get_logger("genperso.media.shots")
Progress = Callable[[str, float], None]


@dataclass(frozen=True)
class ShotDetectorConfig:
    adaptive_threshold: float = 3.0  # frame score / mean of neighbours' scores to call a cut
    min_content_val: float = 20.0  # and the frame score itself must exceed this (default 15 fires on hue flicker)
    one_sided_min: float = 30.0  # one-sided rule: a frame score this high ...
    one_sided_ratio: float = 3.0  # ... and this many times the calmer side's mean is a cut too,
    one_sided_calm: float = 4.0  # ... when that side is nearly still (an action burst ending is not a cut)
    one_sided_peak: float = 1.4  # ... or when it also stands out this much from the busy side
    window_width: int = 2  # neighbours on each side in the rolling average
    min_shot_s: float = 0.4  # no two boundaries closer than this
    gradual_min: float = 12.0  # dissolves: a run of frame scores at least this high ...
    gradual_max_s: float = 0.4  # ... lasting 3 frames to this long (longer runs are motion), between calm flanks,
    gradual_min_change: float = 30.0  # ... joining frames whose thumbnails differ this much (0..255)
    black_luma: float = F.BLACK_LUMA
    min_black_s: float = 1.0  # black runs at least this long become their own shot
    min_ramp_frames: int = 4  # a fade ramps luma over at least this many frames
    max_ramp_s: float = 3.0  # longest fade looked for


@dataclass(frozen=True)
class Candidate:
    """A possible keyframe: one decoded frame with its cheap quality features."""

    frame: int
    time: float
    path: Path | None  # JPEG at most keyframe_width wide, or None when not written
    sharpness: float
    luma: float  # 0..255
    luma_std: float  # 0..255
    colourfulness: float


@dataclass
class VideoScan:
    """What the single decode pass measured: one entry per decoded frame."""

    times: np.ndarray  # presentation time of each frame, seconds from the start (float64)
    luma: np.ndarray  # mean luma 0..255
    luma_std: np.ndarray  # luma standard deviation 0..255
    motion: np.ndarray  # mean abs difference to the previous frame, 0..1 (0 for frame 0)
    content_cuts: tuple[int, ...]  # frames where AdaptiveDetector starts a new shot
    scores: np.ndarray  # ContentDetector frame score (HSV change to the previous frame), 0 for frame 0
    thumbs: np.ndarray  # (n, 9, 16, 3) uint8 BGR thumbnail of every frame (gradual transitions)
    candidates: list[Candidate]
    width: int  # analysis frame size
    height: int
    fps: float
    duration: float
    decode_seconds: float = 0.0
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def n_frames(self) -> int:
        return int(self.times.size)

    def time_of(self, frame: int) -> float:
        """Start time of ``frame``; ``n_frames`` maps to the end of the video."""
        if frame >= self.n_frames:
            return self.duration
        return 0.0 if frame <= 0 else float(self.times[frame])


@dataclass(frozen=True)
class ShotSpan:
    start_frame: int
    end_frame: int  # exclusive
    transition_in: str  # cut | fade
    black_run: bool = False


def _analysis_size(info: StreamInfo, width: int) -> tuple[int, int]:
    w, h = info.width, info.height
    if info.rotation % 180 == 90:
        w, h = h, w
    aw = min(width, w)
    aw -= aw % 2
    ah = max(2, int(round(aw * h / w / 2)) * 2)
    return aw, ah


class _Shrinker:
    """Decoded frame -> small BGR frame, fast path for 8-bit 4:2:0."""

    def __init__(self, width: int, height: int, rotation: int, interpolation: int = cv2.INTER_LINEAR) -> None:
        # dimensions before rotation
        self.w, self.h = (height, width) if rotation % 180 == 90 else (width, height)
        self.rotation = rotation % 360
        self.interp = interpolation
        self.buf = np.empty((self.h * 3 // 2, self.w), np.uint8)

    def __call__(self, frame) -> np.ndarray:  # type: ignore[no-untyped-def]
        w, h = self.w, self.h
        if frame.format.name in ("yuv420p", "yuvj420p") and w % 4 == 0 and h % 4 == 0:
            p = frame.planes
            fw, fh = frame.width, frame.height
            y = np.frombuffer(p[0], np.uint8).reshape(fh, p[0].line_size)[:, :fw]
            u = np.frombuffer(p[1], np.uint8).reshape((fh + 1) // 2, p[1].line_size)[:, : (fw + 1) // 2]
            v = np.frombuffer(p[2], np.uint8).reshape((fh + 1) // 2, p[2].line_size)[:, : (fw + 1) // 2]
            buf = self.buf
            ip = self.interp
            cv2.resize(y, (w, h), dst=buf[:h], interpolation=ip)
            q = h // 4
            buf[h : h + q].reshape(h // 2, w // 2)[:] = cv2.resize(u, (w // 2, h // 2), interpolation=ip)
            buf[h + q :].reshape(h // 2, w // 2)[:] = cv2.resize(v, (w // 2, h // 2), interpolation=ip)
            bgr = cv2.cvtColor(buf, cv2.COLOR_YUV2BGR_I420)
        else:
            bgr = frame.to_ndarray(width=w, height=h, format="bgr24", interpolation="AREA")
        if self.rotation == 90:
            bgr = cv2.rotate(bgr, cv2.ROTATE_90_CLOCKWISE)
        elif self.rotation == 180:
            bgr = cv2.rotate(bgr, cv2.ROTATE_180)
        elif self.rotation == 270:
            bgr = cv2.rotate(bgr, cv2.ROTATE_90_COUNTERCLOCKWISE)
        return bgr


class _DecodeThread(threading.Thread):
    """Demux + decode + shrink in a producer thread (PyAV and OpenCV release the GIL), so the
    detector and features of frame N run while frame N+1 is decoded. Bounded queue."""

    _END = object()

    def __init__(self, container, stream, shrink: _Shrinker, maxsize: int = 8) -> None:  # type: ignore[no-untyped-def]
        super().__init__(daemon=True, name="video-decode")
        self.container, self.stream, self.shrink = container, stream, shrink
        self.queue: queue.Queue[object] = queue.Queue(maxsize)
        self.halt = threading.Event()

    def _put(self, item: object) -> bool:
        while not self.halt.is_set():
            try:
                self.queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def run(self) -> None:
        try:
            for frame in self.container.decode(self.stream):
                if not self._put((frame, self.shrink(frame))):
                    return
            self._put(self._END)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            self._put(exc)

    def __iter__(self):  # type: ignore[no-untyped-def]
        while True:
            item = self.queue.get()
            if item is self._END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self) -> None:
        self.halt.set()
        self.join()


def _write_jpeg(path: Path, bgr: np.ndarray, quality: int) -> None:
    ok, data = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:  # pragma: no cover - imencode of a valid array does not fail
        raise MediaError(f"cannot encode keyframe {path.name}")
    path.write_bytes(data.tobytes())


def scan_video(
    path: str | Path,
    info: StreamInfo,
    *,
    width: int = 320,
    threads: int = 2,
    config: ShotDetectorConfig | None = None,
    keyframe_dir: Path | None = None,
    keyframe_every_s: float = 1.0,
    keyframe_width: int = 640,
    progress: Progress | None = None,
) -> VideoScan:
    """Decode ``path`` once and measure everything per frame (see the module docstring)."""
    import time

    import av
    from scenedetect import FrameTimecode
    from scenedetect.detectors import AdaptiveDetector

    cfg = config or ShotDetectorConfig()
    path = Path(path)
    fps = info.fps if info.fps > 0 else 25.0
    aw, ah = _analysis_size(info, width)
    detector = AdaptiveDetector(
        adaptive_threshold=cfg.adaptive_threshold,
        min_scene_len=max(1, int(round(cfg.min_shot_s * fps))),
        window_width=cfg.window_width,
        min_content_val=cfg.min_content_val,
    )
    shrink = _Shrinker(aw, ah, info.rotation)
    kw = min(keyframe_width, info.width if info.rotation % 180 == 0 else info.height)
    kw -= kw % 4
    kh = max(4, int(round(kw * ah / aw / 4)) * 4)
    enlarge = _Shrinker(kw, kh, info.rotation, cv2.INTER_AREA)
    times: list[float] = []
    luma: list[float] = []
    luma_std: list[float] = []
    motion: list[float] = []
    cuts: list[int] = []
    scores: list[float] = []
    thumbs: list[np.ndarray] = []
    candidates: list[Candidate] = []
    writes: deque[Future[None]] = deque()
    expected = max(1, info.n_frames or int(info.duration * fps))
    next_progress = 0.0
    next_cand = 0.0
    prev_plane: np.ndarray | None = None
    t_start = time.perf_counter()
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="keyframes") if keyframe_dir else None
    try:
        try:
            container = av.open(str(path), metadata_errors="ignore")
        except av.error.FFmpegError as exc:
            raise MediaError(f"cannot open {path.name}: {exc}", path=str(path)) from None
        with container:
            vs = container.streams.video[0]
            vs.thread_type = "AUTO"
            vs.thread_count = max(1, threads)
            t0 = float(container.start_time) / 1_000_000 if container.start_time is not None else None
            i = 0
            decoder = _DecodeThread(container, vs, shrink)
            decoder.start()
            try:
                for frame, bgr in decoder:
                    t = frame.time
                    if t0 is None:
                        t0 = float(t) if t is not None else 0.0
                    if t is None:
                        t = (times[-1] + 1.0 / fps) if times else 0.0
                    else:
                        t = max(0.0, float(t) - t0)
                    if times and t <= times[-1]:
                        t = times[-1] + 1e-4
                    gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
                    st = F.luma_stats(gray)
                    plane = F.motion_plane(gray)
                    motion.append(F.frame_difference(prev_plane, plane) if prev_plane is not None else 0.0)
                    prev_plane = plane
                    times.append(t)
                    luma.append(st.mean)
                    luma_std.append(st.std)
                    for tc in detector.process_frame(FrameTimecode(i, fps), bgr):
                        cuts.append(int(tc.frame_num))
                        next_cand = min(next_cand, t)  # a new shot: take a candidate right away
                    scores.append(float(getattr(detector, "_frame_score", None) or 0.0))
                    thumbs.append(cv2.resize(bgr, (16, 9), interpolation=cv2.INTER_AREA))
                    if t >= next_cand:
                        next_cand = t + keyframe_every_s
                        jpg: Path | None = None
                        if pool is not None and keyframe_dir is not None:
                            jpg = keyframe_dir / f"c{i:07d}.jpg"
                            big = enlarge(frame)
                            writes.append(pool.submit(_write_jpeg, jpg, big, 88))
                            while len(writes) > 4:  # bounded: never queue many full frames
                                writes.popleft().result()
                        candidates.append(
                            Candidate(i, t, jpg, F.sharpness(gray), st.mean, st.std, F.colourfulness(bgr))
                        )
                    i += 1
                    if progress is not None and i / expected >= next_progress:
                        progress("shots", min(1.0, i / expected))
                        next_progress += 0.02
            except av.error.FFmpegError as exc:
                if not times:
                    raise MediaError(f"cannot decode video of {path.name}: {exc}", path=str(path)) from None
                log.warning("shots.decode_error", path=str(path), at=times[-1], error=str(exc))
            finally:
                decoder.close()
            if times:
                for tc in detector.post_process(FrameTimecode(max(0, i - 1), fps)):
                    cuts.append(int(tc.frame_num))
        for w in writes:
            w.result()
    finally:
        if pool is not None:
            pool.shutdown(wait=True)
    if not times:
        raise MediaError(f"no decodable video frames in {path.name}", path=str(path))
    tarr = np.asarray(times, dtype=np.float64)
    last_dur = float(np.median(np.diff(tarr[-8:]))) if tarr.size > 1 else 1.0 / fps
    duration = max(float(tarr[-1]) + last_dur, min(info.duration, float(tarr[-1]) + 4 * last_dur))
    if progress is not None:
        progress("shots", 1.0)
    return VideoScan(
        times=tarr,
        luma=np.asarray(luma, dtype=np.float32),
        luma_std=np.asarray(luma_std, dtype=np.float32),
        motion=np.asarray(motion, dtype=np.float32),
        content_cuts=tuple(sorted(set(c for c in cuts if 0 < c < len(times)))),
        scores=np.asarray(scores, dtype=np.float32),
        thumbs=np.stack(thumbs) if thumbs else np.zeros((0, 9, 16, 3), np.uint8),
        candidates=candidates,
        width=aw,
        height=ah,
        fps=fps,
        duration=round(duration, 4),
        decode_seconds=time.perf_counter() - t_start,
    )


# ---------------------------------------------------------------------------------------------
# Segmentation: content cuts + fades / black runs -> shots
# ---------------------------------------------------------------------------------------------


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) of every run of True."""
    if mask.size == 0:
        return []
    d = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    starts = np.flatnonzero(d == 1)
    ends = np.flatnonzero(d == -1)
    return list(zip(starts.tolist(), ends.tolist()))


def _ramp(luma: np.ndarray, edge: int, direction: int, cfg: ShotDetectorConfig, fps: float) -> int:
    """Length in frames of a fade ramp starting at ``edge`` and moving in ``direction`` (+1 into
    the future after a black run, -1 into the past before one). 0 when the change is abrupt."""
    n = luma.size
    horizon = max(cfg.min_ramp_frames + 1, int(cfg.max_ramp_s * fps))
    idx = np.arange(edge, edge + direction * horizon, direction)
    idx = idx[(idx >= 0) & (idx < n)]
    if idx.size < cfg.min_ramp_frames + 1:
        return 0
    seg = luma[idx].astype(np.float64)
    # plateau: the level the ramp settles at (median of the far half of the window)
    plateau = float(np.median(seg[idx.size // 2 :]))
    base = float(luma[edge - direction]) if 0 <= edge - direction < n else float(seg[0])
    rise = plateau - base
    if rise < cfg.black_luma:  # nothing to fade to
        return 0
    k = 0
    while k < idx.size and seg[k] < base + 0.8 * rise:
        k += 1
    # abrupt: the level is (nearly) reached within a couple of frames
    return k if k >= cfg.min_ramp_frames else 0


def _one_sided_cuts(scores: np.ndarray, cfg: ShotDetectorConfig) -> list[int]:
    """Cuts next to sustained high activity, which the two-sided adaptive ratio misses: a frame
    whose score is high and ``one_sided_ratio`` times the mean of the calmer side (the
    ``window_width`` frames before it, or after it), that side being nearly still or the frame
    also standing out from the busy side. Fast action -> still frame, or a calm shot -> a
    busy one, are the cases; fast action that merely slows down is not."""
    w = cfg.window_width
    n = scores.size
    out: list[int] = []
    if n < 2:
        return out
    csum = np.concatenate(([0.0], np.cumsum(scores, dtype=np.float64)))
    for i in np.flatnonzero(scores >= cfg.one_sided_min).tolist():
        # only full windows count (frame 0 has no score, the end has no future)
        before = (csum[i] - csum[i - w]) / w if i - w >= 1 else math.inf
        after = (csum[i + 1 + w] - csum[i + 1]) / w if i + 1 + w <= n else math.inf
        calm, busy = min(before, after), max(before, after)
        if not math.isfinite(calm) or scores[i] < cfg.one_sided_ratio * max(calm, 1e-6):
            continue
        if calm <= cfg.one_sided_calm or scores[i] >= cfg.one_sided_peak * busy:
            out.append(i)
    return out


def _gradual_cuts(scores: np.ndarray, thumbs: np.ndarray, fps: float, cfg: ShotDetectorConfig) -> list[int]:
    """Dissolves and other short gradual transitions (middle frame of each): a run of 3 frames to
    ``gradual_max_s`` whose scores are all >= ``gradual_min``, flanked on both sides by frames at
    most half as active, where the frame before the run and the frame after it really show
    different pictures (thumbnail difference >= ``gradual_min_change``). A motion burst that
    returns to the same picture, or a pan that keeps moving, is not a transition."""
    n = scores.size
    out: list[int] = []
    max_len = max(3, int(round(cfg.gradual_max_s * fps)))
    w = 4
    for a, b in _runs(scores >= cfg.gradual_min):
        if not (3 <= b - a <= max_len) or a - w < 1 or b + w > n:
            continue
        run = float(scores[a:b].mean())
        flank = max(float(scores[a - w : a].mean()), float(scores[b : b + w].mean()))
        if flank > min(cfg.gradual_min / 2, run / 3):
            continue
        change = float(np.mean(cv2.absdiff(thumbs[a - 1], thumbs[b])))
        if change >= cfg.gradual_min_change:
            out.append((a + b) // 2)
    return out


def segment_shots(scan: VideoScan, config: ShotDetectorConfig | None = None) -> list[ShotSpan]:
    """Turn the per-frame measurements into contiguous shots covering the whole video."""
    cfg = config or ShotDetectorConfig()
    n = scan.n_frames
    fps = scan.fps
    luma = scan.luma
    black = (luma < cfg.black_luma) & (scan.luma_std < 2 * F.BLANK_STD)
    boundaries: dict[int, str] = {}
    black_starts: set[int] = set()
    blocked = np.zeros(n, dtype=bool)
    first_fade = False
    for a, b in _runs(black):
        ramp_out = _ramp(luma, a - 1, -1, cfg, fps) if a > 0 else 0
        ramp_in = _ramp(luma, b, +1, cfg, fps) if b < n else 0
        blocked[max(0, a - ramp_out - 2) : min(n, b + ramp_in + 2)] = True
        long_run = scan.time_of(b) - scan.time_of(a) >= cfg.min_black_s
        if a == 0:
            first_fade = first_fade or bool(ramp_in)
            if long_run and b < n:
                black_starts.add(0)
                boundaries[b] = "fade" if ramp_in else "cut"
            continue
        if long_run:
            boundaries[a] = "fade" if ramp_out else "cut"
            black_starts.add(a)
            if b < n:
                boundaries[b] = "fade" if ramp_in else "cut"
        elif b < n:
            boundaries[(a + b) // 2] = "fade" if (ramp_in or ramp_out) else "cut"
    if n and not black[0]:
        # a fade-in from (near) black at the very start without a full black frame
        ramp0 = _ramp(luma, 0, +1, cfg, fps) if luma[0] < 2 * cfg.black_luma else 0
        if ramp0:
            first_fade = True
            blocked[: ramp0 + 2] = True
    min_gap = max(1, int(round(cfg.min_shot_s * fps)))
    fixed = sorted(boundaries)
    gradual = set(_gradual_cuts(scan.scores, scan.thumbs, fps, cfg)) if scan.thumbs.size else set()
    content = sorted(set(scan.content_cuts) | set(_one_sided_cuts(scan.scores, cfg)) | gradual)
    kept: list[int] = []
    for c in content:
        if blocked[c] or c < min_gap or n - c < min_gap or (kept and c - kept[-1] < min_gap):
            continue
        j = int(np.searchsorted(fixed, c))
        near = any(abs(c - fixed[k]) < min_gap for k in (j - 1, j) if 0 <= k < len(fixed))
        if not near:
            boundaries[c] = "fade" if c in gradual and c not in scan.content_cuts else "cut"
            kept.append(c)
    starts = [0] + sorted(b for b in boundaries if 0 < b < n)
    spans: list[ShotSpan] = []
    for k, s in enumerate(starts):
        e = starts[k + 1] if k + 1 < len(starts) else n
        tr = ("fade" if first_fade else "cut") if s == 0 else boundaries[s]
        spans.append(ShotSpan(s, e, tr, s in black_starts))
    return spans


def detect_shots(
    path: str | Path,
    info: StreamInfo | None = None,
    *,
    width: int = 320,
    threads: int = 2,
    config: ShotDetectorConfig | None = None,
) -> list[tuple[float, float, str]]:
    """Shot boundaries alone: ``[(start_s, end_s, transition_in), ...]`` covering the video."""
    from .probe import probe

    info = info or probe(path)
    scan = scan_video(path, info, width=width, threads=threads, config=config)
    return [
        (round(scan.time_of(s.start_frame), 4), round(scan.time_of(s.end_frame), 4), s.transition_in)
        for s in segment_shots(scan, config)
    ]

