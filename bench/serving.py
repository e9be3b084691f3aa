"""Serving benchmark.

1. HTTP: a real ``uvicorn`` server on loopback (real Redis, the real angle policy and safety
   gate, a fast synthetic artwork generator, every angle of the bench title pre-generated), loaded
   with ``wrk``: cache-hit ``POST /v1/personalize`` (users with embeddings) side by side with a bare
   FastAPI endpoint returning constant JSON in the same app/process/workers, same run.
   Targets: personalize throughput >= 50% of bare at 32 connections; p99 <= 10 ms at 8.
   Also measured: first decisions (a new user on every request: the policy's draw, the sticky
   write and the decision log on each one), and which path answered (``path_reason`` counts).
2. Zipf simulation: 10,000 users x 200 titles x 8 angles, concurrent clients, Redis single-flight
   claims, a fast synthetic text generator through the real safety gate: generations run must
   equal distinct keys requested; hit rate; generation-seconds saved.

Run: ``python bench/serving.py [--duration 10] [--requests 20000]``. Needs Redis on
127.0.0.1:6379 (uses DB 14 and a unique key prefix, deletes only its own keys) and Debian's
``wrk`` (installed with apt-get when missing). Prints a table and one final JSON line.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
REDIS_DB = 14
API_KEY = "bench-front-end-key"
TITLE = "bench1"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


# ---- synthetic generators and the pipeline factory the server uses ----------------------------

def _generators() -> dict[str, Any]:
    from genperso.generators.base import Candidate, GenerationOutput, GenerationRequest, Generator

    class SyntheticArtwork(Generator):
        """Fast: one 160x90 PNG per candidate: a gradient with grain, coloured from (angle, seed)."""

        name = "bench-synthetic-artwork"
        version = "1"
        kind = "artwork"
        calls = 0

        def generate(self, request: GenerationRequest) -> GenerationOutput:
            from PIL import Image

            type(self).calls += 1
            import numpy as np

            rng = np.random.default_rng(request.seed)
            h = hashlib.sha256(f"{request.angle.id}{request.seed}".encode()).digest()
            y, x = np.mgrid[0:90, 0:160]
            img = np.stack([(x * h[0] / 160) % 256, (y * h[1] / 90) % 256, ((x + y) * h[2] / 250) % 256], -1)
            img = (0.7 * img + 0.3 * rng.integers(0, 256, img.shape)).astype(np.uint8)
            p = Path(request.out_dir) / "hero.png"
            Image.fromarray(img, "RGB").save(p)
            return GenerationOutput(self.name, self.version, (Candidate(0, 1.0, {"hero.png": str(p)}, {}),))

    class SyntheticTitles(Generator):
        """Fast: a playlist-style title string per (title, angle)."""

        name = "bench-synthetic-titles"
        version = "1"
        kind = "titles"
        calls = 0
        lock = threading.Lock()

        def generate(self, request: GenerationRequest) -> GenerationOutput:
            with type(self).lock:
                type(self).calls += 1
            time.sleep(0.02)  # a fixed, small "model" cost
            name = request.title.name if request.title else "Untitled"
            return GenerationOutput(self.name, self.version,
                                    (Candidate(0, 1.0, {}, {}, text=f"{name}: the {request.angle.name} cut"),))

    return {"artwork": SyntheticArtwork(), "titles": SyntheticTitles()}


def bench_pipeline(settings: Any) -> Any:
    """``GENPERSO_PIPELINE_FACTORY=serving:bench_pipeline``: the real policy and safety gate, the
    synthetic generators."""
    from genperso.pipeline import Pipeline

    chooser: Any = None
    mode = os.environ.get("BENCH_CHOOSER", "")
    if mode == "nolog":  # diagnostic only: the real policy without its per-request decision write
        from genperso.angles.policy import AnglePolicy

        chooser = AnglePolicy(settings, log_decisions=False)
    elif mode == "fixed":  # diagnostic only: no policy work, but no sticky decisions either, so every
        # request runs the synchronous pipeline on the thread pool (the async hot path needs the policy's)
        from genperso.types import AngleDecision

        class Fixed:
            def choose(self, user: Any, title_id: str, context: Any) -> AngleDecision:
                return AngleDecision("fixed", user.user_id, title_id, "action", 1.0, policy="fixed")

        chooser = Fixed()
    return Pipeline(settings, generators=_generators(), chooser=chooser)


def bench_app() -> Any:
    """The production app plus one bare endpoint, so both run in the same process and settings."""
    from api.main import create_app

    app = create_app()

    @app.post("/bench/bare", include_in_schema=False)
    async def bare() -> dict[str, Any]:
        return {"ok": True, "angle": "action", "asset": None}

    return app


# ---- catalog fixtures ----------------------------------------------------------------------------

def add_titles(settings: Any, ids: list[str]) -> None:
    from genperso.catalog import session_scope
    from genperso.catalog.titles import AnalysisRow, TitleRow, TitleVersionRow
    from genperso.types import Shot, StreamInfo, TitleAnalysis

    stream = StreamInfo(duration=60.0, width=1280, height=720, fps=24.0, video_codec="h264")
    with session_scope(settings) as s:
        for i, tid in enumerate(ids):
            h = hashlib.sha256(f"bench-{tid}".encode()).hexdigest()
            src = settings.media_dir / f"{h}.mp4"
            src.parent.mkdir(parents=True, exist_ok=True)
            src.write_bytes(b"\0")
            shots = tuple(Shot(index=k, start=10.0 * k, end=10.0 * k + 10, brightness=0.4, motion=0.1 * k)
                          for k in range(6))
            an = TitleAnalysis(title_id=tid, version=1, content_hash=h, stream=stream, shots=shots)
            genres = [["Action"], ["Romance", "Drama"], ["Comedy"], ["Thriller", "Mystery"], ["Animation"]][i % 5]
            s.add(TitleRow(id=tid, name=f"Film {tid}", genres=genres, maturity_rating="PG", current_version=1))
            s.flush()
            s.add(TitleVersionRow(title_id=tid, version=1, content_hash=h, source_path=str(src), size_bytes=1,
                                  stream=stream.to_dict(), status="ready"))
            s.add(AnalysisRow(content_hash=h, title_id=tid, version=1, analysis_version="bench", n_shots=6,
                              data=an.to_dict()))


# ---- wrk -------------------------------------------------------------------------------------------

@dataclass
class WrkResult:
    name: str
    connections: int
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int


def ensure_wrk() -> str | None:
    exe = shutil.which("wrk")
    if exe:
        return exe
    print("wrk not found: trying `apt-get install -y wrk` ...", file=sys.stderr)
    try:
        subprocess.run(["apt-get", "install", "-y", "wrk"], check=True, capture_output=True, timeout=300)
    except (subprocess.SubprocessError, OSError) as exc:
        print(f"could not install wrk ({exc}); install Debian's wrk package to run the HTTP part", file=sys.stderr)
        return None
    return shutil.which("wrk")


def _ms(text: str) -> float:
    m = re.match(r"([\d.]+)(us|ms|s)", text)
    if not m:
        return float("nan")
    v = float(m.group(1))
    return {"us": v / 1000, "ms": v, "s": v * 1000}[m.group(2)]


def run_wrk(exe: str, url: str, script: Path, conns: int, duration: int, name: str) -> WrkResult:
    out = subprocess.run([exe, "-t", "2", "-c", str(conns), "-d", f"{duration}s", "--latency", "-s", str(script),
                          url], capture_output=True, text=True, timeout=duration + 60).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    # anchored: the thread-stats lines also contain percentages ("+/- Stdev ... 95.50%")
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    n = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errs = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        errs += sum(int(x) for x in m.groups())
    return WrkResult(name, conns, rps, p50, p99, errs, n)


def lua_script(path: Path, api_key: str, embedding: list[float], users: int, unique: str = "") -> None:
    """wrk's request script: ``users`` users in turn, or with ``unique`` (a run tag) a new user per
    request (every request is that user's first decision)."""
    emb = ",".join(f"{x:.5f}" for x in embedding)
    uid = f"'n{unique}-' .. tid .. '-' .. n" if unique else f"'u' .. (n % {users})"
    path.write_text(f"""
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-API-Key"] = "{api_key}"
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
tid = 0
local n = 0
request = function()
  n = n + 1
  local body = '{{"user":{{"id":"' .. {uid} .. '","embedding":[{emb}]}},"title_id":"{TITLE}","kinds":["artwork"]}}'
  return wrk.format(nil, nil, nil, body)
end
""")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_part(args: argparse.Namespace, env: dict[str, str], settings: Any) -> dict[str, Any]:
    import httpx
    import numpy as np

    from genperso.angles.catalog import load_angles
    from genperso.pipeline import get_pipeline
    from genperso.types import Context

    exe = ensure_wrk()
    if exe is None:
        return {"skipped": "wrk unavailable"}
    add_titles(settings, [TITLE])
    pipe = get_pipeline(settings)  # same factory as the server
    st = pipe.title_state(TITLE)
    from genperso.pipeline import _normalise_params

    t0 = time.perf_counter()
    for a in load_angles().ids:  # pre-generate every angle: the load is all cache hits
        pipe.generate(pipe.build_key(st, a, "artwork", _normalise_params("artwork", None, Context().maturity)), TITLE)
    prewarm = time.perf_counter() - t0
    emb = np.random.default_rng(1).normal(size=settings.embedding_dim).tolist()
    script = Path(env["GENPERSO_DATA_DIR"]) / "post.lua"
    lua_script(script, API_KEY, emb, users=1000)
    results: list[WrkResult] = []
    with _server(args, env) as base:
        # warm-up (first decisions, process caches) and a correctness check
        body = {"user": {"id": "u1", "embedding": emb}, "title_id": TITLE, "kinds": ["artwork"]}
        r = httpx.post(base + "/v1/personalize", json=body, headers={"X-API-Key": API_KEY}, timeout=30)
        r.raise_for_status()
        assert r.json()["assets"]["artwork"]["status"] == "hit", r.text
        run_wrk(exe, base + "/v1/personalize", script, 8, 2, "warmup")
        before = _hits(httpx.get(base + "/metrics").text)
        for conns in (32, 8):
            results.append(run_wrk(exe, base + "/bench/bare", script, conns, args.duration, "bare"))
            results.append(run_wrk(exe, base + "/v1/personalize", script, conns, args.duration, "personalize"))
        after = _hits(httpx.get(base + "/metrics").text)
        # every request a new user: the first-decision path (policy draw, sticky write, decision log)
        first = Path(env["GENPERSO_DATA_DIR"]) / "first.lua"
        for conns in (32, 8):
            lua_script(first, API_KEY, emb, users=0, unique=f"{conns}x{uuid.uuid4().hex[:6]}")
            results.append(run_wrk(exe, base + "/v1/personalize", first, conns, args.duration,
                                   "personalize (first decision)"))
        firsts = _hits(httpx.get(base + "/metrics").text)
    if args.diagnose:  # same load with the policy's per-request decision write switched off
        for mode, label in (("nolog", "personalize (no decision log)"), ("fixed", "personalize (fixed angle)")):
            with _server(args, {**env, "BENCH_CHOOSER": mode}) as base:
                run_wrk(exe, base + "/v1/personalize", script, 8, 2, "warmup")
                for conns in (32, 8):
                    results.append(run_wrk(exe, base + "/v1/personalize", script, conns, args.duration, label))
    lookups = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    first_paths = {k: firsts.get(k, 0) - after.get(k, 0) for k in firsts if k.startswith("path_")}
    return {"results": results, "lookups": lookups, "first_paths": first_paths, "prewarm_s": prewarm}


@contextlib.contextmanager
def _server(args: argparse.Namespace, env: dict[str, str]) -> Iterator[str]:
    import httpx

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "serving:bench_app", "--factory", "--app-dir", str(ROOT / "bench"),
         "--host", "127.0.0.1", "--port", str(port), "--workers", str(args.workers), "--log-level", "warning",
         "--no-access-log"],
        cwd=ROOT, env={**os.environ, **env, "PYTHONPATH": str(ROOT)}, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield base
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()


def _hits(metrics: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for m in re.finditer(r'genperso_cache_lookups_total\{kind="artwork",result="(\w+)"\} ([\d.e+]+)', metrics):
        out[m.group(1)] = float(m.group(2))
    for m in re.finditer(r'genperso_personalize_path_total\{path="(\w+)",reason="(\w+)"\} ([\d.e+]+)', metrics):
        out["path_" + m.group(1)] = out.get("path_" + m.group(1), 0.0) + float(m.group(3))
        out[f"path_{m.group(1)}_{m.group(2)}"] = float(m.group(3))
    return out


# ---- Zipf simulation -------------------------------------------------------------------------------

def zipf_part(args: argparse.Namespace, settings: Any) -> dict[str, Any]:
    import numpy as np

    from genperso.catalog import session_scope
    from genperso.catalog.assets import JobRow
    from genperso.jobs import InProcessDispatcher
    from genperso.pipeline import Pipeline
    from genperso.types import AngleDecision, Context, UserProfile

    n_titles, n_users = 200, 10_000
    titles = [f"z{i:03d}" for i in range(n_titles)]
    add_titles(settings, titles)
    angle_ids = ("action", "romance", "comedy", "suspense", "family", "spectacle", "mystery", "drama")

    class PreferenceChooser:
        """Each user has a preferred angle (a fixed random draw): the shape of a converged policy."""

        def choose(self, user: UserProfile, title_id: str, context: Context) -> AngleDecision:
            i = int(hashlib.sha256(user.user_id.encode()).hexdigest()[:8], 16) % len(angle_ids)
            return AngleDecision(f"d-{user.user_id}-{title_id}", user.user_id, title_id, angle_ids[i], 1.0, policy="pref")

    gens = _generators()
    type(gens["titles"]).calls = 0
    pipe = Pipeline(settings, chooser=PreferenceChooser(), generators=gens)
    pipe._dispatcher = InProcessDispatcher(pipe.run, workers=args.gen_workers)
    rng = np.random.default_rng(7)
    ranks = np.arange(1, n_titles + 1)
    p = 1.0 / ranks ** args.zipf_s
    p /= p.sum()
    reqs = list(zip(rng.integers(0, n_users, args.requests), rng.choice(n_titles, size=args.requests, p=p)))
    chunks = [reqs[i::args.clients] for i in range(args.clients)]
    wanted: set[str] = set()
    statuses: dict[str, int] = {}
    lock = threading.Lock()
    ctx = Context()

    def client(chunk: list[tuple[int, int]]) -> None:
        local_w, local_s = set(), {}
        for u, t in chunk:
            res = pipe.personalize(UserProfile(f"user{u}"), titles[t], ["titles"], ctx).results["titles"]
            local_w.add(res.wanted_asset_id)
            local_s[res.status] = local_s.get(res.status, 0) + 1
        with lock:
            wanted.update(local_w)
            for k, v in local_s.items():
                statuses[k] = statuses.get(k, 0) + v

    t0 = time.perf_counter()
    ts = [threading.Thread(target=client, args=(c,)) for c in chunks]
    [t.start() for t in ts]
    [t.join() for t in ts]
    wall = time.perf_counter() - t0
    assert pipe._dispatcher.drain(120)
    pipe._dispatcher.shutdown()
    with session_scope(settings) as s:
        rows = list(s.query(JobRow.asset_id, JobRow.duration_s, JobRow.status).filter(JobRow.kind == "titles"))
    durations = [d for _, d, _ in rows if d is not None]
    mean_gen = sum(durations) / max(1, len(durations))
    gens_run = type(gens["titles"]).calls
    hits = statuses.get("hit", 0)
    return {
        "requests": args.requests, "clients": args.clients, "distinct_keys": len(wanted), "generations": gens_run,
        "jobs": len(rows), "duplicate_generations": gens_run - len(wanted), "hit_rate": hits / args.requests,
        "statuses": statuses, "mean_generation_s": mean_gen,
        "generation_seconds_saved": (args.requests - gens_run) * mean_gen,
        "requests_per_s": args.requests / wall, "wall_s": wall,
        "failed_jobs": sum(1 for *_, st in rows if st == "failed"),
    }


# ---- main ------------------------------------------------------------------------------------------

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    ap.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    ap.add_argument("--requests", type=int, default=10_000, help="Zipf simulation requests")
    ap.add_argument("--clients", type=int, default=16, help="Zipf simulation concurrent clients")
    ap.add_argument("--gen-workers", type=int, default=4, help="Zipf simulation generation threads")
    ap.add_argument("--zipf-s", type=float, default=1.1, help="Zipf exponent over title popularity")
    ap.add_argument("--skip-http", action="store_true")
    ap.add_argument("--skip-zipf", action="store_true")
    ap.add_argument("--diagnose", action="store_true",
                    help="also measure personalize with the policy's decision log write off (diagnostic)")
    args = ap.parse_args()

    import redis

    r = redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB)
    try:
        r.ping()
    except redis.exceptions.ConnectionError:
        sys.exit("Redis is not reachable on 127.0.0.1:6379: start it (the bench measures the Redis path)")
    try:
        import safety  # noqa: F401
        from safety import gate, policy_version  # noqa: F401
    except ImportError as exc:
        sys.exit(f"the safety gate is not importable ({exc}): the bench serves only gated assets")
    prefix = f"bench-{uuid.uuid4().hex[:10]}:"
    data = Path(tempfile.mkdtemp(prefix="genperso-bench-"))
    env = {"GENPERSO_DATA_DIR": str(data), "GENPERSO_REDIS_URL": f"redis://127.0.0.1:6379/{REDIS_DB}",
           "GENPERSO_REDIS_PREFIX": prefix, "GENPERSO_API_KEYS": json.dumps({API_KEY: "front-end"}),
           "GENPERSO_PIPELINE_FACTORY": "serving:bench_pipeline"}
    os.environ.update(env)
    sys.path.insert(0, str(ROOT / "bench"))
    from genperso.config import get_settings, reset_settings

    reset_settings()
    settings = get_settings()
    try:
        http = {"skipped": "--skip-http"} if args.skip_http else http_part(args, env, settings)
        # the Zipf part uses its own data dir (separate catalog) and the same Redis prefix
        os.environ["GENPERSO_DATA_DIR"] = str(data / "zipf")
        os.environ.pop("GENPERSO_PIPELINE_FACTORY", None)
        reset_settings()
        from genperso.pipeline import reset_pipelines

        reset_pipelines()
        zipf = {} if args.skip_zipf else zipf_part(args, get_settings())
    finally:
        keys = list(r.scan_iter(match=f"{prefix}*", count=1000))
        for i in range(0, len(keys), 500):
            r.delete(*keys[i:i + 500])
        shutil.rmtree(data, ignore_errors=True)
    report(http, zipf)


def report(http: dict[str, Any], zipf: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=150)
    figures: dict[str, Any] = {}
    if "results" in http:
        t = Table(title="HTTP (wrk, loopback, same server process): cache-hit personalize vs bare endpoint")
        for c in ("endpoint", "conns", "req/s", "p50 ms", "p99 ms", "requests", "errors"):
            t.add_column(c, justify="right")
        by = {(w.name, w.connections): w for w in http["results"]}
        if ("personalize (no decision log)", 32) in by:
            figures["personalize_nolog_rps_32"] = round(by[("personalize (no decision log)", 32)].rps, 1)
            figures["personalize_nolog_p99_ms_8"] = round(by[("personalize (no decision log)", 8)].p99_ms, 3)
            figures["personalize_fixed_rps_32"] = round(by[("personalize (fixed angle)", 32)].rps, 1)
            figures["personalize_fixed_p99_ms_8"] = round(by[("personalize (fixed angle)", 8)].p99_ms, 3)
        for w in http["results"]:
            t.add_row(w.name, str(w.connections), f"{w.rps:,.0f}", f"{w.p50_ms:.2f}", f"{w.p99_ms:.2f}",
                      str(w.requests), str(w.errors))
        console.print(t)
        ratio32 = by[("personalize", 32)].rps / by[("bare", 32)].rps
        p99_8 = by[("personalize", 8)].p99_ms
        lk = {k: v for k, v in http["lookups"].items() if not k.startswith("path_")}
        hit_share = lk.get("hit", 0) / max(1.0, sum(lk.values()))
        paths = {k[5:]: v for k, v in http["lookups"].items() if k.startswith("path_") and k.count("_") == 1}
        hot_share = paths.get("hot", 0) / max(1.0, sum(paths.values()))
        reasons = {k[5:]: int(v) for k, v in http["lookups"].items() if k.count("_") >= 2 and v}
        fp = {k[5:]: int(v) for k, v in http["first_paths"].items() if k.count("_") >= 2 and v}
        console.print(f"throughput ratio personalize/bare at 32 conns: {ratio32:.2f} (target >= 0.50) "
                      f"{'PASS' if ratio32 >= 0.5 else 'FAIL'}")
        console.print(f"personalize p99 at 8 conns: {p99_8:.2f} ms (target <= 10 ms) {'PASS' if p99_8 <= 10 else 'FAIL'}")
        console.print(f"cache-hit share of personalize lookups under load: {hit_share:.4f}; answered by the async "
                      f"hot path: {hot_share:.4f} (the rest ran the full pipeline on the thread pool); by path_reason: "
                      f"{reasons}")
        fd = by[("personalize (first decision)", 32)]
        console.print(f"first decisions (a new user per request): {fd.rps:,.0f} req/s at 32 conns, p99 at 8 conns "
                      f"{by[('personalize (first decision)', 8)].p99_ms:.2f} ms; by path_reason: {fp}")
        figures.update({
            "personalize_rps_32": round(by[("personalize", 32)].rps, 1), "bare_rps_32": round(by[("bare", 32)].rps, 1),
            "throughput_ratio_32": round(ratio32, 3), "personalize_p50_ms_8": round(by[("personalize", 8)].p50_ms, 3),
            "personalize_p99_ms_8": round(p99_8, 3), "bare_p99_ms_8": round(by[("bare", 8)].p99_ms, 3),
            "personalize_p99_ms_32": round(by[("personalize", 32)].p99_ms, 3),
            "http_errors": sum(w.errors for w in http["results"]), "hit_share_under_load": round(hit_share, 4),
            "hot_path_share_under_load": round(hot_share, 4),
            "first_decision_rps_32": round(fd.rps, 1),
            "first_decision_p99_ms_8": round(by[("personalize (first decision)", 8)].p99_ms, 3),
            "target_throughput_ok": ratio32 >= 0.5, "target_p99_ok": p99_8 <= 10.0,
        })
    else:
        console.print(f"HTTP part skipped: {http.get('skipped')}")
    if not zipf:
        print(json.dumps(figures))
        return
    t = Table(title="Zipf simulation: 10,000 users x 200 titles x 8 angles, Redis single-flight")
    for c in ("requests", "clients", "distinct keys", "generations", "duplicates", "hit rate", "gen-s saved",
              "req/s"):
        t.add_column(c, justify="right")
    t.add_row(str(zipf["requests"]), str(zipf["clients"]), str(zipf["distinct_keys"]), str(zipf["generations"]),
              str(zipf["duplicate_generations"]), f"{zipf['hit_rate']:.3f}", f"{zipf['generation_seconds_saved']:.1f}",
              f"{zipf['requests_per_s']:.0f}")
    console.print(t)
    console.print(f"statuses: {zipf['statuses']}; mean generation {zipf['mean_generation_s'] * 1000:.1f} ms; "
                  f"failed jobs {zipf['failed_jobs']}")
    figures.update({
        "zipf_requests": zipf["requests"], "zipf_distinct_keys": zipf["distinct_keys"],
        "zipf_generations": zipf["generations"], "zipf_duplicates": zipf["duplicate_generations"],
        "zipf_generations_equal_keys": zipf["generations"] == zipf["distinct_keys"],
        "zipf_hit_rate": round(zipf["hit_rate"], 4),
        "zipf_generation_seconds_saved": round(zipf["generation_seconds_saved"], 2),
        "zipf_requests_per_s": round(zipf["requests_per_s"], 1),
    })
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
