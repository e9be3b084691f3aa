"""First decisions on the async hot path (``AnglePolicy.choose_local`` + ``SET NX GET``) and the
lean pipelined Redis connection (``genperso.hotredis``), against the real Redis."""

from __future__ import annotations

import asyncio
import datetime as dt
import json

import numpy as np
import pytest

from serving_support import add_title
from test_hotpath import URL, _pipeline

pytestmark = pytest.mark.integration


def _ready_pipeline(settings, title_id: str):
    """A pipeline whose policy has the title's support, the posterior and the impression count in
    process (what a serving process has after its first requests), every angle generated."""
    from genperso.pipeline import _normalise_params
    from genperso.types import Context, UserProfile

    add_title(settings, title_id)
    pipe = _pipeline(settings)
    pipe.personalize(UserProfile("warm"), title_id, ["artwork"], Context())
    st = pipe.title_state(title_id)
    keys = [pipe.build_key(st, a, "artwork", _normalise_params("artwork", None, "adult")) for a in pipe.chooser.angles.ids]
    for key in keys:
        pipe.generate(key, title_id)
    # Redis holds the records and (empty) pin slots of every angle, as after a serving warm-up
    pipe.cache.lookup([k.digest for k in keys], [(title_id, k.angle_id, "artwork") for k in keys])
    return pipe


def _user(uid: str, seed: int):
    from genperso.types import UserProfile, as_unit_vector

    vec = as_unit_vector(np.random.default_rng(seed).normal(size=384), 384, "user embedding")
    return UserProfile(uid, embedding=vec, source="embedding")


def _reference(settings, user, title_id: str, ctx, shown: dict[str, str] | None = None):
    """What the synchronous ``choose`` decides from the same (empty) bandit state, with no sticky
    decision around: a policy on the embedded store, nothing logged."""
    from genperso.angles.policy import AnglePolicy
    from genperso.angles.state import LocalStore

    store = LocalStore(settings)
    for t, a in (shown or {}).items():
        store.note_session(user.user_id, ctx.session_id, t, a)
    return AnglePolicy(settings, store=store, log_decisions=False).choose(user, title_id, ctx)


def _logged(settings, decision_id: str) -> int:
    from genperso.angles.decision_log import get_decision_log
    from genperso.catalog import session_scope
    from genperso.catalog.angles import AngleDecisionRow

    assert get_decision_log(settings).flush(10)
    with session_scope(settings) as s:
        return s.query(AngleDecisionRow).filter(AngleDecisionRow.decision_id == decision_id).count()


def test_first_decision_is_made_in_the_event_loop_like_choose(redis_settings):
    from genperso.hotpath import HotPath
    from genperso.types import Context, UserProfile

    pipe = _ready_pipeline(redis_settings, "film-f")
    hot = HotPath(pipe)
    user, ctx = _user("new1", 3), Context()
    res, why = asyncio.run(hot.personalize("new1", "film-f", ["artwork"], ctx, user=user))
    assert why == "first" and res is not None and res.results["artwork"].status == "hit"
    ref = _reference(redis_settings, user, "film-f", ctx)
    d = res.decision
    assert (d.decision_id, d.angle_id, d.propensity, dict(d.scores), d.explanation) == \
        (ref.decision_id, ref.angle_id, ref.propensity, dict(ref.scores), ref.explanation)
    # stored as the sticky decision: the synchronous path and the next hot request answer with it
    again = pipe.personalize(UserProfile("new1"), "film-f", ["artwork"], ctx)
    assert again.decision.decision_id == d.decision_id and again.decision.created_at == d.created_at
    res2, why2 = asyncio.run(hot.personalize("new1", "film-f", ["artwork"], ctx, user=user))
    assert why2 == "hot" and res2.decision == d
    assert _logged(redis_settings, d.decision_id) == 1
    # without an embedding (cold or history users) the synchronous path decides
    assert asyncio.run(hot.personalize("new2", "film-f", ["artwork"], ctx))[1] == "decision"


def test_first_decision_follows_the_session_and_writes_its_note(redis_settings):
    from genperso.hotpath import HotPath
    from genperso.types import Context

    pipe = _ready_pipeline(redis_settings, "film-s")
    hot = HotPath(pipe)
    store = pipe.chooser.store
    shown = {"other-1": "action", "other-2": "action", "other-3": "romance"}
    for t, a in shown.items():
        store.note_session("new3", "sess1", t, a)
    user, ctx = _user("new3", 5), Context(session_id="sess1")
    res, why = asyncio.run(hot.personalize("new3", "film-s", ["artwork"], ctx, user=user))
    assert why == "first"
    ref = _reference(redis_settings, user, "film-s", ctx, shown)
    assert (res.decision.angle_id, res.decision.propensity) == (ref.angle_id, ref.propensity)
    assert "earlier showings in session" in res.decision.explanation
    assert store.session_angles("new3", "sess1") == {**shown, "film-s": res.decision.angle_id}


def test_a_decision_stored_first_by_another_request_wins(redis_settings):
    from genperso.hotpath import HotPath
    from genperso.types import Context

    pipe = _ready_pipeline(redis_settings, "film-r")
    hot = HotPath(pipe)
    pol = pipe.chooser
    original = pol.choose_local
    stored = {}

    def racing(user, title_id, context, eligible, shown, **kw):
        choice = original(user, title_id, context, eligible, shown, **kw)
        other = type(choice.decision)(**{**choice.decision.__dict__, "decision_id": "other-process",
                                         "created_at": "2026-01-01T00:00:00+00:00"})
        pol.store.sticky_set(user.user_id, choice.sticky_key, other, 60)  # another process, in between
        stored["other"] = other
        return choice

    pol.choose_local = racing
    res, why = asyncio.run(hot.personalize("new4", "film-r", ["artwork"], Context(), user=_user("new4", 7)))
    assert why == "hot" and res.decision.decision_id == "other-process"
    assert _logged(redis_settings, stored["other"].decision_id) == 0  # the winner logged its own
    ours = original(_user("new4", 7), "film-r", Context(), pol.sticky_probe("new4", "film-r", Context())[1], None)
    assert _logged(redis_settings, ours.decision.decision_id) == 0  # the loser logged nothing


def test_choose_local_declines_without_fresh_state(redis_settings):
    from genperso.angles.policy import AnglePolicy
    from genperso.types import Context

    add_title(redis_settings, "film-c")
    pol = AnglePolicy(redis_settings)
    user = _user("new5", 9)
    elig = tuple(pol.angles.ids)
    assert pol.choose_local(user, "film-c", Context(), elig, None) is None  # nothing in process yet
    assert pol.local_refresh_due("film-c") == (True, True)
    pol.support("film-c")
    pol.refresh_local()
    assert pol.local_refresh_due("film-c") == (False, True)
    assert pol.choose_local(user, "film-c", Context(), elig, None) is None  # no impression count yet
    pol.refresh_local("film-c")
    assert pol.local_refresh_due("film-c") == (False, False)
    choice = pol.choose_local(user, "film-c", Context(), elig, None)
    assert choice is not None and choice.ttl_s > 0 and choice.sticky_key.startswith("film-c:")
    pol._post_checked -= 60  # the posterior copy is too old: the synchronous choose must re-read it
    assert pol.choose_local(user, "film-c", Context(), elig, None) is None


def test_decision_payload_round_trips():
    from genperso.hotpath import _decision, decision_payload
    from genperso.types import AngleDecision

    d = AngleDecision("d1", "u1", "t1", "action", 0.25, scores={"action": 0.25, "romance": 0.75}, explanation="e",
                      policy="lints-v1", context={"hour": 20.0, "bucket": 3, "support": {"action": 0.5},
                                                  "session_id": None}, created_at=dt.datetime.now().isoformat(),
                      shadow={"policy": "p2", "angle_id": "romance", "propensity": 0.5})
    raw = decision_payload(d)
    assert json.loads(raw) == d.to_dict()
    assert _decision(raw) == d == AngleDecision.from_dict(json.loads(raw))


def test_lean_redis_pipelines_reports_errors_and_reconnects(redis_settings):
    import redis

    from genperso.hotredis import RedisReplyError, lean_client

    prefix = redis_settings.redis_prefix
    assert lean_client("rediss://example:6380/0") is None and lean_client("unix:///tmp/r.sock") is None

    async def main() -> None:
        c = lean_client(URL, timeout_s=2.0)
        assert c is not None
        replies = await asyncio.gather(*(c.execute(("SET", f"{prefix}k{i}", str(i)), ("GET", f"{prefix}k{i}"))
                                         for i in range(50)))
        assert [r[1] for r in replies] == [str(i).encode() for i in range(50)]
        with pytest.raises(RedisReplyError):
            await c.execute(("HGETALL", f"{prefix}k1"))
        assert await c.execute(("MGET", f"{prefix}k1", f"{prefix}none")) == [[b"1", None]]
        (cid,) = await c.execute(("CLIENT", "ID"))
        redis.Redis.from_url(URL).client_kill_filter(_id=cid)  # the server drops our connection (only ours)
        for _ in range(3):
            try:
                assert await c.execute(("GET", f"{prefix}k2")) == [b"2"]
                break
            except ConnectionError:
                await asyncio.sleep(0.05)  # the loss is noticed by the call in flight; the next reconnects
        else:
            pytest.fail("no reconnect")
        await c.close()

    asyncio.run(main())


def test_render_json_is_the_rendered_document(redis_settings):
    import dataclasses

    from api.routes.personalize import render, render_json
    from genperso.types import Context, UserProfile

    class Counts:
        def __init__(self) -> None:
            self.seen: list[tuple[str, str]] = []

        def cache_result(self, kind: str, result: str) -> None:
            self.seen.append((kind, result))

    pipe = _ready_pipeline(redis_settings, "film-j")
    res = pipe.personalize(UserProfile("u-j"), "film-j", ["artwork"], Context())
    pending = dataclasses.replace(res.results["artwork"], kind="titles", status="pending", asset=None,
                                  job_id="job-1")
    res = dataclasses.replace(res, results={**res.results, "titles": pending})
    a, b = Counts(), Counts()
    doc = render(res, "film-j", pipe.storage, "http://api.test", a)
    assert json.loads(render_json(res, "film-j", pipe.storage, "http://api.test", b)) == doc
    assert doc["assets"]["titles"]["job"]["url"] == "http://api.test/v1/jobs/job-1"
    assert a.seen == b.seen == [("artwork", res.results["artwork"].status), ("titles", "pending")]


def test_lean_redis_writes_one_loop_iterations_commands_together(redis_settings):
    from genperso.hotredis import lean_client

    prefix = redis_settings.redis_prefix

    async def main() -> None:
        c = lean_client(URL, timeout_s=2.0)
        assert await c.execute(("SET", f"{prefix}w", "v")) == [b"OK"]
        transport = c._proto.transport
        writes: list[bytes] = []
        real_write = transport.write
        transport.write = lambda data: (writes.append(data), real_write(data))[1]  # type: ignore[method-assign]
        replies = await asyncio.gather(*(c.execute(("GET", f"{prefix}w"), ("ECHO", str(i))) for i in range(20)))
        assert replies == [[b"v", str(i).encode()] for i in range(20)]
        assert len(writes) == 1 and writes[0].count(b"ECHO") == 20  # 40 commands, one send
        later = await c.execute(("ECHO", "after"))  # the next iteration writes again
        assert later == [b"after"] and len(writes) == 2
        await c.close()

    asyncio.run(main())


def test_lean_redis_gives_up_on_a_silent_server():
    from genperso.hotredis import LeanRedis

    async def main() -> None:
        async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.read(1 << 16)  # reads the command, never answers
            await asyncio.sleep(5)

        server = await asyncio.start_server(silent, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        c = LeanRedis("127.0.0.1", port, timeout_s=0.3)
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        with pytest.raises(ConnectionError):
            await c.execute(("GET", "k"), ("GET", "k2"))
        assert loop.time() - t0 < 2.0
        await c.close()
        server.close()

    asyncio.run(main())


def test_hot_path_over_redis_asyncio_reads_but_leaves_first_decisions_to_choose(redis_settings, monkeypatch):
    import genperso.hotpath as hp
    from genperso.types import Context

    monkeypatch.setattr(hp, "lean_client", lambda url: None)  # e.g. a rediss:// deployment
    pipe = _ready_pipeline(redis_settings, "film-a")
    hot = hp.HotPath(pipe)
    user = _user("new6", 11)
    assert asyncio.run(hot.personalize("new6", "film-a", ["artwork"], Context(), user=user))[1] == "decision"
    full = pipe.personalize(user, "film-a", ["artwork"], Context())
    res, why = asyncio.run(hot.personalize("new6", "film-a", ["artwork"], Context(), user=user))
    assert isinstance(hot._client, hp._Aredis)
    assert why == "hot" and res.decision.decision_id == full.decision.decision_id
    assert res.results["artwork"].asset.asset_id == full.results["artwork"].asset.asset_id
