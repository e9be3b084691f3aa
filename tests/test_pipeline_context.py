"""Which parts of the request context reach an asset's parameters (and so its content address)."""

from __future__ import annotations

from genperso.pipeline import _normalise_params
from genperso.types import Context


def test_context_reaches_only_the_kinds_it_changes() -> None:
    evening_tv = Context(hour=20.0, device="tv")
    late_evening_tv = Context(hour=21.5, device="tv")
    morning_run = Context(hour=7.0, device="mobile", activity="Morning Run")
    for kind in ("trailer", "artwork"):  # depend on the angle only: every user shares them
        assert _normalise_params(kind, None, "adult", evening_tv) == _normalise_params(kind, None, "adult", morning_run)
    # titles: daypart, device and activity, coarsened so an evening's users share one generation
    assert _normalise_params("titles", None, "adult", evening_tv) == _normalise_params("titles", None, "adult",
                                                                                       late_evening_tv)
    run_titles = _normalise_params("titles", None, "adult", morning_run)
    assert run_titles["context"] == {"hour": 9.0, "device": "mobile", "activity": "morning run"}
    # remixes follow an activity's cadence, else the angle's tempo
    assert _normalise_params("remix", None, "adult", morning_run)["context"] == {"activity": "morning run"}
    assert "context" not in _normalise_params("remix", None, "adult", evening_tv)
    assert _normalise_params("remix", None, "kids", evening_tv)["maturity"] == "kids"
