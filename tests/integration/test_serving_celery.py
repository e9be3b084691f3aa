"""End to end against the REAL Redis (127.0.0.1:6379, DB 13, a unique key prefix) and a REAL
Celery worker process (``genperso worker``): personalize miss -> job on the Celery queue ->
the worker generates, gates and stores -> hit served from Redis; single-flight across threads;
retries with backoff only on Retryable; Redis claims. Only our own keys are deleted at the end."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REDIS_DB = 13
ROOT = Path(__file__).resolve().parents[2]
KEYS = {"fe-key": "front-end", "admin-key": "admin"}
FE = {"X-API-Key": "fe-key"}


def _redis():
    import redis

    r = redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB, socket_connect_timeout=2)
    try:
        r.ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("no Redis server on 127.0.0.1:6379")
    return r


@pytest.fixture
def redis_env(monkeypatch, genperso_env):
    r = _redis()
    prefix = f"gptest-{uuid.uuid4().hex[:10]}:"
    env = {
        "GENPERSO_REDIS_URL": f"redis://127.0.0.1:6379/{REDIS_DB}",
        "GENPERSO_REDIS_PREFIX": prefix,
        "GENPERSO_API_KEYS": json.dumps(KEYS),
        "GENPERSO_PIPELINE_FACTORY": "serving_support:worker_pipeline",
        "GENPERSO_CLAIM_TTL_SECONDS": "60",
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    from genperso.cache import reset_cache
    from genperso.config import get_settings, reset_settings
    from genperso.pipeline import reset_pipelines

    reset_settings()
    reset_cache()
    reset_pipelines()
    yield get_settings(), r, prefix, env
    reset_pipelines()
    reset_cache()
    for _ in range(3):  # a worker that was stopped mid-task may restore its message late
        keys = list(r.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            r.delete(*keys)
        time.sleep(0.5)
    assert not list(r.scan_iter(match=f"{prefix}*"))


@pytest.fixture
def worker(redis_env, genperso_env):
    settings, r, prefix, env = redis_env
    full_env = {**os.environ, **env, "GENPERSO_DATA_DIR": str(settings.data_dir),
                "PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), str(ROOT)])}
    log = open(settings.data_dir / "worker.log", "w+")
    proc = subprocess.Popen(
        [sys.executable, "-m", "genperso.cli", "worker", "--queues", "gpu,cpu", "--concurrency", "2",
         "--pool", "threads"],
        cwd=ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        log.seek(0)
        text = log.read()
        if " ready." in text:
            break
        if proc.poll() is not None:
            pytest.fail(f"worker exited early:\n{text[-3000:]}")
        time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail(f"worker did not become ready:\n{text[-3000:]}")
    yield proc
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    log.close()


def _wait_job(client, job_id: str, timeout: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/v1/jobs/{job_id}", headers=FE).json()
        if job["status"] in ("done", "failed", "blocked", "review"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish: {job}")


def test_celery_worker_end_to_end(redis_env, worker):
    from fastapi.testclient import TestClient

    from api.main import create_app
    from genperso.jobs import CeleryDispatcher
    from serving_support import add_title

    settings, r, prefix, _ = redis_env
    from media import Segment, make_film

    film = settings.data_dir / "film.mp4"
    make_film(film, [Segment("testsrc", 1.0)])
    add_title(settings, "film1", source=film)
    with TestClient(create_app(settings)) as client:
        pipe = client.app.state.pipeline
        assert isinstance(pipe.dispatcher, CeleryDispatcher)
        ready = client.get("/readyz").json()
        assert ready["checks"] == {"database": "ok", "redis": "ok", "broker": "ok"}, ready
        # 12 concurrent first requests for the same key: exactly one Celery job
        out: list[dict] = []
        barrier = threading.Barrier(12)

        def hit(i: int) -> None:
            barrier.wait()
            body = {"user": {"id": f"u{i}"}, "title_id": "film1", "kinds": ["artwork", "trailer"]}
            out.append(client.post("/v1/personalize", json=body, headers=FE).json())

        ts = [threading.Thread(target=hit, args=(i,)) for i in range(12)]
        [t.start() for t in ts]
        [t.join() for t in ts]
        art_jobs = {o["assets"]["artwork"]["job"]["job_id"] for o in out}
        tr_jobs = {o["assets"]["trailer"]["job"]["job_id"] for o in out}
        assert len(art_jobs) == 1 and len(tr_jobs) == 1
        assert all(o["assets"]["artwork"]["status"] == "default" for o in out)
        art = _wait_job(client, art_jobs.pop())
        tr = _wait_job(client, tr_jobs.pop())
        assert art["status"] == "done" and tr["status"] == "done", (art, tr)
        assert art["attempts"] == 1
        # the worker wrote the record to Redis under our prefix
        raw = r.get(f"{prefix}asset:{art['asset_id']}")
        assert raw is not None and json.loads(raw)["r"]["state"] == "generated"
        assert r.get(f"{prefix}claim:{art['asset_id']}") is None  # claim released
        body = {"user": {"id": "u99"}, "title_id": "film1", "kinds": ["artwork", "trailer"]}
        hit2 = client.post("/v1/personalize", json=body, headers=FE).json()
        assert hit2["assets"]["artwork"]["status"] == "hit" and hit2["assets"]["trailer"]["status"] == "hit"
        url = hit2["assets"]["trailer"]["asset"]["files"][0]["url"].replace(settings.public_base_url, "")
        part = client.get(url, headers={"Range": "bytes=0-99"})
        assert part.status_code == 206 and len(part.content) == 100
        # Retryable: retried with backoff (2 s, 4 s), then done; attempts counted on the job
        body = {"user": {"id": "u1"}, "title_id": "film1", "kinds": ["artwork"],
                "params": {"artwork": {"fail_times": 2}}}
        job_id = client.post("/v1/personalize", json=body, headers=FE).json()["assets"]["artwork"]["job"]["job_id"]
        flaky = _wait_job(client, job_id, timeout=40)
        assert flaky["status"] == "done" and flaky["attempts"] == 3, flaky
        # non-retryable failure: no retry, failed with its message
        body["params"] = {"artwork": {"candidates": "many"}}
        job_id = client.post("/v1/personalize", json=body, headers=FE).json()["assets"]["artwork"]["job"]["job_id"]
        failed = _wait_job(client, job_id)
        assert failed["status"] == "failed" and failed["attempts"] == 1 and "ValueError" in failed["error"]


def test_redis_claims_single_flight(redis_env):
    from genperso.cache import RedisCache

    settings, r, prefix, _ = redis_env
    cache = RedisCache(settings)
    results: list[str | None] = []
    barrier = threading.Barrier(32)

    def claim(i: int) -> None:
        barrier.wait()
        results.append(cache.claim("f" * 64, f"job{i}"))

    ts = [threading.Thread(target=claim, args=(i,)) for i in range(32)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    assert results.count(None) == 1 and len({x for x in results if x}) == 1
    holder = r.get(f"{prefix}claim:{'f' * 64}").decode()
    assert 0 < r.pttl(f"{prefix}claim:{'f' * 64}") <= 60_000
    cache.release("f" * 64, "not-the-holder")
    assert r.get(f"{prefix}claim:{'f' * 64}").decode() == holder
    cache.release("f" * 64, holder)
    assert r.get(f"{prefix}claim:{'f' * 64}") is None


def test_upload_ingest_on_worker_then_personalize(redis_env, worker):
    """POST /v1/titles/upload -> analysis task on the cpu queue (real ingest + analysis in the
    worker process) -> title ready -> personalize -> generation -> hit."""
    from fastapi.testclient import TestClient

    from api.main import create_app
    from media import Segment, make_film

    settings, r, prefix, _ = redis_env
    film = settings.data_dir / "tiny.mp4"
    make_film(film, [Segment("testsrc", 1.0), Segment("color", 1.0, color="blue")])
    admin = {"X-API-Key": "admin-key"}
    with TestClient(create_app(settings)) as client:
        with open(film, "rb") as f:
            up = client.post("/v1/titles/upload", headers=admin, data={"title_id": "tiny", "meta": '{"name": "Tiny"}'},
                             files={"file": ("tiny.mp4", f, "video/mp4")})
        assert up.status_code == 202, up.text
        job = _wait_job(client, up.json()["job"]["job_id"], timeout=150)  # analysis loads models
        assert job["status"] == "done", job
        st = client.get("/v1/titles/tiny/analysis", headers=FE).json()
        assert st["status"] == "ready" and st["version"] == 1 and st["n_shots"] >= 1
        body = {"user": {"id": "u1"}, "title_id": "tiny", "kinds": ["artwork"]}
        first = client.post("/v1/personalize", json=body, headers=FE).json()["assets"]["artwork"]
        assert first["job"] and first["status"] in ("default", "pending")
        assert _wait_job(client, first["job"]["job_id"])["status"] == "done"
        second = client.post("/v1/personalize", json=body, headers=FE).json()["assets"]["artwork"]
        assert second["status"] == "hit"
