"""Playlist-title benchmark: SmolLM2 + filters + MiniLM ranking + safety vs a template baseline.

32 fixed briefs (8 angles x 4 contexts/activities with track genres and tempi). For each brief:
the top servable title of the model pipeline and the best template title (same ranking), their
MiniLM similarity to the brief, the safety verdicts, latency (model loaded once; torch 2 threads).

Figures: mean brief similarity of the top title (model vs template), share of briefs where the
model's title beats the template's, unsafe titles served (must be 0: a served title whose verdict
is not "allow"), distinct top titles, fallback rate, latency per brief (mean / median / p90 / p95).

Usage: python bench/titles.py [--seed 0] [--samples N] [--limit N]
Prints a table and ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("GENPERSO_LM_THREADS", "2")
os.environ.setdefault("OMP_NUM_THREADS", "2")

import numpy as np  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

console = Console(stderr=True, width=160)

CONTEXTS: tuple[tuple[dict[str, object], list[dict[str, object]]], ...] = (
    ({"hour": 7.0, "activity": "morning run", "device": "mobile"},
     [{"genres": ["rock", "electronic"], "tempo_bpm": 165, "energy": 0.9}]),
    ({"hour": 21.5, "activity": "dinner with friends", "device": "tv"},
     [{"genres": ["soul", "jazz"], "tempo_bpm": 92, "energy": 0.35}]),
    ({"hour": 15.0, "activity": "road trip", "device": "tablet", "maturity": "kids"},
     [{"genres": ["pop", "folk"], "tempo_bpm": 118, "energy": 0.6}]),
    ({"hour": 23.5, "activity": "late night study", "device": "web", "maturity": "teen"},
     [{"genres": ["ambient", "lo-fi"], "tempo_bpm": 78, "energy": 0.2}]),
)
ANGLES = ("action", "romance", "comedy", "suspense", "family", "spectacle", "mystery", "drama")


def cpu_seconds() -> float:
    import resource

    a = resource.getrusage(resource.RUSAGE_SELF)
    return a.ru_utime + a.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--samples", type=int, default=0, help="samples per brief (default: TitlesConfig's)")
    ap.add_argument("--limit", type=int, default=0, help="only the first N briefs (smoke runs)")
    args = ap.parse_args()

    from genperso.angles.catalog import get_angle
    from genperso.generators.titles import TitlesConfig, generate_titles, rank_titles, safety_check
    from genperso.generators.titles_text import make_brief, reject_reason, template_titles
    from genperso.models.lm import get_lm

    t0 = time.perf_counter()
    lm = get_lm()
    load_s = time.perf_counter() - t0
    cfg = TitlesConfig(samples=args.samples) if args.samples else TitlesConfig()
    args.samples = cfg.samples
    briefs = [make_brief(get_angle(a), ctx, tracks) for a in ANGLES for ctx, tracks in CONTEXTS]
    if args.limit:
        briefs = briefs[: args.limit]
    # warm-up: first calls load MiniLM and the safety classifiers
    generate_titles(briefs[0], n=5, seed=args.seed, config=cfg, lm=lm)

    rows = []
    for i, b in enumerate(briefs):
        t0, c0 = time.perf_counter(), cpu_seconds()
        res = generate_titles(b, n=5, seed=args.seed + i, config=cfg, lm=lm)
        latency, cpu = time.perf_counter() - t0, cpu_seconds() - c0
        top = res.candidates[0] if res.candidates else None
        tmpl = [t for t in template_titles(b) if reject_reason(t) is None]
        ranked_t = rank_titles(b.describe(), tmpl, [None] * len(tmpl), cfg)
        verdicts = safety_check([r[0] for r in ranked_t], profile=b.context.maturity, brand=None)
        tmpl_ok = [(r, v) for r, v in zip(ranked_t, verdicts) if v.decision == "allow"]
        t_text, t_sim = (tmpl_ok[0][0][0], tmpl_ok[0][0][2]["similarity"]) if tmpl_ok else ("", 0.0)
        served = [c for c in res.candidates if c.servable]
        rows.append({
            "angle": b.angle.id, "activity": b.context.activity, "maturity": b.context.maturity,
            "top": top.text if top else "", "top_sim": top.parts["similarity"] if top else 0.0,
            "fallback": res.fallback, "tmpl": t_text, "tmpl_sim": t_sim,
            "unsafe_served": sum(c.verdict.get("decision") != "allow" for c in served),
            "blocked": sum(r["reason"] == "safety: block" for r in res.rejected),
            "rejected": len(res.rejected), "latency": latency, "cpu": cpu,
            "gen_s": res.timings.get("generate_s", 0.0),
        })
        console.print(f"{i + 1:2d} {b.angle.id:9s} {str(b.context.activity):22s} -> {rows[-1]['top']!r} "
                      f"({rows[-1]['top_sim']:.3f} vs template {t_sim:.3f}) {latency:.2f} s")

    tab = Table(title=f"Playlist titles: {lm.revision}, {len(rows)} briefs, {args.samples} samples each")
    for c in ("angle", "activity", "model title", "sim", "template title", "sim", "fallback", "s"):
        tab.add_column(c)
    for r in rows:
        tab.add_row(r["angle"], str(r["activity"]), r["top"], f"{r['top_sim']:.3f}", r["tmpl"], f"{r['tmpl_sim']:.3f}",
                    "yes" if r["fallback"] else "", f"{r['latency']:.2f}")
    console.print(tab)
    lat = np.array([r["latency"] for r in rows])
    model_rows = [r for r in rows if not r["fallback"]]
    result = {
        "bench": "titles",
        "model": lm.revision,
        "briefs": len(rows),
        "mean_similarity_model_top": round(float(np.mean([r["top_sim"] for r in rows])), 4),
        "mean_similarity_template_top": round(float(np.mean([r["tmpl_sim"] for r in rows])), 4),
        "share_model_beats_template": round(sum(r["top_sim"] > r["tmpl_sim"] for r in model_rows) / len(rows), 4),
        "fallback_rate": round(sum(r["fallback"] for r in rows) / len(rows), 4),
        "unsafe_served": int(sum(r["unsafe_served"] for r in rows)),
        "blocked_by_safety": int(sum(r["blocked"] for r in rows)),
        "distinct_top_titles": len({r["top"].lower() for r in rows}),
        "latency_mean_s": round(float(lat.mean()), 3),
        "latency_median_s": round(float(np.median(lat)), 3),
        "latency_p90_s": round(float(np.percentile(lat, 90)), 3),
        "latency_p95_s": round(float(np.percentile(lat, 95)), 3),
        "samples_per_brief": args.samples,
        "cpu_per_brief_mean_s": round(float(np.mean([r["cpu"] for r in rows])), 3),
        "model_load_s": round(load_s, 2),
        "torch_threads": int(os.environ.get("GENPERSO_LM_THREADS", "2")),
        "load_avg_1m": round(os.getloadavg()[0], 1),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
