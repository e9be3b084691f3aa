"""Synthetic media factory for tests: every clip is made here with ffmpeg lavfi sources, so the
right answer (cut times, tempo, loudness, streams) is known by construction.

Nothing here reads ``../shared`` or downloads anything.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from genperso.media.ffmpeg import run_ffmpeg

__all__ = ["Segment", "make_film", "make_clicks", "make_tone", "make_speech", "espeak_available", "write_wav"]


@dataclass(frozen=True)
class Segment:
    """One shot of a synthetic film.

    kind: "color" (flat colour), "testsrc" (moving test pattern), "mandelbrot" (slow zoom),
          "noise" (high motion random), "faces" (drawn face-like ellipses, calm), "black".
    audio: "tone" (quiet sine), "loud" (loud noise bursts), "silence", "clicks".
    """

    kind: str
    duration: float
    color: str = "red"
    audio: str = "tone"
    freq: float = 440.0


def _video_source(seg: Segment, size: str, fps: int) -> str:
    d = seg.duration
    if seg.kind == "color":
        return f"color=c={seg.color}:s={size}:r={fps}:d={d}"
    if seg.kind == "black":
        return f"color=c=black:s={size}:r={fps}:d={d}"
    if seg.kind == "testsrc":
        return f"testsrc2=s={size}:r={fps}:d={d}"
    if seg.kind == "mandelbrot":
        return f"mandelbrot=s={size}:r={fps},trim=duration={d}"
    if seg.kind == "noise":
        # fast random motion: cellular automaton + noise, strong frame differences
        return f"cellauto=s={size}:r={fps}:rule=30:random_fill_ratio=0.5,trim=duration={d}"
    if seg.kind == "faces":
        return f"color=c={seg.color}:s={size}:r={fps}:d={d}"
    raise ValueError(f"unknown segment kind {seg.kind}")


def _audio_source(seg: Segment, sr: int) -> str:
    d = seg.duration
    if seg.audio == "tone":
        return f"sine=f={seg.freq}:r={sr}:d={d},volume=0.1"
    if seg.audio == "loud":
        return f"anoisesrc=r={sr}:a=0.6:d={d}:c=pink"
    if seg.audio == "silence":
        return f"anullsrc=r={sr}:cl=mono,atrim=duration={d}"
    if seg.audio == "clicks":
        return f"sine=f=1000:r={sr}:d={d}:beep_factor=8,volume=0.5"
    raise ValueError(f"unknown audio {seg.audio}")


def make_film(
    path: str | Path,
    segments: list[Segment],
    *,
    size: str = "320x180",
    fps: int = 25,
    audio: bool = True,
    sr: int = 44100,
    channels: int = 2,
    vcodec: str = "libx264",
) -> list[float]:
    """Write a film made of ``segments`` with hard cuts between them; returns the cut times (s).

    "faces" segments draw two light ellipses with eyes on the background colour so the Haar
    detector is not guaranteed to fire; tests that need real faces use ``face_image``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    args: list[str] = []
    for seg in segments:
        args += ["-f", "lavfi", "-i", _video_source(seg, size, fps)]
    if audio:
        for seg in segments:
            args += ["-f", "lavfi", "-i", _audio_source(seg, sr)]
    n = len(segments)
    fparts = []
    for i in range(n):
        fparts.append(f"[{i}:v]fps={fps},format=yuv420p,setsar=1[v{i}]")
    if audio:
        layout = "stereo" if channels == 2 else ("5.1" if channels == 6 else "mono")
        for i in range(n):
            fparts.append(f"[{n + i}:a]aformat=sample_rates={sr}:channel_layouts={layout}[a{i}]")
        fparts.append("".join(f"[v{i}][a{i}]" for i in range(n)) + f"concat=n={n}:v=1:a=1[v][a]")
        maps = ["-map", "[v]", "-map", "[a]", "-c:a", "aac", "-b:a", "128k"]
    else:
        fparts.append("".join(f"[v{i}]" for i in range(n)) + f"concat=n={n}:v=1:a=0[v]")
        maps = ["-map", "[v]"]
    run_ffmpeg(
        ["-y", *args, "-filter_complex", ";".join(fparts), *maps, "-c:v", vcodec, "-preset", "ultrafast",
         "-g", str(fps * 2), "-pix_fmt", "yuv420p", str(path)],
        what="synthetic film",
    )
    cuts, t = [], 0.0
    for seg in segments[:-1]:
        t += seg.duration
        cuts.append(round(t, 3))
    return cuts


def write_wav(path: str | Path, y: np.ndarray, sr: int) -> Path:
    import soundfile as sf

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), y, sr)
    return path


def make_clicks(path: str | Path, bpm: float, duration: float = 20.0, sr: int = 22050, stereo: bool = False,
                accent_every: int = 4) -> Path:
    """A click track at exactly ``bpm`` (with a bass note on every bar, so meter is clear)."""
    n = int(duration * sr)
    y = np.zeros(n, dtype=np.float32)
    period = 60.0 / bpm
    click_len = int(0.03 * sr)
    t = np.arange(click_len) / sr
    click = (np.sin(2 * np.pi * 1500 * t) * np.exp(-t * 120)).astype(np.float32)
    kick = (np.sin(2 * np.pi * 60 * t) * np.exp(-t * 40)).astype(np.float32)
    k = 0
    while True:
        start = int(round(k * period * sr))
        if start + click_len >= n:
            break
        y[start:start + click_len] += 0.5 * click
        if k % accent_every == 0:
            y[start:start + click_len] += 0.6 * kick
        k += 1
    if stereo:
        y = np.stack([y, y], axis=1)
    return write_wav(path, y, sr)


def make_tone(path: str | Path, freq: float = 440.0, duration: float = 5.0, sr: int = 44100, amp: float = 0.5,
              channels: int = 1) -> Path:
    t = np.arange(int(duration * sr)) / sr
    y = (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    if channels > 1:
        y = np.stack([y] * channels, axis=1)
    return write_wav(path, y, sr)


def espeak_available() -> bool:
    return shutil.which("espeak-ng") is not None or shutil.which("espeak") is not None


def make_speech(path: str | Path, text: str, *, speed: int = 150) -> Path:
    """Speak ``text`` to a WAV with espeak-ng (tests skip when it is missing)."""
    exe = shutil.which("espeak-ng") or shutil.which("espeak")
    if exe is None:
        raise RuntimeError("espeak-ng is not installed")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([exe, "-s", str(speed), "-w", str(path), text], check=True, capture_output=True)
    return path


def make_stills_film(path: str | Path, frames: list[np.ndarray], durations: list[float], *, fps: int = 25) -> list[float]:
    """A silent film showing each RGB uint8 ``frame`` for its duration (hard cuts); returns cut times.

    All frames must share one even-sized shape. Used where a test needs known pixel content
    (a bright colourful shot, a dark one, burned-in text) at known times."""
    import tempfile

    from PIL import Image

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="stills-") as tmp:
        args: list[str] = []
        for i, (frame, d) in enumerate(zip(frames, durations)):
            p = Path(tmp) / f"f{i:03d}.png"
            Image.fromarray(frame).save(p)
            args += ["-loop", "1", "-framerate", str(fps), "-t", f"{d}", "-i", str(p)]
        n = len(frames)
        graph = "".join(f"[{i}:v]" for i in range(n)) + f"concat=n={n}:v=1:a=0,format=yuv420p[v]"
        run_ffmpeg(["-y", *args, "-filter_complex", graph, "-map", "[v]", "-c:v", "libx264", "-preset", "ultrafast",
                    "-crf", "12", "-g", str(fps), "-r", str(fps), str(path)], what="stills film")
    cuts, t = [], 0.0
    for d in durations[:-1]:
        t += d
        cuts.append(round(t, 3))
    return cuts
__all__.append("make_stills_film")


def make_beat_loop(path: str | Path, bpm: float, duration: float = 12.0, sr: int = 44100, stereo: bool = True,
                   seed: int = 0, pad_freq: float = 110.0) -> Path:
    """A drum-and-pad loop at exactly ``bpm`` (4/4): kick on beats 1 and 3, snare on 2 and 4,
    hi-hat on every eighth note and a sustained chord pad, so its loudness behaves like music
    (crest factor) while its beats are known: beat k is at k * 60 / bpm seconds."""
    rng = np.random.default_rng(seed)
    n = int(duration * sr)
    t_all = np.arange(n) / sr
    pad = sum(np.sin(2 * np.pi * f * t_all) for f in (pad_freq, pad_freq * 1.25, pad_freq * 1.5))
    y = (0.06 * pad).astype(np.float32)
    period = 60.0 / bpm
    ln = int(0.12 * sr)
    t = np.arange(ln) / sr
    kick = (np.sin(2 * np.pi * (50 + 80 * np.exp(-t * 30)) * t) * np.exp(-t * 18)).astype(np.float32)
    snare = (rng.normal(0, 1, ln) * np.exp(-t * 30) * 0.5 + np.sin(2 * np.pi * 190 * t) * np.exp(-t * 25) * 0.4)
    hat = (rng.normal(0, 1, ln) * np.exp(-t * 90) * 0.15)
    k = 0
    while True:
        start = int(round(k * period * sr))
        if start + ln >= n:
            break
        y[start:start + ln] += (0.8 * kick if k % 2 == 0 else snare.astype(np.float32))
        y[start:start + ln] += hat.astype(np.float32)
        half = int(round((k + 0.5) * period * sr))
        if half + ln < n:
            y[half:half + ln] += hat.astype(np.float32)
        k += 1
    y = (0.5 * y / max(float(np.max(np.abs(y))), 1e-9)).astype(np.float32)
    if stereo:
        y = np.stack([y, y], axis=1)
    return write_wav(path, y, sr)
__all__.append("make_beat_loop")


def make_fade_film(path: str | Path, *, size: str = "320x180", fps: int = 25, fade: float = 1.0,
                   black: float = 1.0) -> dict[str, float]:
    """A film with a fade-out to black, a black gap, a fade-in from black and one hard cut:

    testsrc2 (3 s, last ``fade`` s fading out) | black (``black`` s) | smptehdbars (3 s, first
    ``fade`` s fading in) | blue (2 s). Returns the times: ``fade_out_end``, ``fade_in_start``,
    ``cut`` and ``duration``. No audio."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    a, c, d = 3.0, 3.0, 2.0
    srcs = [
        f"testsrc2=s={size}:r={fps}:d={a}",
        f"color=c=black:s={size}:r={fps}:d={black}",
        f"smptehdbars=s={size}:r={fps}:d={c}",
        f"color=c=blue:s={size}:r={fps}:d={d}",
    ]
    args: list[str] = []
    for s in srcs:
        args += ["-f", "lavfi", "-i", s]
    graph = (
        f"[0:v]fade=t=out:st={a - fade}:d={fade},format=yuv420p,setsar=1[v0];"
        "[1:v]format=yuv420p,setsar=1[v1];"
        f"[2:v]fade=t=in:st=0:d={fade},format=yuv420p,setsar=1[v2];"
        "[3:v]format=yuv420p,setsar=1[v3];"
        "[v0][v1][v2][v3]concat=n=4:v=1:a=0[v]"
    )
    run_ffmpeg(["-y", *args, "-filter_complex", graph, "-map", "[v]", "-c:v", "libx264", "-preset", "ultrafast",
                "-g", str(fps * 2), "-pix_fmt", "yuv420p", str(path)], what="synthetic fade film")
    return {"fade_out_end": a, "fade_in_start": a + black, "cut": a + black + c, "duration": a + black + c + d}


__all__.append("make_fade_film")


def face_image(height: int = 360, width: int = 640, *, center: tuple[int, int] | None = None, size: int = 90,
               background: tuple[int, int, int] = (120, 110, 90)) -> np.ndarray:
    """An RGB uint8 image of a drawn frontal face (skin oval, hair, brows, eyes with pupils, nose
    shadow, mouth, slightly blurred) that OpenCV's Haar ``frontalface_alt2`` detects when
    ``size`` (half the face height, px) is at least ~70 on a 640 px wide image."""
    import cv2

    cx, cy = center or (width // 2, height // 2)
    s = size
    img = np.full((height, width, 3), background[::-1], np.uint8)  # drawn in BGR
    cv2.ellipse(img, (cx, cy), (int(s * 0.78), s), 0, 0, 360, (150, 180, 225), -1)
    cv2.ellipse(img, (cx, cy - int(s * 0.75)), (int(s * 0.8), int(s * 0.4)), 0, 180, 360, (30, 40, 50), -1)
    for dx in (-1, 1):
        ex = cx + dx * int(s * 0.35)
        cv2.ellipse(img, (ex, cy - int(s * 0.32)), (int(s * 0.2), int(s * 0.05)), 0, 0, 360, (40, 50, 60), -1)
        cv2.ellipse(img, (ex, cy - int(s * 0.15)), (int(s * 0.16), int(s * 0.08)), 0, 0, 360, (255, 255, 255), -1)
        cv2.circle(img, (ex, cy - int(s * 0.15)), int(s * 0.07), (40, 30, 20), -1)
    cv2.ellipse(img, (cx, cy + int(s * 0.22)), (int(s * 0.1), int(s * 0.05)), 0, 0, 360, (110, 140, 185), -1)
    cv2.ellipse(img, (cx, cy + int(s * 0.5)), (int(s * 0.28), int(s * 0.08)), 0, 0, 360, (70, 70, 160), -1)
    img = cv2.GaussianBlur(img, (0, 0), s * 0.03)
    return np.ascontiguousarray(img[..., ::-1])


__all__.append("face_image")
