"""Embedded cache: single-flight claims (exactly one winner under threads, expiry takeover),
lookups of exact records and pinned slots."""

from __future__ import annotations

import threading

from genperso.cache import EmbeddedCache, servable


def test_embedded_claim_exactly_one_winner(settings):
    cache = EmbeddedCache(settings)
    results: list[str | None] = []
    barrier = threading.Barrier(24)

    def claim(i: int) -> None:
        barrier.wait()
        results.append(cache.claim("d" * 64, f"job{i}"))

    ts = [threading.Thread(target=claim, args=(i,)) for i in range(24)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    winners = [r for r in results if r is None]
    assert len(winners) == 1
    holder = {r for r in results if r is not None}
    assert len(holder) == 1 and holder.pop().startswith("job")
    cache.release("d" * 64, "someone-else")  # not the holder: no effect
    assert cache.claim("d" * 64, "late") is not None
    cache.release("d" * 64)
    assert cache.claim("d" * 64, "late") is None


def test_expired_claim_is_taken_over(settings, monkeypatch):
    monkeypatch.setattr(settings, "claim_ttl_seconds", 0)
    cache = EmbeddedCache(settings)
    assert cache.claim("e" * 64, "a") is None
    assert cache.claim("e" * 64, "b") is None  # a's claim had expired


def test_servable_rules():
    assert servable("generated", "auto") and servable("approved", "auto")
    assert not servable("review", "auto") and not servable("rejected", "auto") and not servable("blocked", "auto")
    assert servable("approved", "approved_only") and not servable("generated", "approved_only")
