"""Review decisions are enforced by the request path (``Pipeline.personalize``): a pinned asset
wins its slot, rejected assets are never served, ``approved_only`` serves only approved ones, and
every change is visible on the very next request (embedded store, and real Redis in the
integration variant)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import pytest
from review_support import add_asset, add_title, jpeg_bytes

from genperso import review
from genperso.types import AngleDecision, Context, UserProfile

ANGLE = "action"
REVIEWER = review.Actor(id="k-reviewer", name="Rita Reviewer", role="reviewer")


class FixedChooser:
    def choose(self, user: UserProfile, title_id: str, context: Context) -> AngleDecision:
        return AngleDecision(decision_id=uuid.uuid4().hex, user_id=user.user_id, title_id=title_id, angle_id=ANGLE,
                             propensity=1.0, policy="fixed")


@dataclass
class RecordingDispatcher:
    submitted: list[tuple[str, str]] = field(default_factory=list)

    def submit(self, job_id: str, queue: str, task: str = "generate") -> None:
        self.submitted.append((job_id, queue))


def _setup(settings):
    from genperso.pipeline import Pipeline, _normalise_params, forget_title

    forget_title()
    title = add_title(settings, "film-s", "Film S")
    dispatcher = RecordingDispatcher()
    pipe = Pipeline(settings, chooser=FixedChooser(), dispatcher=dispatcher, policy_version=lambda: "p1")
    key = pipe.build_key(pipe.title_state(title.title_id), ANGLE, "artwork",
                         _normalise_params("artwork", None, "adult"))
    exact = add_asset(settings, title, ANGLE, "artwork", key=key,
                      files={"hero.jpg": (jpeg_bytes((10, 120, 10)), "image/jpeg")})
    other = add_asset(settings, title, ANGLE, "artwork", variant=9,
                      files={"hero.jpg": (jpeg_bytes((120, 10, 10)), "image/jpeg")})
    return pipe, dispatcher, title.title_id, exact, other


def _served(pipe, title_id: str) -> tuple[str, str | None]:
    from genperso.pipeline import forget_title

    forget_title(title_id)  # what a second API process would see once its 2 s title TTL lapsed
    res = pipe.personalize(UserProfile(user_id="u1"), title_id, ["artwork"], Context())
    r = res.results["artwork"]
    return r.status, (r.asset.asset_id if r.asset is not None else None)


def _scenario(settings) -> None:
    pipe, dispatcher, tid, exact, other = _setup(settings)
    assert _served(pipe, tid) == ("hit", exact)
    review.pin(other, REVIEWER, settings=settings)  # pinned wins over the exact key
    assert _served(pipe, tid) == ("pinned", other)
    review.reject(other, REVIEWER, "wrong character on the poster", settings=settings)
    assert _served(pipe, tid) == ("hit", exact)  # rejecting unpins; never served again
    review.set_serving_policy(tid, "approved_only", REVIEWER, settings=settings)
    status, default = _served(pipe, tid)
    assert status == "default" and default not in (exact, other)  # nothing approved: the title default
    review.reject(default, REVIEWER, "default poster shows the end credits", settings=settings)
    assert _served(pipe, tid) == ("unavailable", None)  # a rejected default is not served either
    review.approve(exact, REVIEWER, settings=settings)
    assert _served(pipe, tid) == ("hit", exact)
    review.reject(exact, REVIEWER, "colour grade too dark", settings=settings)
    status, served = _served(pipe, tid)
    assert served not in (exact, other, default), (status, served)
    assert dispatcher.submitted == []  # the exact key existed all along: no generation was started
    items, total = review.history(title_id=tid, settings=settings)
    assert total == 6 and items[0]["reason"] == "colour grade too dark"


def test_review_decisions_reach_personalize_embedded(settings):
    _scenario(settings)


@pytest.mark.integration
def test_review_decisions_reach_personalize_redis(redis_settings):
    _scenario(redis_settings)
