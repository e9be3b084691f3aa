"""Serving pipeline: miss -> fallback + job, hit, single-flight, safety, serving policies, pins,
stale-while-revalidate, defaults, regenerate, invalidation."""

from __future__ import annotations

import threading

import pytest

from genperso.catalog import session_scope
from genperso.catalog.assets import AssetRepo, JobRepo
from genperso.types import Context, UserProfile
from serving_support import HashChooser, RuleGate, SwatchGenerator, add_title, drain, make_pipeline

U = UserProfile("u1")
CTX = Context()


@pytest.fixture
def pipe(settings):
    add_title(settings, "film1")
    SwatchGenerator.calls = 0
    p = make_pipeline(settings)
    yield p
    p.dispatcher.shutdown()


def test_miss_serves_default_then_hit(pipe):
    r1 = pipe.personalize(U, "film1", ["artwork"], CTX)
    a = r1.results["artwork"]
    assert a.status == "default" and a.job_id and a.asset is not None
    assert a.asset.data["angle_id"] == "default" and a.asset.data["files"][0]["mime"] == "image/jpeg"
    drain(pipe)
    assert pipe.job(a.job_id)["status"] == "done"
    r2 = pipe.personalize(U, "film1", ["artwork"], CTX)
    b = r2.results["artwork"]
    assert b.status == "hit" and b.job_id is None
    assert b.asset.asset_id == a.wanted_asset_id
    assert pipe.storage.exists(b.asset.data["files"][0]["path"])
    assert SwatchGenerator.calls == 1


def test_single_flight_under_threads(settings):
    add_title(settings, "film1")
    SwatchGenerator.calls = 0
    pipe = make_pipeline(settings, delay_s=0.3, chooser=HashChooser(fixed="action"))
    jobs: list[str | None] = []
    barrier = threading.Barrier(16)

    def hit(i: int) -> None:
        barrier.wait()
        r = pipe.personalize(UserProfile(f"user{i}"), "film1", ["artwork"], CTX)
        jobs.append(r.results["artwork"].job_id)

    threads = [threading.Thread(target=hit, args=(i,)) for i in range(16)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    drain(pipe)
    assert len(set(jobs)) == 1 and jobs[0] is not None
    assert SwatchGenerator.calls == 1
    with session_scope(settings) as s:
        assert len(JobRepo(s).pending()) == 0
        assert sum(JobRepo(s).counts().values()) == 1
    pipe.dispatcher.shutdown()


def test_blocked_generation_is_never_served_and_not_retried(pipe):
    r = pipe.personalize(U, "film1", ["artwork"], CTX, params={"artwork": {"unsafe": True}})
    drain(pipe)
    assert pipe.job(r.results["artwork"].job_id)["status"] == "blocked"
    r2 = pipe.personalize(U, "film1", ["artwork"], CTX, params={"artwork": {"unsafe": True}})
    k = r2.results["artwork"]
    assert k.status == "default" and k.job_id is None  # no new job for a blocked key
    with session_scope(pipe.settings) as s:
        row = AssetRepo(s).get(k.wanted_asset_id)
        assert row.state == "blocked" and row.files == []


def test_text_candidate_gated(pipe):
    r = pipe.personalize(U, "film1", ["titles"], CTX, wait_ms=5000)
    k = r.results["titles"]
    assert k.status == "hit"
    text = pipe.storage.read_bytes(k.asset.data["files"][0]["path"]).decode()
    assert "the" in text and "damn" not in text.lower()


def test_approved_only_and_pin_and_reject(settings):
    add_title(settings, "film2", serving_policy="approved_only")
    pipe = make_pipeline(settings, chooser=HashChooser(fixed="drama"))
    r = pipe.personalize(U, "film2", ["artwork"], CTX, wait_ms=5000)
    k = r.results["artwork"]
    # generated but not approved: not served under approved_only; the default is
    assert k.status == "default" and k.asset.data["angle_id"] == "default"
    pipe.set_state(k.wanted_asset_id, "approved", actor="rev")
    k2 = pipe.personalize(U, "film2", ["artwork"], CTX).results["artwork"]
    assert k2.status == "hit" and k2.asset.state == "approved"
    # a variant pinned by an editor wins over the exact hit
    job = pipe.regenerate(k.wanted_asset_id, seed=7)
    drain(pipe)
    pipe.set_state(job["asset_id"], "approved")
    pipe.pin(job["asset_id"])
    k3 = pipe.personalize(U, "film2", ["artwork"], CTX).results["artwork"]
    assert k3.status == "pinned" and k3.asset.asset_id == job["asset_id"]
    # a rejected asset is never served, pinned or not
    pipe.set_state(job["asset_id"], "rejected")
    pipe.set_state(k.wanted_asset_id, "rejected")
    k4 = pipe.personalize(U, "film2", ["artwork"], CTX).results["artwork"]
    assert k4.asset is not None and k4.asset.state != "rejected" and k4.status == "default"
    pipe.dispatcher.shutdown()


def test_stale_while_revalidate_on_new_title_version(pipe, settings):
    first = pipe.personalize(U, "film1", ["artwork"], CTX, wait_ms=5000).results["artwork"]
    assert first.status == "hit"
    add_title(settings, "film1", n_shots=4)  # new version => new keys
    from genperso.pipeline import forget_title

    forget_title("film1")
    pipe.gate  # noqa: B018 - keep gate loaded
    gen = pipe._generators["artwork"]
    gen.config = type(gen.config)(delay_s=0.5)
    second = pipe.personalize(U, "film1", ["artwork"], CTX).results["artwork"]
    assert second.status == "stale" and second.asset.asset_id == first.asset.asset_id and second.job_id
    drain(pipe)
    third = pipe.personalize(U, "film1", ["artwork"], CTX).results["artwork"]
    assert third.status == "hit" and third.asset.asset_id == second.wanted_asset_id != first.asset.asset_id


def test_review_decision_is_not_served_under_auto(settings):
    add_title(settings, "film1")
    pipe = make_pipeline(settings, gate=RuleGate(review_kinds=("artwork",)), chooser=HashChooser(fixed="action"))
    k = pipe.personalize(U, "film1", ["artwork"], CTX, wait_ms=3000).results["artwork"]
    # the gate sent the generation (and the default, with this gate) to review: nothing servable
    assert k.status == "pending" and k.asset is None
    assert pipe.job(k.job_id)["status"] == "review"
    pipe.dispatcher.shutdown()


def test_run_job_is_idempotent(pipe):
    k = pipe.personalize(U, "film1", ["artwork"], CTX, wait_ms=5000).results["artwork"]
    assert k.status == "hit"
    again = pipe.run_job(k.job_id)
    assert again["status"] == "done" and SwatchGenerator.calls == 1


def test_invalidate_purges_and_regenerates(pipe):
    k = pipe.personalize(U, "film1", ["artwork"], CTX, wait_ms=5000).results["artwork"]
    out = pipe.invalidate(title_id="film1", purge=True)
    assert out["purged"] >= 1
    assert not pipe.storage.exists(k.asset.data["files"][0]["path"])
    k2 = pipe.personalize(U, "film1", ["artwork"], CTX).results["artwork"]
    assert k2.job_id is not None
    drain(pipe)
    assert SwatchGenerator.calls == 2


def test_bad_kind_and_unknown_title(pipe):
    from genperso.errors import InvalidInput, NotFound

    with pytest.raises(InvalidInput, match="unknown asset kind"):
        pipe.personalize(U, "film1", ["poster"], CTX)
    with pytest.raises(NotFound, match="unknown title"):
        pipe.personalize(U, "nope", ["artwork"], CTX)


def test_audience_profile_is_respected(pipe):
    """An asset gated for adults is never a fallback, stale answer or pin for a kids request;
    the title default (gated for kids) is."""
    from serving_support import HashChooser

    pipe._chooser = HashChooser(fixed="action")
    adult = pipe.personalize(U, "film1", ["artwork"], CTX, wait_ms=5000).results["artwork"]
    assert adult.status == "hit"
    pipe.set_state(adult.wanted_asset_id, "approved")
    pipe.pin(adult.wanted_asset_id)
    kids_ctx = Context(maturity="kids")
    gen = pipe._generators["artwork"]
    gen.config = type(gen.config)(delay_s=0.5)
    kid = pipe.personalize(U, "film1", ["artwork"], kids_ctx).results["artwork"]
    assert kid.status == "default" and kid.job_id and kid.asset.asset_id != adult.wanted_asset_id
    # an adult request on another angle may fall back to the approved adult asset
    pipe._chooser = HashChooser(fixed="drama")
    other = pipe.personalize(U, "film1", ["artwork"], CTX).results["artwork"]
    assert other.status == "fallback" and other.asset.asset_id == adult.wanted_asset_id
    drain(pipe)
    pipe._chooser = HashChooser(fixed="action")
    kid2 = pipe.personalize(U, "film1", ["artwork"], kids_ctx).results["artwork"]
    assert kid2.status == "hit" and kid2.asset.profile == "kids"
