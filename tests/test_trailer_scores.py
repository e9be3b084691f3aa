"""Shot ownership between angles: correlated angles split the shots they both like."""

from __future__ import annotations

import itertools

import numpy as np

from genperso.angles.catalog import load_angles
from genperso.generators.trailer_plan import plan_trailer
from genperso.generators.trailer_scores import angle_scores, rival_penalty
from genperso.scoring import FeatureScorer
from genperso.types import AudioAnalysis, FaceBox, Shot, StreamInfo, TitleAnalysis

FPS = 24.0
BEATS = [0.5 * k for k in range(200)]


def test_penalty_goes_to_the_angle_the_shot_is_less_distinctive_for() -> None:
    rng = np.random.default_rng(3)
    base = rng.uniform(0, 1, 60)
    a = base + 0.05 * rng.normal(size=60)
    b = base + 0.05 * rng.normal(size=60)
    a[7], b[7] = 1.05, 1.1  # both love shot 7, b a little more
    finals = {"a": a, "b": b, "opposite": 1.0 - base}
    pa, pb = rival_penalty(finals, "a"), rival_penalty(finals, "b")
    assert pa[7] > 0 and pb[7] == 0
    # between two angles, every shot is penalised for at most one of them (the one ranking it lower)
    pair = {"a": a, "b": b}
    assert not np.any((rival_penalty(pair, "a") > 0) & (rival_penalty(pair, "b") > 0))
    # an opposite angle only claims shots "a" ranks low: a's top half is untouched by it
    top = a >= np.median(a)
    assert np.all(rival_penalty({"a": a, "opposite": 1.0 - base}, "a")[top] == 0)
    assert np.all((pa >= 0) & (pa <= 1))


def test_constant_or_single_scores_have_no_penalty() -> None:
    assert np.all(rival_penalty({"a": np.full(5, 0.4), "b": np.arange(5.0)}, "a") == 0)
    assert rival_penalty({"a": np.array([0.3]), "b": np.array([0.9])}, "a").tolist() == [0.0]


def _film(n: int = 90) -> TitleAnalysis:
    """Shots with varied, partly shared features so several angles like overlapping sets."""
    rng = np.random.default_rng(11)
    shots = []
    for i in range(n):
        faces = tuple(FaceBox(0.4, 0.3, 0.2, 0.3) for _ in range(int(rng.integers(0, 3))))
        shots.append(Shot(index=i, start=i * 4.0, end=(i + 1) * 4.0,
                          dominant_colours=(f"#{int(rng.integers(0, 256)):02x}{int(rng.integers(0, 256)):02x}80",),
                          brightness=float(rng.uniform(0.1, 0.9)), contrast=float(rng.uniform(0.05, 0.3)),
                          colourfulness=float(rng.uniform(0.1, 1.2)), motion=float(rng.uniform(0, 0.3)),
                          faces=faces, face_count=len(faces), max_face_area=0.06 * len(faces),
                          audio_rms_db=float(rng.uniform(-40, -10)), onset_density=float(rng.uniform(0, 4))))
    return TitleAnalysis(title_id="own", version=1, content_hash="o" * 64,
                         stream=StreamInfo(duration=n * 4.0, width=1280, height=720, fps=FPS, video_codec="h264"),
                         shots=tuple(shots), audio=AudioAnalysis())


def _overlaps(analysis: TitleAnalysis, weight: float) -> tuple[list[float], dict[str, float]]:
    angles = list(load_angles())
    chosen, quality = {}, {}
    for angle in angles:
        sc = angle_scores(analysis, angle, angles, [FeatureScorer()], distinct_weight=0.7, ownership_weight=weight)
        plan = plan_trailer(analysis, angle, sc.owned, BEATS, 30.0, fps=FPS)
        chosen[angle.id] = {c.shot_index for c in plan.cuts}
        quality[angle.id] = float(np.mean([sc.final[i] for i in chosen[angle.id]]))
    shares = [len(chosen[a] & chosen[b]) / min(len(chosen[a]), len(chosen[b])) for a, b in itertools.combinations(chosen, 2)]
    return shares, quality


def test_ownership_separates_angle_cuts_without_giving_up_their_fit() -> None:
    film = _film()
    without, q0 = _overlaps(film, 0.0)
    with_ownership, q1 = _overlaps(film, 0.3)
    assert np.mean(with_ownership) < 0.85 * np.mean(without), (np.mean(with_ownership), np.mean(without))
    assert max(with_ownership) < max(without), (max(with_ownership), max(without))
    # each angle still cuts from shots that fit it: its own (pre-ownership) score barely moves
    for aid in q0:
        assert q1[aid] >= q0[aid] - 0.08, (aid, q0[aid], q1[aid])
