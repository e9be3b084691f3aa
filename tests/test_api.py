"""HTTP API with FastAPI's TestClient: auth (401/403), limits (413), JSON errors (404/405/422),
personalize (fallback + job on miss, served on hit, approved_only), jobs, assets, files with
ETag/Range (206/416), events (idempotent), users, titles, batch, health, metrics, OpenAPI."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from serving_support import HashChooser, add_title, drain, make_pipeline

KEYS = {"fe-key": "front-end", "rev-key": "reviewer", "admin-key": "admin"}
FE = {"X-API-Key": "fe-key"}
REV = {"X-API-Key": "rev-key"}
ADMIN = {"Authorization": "Bearer admin-key"}


@pytest.fixture(scope="session")
def film(tmp_path_factory):
    from media import Segment, make_film

    path = tmp_path_factory.mktemp("film") / "film.mp4"
    make_film(path, [Segment("testsrc", 1.0), Segment("color", 1.0, color="blue")])
    return path


@pytest.fixture
def api(monkeypatch, genperso_env, film):
    monkeypatch.setenv("GENPERSO_API_KEYS", json.dumps(KEYS))
    monkeypatch.setenv("GENPERSO_MAX_REQUEST_BYTES", "20000")
    from genperso.config import get_settings, reset_settings

    reset_settings()
    settings = get_settings()
    add_title(settings, "film1", source=film)
    pipe = make_pipeline(settings, chooser=HashChooser(fixed="action"))
    from api.main import create_app

    with TestClient(create_app(settings, pipe)) as client:
        client.pipe = pipe  # type: ignore[attr-defined]
        yield client
    pipe.dispatcher.shutdown()


def body(**kw):
    b = {"user": {"id": "u1"}, "title_id": "film1", "kinds": ["artwork"]}
    b.update(kw)
    return b


@dataclass(frozen=True)
class AuthCase:
    method: str
    path: str
    headers: dict
    status: int


AUTH_CASES = [
    AuthCase("post", "/v1/personalize", {}, 401),
    AuthCase("post", "/v1/personalize", {"X-API-Key": "wrong"}, 401),
    AuthCase("post", "/v1/personalize", {"Authorization": "Bearer wrong"}, 401),
    AuthCase("post", "/v1/personalize", REV, 403),
    AuthCase("post", "/v1/personalize", FE, 200),
    AuthCase("post", "/v1/personalize", ADMIN, 200),
    AuthCase("post", "/v1/batch/pregenerate", FE, 403),
    AuthCase("delete", "/v1/users/u1", FE, 403),
    AuthCase("delete", "/v1/users/u1", REV, 403),
    AuthCase("post", "/v1/admin/cache/invalidate", REV, 403),
    AuthCase("get", "/v1/titles/film1", {}, 401),
]


@pytest.mark.parametrize("case", AUTH_CASES, ids=lambda c: f"{c.method}-{c.path}-{c.status}")
def test_auth(api, case):
    kw = {"json": body()} if case.path == "/v1/personalize" else {}
    if case.path == "/v1/batch/pregenerate":
        kw = {"json": {"top": 1}}
    if case.path.endswith("invalidate"):
        kw = {"json": {"title_id": "film1"}}
    r = getattr(api, case.method)(case.path, headers=case.headers, **kw)
    assert r.status_code == case.status, r.text
    if case.status >= 400:
        assert set(r.json()) >= {"error", "message"}
        assert r.json()["error"] == ("unauthorized" if case.status == 401 else "forbidden")


def test_catalog_key_created_hashed(api):
    from genperso.catalog import session_scope
    from genperso.catalog.assets import ApiKeyRow, create_api_key

    with session_scope(api.pipe.settings) as s:
        key = create_api_key(s, "front-end", "tv app")
    with session_scope(api.pipe.settings) as s:
        assert all(key not in (r.key_hash, r.name) for r in s.query(ApiKeyRow))
    assert api.post("/v1/personalize", json=body(), headers={"X-API-Key": key}).status_code == 200
    assert api.get("/v1/titles/film1", headers={"X-API-Key": key}).status_code == 200


def test_413_body_limit(api):
    big = body(user={"id": "u1", "history": ["x" * 100] * 400})
    r = api.post("/v1/personalize", json=big, headers=FE)
    assert r.status_code == 413 and r.json()["error"] == "payload_too_large"


@pytest.mark.parametrize("embedding,needle", [
    ([0.1] * 10, "dimension 10, expected 384"),
    ([math.nan] + [0.1] * 383, "NaN"),
    ([0.0] * 384, "all zeros"),
])
def test_422_embedding_messages(api, embedding, needle):
    payload = json.dumps(body(user={"id": "u1", "embedding": embedding}))
    r = api.post("/v1/personalize", content=payload, headers={**FE, "content-type": "application/json"})
    assert r.status_code == 422 and needle in r.json()["message"], r.text
    assert r.json()["error"] == "invalid_input"


@pytest.mark.parametrize("payload,needle", [
    ({"user": {"id": "u1"}, "title_id": "film1", "kinds": ["poster"]}, "kinds"),
    ({"user": {"id": "u1"}}, "title_id"),
    ({"user": {"id": "u1"}, "title_id": "film1", "wait_ms": 999999}, "wait_ms"),
    ({"user": {"id": "../x"}, "title_id": "film1"}, "user id"),
    ({"user": {"id": "u1"}, "title_id": "film1", "context": {"hour": 25}}, "hour"),
])
def test_422_validation_is_json(api, payload, needle):
    r = api.post("/v1/personalize", json=payload, headers=FE)
    assert r.status_code == 422 and r.json()["error"] == "invalid_input" and needle in r.json()["message"], r.text


def test_404_405_are_json(api):
    r = api.get("/v1/nope", headers=FE)
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    r = api.put("/v1/personalize", headers=FE)
    assert r.status_code == 405 and r.json()["error"] == "method_not_allowed"
    for path in ("/v1/jobs/unknown", "/v1/assets/" + "0" * 64, "/v1/titles/nope", "/v1/titles/nope/analysis"):
        r = api.get(path, headers=ADMIN)
        assert r.status_code == 404 and r.json()["error"] == "not_found", path
    r = api.post("/v1/personalize", json=body(title_id="nope"), headers=FE)
    assert r.status_code == 404 and "nope" in r.json()["message"]
    assert api.get("/v1/files/ab/" + "ab" * 32 + "/x.png").status_code == 404


def test_personalize_miss_then_hit_and_files(api):
    r = api.post("/v1/personalize", json=body(kinds=["artwork", "trailer"]), headers=FE)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["decision"]["angle_id"] == "action" and 0 < out["decision"]["propensity"] <= 1
    art = out["assets"]["artwork"]
    assert art["status"] == "default" and art["asset"]["files"][0]["url"].startswith("http")
    assert art["job"]["job_id"] and out["assets"]["trailer"]["status"] == "pending"
    assert out["assets"]["trailer"]["asset"] is None and out["assets"]["trailer"]["job"]
    drain(api.pipe)
    job = api.get(f"/v1/jobs/{art['job']['job_id']}", headers=FE).json()
    assert job["status"] == "done" and job["asset"]["asset_id"] == art["wanted_asset_id"]
    out2 = api.post("/v1/personalize", json=body(kinds=["artwork", "trailer"]), headers=FE).json()
    assert out2["assets"]["artwork"]["status"] == "hit" and out2["assets"]["artwork"]["job"] is None
    tr = out2["assets"]["trailer"]
    assert tr["status"] == "hit" and tr["asset"]["files"][0]["mime"] == "video/mp4"
    rec = api.get(f"/v1/assets/{art['wanted_asset_id'][:20]}", headers=FE).json()
    assert rec["key"]["kind"] == "artwork" and rec["safety"]["decision"] == "allow" and rec["record"]["generator"]
    # files: ETag, 304, ranges
    url = tr["asset"]["files"][0]["url"].replace("http://127.0.0.1:8000", "")
    full = api.get(url)
    size = len(full.content)
    assert full.status_code == 200 and full.headers["accept-ranges"] == "bytes" and size > 1000
    etag = full.headers["etag"]
    assert api.get(url, headers={"If-None-Match": etag}).status_code == 304
    part = api.get(url, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == full.content[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{size}"
    tail = api.get(url, headers={"Range": "bytes=-50"})
    assert tail.status_code == 206 and tail.content == full.content[-50:]
    openr = api.get(url, headers={"Range": f"bytes={size - 10}-"})
    assert openr.status_code == 206 and openr.content == full.content[-10:]
    for bad in (f"bytes={size}-", "bytes=50-10", "bytes=abc", "bytes=-0"):
        r = api.get(url, headers={"Range": bad})
        assert r.status_code == 416 and r.headers["content-range"] == f"bytes */{size}", bad
        assert r.json()["error"] == "range_not_satisfiable"
    head = api.head(url)
    assert head.status_code == 200 and int(head.headers["content-length"]) == size


def test_approved_only_via_api(api):
    r = api.patch("/v1/titles/film1", json={"serving_policy": "approved_only"}, headers=ADMIN)
    assert r.status_code == 200 and r.json()["serving_policy"] == "approved_only"
    out = api.post("/v1/personalize", json=body(wait_ms=5000), headers=FE).json()["assets"]["artwork"]
    assert out["status"] == "default"  # generated, not approved: not served
    api.pipe.set_state(out["wanted_asset_id"], "approved")
    out2 = api.post("/v1/personalize", json=body(), headers=FE).json()["assets"]["artwork"]
    assert out2["status"] == "hit" and out2["asset"]["state"] == "approved"
    api.pipe.set_state(out["wanted_asset_id"], "rejected")
    out3 = api.post("/v1/personalize", json=body(), headers=FE).json()["assets"]["artwork"]
    assert out3["status"] == "default" and out3["asset"]["asset_id"] != out["wanted_asset_id"]


def test_events_idempotent_and_delete_user(api):
    ev = {"event_id": "e1", "user_id": "u1", "title_id": "film1", "angle_id": "action", "decision_id": None,
          "type": "play_start", "seconds_watched": 30}
    r = api.post("/v1/events", json={"events": [ev]}, headers=FE)
    assert r.status_code == 200 and r.json() == {"accepted": 1, "duplicates": 0}
    r = api.post("/v1/events", json={"events": [ev]}, headers=FE)
    assert r.json() == {"accepted": 0, "duplicates": 1}
    bad = api.post("/v1/events", json={"events": [{**ev, "type": "teleport"}]}, headers=FE)
    assert bad.status_code == 422 and "event type" in bad.json()["message"]
    r = api.delete("/v1/users/u1", headers=ADMIN)
    assert r.status_code == 200 and r.json()["user_id"] == "u1" and sum(r.json()["deleted"].values()) >= 1


def test_titles_and_batch_and_invalidate(api):
    lst = api.get("/v1/titles", headers=FE).json()
    assert lst["total"] == 1 and lst["titles"][0]["analysis"]["status"] == "ready"
    t = api.get("/v1/titles/film1", headers=REV).json()
    assert t["current_version"] == 1 and t["analysis"]["n_shots"] == 3
    r = api.post("/v1/titles", json={"title_id": "film9", "path": "/no/such/file.mp4"}, headers=ADMIN)
    assert r.status_code == 422 and "not found" in r.json()["message"]
    b = api.post("/v1/batch/pregenerate", json={"top": 5, "angles": ["action", "drama"], "kinds": ["artwork"]},
                 headers=ADMIN)
    assert b.status_code == 202, b.text
    assert b.json()["items"] == 2 and b.json()["counts"] == {"queued": 2}
    drain(api.pipe)
    again = api.post("/v1/batch/pregenerate", json={"top": 5, "angles": ["action", "drama"]}, headers=ADMIN).json()
    assert again["counts"] == {"cached": 2}
    inv = api.post("/v1/admin/cache/invalidate", json={"title_id": "film1", "purge": True}, headers=ADMIN)
    assert inv.status_code == 200 and inv.json()["purged"] == 2


def test_health_ready_metrics_openapi(api):
    assert api.get("/healthz").json() == {"status": "ok"}
    rd = api.get("/readyz")
    assert rd.status_code == 200 and rd.json()["checks"]["database"] == "ok"
    api.post("/v1/personalize", json=body(), headers=FE)
    drain(api.pipe)
    api.post("/v1/personalize", json=body(), headers=FE)
    m = api.get("/metrics").text
    assert 'genperso_request_seconds_bucket{le="0.005",method="POST",route="/v1/personalize",status="200"}' in m
    assert 'genperso_cache_lookups_total{kind="artwork",result="hit"} 1.0' in m
    assert 'genperso_cache_lookups_total{kind="artwork",result="default"} 1.0' in m
    assert 'genperso_generation_seconds_count{kind="artwork"} 1.0' in m
    assert "genperso_safety_decisions" in m
    spec = api.get("/openapi.json").json()
    assert "ErrorOut" in spec["components"]["schemas"] and "PersonalizeOut" in spec["components"]["schemas"]
    resp = spec["paths"]["/v1/personalize"]["post"]["responses"]
    assert {"200", "401", "403", "422", "413"} <= set(resp)


def test_real_policy_with_embedding(monkeypatch, genperso_env):
    """The default chooser (genperso.angles.policy) on the request path, with a user embedding."""
    monkeypatch.setenv("GENPERSO_API_KEYS", json.dumps(KEYS))
    from genperso.config import get_settings, reset_settings

    reset_settings()
    settings = get_settings()
    add_title(settings, "film1")
    pipe = make_pipeline(settings)
    pipe._chooser = None  # use the real policy
    from api.main import create_app

    import numpy as np

    emb = np.random.default_rng(0).normal(size=384).tolist()
    with TestClient(create_app(settings, pipe)) as client:
        r = client.post("/v1/personalize", json=body(user={"id": "u7", "embedding": emb}), headers=FE)
        assert r.status_code == 200, r.text
        d = r.json()["decision"]
        assert d["angle_id"] in HashChooser().angles and 0 < d["propensity"] <= 1 and d["decision_id"]
    pipe.dispatcher.shutdown()
