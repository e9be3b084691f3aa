"""Feedback: rewards, idempotency, durable learning, user deletion (unlearning)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pytest
import sqlalchemy as sa

from genperso.angles.bandit import BanditConfig
from genperso.angles.events import FeedbackEvent, RewardConfig, decision_reward, delete_user, record_events
from genperso.angles.policy import AnglePolicy, reset_policies
from genperso.angles.state import LocalStore
from genperso.catalog import session_scope
from genperso.catalog.angles import AngleDecisionRow, AngleEventRow, AngleModelRow
from genperso.catalog.titles import TitleRow
from genperso.errors import InvalidInput
from genperso.types import Context, UserProfile

NOW = dt.datetime(2026, 11, 24, 20, 0, tzinfo=dt.timezone.utc)


def ev(eid: str, d, type_: str, seconds: float | None = None, interaction: bool = True) -> FeedbackEvent:
    return FeedbackEvent(event_id=eid, user_id=d.user_id, title_id=d.title_id, angle_id=d.angle_id,
                         decision_id=d.decision_id, type=type_, seconds_watched=seconds, ts=NOW,
                         interaction=interaction)


@dataclass(frozen=True)
class RewardCase:
    name: str
    events: tuple[tuple[str, float | None, bool], ...]
    mode: str
    expected: float


REWARD_CASES = [
    RewardCase("impression only", (("impression", None, True),), "composite", 0.0),
    RewardCase("click", (("impression", None, True), ("click", None, True)), "composite", 0.3),
    RewardCase("qualified play", (("click", None, True), ("play_start", 90.0, True)), "composite", 1.0),
    RewardCase("short play", (("play_start", 30.0, True),), "composite", 0.3 + 0.7 * 0.5),
    RewardCase("sleepy autoplay 3 h", (("play_complete", 10800.0, False),), "composite", 0.7 * 30 / 60),
    RewardCase("sleepy is not qualified", (("play_complete", 10800.0, False),), "qualified_play", 0.0),
    RewardCase("autoplay is not a click", (("play_start", 500.0, False),), "click", 0.0),
    RewardCase("watch fraction capped", (("play_complete", 99999.0, True),), "watch_fraction", 1.0),
    RewardCase("watch fraction", (("play_complete", 5400.0, True),), "watch_fraction", 0.5),
]


@pytest.mark.parametrize("case", REWARD_CASES, ids=lambda c: c.name)
def test_reward_cases(case: RewardCase) -> None:
    evs = [FeedbackEvent(f"e{i}", "u", "t", "action", "d1", t, s, NOW, None, inter)
           for i, (t, s, inter) in enumerate(case.events)]
    assert decision_reward(evs, RewardConfig(mode=case.mode)) == pytest.approx(case.expected)


@pytest.mark.parametrize("kw,msg", [(dict(type="like"), "event type"), (dict(seconds_watched=-1.0), "seconds"),
                                    (dict(seconds_watched=float("nan")), "seconds"), (dict(user_id="a b"), "user id")])
def test_event_validation(kw, msg) -> None:
    base = dict(event_id="e1", user_id="u", title_id="t", angle_id="action", decision_id=None, type="click")
    with pytest.raises(InvalidInput, match=msg):
        FeedbackEvent(**{**base, **kw})


def test_event_from_dict_errors_are_clear() -> None:
    with pytest.raises(InvalidInput, match="misses the field 'type'"):
        FeedbackEvent.from_dict({"event_id": "e", "user_id": "u", "title_id": "t", "angle_id": "a"})
    e = FeedbackEvent.from_dict({"event_id": "e", "user_id": "u", "title_id": "t", "angle_id": "a", "type": "click",
                                 "ts": "2026-11-24T10:00:00Z"})
    assert e.ts == dt.datetime(2026, 11, 24, 10, tzinfo=dt.timezone.utc)


@pytest.fixture
def setup(settings):
    with session_scope() as s:
        s.add(TitleRow(id="t1", name="t1", genres=[]))
        s.add(TitleRow(id="t2", name="t2", genres=[]))
    pol = AnglePolicy(settings, BanditConfig(new_title_boost=0.0))
    return settings, pol


def _models(settings) -> dict[str, AngleModelRow]:
    with session_scope(settings) as s:
        return {r.angle_id: r for r in s.scalars(sa.select(AngleModelRow))}


def test_events_are_idempotent_and_learning_is_revised_not_double_counted(setup) -> None:
    settings, pol = setup
    d = pol.choose(UserProfile("alice"), "t1", Context(), now=NOW)
    batch = [ev("e1", d, "impression"), ev("e2", d, "click"), ev("e2", d, "click")]
    assert record_events(batch, settings) == (2, 1)
    assert record_events(batch, settings) == (0, 3)
    assert pol.update([ev("e3", d, "play_start", 120.0)]) == 1
    m = _models(settings)[d.angle_id]
    assert m.n == pytest.approx(1.0)  # one decision = one observation, whatever the number of events
    with session_scope(settings) as s:
        row = s.get(AngleDecisionRow, d.decision_id)
        x = np.asarray(row.features)
        target = 1.0 - row.priors[d.angle_id]
        assert row.reward == pytest.approx(1.0) and row.applied
        assert s.scalar(sa.select(sa.func.count()).select_from(AngleEventRow)) == 3
    np.testing.assert_allclose(np.asarray(m.xty), target * x, atol=1e-9)
    np.testing.assert_allclose(np.asarray(m.xtx).reshape(x.size, x.size), np.outer(x, x), atol=1e-9)


def test_feedback_shifts_the_policy_and_survives_restart(setup) -> None:
    settings, pol = setup
    ctx = Context(device="web")
    before = pol.choose(UserProfile("probe"), "t1", ctx, now=NOW).scores["drama"]
    events = []
    for i in range(300):
        d = pol.choose(UserProfile(f"u{i}"), "t2", ctx, now=NOW)
        events.append(ev(f"i{i}", d, "impression"))
        if d.angle_id == "drama":
            events.append(ev(f"p{i}", d, "play_start", 600.0))
    record_events(events, settings)
    after = pol.choose(UserProfile("probe"), "t1", ctx, now=NOW + dt.timedelta(days=1)).scores["drama"]
    assert after > before + 0.2
    # a fresh process (new policy, new store) reads the same state from the catalog
    reset_policies()
    fresh = AnglePolicy(settings, BanditConfig(new_title_boost=0.0), store=LocalStore(settings))
    assert fresh.posterior().n.sum() == pytest.approx(pol.posterior().n.sum()) and fresh.posterior().n.sum() >= 300
    assert fresh.store.title_impressions("t2") == 300


def test_delete_user_removes_events_and_unlearns(setup) -> None:
    settings, pol = setup
    keep = pol.choose(UserProfile("bob"), "t1", Context(), now=NOW)
    record_events([ev("b1", keep, "impression"), ev("b2", keep, "click")], settings)
    snapshot = {k: (v.n, list(v.xtx), list(v.xty)) for k, v in _models(settings).items()}
    gone = [pol.choose(UserProfile("carol"), t, Context(session_id="s1"), now=NOW) for t in ("t1", "t2")]
    record_events([ev(f"c{i}", d, "play_complete", 900.0) for i, d in enumerate(gone)], settings)
    assert sum(v.n for v in _models(settings).values()) == pytest.approx(3.0)
    res = delete_user("carol", settings, store=pol.store)
    assert res["events"] == 2 and res["decisions_anonymised"] == 2 and res["unlearned"] == 2
    after = _models(settings)
    for aid in set(after) - set(snapshot):  # models only carol taught are back to empty
        assert after[aid].n == pytest.approx(0.0) and np.allclose(after[aid].xtx, 0.0, atol=1e-9)
    for aid, (n, xtx, xty) in snapshot.items():
        assert after[aid].n == pytest.approx(n)
        np.testing.assert_allclose(after[aid].xtx, xtx, atol=1e-9)
        np.testing.assert_allclose(after[aid].xty, xty, atol=1e-9)
    with session_scope(settings) as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(AngleEventRow).where(AngleEventRow.user_id == "carol")) == 0
        rows = list(s.scalars(sa.select(AngleDecisionRow).where(AngleDecisionRow.decision_id.in_([d.decision_id for d in gone]))))
        assert rows and all(r.user_id is None and r.features == [] and "session_id" not in r.context for r in rows)
    assert pol.store.session_angles("carol", "s1") == {}
    assert pol.store.sticky_get("carol", f"t1:{gone[0].context['bucket']}:{pol.name}:adult") is None
    assert pol.store.sticky_get("bob", f"t1:{keep.context['bucket']}:{pol.name}:adult") is not None
    # late events for the deleted decisions teach nothing
    record_events([ev("c9", gone[0], "click")], settings)
    assert sum(v.n for v in _models(settings).values()) == pytest.approx(1.0)


def test_reward_mode_is_configurable_on_the_policy(settings) -> None:
    with session_scope() as s:
        s.add(TitleRow(id="t1", name="t1", genres=[]))
    pol = AnglePolicy(settings, reward=RewardConfig(mode="click"))
    d = pol.choose(UserProfile("zed"), "t1", Context(), now=NOW)
    assert pol.update([ev("z1", d, "play_start", 5.0)]) == 1
    with session_scope(settings) as s:
        assert s.get(AngleDecisionRow, d.decision_id).reward == 1.0  # click mode: a user-started play counts


def test_concurrent_feedback_is_never_lost(setup) -> None:
    import threading

    from genperso.errors import Retryable

    settings, pol = setup
    decisions = [pol.choose(UserProfile(f"c{i}"), "t1", Context(), now=NOW) for i in range(40)]
    errors: list[Exception] = []

    def worker(chunk) -> None:  # type: ignore[no-untyped-def]
        for d in chunk:
            for _attempt in range(200):
                try:
                    record_events([ev(f"x{d.user_id}", d, "click")], settings)
                    break
                except Retryable:
                    continue
            else:  # pragma: no cover
                errors.append(RuntimeError("never stored"))

    threads = [threading.Thread(target=worker, args=(decisions[k::4],)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sum(v.n for v in _models(settings).values()) == pytest.approx(40.0)
