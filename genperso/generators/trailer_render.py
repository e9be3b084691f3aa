"""Rendering a planned trailer with ffmpeg: the audio mix (cheap, rendered first, then two-pass
EBU R128 normalised) and the picture in one encode pass (each frame encoded once; the cut list
may be split at cut boundaries into parts encoded by parallel ffmpeg runs and joined by stream copy).

Video graph: one input per segment (``-ss``/``-t`` input seeking, so only the used seconds are
decoded) → fps, exact frame count, crop (face/saliency reframing), scale → concat → angle grade
(``grade_yuv``: tone curve on full-resolution luma, the look's 3D LUT at chroma resolution) →
concat with the title card (one still, repeated) → fade in/out → libx264 + the AAC mix.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..media.ffmpeg import Loudness, loudnorm_filter, measure_loudness, run_ffmpeg
from ..media.grade_yuv import video_grade_graph
from .trailer_crop import CropWindow, crop_filter
from .trailer_music import MusicBed
from .trailer_plan import TrailerPlan

__all__ = ["AudioMix", "render_audio", "render_video", "duck_intervals", "source_keyframes", "TARGET_LUFS",
           "TRUE_PEAK_CEILING", "split_cuts"]

TARGET_LUFS = -16.0
TRUE_PEAK_CEILING = -1.0
SR = 48000
DUCK_DB = -12.0
DUCK_RAMP = 0.15


@dataclass(frozen=True)
class AudioMix:
    path: Path
    ducking: tuple[tuple[float, float], ...]  # timeline intervals where the bed is ducked for dialogue
    duck_db: float
    bed_gain_db: float
    segment_gains_db: tuple[float, ...]
    measured_pre: Loudness
    measured_post: Loudness


def duck_intervals(plan: TrailerPlan, speech: Sequence[object]) -> list[tuple[float, float]]:
    """Timeline intervals of dialogue kept in the cut (speech segments mapped through the cuts)."""
    out: list[tuple[float, float]] = []
    for c in plan.cuts:
        for seg in speech:
            a, b = max(seg.start, c.src_in), min(seg.end, c.src_out)  # type: ignore[attr-defined]
            if b - a > 0.05:
                out.append((round(c.tl_in + a - c.src_in, 3), round(c.tl_in + b - c.src_in, 3)))
    out.sort()
    merged: list[tuple[float, float]] = []
    for a, b in out:
        if merged and a <= merged[-1][1] + 2 * DUCK_RAMP:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def _duck_expr(intervals: Sequence[tuple[float, float]], duck_db: float) -> str:
    if not intervals:
        return "1"
    depth = 1.0 - 10 ** (duck_db / 20.0)
    r = DUCK_RAMP
    terms = [f"min(max((t-{a - r:.3f})/{r},0),1)*min(max(({b + r:.3f}-t)/{r},0),1)" for a, b in intervals]
    return f"1-{depth:.4f}*min({'+'.join(terms)},1)"


def render_audio(
    plan: TrailerPlan,
    bed: MusicBed,
    source_path: Path,
    source_has_audio: bool,
    work_dir: Path,
    *,
    film_lufs: float | None,
    speech: Sequence[object] = (),
    ambience_db: float = -10.0,
    timeout: float | None = None,
) -> AudioMix:
    """Mix bed + film sound of the segments (dialogue at level, the rest as ambience), duck the bed
    under dialogue, fade in/out; then two-pass loudness normalisation to -16 LUFS / -1.5 dBTP."""
    D = plan.duration
    args: list[str] = ["-y"]
    parts: list[str] = []
    fmt = f"aformat=sample_fmts=fltp:sample_rates={SR}:channel_layouts=stereo"
    film_gain = -20.0 - (film_lufs if film_lufs is not None and film_lufs > -70 else -23.0)
    gains: list[float] = []
    n_in = 0
    if source_has_audio:
        for k, c in enumerate(plan.cuts):
            d = c.frames / plan.fps
            args += ["-ss", f"{c.src_in:.4f}", "-t", f"{d + 0.1:.4f}", "-i", str(source_path)]
            g = film_gain if c.speech_lines > 0 or any(
                s.start < c.src_out and s.end > c.src_in for s in speech  # type: ignore[attr-defined]
            ) else film_gain + ambience_db
            gains.append(round(g, 2))
            fade = min(0.012, d / 4)
            parts.append(
                f"[{k}:a]{fmt},atrim=end={d:.4f},apad=whole_dur={d:.4f},asetpts=N/SR/TB,volume={g:.2f}dB,"
                f"afade=t=in:d={fade:.3f},afade=t=out:st={d - fade:.4f}:d={fade:.3f}[d{k}]"
            )
        n_in = len(plan.cuts)
        parts.append("".join(f"[d{k}]" for k in range(n_in)) + f"concat=n={n_in}:v=0:a=1,apad=whole_dur={D:.4f},"
                     f"atrim=end={D:.4f}[dlg]")
    bed_lufs = bed.loudness_lufs if bed.loudness_lufs is not None else (film_lufs if film_lufs is not None else -20.0)
    bed_gain = round(-20.0 - float(bed_lufs), 2)
    args += ["-ss", f"{bed.offset:.4f}", "-t", f"{D + 0.5:.4f}", "-i", str(bed.path)]
    ducks = duck_intervals(plan, speech)
    fade_out = min(2.0, D / 6)
    parts.append(
        f"[{n_in}:a]{fmt},atrim=end={D:.4f},apad=whole_dur={D:.4f},asetpts=N/SR/TB,volume={bed_gain:.2f}dB,"
        f"volume='{_duck_expr(ducks, DUCK_DB)}':eval=frame,afade=t=in:d=0.3,afade=t=out:st={D - fade_out:.4f}:d={fade_out:.3f}"
        + ("[bed]" if source_has_audio else "[mix]")
    )
    if source_has_audio:
        parts.append("[bed][dlg]amix=inputs=2:normalize=0:duration=first[mix]")
    mix = work_dir / "mix.wav"
    run_ffmpeg([*args, "-filter_complex", ";".join(parts), "-map", "[mix]", "-c:a", "pcm_f32le", "-ar", str(SR),
                str(mix)], timeout=timeout, what="trailer audio mix")
    pre = measure_loudness(mix, timeout=timeout)
    norm = work_dir / "mix-norm.wav"
    run_ffmpeg(["-y", "-i", str(mix), "-af", loudnorm_filter(pre, target_lufs=TARGET_LUFS, true_peak=-1.5)
                + f",aresample={SR}", "-c:a", "pcm_f32le", "-ar", str(SR), str(norm)],
               timeout=timeout, what="trailer loudness normalisation")
    post = measure_loudness(norm, timeout=timeout)
    for attempt in range(2):
        # linear loudnorm cannot add gain past the peak ceiling (peaky material): add the missing
        # gain in front of a look-ahead limiter, re-measure, and correct once more if needed
        if abs(post.integrated_lufs - TARGET_LUFS) <= 0.4 and post.true_peak_dbtp <= TRUE_PEAK_CEILING - 0.3:
            break
        gain = TARGET_LUFS - post.integrated_lufs
        fixed = work_dir / f"mix-norm{attempt}.wav"
        run_ffmpeg(["-y", "-i", str(norm), "-af", f"volume={gain:.2f}dB,aresample=192000,"
                    f"alimiter=limit={10 ** (-2.2 / 20):.4f}:attack=1:release=60:level=0:latency=1,aresample={SR}",
                    "-c:a", "pcm_f32le", "-ar", str(SR), str(fixed)], timeout=timeout, what="trailer peak limiting")
        norm.unlink(missing_ok=True)
        norm = fixed
        post = measure_loudness(norm, timeout=timeout)
    mix.unlink(missing_ok=True)
    return AudioMix(path=norm, ducking=tuple(ducks), duck_db=DUCK_DB, bed_gain_db=bed_gain,
                    segment_gains_db=tuple(gains), measured_pre=pre, measured_post=post)


def source_keyframes(path: Path) -> tuple[float, ...]:
    """Times (s) of the source's video keyframes, from packet flags (no decoding). Input seeking
    decodes from the keyframe before each in-point, so the planner prefers in-points just after one."""
    st = Path(path).stat()
    return _keyframes(str(path), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=8)
def _keyframes(path: str, size: int, mtime_ns: int) -> tuple[float, ...]:
    import av

    out: list[float] = []
    try:
        with av.open(path) as c:
            stream = c.streams.video[0]
            tb = float(stream.time_base)
            for pkt in c.demux(stream):
                if pkt.is_keyframe and pkt.pts is not None:
                    out.append(pkt.pts * tb)
    except (av.FFmpegError, IndexError, OSError):
        return ()
    return tuple(sorted(out))


def _fps_str(fps: float) -> str:
    for num, den in ((24000, 1001), (30000, 1001), (60000, 1001)):
        if abs(fps - num / den) < 0.005:
            return f"{num}/{den}"
    return f"{fps:g}"


def _picture_graph(plan: TrailerPlan, idx: Sequence[int], source_path: Path, crops: Sequence[CropWindow],
                   size: tuple[int, int], grade_look: str, lut_dir: Path, grade_method: str, decoder_threads: int,
                   *, card_png: Path | None, fade_in: bool, t0: float) -> tuple[list[str], str, int]:
    """(input arguments, filter graph ending in ``[vout]``, number of inputs) for the cuts ``idx``
    (consecutive), starting at timeline second ``t0``; the title card and the fade-out go with the
    part that ends the trailer (``card_png`` given), the fade-in with the one that starts it."""
    W, H = size
    F = _fps_str(plan.fps)
    args: list[str] = []
    parts: list[str] = []
    for k, i in enumerate(idx):
        c, win = plan.cuts[i], crops[i]
        d = c.frames / plan.fps
        args += ["-threads", str(decoder_threads), "-ss", f"{c.src_in:.4f}", "-t", f"{d + 3 / plan.fps:.4f}",
                 "-i", str(source_path)]
        parts.append(
            f"[{k}:v]setpts=PTS-STARTPTS,fps={F},tpad=stop_mode=clone:stop=4,trim=end_frame={c.frames},"
            f"setpts=PTS-STARTPTS,{crop_filter(win, d)},scale={W}:{H}:flags=bicubic,setsar=1,format=yuv420p[v{k}]"
        )
    n = len(idx)
    parts.append("".join(f"[v{k}]" for k in range(n)) + f"concat=n={n}:v=1:a=0[graw]")
    parts.append(video_grade_graph(grade_look, lut_dir, (W, H), "[graw]", "[body]", method=grade_method))
    fades = ["fade=t=in:st=0:d=0.25"] if fade_in else []
    if card_png is None:
        parts.append(f"[body]{','.join(fades + ['format=yuv420p'])}[vout]")
        return args, ";".join(parts), n
    # the card is one still: decoded and converted once, then repeated as frames on the grid
    card_frames = int(round(plan.duration * plan.fps)) - int(round(plan.card_start * plan.fps))
    num, _, den = F.partition("/")
    args += ["-i", str(card_png)]
    parts.append(f"[{n}:v]scale={W}:{H},setsar=1,format=yuv420p,loop=loop={card_frames - 1}:size=1:start=0,"
                 f"setpts=N*{den or 1}/({num}*TB),trim=end_frame={card_frames}[card]")
    fades.append(f"fade=t=out:st={plan.duration - t0 - 0.6:.4f}:d=0.6")
    parts.append(f"[body][card]concat=n=2:v=1:a=0,{','.join(fades)},format=yuv420p[vout]")
    return args, ";".join(parts), n + 1


def split_cuts(frames: Sequence[int], parts: int) -> list[list[int]]:
    """Consecutive groups of cut indices with about equal frame counts (at most ``parts``, none empty)."""
    parts = max(1, min(parts, len(frames)))
    total = sum(frames)
    groups: list[list[int]] = [[]]
    acc = 0
    for i, f in enumerate(frames):
        left = len(frames) - i  # cuts not yet placed, this one included
        if groups[-1] and len(groups) < parts and (acc >= total * len(groups) / parts or left < parts - len(groups) + 1):
            groups.append([])
        groups[-1].append(i)
        acc += f
    return groups


def render_video(
    plan: TrailerPlan,
    source_path: Path,
    out_path: Path,
    *,
    size: tuple[int, int],
    crops: Sequence[CropWindow],
    grade_look: str,
    lut_dir: Path,
    card_png: Path,
    audio_wav: Path,
    preset: str = "superfast",
    crf: int = 20,
    threads: int = 2,
    decoder_threads: int = 1,
    grade_method: str = "yuv",
    chunks: int = 1,
    timeout: float | None = None,
) -> None:
    """Segments → crop/scale → grade → title card → fades → libx264 + the AAC mix, each frame encoded
    once. ``chunks`` > 1 splits the cut list at cut boundaries into that many parts rendered by
    parallel ffmpeg processes (one x264 thread group each: the picture pipeline of one process uses
    about 1.6 of 2 cores, two use both), the audio encoded beside them, then joined without
    re-encoding (concat demuxer, stream copy). Each part starts with a keyframe on a cut, where the
    encoder would usually put one anyway; encoder settings are the same."""
    F = _fps_str(plan.fps)
    D = plan.duration
    weights = [c.frames for c in plan.cuts]
    weights[-1] += int(round(D * plan.fps)) - int(round(plan.card_start * plan.fps))  # the card ends the last part
    groups = split_cuts(weights, chunks)
    enc = ["-c:v", "libx264", "-preset", preset, "-crf", str(crf), "-pix_fmt", "yuv420p", "-r", F]
    tmp = out_path.with_name(f".{out_path.stem}.tmp{os.getpid()}.mp4")
    extra: list[Path] = []
    try:
        if len(groups) == 1:
            args, graph, n_in = _picture_graph(plan, groups[0], source_path, crops, size, grade_look, lut_dir,
                                               grade_method, decoder_threads, card_png=card_png, fade_in=True, t0=0.0)
            run_ffmpeg(
                ["-y", *args, "-i", str(audio_wav), "-filter_complex", graph, "-map", "[vout]", "-map", f"{n_in}:a",
                 *enc, "-threads", str(threads), "-c:a", "aac", "-b:a", "160k", "-ar", str(SR), "-t", f"{D:.4f}",
                 "-movflags", "+faststart", str(tmp)],
                timeout=timeout, what="trailer render",
            )
        else:
            from concurrent.futures import ThreadPoolExecutor

            jobs: list[tuple[list[str], str]] = []
            t0 = 0.0
            for g, idx in enumerate(groups):
                last = g == len(groups) - 1
                args, graph, _ = _picture_graph(plan, idx, source_path, crops, size, grade_look, lut_dir, grade_method,
                                                decoder_threads, card_png=card_png if last else None,
                                                fade_in=g == 0, t0=t0)
                part = out_path.with_name(f".{out_path.stem}.part{g}.{os.getpid()}.mp4")
                extra.append(part)
                jobs.append((["-y", *args, "-filter_complex", graph, "-map", "[vout]", "-an", *enc, "-threads",
                              str(max(1, threads // len(groups))), str(part)], f"trailer render (part {g + 1})"))
                t0 += sum(plan.cuts[i].frames for i in idx) / plan.fps
            audio = out_path.with_name(f".{out_path.stem}.audio.{os.getpid()}.m4a")
            extra.append(audio)
            jobs.append((["-y", "-i", str(audio_wav), "-c:a", "aac", "-b:a", "160k", "-ar", str(SR), "-t", f"{D:.4f}",
                          str(audio)], "trailer audio encode"))
            with ThreadPoolExecutor(len(jobs)) as pool:
                for fut in [pool.submit(run_ffmpeg, a, timeout=timeout, what=w) for a, w in jobs]:
                    fut.result()
            listing = out_path.with_name(f".{out_path.stem}.parts.{os.getpid()}.txt")
            extra.append(listing)
            listing.write_text("".join("file '" + str(p.resolve()).replace("'", "'\\''") + "'\n"
                                       for p in extra[: len(groups)]), encoding="utf-8")
            run_ffmpeg(
                ["-y", "-f", "concat", "-safe", "0", "-i", str(listing), "-i", str(audio), "-map", "0:v", "-map", "1:a",
                 "-c", "copy", "-t", f"{D:.4f}", "-movflags", "+faststart", str(tmp)],
                timeout=timeout, what="trailer join",
            )
        os.replace(tmp, out_path)
    finally:
        tmp.unlink(missing_ok=True)
        for p in extra:
            p.unlink(missing_ok=True)
