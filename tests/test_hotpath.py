"""The async cache-hit path of personalize (``genperso.hotpath``) against the real Redis: it gives
the answer the synchronous pipeline gives, it hands every other case back to the pipeline, and
review decisions made through another pipeline (another API process) reach it on the next request
because every cache change bumps the title's epoch."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field

import pytest

from serving_support import add_title, make_pipeline

pytestmark = pytest.mark.integration

from conftest import REDIS_URL as URL


@dataclass
class RecordingDispatcher:
    submitted: list[tuple[str, str]] = field(default_factory=list)

    def submit(self, job_id: str, queue: str, task: str = "generate") -> None:
        self.submitted.append((job_id, queue))


def _pipeline(settings):
    from genperso.angles.policy import AnglePolicy

    return make_pipeline(settings, chooser=AnglePolicy(settings), dispatcher=RecordingDispatcher())


def _hot(hot, user_id: str, title_id: str, kinds=("artwork",)):
    from genperso.types import Context

    return asyncio.run(hot.personalize(user_id, title_id, list(kinds), Context()))


def test_epochs_move_with_every_cache_change(redis_settings):
    import redis

    from genperso.cache import CacheEntry, get_cache

    cache = get_cache(redis_settings)
    r = redis.Redis.from_url(URL)
    g, t = cache.epoch_keys("film-e")
    before = (r.get(g), r.get(t))
    cache.put(CacheEntry({"asset_id": "a" * 64, "title_id": "film-e", "angle_id": "action", "kind": "artwork",
                          "state": "generated", "key": {"params": {"maturity": "adult"}}}))
    after_put = (r.get(g), r.get(t))
    assert after_put[1] != before[1] and after_put[0] == before[0]
    cache.forget(["a" * 64], [("film-e", "action", "artwork")])
    assert r.get(t) != after_put[1]
    cache.forget(["b" * 64])  # records of unknown titles: the global epoch moves
    assert r.get(g) != after_put[0]


def test_hot_path_answers_like_the_pipeline_and_sees_review_decisions(redis_settings):
    from genperso.hotpath import HotPath
    from genperso.pipeline import _normalise_params
    from genperso.types import Context, UserProfile

    add_title(redis_settings, "film-h")
    pipe = _pipeline(redis_settings)
    hot = HotPath(pipe)
    assert _hot(hot, "u1", "film-h") == (None, "title")  # nothing of the title in this process yet
    first = pipe.personalize(UserProfile("u1"), "film-h", ["artwork"], Context())
    assert first.results["artwork"].status != "hit"  # nothing generated yet
    st = pipe.title_state("film-h")
    for angle in pipe.chooser.angles.ids:  # every angle generated: the user's one is a hit now
        pipe.generate(pipe.build_key(st, angle, "artwork", _normalise_params("artwork", None, "adult")), st.title_id)
    full = pipe.personalize(UserProfile("u1"), "film-h", ["artwork"], Context())
    res, why = _hot(hot, "u1", "film-h")
    assert why == "hot" and res is not None
    assert res.decision.decision_id == full.decision.decision_id == first.decision.decision_id
    assert res.decision.propensity == full.decision.propensity
    a, b = res.results["artwork"], full.results["artwork"]
    assert (a.status, a.asset.asset_id, a.wanted_asset_id) == (b.status, b.asset.asset_id, b.wanted_asset_id)
    assert a.status == "hit"
    assert _hot(hot, "u2", "film-h")[1] == "decision"  # u2 has no decision yet: choose() must run

    # another API process (its own pipeline, policy and near cache) rejects the asset it served
    other = _pipeline(redis_settings)
    other_hot = HotPath(other)
    assert _hot(other_hot, "u1", "film-h")[1] == "support"  # its policy has not read the title's support yet
    other.personalize(UserProfile("u1"), "film-h", ["artwork"], Context())
    assert _hot(other_hot, "u1", "film-h")[1] == "hot"
    served = a.asset.asset_id
    other.set_state(served, "rejected", actor="test")
    assert _hot(hot, "u1", "film-h")[0] is None and _hot(other_hot, "u1", "film-h")[0] is None
    after = pipe.personalize(UserProfile("u1"), "film-h", ["artwork"], Context()).results["artwork"]
    assert after.status != "hit" and (after.asset is None or after.asset.asset_id != served)

    # approve it again, then pin it: the pin reaches both hot paths once the catalog refilled Redis
    other.set_state(served, "approved", actor="test")
    assert _hot(hot, "u1", "film-h")[1] == "record"  # the pin slot is recomputed from the catalog first
    pipe.personalize(UserProfile("u1"), "film-h", ["artwork"], Context())
    res, why = _hot(hot, "u1", "film-h")
    assert why == "hot" and res.results["artwork"].status == "hit" and res.results["artwork"].asset.state == "approved"
    other.pin(served, actor="test")
    pipe.personalize(UserProfile("u1"), "film-h", ["artwork"], Context())  # refills the pin slot
    for h in (hot, other_hot):
        res, why = _hot(h, "u1", "film-h")
        assert why == "hot" and res.results["artwork"].status == "pinned"
        assert res.results["artwork"].asset.asset_id == served


def test_api_uses_the_hot_path_with_the_same_document(redis_settings, monkeypatch):
    from fastapi.testclient import TestClient

    from api.main import create_app
    from api.schemas import PersonalizeOut

    monkeypatch.setenv("GENPERSO_API_KEYS", json.dumps({"fe": "front-end"}))
    from genperso.config import get_settings, reset_settings

    reset_settings()
    settings = get_settings()
    add_title(settings, "film-a")
    pipe = _pipeline(settings)
    from genperso.pipeline import _normalise_params

    st = pipe.title_state("film-a")
    for angle in pipe.chooser.angles.ids:
        pipe.generate(pipe.build_key(st, angle, "artwork", _normalise_params("artwork", None, "adult")), st.title_id)
    body = {"user": {"id": "u9"}, "title_id": "film-a", "kinds": ["artwork"]}
    with TestClient(create_app(settings, pipe)) as client:
        docs = [client.post("/v1/personalize", json=body, headers={"X-API-Key": "fe"}) for _ in range(3)]
        assert all(d.status_code == 200 for d in docs), docs[0].text
        assert docs[0].json() == docs[1].json() == docs[2].json()
        PersonalizeOut.model_validate(docs[2].json())
        assert docs[2].json()["assets"]["artwork"]["status"] == "hit"
        paths = [x for x in client.get("/metrics").text.splitlines() if x.startswith("genperso_personalize_path_total{")]
        assert 'genperso_personalize_path_total{path="hot",reason="hot"} 2.0' in paths  # the 2nd and 3rd
        assert sum(float(x.rsplit(" ", 1)[1]) for x in paths if 'path="full"' in x) == 1.0  # the first
        bad = client.post("/v1/personalize", json={**body, "kinds": ["poster"]}, headers={"X-API-Key": "fe"})
        assert bad.status_code == 422 and "kinds" in bad.json()["message"]
        assert client.post("/v1/personalize", json=body).status_code == 401
        spec = client.get("/openapi.json").json()
    req = spec["paths"]["/v1/personalize"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert req == {"$ref": "#/components/schemas/PersonalizeIn"}
    assert {"PersonalizeIn", "UserIn", "ContextIn", "PersonalizeOut"} <= set(spec["components"]["schemas"])
