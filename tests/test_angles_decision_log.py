"""The background decision log: off the request path, batched, flushed before readers, no duplicates."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa


def _row(i: int) -> dict:
    return dict(decision_id=f"dec-{i}", user_id=f"u{i % 7}", title_id="t", angle_id="action", propensity=0.5,
                probs={"action": 0.5}, eligible=["action"], features=[0.1, 0.2], priors={}, context={}, policy="p",
                variant=None, shadow=None, explanation="", created_at=dt.datetime(2026, 1, 1))


def _count(settings) -> int:  # type: ignore[no-untyped-def]
    from genperso.catalog import session_scope
    from genperso.catalog.angles import AngleDecisionRow

    with session_scope(settings) as s:
        return s.scalar(sa.select(sa.func.count()).select_from(AngleDecisionRow)) or 0


def test_batched_writes_are_visible_after_flush_and_duplicates_ignored(settings) -> None:  # type: ignore[no-untyped-def]
    from genperso.angles.decision_log import DecisionLog

    log = DecisionLog(settings, interval=0.05, max_batch=64)
    for i in range(300):
        log.submit(_row(i))
    log.submit(_row(5))  # the same sticky decision logged twice
    assert log.flush(timeout=20)
    assert _count(settings) == 300


def test_choose_does_not_write_on_the_request_path_and_events_flush_first(settings, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from genperso.angles import decision_log
    from genperso.angles.events import FeedbackEvent, record_events
    from genperso.angles.policy import AnglePolicy
    from genperso.catalog import session_scope
    from genperso.catalog.titles import TitleRow
    from genperso.types import Context, UserProfile

    with session_scope(settings) as s:
        s.add(TitleRow(id="t1", name="T1", genres=["Action"]))
    import threading

    writes: list[tuple[int, str]] = []
    real = decision_log.write_decisions
    monkeypatch.setattr(decision_log, "write_decisions",
                        lambda st, rows: (writes.append((len(rows), threading.current_thread().name)), real(st, rows)))
    policy = AnglePolicy(settings)
    d = policy.choose(UserProfile("u1"), "t1", Context())
    accepted, dup = record_events([FeedbackEvent(event_id="e1", user_id="u1", title_id="t1", angle_id=d.angle_id,
                                                 decision_id=d.decision_id, type="click",
                                                 seconds_watched=None,
                                                 ts=dt.datetime.now(dt.timezone.utc))], settings)
    assert (accepted, dup) == (1, 0)
    assert [n for n, _ in writes] == [1]  # flushed before the event was applied
    assert writes[0][1] == "genperso-decision-log"  # written by the background writer, not the request thread
    from genperso.catalog.angles import AngleDecisionRow

    with session_scope(settings) as s:
        assert s.get(AngleDecisionRow, d.decision_id).reward is not None  # the event found its decision
