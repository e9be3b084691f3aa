"""Media analysis benchmark.

1. The whole analysis (``genperso.analysis.analyse``) of a film, in a fresh process (so it pays
   the one-off imports a CLI ``ingest`` pays): wall time, real-time factor (film seconds per wall
   second), CPU seconds (this process + children), per-stage timings, and peak RSS (exact peak of
   this process from getrusage, plus a 0.2 s sampling thread summing the RSS of this process and
   all its children, e.g. the ffmpeg loudness pass).
2. Shot detection alone (our single reduced-size decode + AdaptiveDetector + fades) vs
   PySceneDetect's default ``scenedetect.detect(path, ContentDetector())`` on the same film in the
   same run: wall times, ratio, and how many boundaries each found.
3. Shot-boundary precision / recall / F1 (+-2 frames) on the Big Buck Bunny 30 s clip against its
   hand-checked ``.shots.csv`` (hard cuts; the opening fade-in is checked separately), for ours
   and for PySceneDetect's default.

Usage: python bench/analysis.py [--film PATH] [--clip PATH] [--skip-baseline]
Film default: the sample film, fetched on first use (``genperso.sample.fetch_sample_film``).
Prints a table and ends with one JSON line.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

console = Console(stderr=True)
CLIP = Path("/work/shared/media/video/big_buck_bunny_2008_first30s_720p.webm")


def default_film() -> Path:
    """The sample film (Big Buck Bunny), fetched from PyPI and verified on first use."""
    from genperso.sample import fetch_sample_film

    return fetch_sample_film().path


class RssSampler(threading.Thread):
    """Peak of (RSS of this process + RSS of all its descendants), sampled from /proc."""

    def __init__(self, interval: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.interval = interval
        self.peak = 0
        self._halt = threading.Event()

    @staticmethod
    def _rss(pid: int) -> int:
        try:
            with open(f"/proc/{pid}/statm") as f:
                return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, IndexError):
            return 0

    @staticmethod
    def _children(pid: int) -> list[int]:
        out: list[int] = []
        try:
            for tid in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{tid}/children") as f:
                    out += [int(c) for c in f.read().split()]
        except OSError:
            pass
        return out

    def run(self) -> None:
        me = os.getpid()
        while not self._halt.is_set():
            todo, total, seen = [me], 0, set()
            while todo:
                p = todo.pop()
                if p in seen:
                    continue
                seen.add(p)
                total += self._rss(p)
                todo += self._children(p)
            self.peak = max(self.peak, total)
            self._halt.wait(self.interval)

    def stop(self) -> int:
        self._halt.set()
        self.join()
        return self.peak


def cpu_seconds() -> float:
    s = resource.getrusage(resource.RUSAGE_SELF)
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def read_truth(csv_path: Path, fps: float = 24.0) -> tuple[list[float], list[float]]:
    """(hard cut times, fade-in times) from a ``.shots.csv``."""
    cuts, fades = [], []
    with open(csv_path, newline="") as f:
        for row in csv.DictReader(f):
            t = float(row["time_s"])
            if row["type"] == "cut":
                cuts.append(t)
            elif row["type"] in ("fade_in", "fade_out", "fade"):
                fades.append(t)
    return cuts, fades


def prf(found: list[float], truth: list[float], tol: float) -> dict[str, float]:
    """Greedy one-to-one matching within ``tol`` seconds."""
    used: set[int] = set()
    tp = 0
    for t in sorted(found):
        best = None
        for j, g in enumerate(truth):
            if j not in used and abs(t - g) <= tol and (best is None or abs(t - g) < abs(t - truth[best])):
                best = j
        if best is not None:
            used.add(best)
            tp += 1
    p = tp / len(found) if found else (1.0 if not truth else 0.0)
    r = tp / len(truth) if truth else 1.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f1, 4), "tp": tp, "found": len(found),
            "truth": len(truth)}


def pyscenedetect_default(path: Path) -> tuple[list[float], float, float]:
    """(cut times, wall s, CPU s) of PySceneDetect's one-call default."""
    from scenedetect import ContentDetector, detect

    c = cpu_seconds()
    t = time.perf_counter()
    scenes = detect(str(path), ContentDetector())
    wall = time.perf_counter() - t
    return [s[0].seconds for s in scenes[1:]], wall, cpu_seconds() - c


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--film", type=Path, default=None)
    ap.add_argument("--clip", type=Path, default=CLIP)
    ap.add_argument("--skip-baseline", action="store_true", help="skip PySceneDetect's default on the full film")
    args = ap.parse_args()
    film: Path = (args.film or default_film()).expanduser()
    if not film.is_file():
        console.print(f"[red]film not found: {film}[/red]")
        sys.exit(2)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    with tempfile.TemporaryDirectory(prefix="genperso-bench-analysis-") as tmp:
        os.environ["GENPERSO_DATA_DIR"] = tmp
        from genperso.config import get_settings, reset_settings
        from genperso.logs import configure_logging

        configure_logging("WARNING")
        reset_settings()
        settings = get_settings()
        from genperso.analysis import analyse
        from genperso.media.probe import file_sha256, probe
        from genperso.media.shots import detect_shots

        info = probe(film)
        digest = file_sha256(film)
        console.print(f"film: {film} ({info.duration:.0f} s, {info.width}x{info.height} {info.video_codec}); "
                      f"{os.cpu_count()} CPUs, analysis_workers={settings.analysis_workers}")

        # 1. whole analysis (cold process)
        sampler = RssSampler()
        sampler.start()
        cpu0 = cpu_seconds()
        t = time.perf_counter()
        a = analyse(film, title_id="bench", version=1, content_hash=digest, settings=settings)
        wall = time.perf_counter() - t
        cpu = cpu_seconds() - cpu0
        sampled = sampler.stop()
        self_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        child_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
        n_kf = sum(len(s.keyframes) for s in a.shots)

        # 2. shot detection alone vs PySceneDetect default
        c = cpu_seconds()
        t = time.perf_counter()
        ours = detect_shots(film, info, width=settings.analysis_width, threads=settings.analysis_workers)
        ours_wall = time.perf_counter() - t
        ours_cpu = cpu_seconds() - c
        base_cuts: list[float] = []
        base_wall = base_cpu = float("nan")
        if not args.skip_baseline:
            console.print("PySceneDetect default (ContentDetector, OpenCV backend) on the full film ...")
            base_cuts, base_wall, base_cpu = pyscenedetect_default(film)

        # 3. accuracy on the clip with ground truth
        acc: dict[str, object] = {}
        clip_csv = args.clip.with_name(args.clip.name.rsplit(".", 1)[0] + ".shots.csv")
        if args.clip.is_file() and clip_csv.is_file():
            truth_cuts, truth_fades = read_truth(clip_csv)
            cinfo = probe(args.clip)
            tol = 2.0 / cinfo.fps + 1e-3
            shots = detect_shots(args.clip, cinfo, width=settings.analysis_width, threads=settings.analysis_workers)
            found = [s for s, _e, _t in shots[1:]]
            acc["ours"] = prf(found, truth_cuts, tol)
            acc["ours_opening_fade_detected"] = bool(truth_fades and shots[0][2] == "fade")
            bcuts, _, _ = pyscenedetect_default(args.clip)
            acc["pyscenedetect_default"] = prf(bcuts, truth_cuts, tol)
            acc["tolerance_s"] = round(tol, 4)

    rtf = info.duration / wall
    table = Table(title=f"Media analysis - {film.name} ({info.duration:.0f} s)")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("whole analysis wall (s)", f"{wall:.1f}")
    table.add_row("real-time factor (x)", f"{rtf:.1f}")
    table.add_row("CPU seconds (self + children)", f"{cpu:.1f}")
    for k, v in a.timings.items():
        table.add_row(f"  stage {k} (s)", f"{v:.1f}")
    table.add_row("  (audio + loudness run alongside the video decode)", "")
    table.add_row("shots / keyframes", f"{len(a.shots)} / {n_kf}")
    if a.audio is not None:
        table.add_row("loudness (LUFS) / tempo (BPM)", f"{a.audio.integrated_lufs} / {a.audio.tempo_bpm}")
        table.add_row("speech / music segments", f"{len(a.audio.speech_segments)} / {len(a.audio.music_segments)}")
    table.add_row("peak RSS self (MB, getrusage)", f"{self_peak / 2**20:.0f}")
    table.add_row("peak RSS children max (MB)", f"{child_peak / 2**20:.0f}")
    table.add_row("peak RSS self+children (MB, sampled)", f"{sampled / 2**20:.0f}")
    table.add_row("shot detection alone wall / CPU (s)", f"{ours_wall:.1f} / {ours_cpu:.1f}  ({len(ours)} shots)")
    if not args.skip_baseline:
        table.add_row("PySceneDetect default wall / CPU (s)",
                      f"{base_wall:.1f} / {base_cpu:.1f}  ({len(base_cuts) + 1} shots)")
        table.add_row("speed-up vs PySceneDetect default, wall / CPU (x)",
                      f"{base_wall / ours_wall:.2f} / {base_cpu / ours_cpu:.2f}")
    table.add_row("load average (1 min) at the end", f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    for name in ("ours", "pyscenedetect_default"):
        if name in acc:
            m = acc[name]
            assert isinstance(m, dict)
            table.add_row(f"clip cuts P/R/F1 {name}", f"{m['precision']:.2f} / {m['recall']:.2f} / {m['f1']:.2f}")
    if "ours_opening_fade_detected" in acc:
        table.add_row("clip opening fade-in detected", str(acc["ours_opening_fade_detected"]))
    Console().print(table)
    print(json.dumps({
        "bench": "analysis",
        "film": str(film),
        "film_seconds": round(info.duration, 3),
        "cpus": os.cpu_count(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "analysis_wall_s": round(wall, 2),
        "realtime_factor": round(rtf, 2),
        "cpu_s": round(cpu, 1),
        "stage_s": dict(a.timings),
        "shots": len(a.shots),
        "keyframes": n_kf,
        "peak_rss_self_mb": round(self_peak / 2**20, 1),
        "peak_rss_children_mb": round(child_peak / 2**20, 1),
        "peak_rss_sampled_total_mb": round(sampled / 2**20, 1),
        "shot_detection_wall_s": round(ours_wall, 2),
        "shot_detection_cpu_s": round(ours_cpu, 2),
        "pyscenedetect_default_wall_s": None if args.skip_baseline else round(base_wall, 2),
        "pyscenedetect_default_cpu_s": None if args.skip_baseline else round(base_cpu, 2),
        "shot_detection_speedup_vs_pyscenedetect": None if args.skip_baseline else round(base_wall / ours_wall, 2),
        "shot_detection_cpu_ratio_vs_pyscenedetect": None if args.skip_baseline else round(base_cpu / ours_cpu, 2),
        "pyscenedetect_default_shots": None if args.skip_baseline else len(base_cuts) + 1,
        "clip_accuracy": acc,
    }))


if __name__ == "__main__":
    main()
