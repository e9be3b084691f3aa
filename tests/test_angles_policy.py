"""Angle eligibility, user profiles and the policy's exploration, propensity, stickiness, satiation."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass

import numpy as np
import pytest

from genperso.angles.bandit import BanditConfig
from genperso.angles.catalog import load_angles
from genperso.angles.eligibility import eligibility, eligible_ids
from genperso.angles.policy import AnglePolicy, get_policy
from genperso.angles.users import build_user, history_texts, recency_weights
from genperso.catalog import session_scope
from genperso.catalog.titles import TitleRow
from genperso.errors import InvalidInput, NotFound
from genperso.types import Context, Shot, StreamInfo, TitleAnalysis, TitleInfo, UserProfile

NOW = dt.datetime(2026, 11, 24, 20, 0, tzinfo=dt.timezone.utc)
ALL = {a.id: 1.0 for a in load_angles()}


def _shot(i: int, kind: str) -> Shot:
    base = dict(index=i, start=i * 3.0, end=i * 3.0 + 3.0, sharpness=300.0, contrast=0.15)
    kinds = {
        "calm_faces": dict(brightness=0.5, colourfulness=0.2, motion=0.005, face_count=2, max_face_area=0.12,
                           audio_rms_db=-40.0, speech_ratio=0.7),
        "action": dict(brightness=0.45, colourfulness=0.3, motion=0.2, audio_rms_db=-12.0, contrast=0.3),
        "dark": dict(brightness=0.08, colourfulness=0.05, motion=0.01, audio_rms_db=-45.0, contrast=0.25),
        "bright": dict(brightness=0.8, colourfulness=0.9, motion=0.04, audio_rms_db=-25.0),
    }
    return Shot(**{**base, **kinds[kind]})


def _analysis(kind: str, n: int = 10) -> TitleAnalysis:
    return TitleAnalysis(title_id="t", version=1, content_hash="h" * 64,
                         stream=StreamInfo(duration=n * 3.0, width=320, height=180, fps=25.0, video_codec="h264"),
                         shots=tuple(_shot(i, kind) for i in range(n)))


@dataclass(frozen=True)
class EligCase:
    name: str
    kind: str | None
    genres: tuple[str, ...]
    eligible: frozenset[str]
    ineligible: frozenset[str]


ELIG_CASES = [
    EligCase("calm faces", "calm_faces", (), frozenset({"romance", "drama"}), frozenset({"action", "spectacle"})),
    EligCase("loud motion", "action", (), frozenset({"action"}), frozenset({"romance", "drama", "family"})),
    EligCase("dark", "dark", (), frozenset({"suspense", "mystery"}), frozenset({"comedy", "family", "spectacle"})),
    EligCase("bright colour", "bright", (), frozenset({"comedy", "family", "spectacle"}),
             frozenset({"suspense", "mystery"})),
    EligCase("metadata comedy", None, ("Comedy",), frozenset({"comedy"}), frozenset({"suspense", "action", "family"})),
    EligCase("metadata animation", None, ("Animation",), frozenset({"comedy", "family", "spectacle"}),
             frozenset({"suspense", "drama"})),
    EligCase("dark + thriller", "dark", ("Thriller",), frozenset({"suspense", "mystery"}), frozenset({"comedy"})),
    EligCase("nothing known", None, (), frozenset(ALL), frozenset()),
]


@pytest.mark.parametrize("case", ELIG_CASES, ids=lambda c: c.name)
def test_eligibility_cases(case: EligCase) -> None:
    angles = load_angles()
    sup = eligibility(_analysis(case.kind) if case.kind else None, TitleInfo(id="t", name="T", genres=case.genres),
                      angles)
    assert set(sup) == set(angles.ids) and all(0.0 <= v <= 1.0 for v in sup.values())
    elig = set(eligible_ids(sup, angles))
    assert case.eligible <= elig, sup
    assert not (case.ineligible & elig), sup


def test_eligible_never_empty() -> None:
    angles = load_angles()
    assert eligible_ids({a: 0.0 for a in angles.ids}, angles) == angles.ids
    assert eligible_ids({**{a: 0.0 for a in angles.ids}, "drama": 0.1}, angles) == ("drama",)


@pytest.mark.parametrize("bad,msg", [([0.1] * 10, "dimension 10"), ([float("nan")] + [0.1] * 383, "NaN"),
                                     ([float("inf")] + [0.1] * 383, "NaN or infinite"), ([0.0] * 384, "all zeros"),
                                     (["x"] * 384, "list of numbers")])
def test_build_user_rejects_bad_embeddings(bad, msg) -> None:
    with pytest.raises(InvalidInput, match=msg):
        build_user("u1", embedding=bad)


def test_build_user_embedding_and_cold() -> None:
    v = np.random.default_rng(0).normal(size=384)
    u = build_user("u1", embedding=v)
    assert u.source == "embedding" and abs(float(np.linalg.norm(u.embedding)) - 1) < 1e-5
    assert build_user("u2").cold and build_user("u2").source == "cold"
    with pytest.raises(InvalidInput, match="user id"):
        build_user("../etc", embedding=v)
    with pytest.raises(InvalidInput, match="list of items"):
        build_user("u3", history="t1,t2")


def test_history_texts_resolve_catalog_titles_genres_and_text(settings) -> None:
    with session_scope() as s:
        s.add(TitleRow(id="bbb", name="Big Buck Bunny", synopsis="A giant rabbit", genres=["Animation", "Comedy"]))
    texts = history_texts(["bbb", "comedy", "slow heist films"])
    assert texts[0].startswith("Big Buck Bunny. A giant rabbit") and "Animation, Comedy" in texts[0]
    assert texts[1] == "Comedy movies" and texts[2] == "slow heist films"


def test_recency_weights_halve_per_half_life() -> None:
    w = recency_weights(17, half_life=8.0)
    assert w[-1] == pytest.approx(1.0) and w[-9] == pytest.approx(0.5) and w[0] == pytest.approx(0.25)


# ----------------------------------------------------------------------------------- policy


def _title(tid: str = "t1", genres: tuple[str, ...] = ()) -> str:
    with session_scope() as s:
        s.add(TitleRow(id=tid, name=tid, synopsis="", genres=list(genres)))
    return tid


def _cold(uid: str) -> UserProfile:
    return UserProfile(user_id=uid, source="cold")


def test_ineligible_angles_are_never_chosen(settings) -> None:
    _title("thr", ("Thriller", "Mystery"))
    pol = AnglePolicy(settings, log_decisions=False)
    chosen = {pol.choose(_cold(f"u{i}"), "thr", Context(), now=NOW).angle_id for i in range(200)}
    assert chosen == {"suspense", "mystery"}


def test_unknown_title_is_not_found(settings) -> None:
    with pytest.raises(NotFound, match="unknown title"):
        AnglePolicy(settings).choose(_cold("u"), "missing", Context(), now=NOW)


def test_exploration_floor_and_propensity_is_the_sampling_probability(settings) -> None:
    _title()
    cfg = BanditConfig(epsilon=0.1, new_title_boost=0.0)
    pol = AnglePolicy(settings, cfg, log_decisions=False)
    n = 3000
    picks: Counter[str] = Counter()
    mean_pi: Counter[str] = Counter()
    for i in range(n):
        d = pol.choose(_cold(f"user{i}"), "t1", Context(maturity="kids"), now=NOW)
        assert d.propensity == pytest.approx(d.scores[d.angle_id], abs=1e-6)
        assert sum(d.scores.values()) == pytest.approx(1.0, abs=1e-4)
        assert min(d.scores.values()) >= 0.1 / 8 - 1e-6  # every eligible angle keeps the epsilon floor
        picks[d.angle_id] += 1
        for a, p in d.scores.items():
            mean_pi[a] += p / n
    for a in mean_pi:  # empirical choice frequency matches the logged probabilities
        assert picks[a] / n == pytest.approx(mean_pi[a], abs=0.03), (a, picks[a] / n, mean_pi[a])
    assert picks.most_common(1)[0][0] == "family"  # kids-profile prior


def test_decisions_are_sticky_within_a_time_bucket(settings) -> None:
    _title()
    pol = AnglePolicy(settings)
    u = _cold("sticky")
    first = pol.choose(u, "t1", Context(), now=NOW)
    again = pol.choose(u, "t1", Context(), now=NOW + dt.timedelta(minutes=30))
    assert (again.angle_id, again.decision_id, again.propensity) == (first.angle_id, first.decision_id,
                                                                    first.propensity)
    # learning in between does not flip what this user sees in the bucket
    from genperso.angles.events import FeedbackEvent, record_events

    record_events([FeedbackEvent(f"e{i}", "other", "t1", a, None, "click") for i, a in enumerate(ALL)])
    for i in range(50):
        d = pol.choose(_cold(f"o{i}"), "t1", Context(), now=NOW)
        record_events([FeedbackEvent(f"f{i}", d.user_id, "t1", d.angle_id, d.decision_id, "play_start", 900.0)])
    assert pol.choose(u, "t1", Context(), now=NOW + dt.timedelta(minutes=45)).decision_id == first.decision_id
    later = [pol.choose(_cold(f"s{i}"), "t1", Context(), now=NOW + dt.timedelta(hours=7 * k)).angle_id
             for i in range(30) for k in range(2)]
    assert any(later[2 * i] != later[2 * i + 1] for i in range(30))  # new bucket, fresh draw


def test_satiation_discounts_an_angle_repeated_in_the_session(settings) -> None:
    for t in ("a", "b", "c"):
        _title(t)
    cfg = BanditConfig(new_title_boost=0.0, epsilon=0.05, mc_samples=20000, satiation=0.5)
    pol = AnglePolicy(settings, cfg)
    ctx = Context(session_id="sess1")
    base = pol.choose(_cold("other"), "c", Context(), now=NOW).scores  # same (cold) distribution, no session
    d1 = pol.choose(_cold("sat"), "a", ctx, now=NOW)
    shown = d1.angle_id
    after = pol.choose(_cold("sat"), "c", ctx, now=NOW).scores
    expected_ts = (base[shown] - 0.05 / 8) / 0.95 * 0.5  # p_ts halves, then renormalised with the others
    assert after[shown] < base[shown] * 0.8
    assert after[shown] == pytest.approx(0.05 / 8 + 0.95 * expected_ts / (1 - expected_ts), abs=0.03)
    # reloading a title in the session is sticky and does not count as a repeat
    assert pol.choose(_cold("sat"), "a", ctx, now=NOW).decision_id == d1.decision_id
    assert pol.choose(_cold("sat"), "c", ctx, now=NOW).scores == after


def test_new_titles_get_an_exploration_boost(settings) -> None:
    pol = AnglePolicy(settings)
    assert pol.epsilon_for(0) == pytest.approx(0.05 + 0.25)
    assert pol.epsilon_for(200) == pytest.approx(0.05 + 0.125)
    assert pol.epsilon_for(100_000) == pytest.approx(0.05, abs=1e-6)


def test_user_vector_moves_the_prior(settings) -> None:
    from genperso.models.embed import embed_one

    _title()
    pol = AnglePolicy(settings, BanditConfig(new_title_boost=0.0), log_decisions=False)
    horror = build_user("h", embedding=embed_one("dark scary horror thrillers full of tension and fear"))
    romcom = build_user("r", embedding=embed_one("sweet romantic love stories about couples falling in love"))
    ph = pol.choose(horror, "t1", Context(), now=NOW).scores
    pr = pol.choose(romcom, "t1", Context(), now=NOW).scores
    assert ph["suspense"] > pr["suspense"] and pr["romance"] > ph["romance"]


def test_choose_validates_input(settings) -> None:
    _title()
    pol = get_policy(settings)
    with pytest.raises(InvalidInput, match="title id"):
        pol.choose(_cold("u"), "a/b", Context(), now=NOW)
    with pytest.raises(InvalidInput, match="context"):
        pol.choose(_cold("u"), "t1", {"hour": 3}, now=NOW)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="device"):
        Context(device="fridge")


def test_calibration_standardises_angle_similarities(settings) -> None:
    from genperso.angles.calibration import calibrate_from_catalog
    from genperso.angles.features import calibrate, user_projection

    rng = np.random.default_rng(0)
    vectors = np.eye(4, 384)
    pop = rng.normal(size=(200, 384)) * 0.01 + np.eye(1, 384)[0]  # every item resembles angle 0
    pop /= np.linalg.norm(pop, axis=1, keepdims=True)
    cal = calibrate(pop, vectors)
    assert cal.shape == (2, 4) and cal[0, 0] > 0.9 and np.all(cal[1] > 0)
    typical = pop[0]
    raw = user_projection(typical, vectors)
    calibrated = user_projection(typical, vectors, cal)
    assert int(np.argmax(raw)) == 0  # raw: angle 0 wins for everybody
    assert abs(calibrated[0]) < 3 * 0.03 * 1.5  # calibrated: a typical user is unremarkable on angle 0
    with pytest.raises(InvalidInput, match="at least 2 vectors"):
        calibrate(pop[:1], vectors)
    with pytest.raises(InvalidInput, match="at least 5 catalog titles"):
        calibrate_from_catalog(settings)
