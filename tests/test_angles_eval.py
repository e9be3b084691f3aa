"""Offline evaluation against a simulator with known values; experiments, shadow mode, monitoring,
onboarding and the CLI."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from dataclasses import dataclass

import numpy as np
import pytest
from typer.testing import CliRunner

from genperso.angles.bandit import BanditConfig
from genperso.angles.catalog import load_angles
from genperso.angles.evaluation import LoggedSample, evaluate, load_jsonl, prior_greedy_policy, uniform_policy
from genperso.angles.experiments import Experiment, assign_variant, compare, experiment_report
from genperso.angles.events import FeedbackEvent, record_events
from genperso.angles.monitoring import js_distance, monitor
from genperso.angles.onboarding import diverse_indices, onboard_user, onboarding_grid
from genperso.angles.policy import AnglePolicy
from genperso.angles.simulator import make_simulator
from genperso.angles.users import build_user
from genperso.catalog import session_scope
from genperso.catalog.angles import AngleDecisionRow
from genperso.catalog.titles import TitleRow
from genperso.errors import InvalidInput
from genperso.types import Context, UserProfile

NOW = dt.datetime(2026, 11, 24, 20, 0, tzinfo=dt.timezone.utc)
IDS = load_angles().ids


def _cell_probs(sim, candidate) -> np.ndarray:
    out = np.zeros((sim.n_cells, len(IDS)))
    for c in range(sim.n_cells):
        s = LoggedSample(x=tuple(sim.x[c]), offsets=dict(zip(IDS, 0.04 * sim.z_prior[c])), eligible=IDS,
                         angle_id=IDS[0], propensity=1.0, reward=0.0)
        p = candidate(s)
        out[c] = [p.get(a, 0.0) for a in IDS]
    return out


def _segment_oracle(sim):
    best = {tuple(np.round(sim.x[c], 9)): IDS[int(np.argmax(sim.rates[c]))] for c in range(sim.n_cells)}

    def probs(s: LoggedSample) -> dict[str, float]:
        out = {a: 0.02 for a in IDS}
        out[best[tuple(np.round(s.x, 9))]] += 1 - 0.02 * len(IDS)
        return out

    return probs


@dataclass(frozen=True)
class EvalCase:
    name: str
    candidate: str
    logging: str


EVAL_CASES = [EvalCase("uniform logs, prior-greedy", "prior", "uniform"),
              EvalCase("uniform logs, oracle", "oracle", "uniform"),
              EvalCase("skewed logs, uniform", "uniform", "skewed"),
              EvalCase("skewed logs, oracle", "oracle", "skewed")]


@pytest.mark.parametrize("case", EVAL_CASES, ids=lambda c: c.name)
def test_off_policy_estimates_cover_the_true_value(case: EvalCase) -> None:
    sim = make_simulator(IDS, seed=3)
    rng = np.random.default_rng(11)
    k = len(IDS)
    if case.logging == "uniform":
        logp = np.full((sim.n_cells, k), 1.0 / k)
    else:  # softmax of the noisy prior: a realistic, non-uniform logging policy
        e = np.exp(sim.z_prior)
        logp = 0.1 / k + 0.9 * e / e.sum(axis=1, keepdims=True)
    cand = {"prior": prior_greedy_policy(0.1), "uniform": uniform_policy, "oracle": _segment_oracle(sim)}[case.candidate]
    truth = sim.true_value(_cell_probs(sim, cand))
    logs = sim.log(15000, logp, rng)
    rep = evaluate(logs, cand)
    for est in (rep.ips, rep.snips, rep.dr):
        assert est.covers(truth), (case.name, truth, est)
        assert est.hi - est.lo < 0.05
    assert rep.dr.se <= rep.ips.se * 1.05  # the reward model only reduces variance


def test_evaluate_rejects_bad_input(tmp_path) -> None:
    with pytest.raises(InvalidInput, match="no logged"):
        evaluate([], uniform_policy)
    p = tmp_path / "log.jsonl"
    p.write_text('{"angle_id": "action", "propensity": 0, "reward": 1}\n')
    with pytest.raises(InvalidInput, match="propensity"):
        load_jsonl(p)
    p.write_text("{not json\n")
    with pytest.raises(InvalidInput, match="log.jsonl:1"):
        load_jsonl(p)


def test_assign_variant_is_deterministic_and_weighted() -> None:
    w = {"control": 0.5, "treatment": 0.5}
    arms = [assign_variant(f"user{i}", "exp1", w) for i in range(4000)]
    assert arms == [assign_variant(f"user{i}", "exp1", w) for i in range(4000)]
    assert abs(arms.count("control") / 4000 - 0.5) < 0.03
    assert [assign_variant(f"user{i}", "exp2", w) for i in range(50)] != arms[:50]
    arms_9 = [assign_variant(f"u{i}", "e", {"a": 0.9, "b": 0.1}) for i in range(4000)]
    assert abs(arms_9.count("b") / 4000 - 0.1) < 0.02
    with pytest.raises(InvalidInput):
        assign_variant("u", "e", {"a": -1.0})


@dataclass(frozen=True)
class LabelCase:
    name: str
    control: tuple[float, ...]
    variant: tuple[float, ...]
    label: str
    better: str | None


def _bern(p: float, n: int) -> tuple[float, ...]:
    k = round(p * n)
    return tuple([1.0] * k + [0.0] * (n - k))


LABEL_CASES = [LabelCase("clear win", _bern(0.10, 2000), _bern(0.15, 2000), "Winner", "B"),
               LabelCase("clear loss", _bern(0.15, 2000), _bern(0.10, 2000), "Winner", "A"),
               LabelCase("same", _bern(0.10, 2000), _bern(0.10, 2000), "Same", None),
               LabelCase("preferred", _bern(0.100, 2000), _bern(0.117, 2000), "Preferred", "B")]


@pytest.mark.parametrize("case", LABEL_CASES, ids=lambda c: c.name)
def test_experiment_labels(case: LabelCase) -> None:
    [row] = compare({"click": {"A": case.control, "B": case.variant}}, control="A")
    assert (row.label, row.better) == (case.label, case.better), row
    assert row.lo <= row.diff <= row.hi


def _titles(*ids: str) -> None:
    with session_scope() as s:
        for t in ids:
            s.add(TitleRow(id=t, name=t, genres=[]))


def test_experiment_routing_and_report(settings) -> None:
    _titles("t1")
    exp = Experiment("exp1", {"A": AnglePolicy(settings, name="pol-a"),
                              "B": AnglePolicy(settings, BanditConfig(epsilon=1.0), name="pol-b")},
                     {"A": 0.5, "B": 0.5})
    events = []
    for i in range(120):
        d = exp.choose(UserProfile(f"u{i}"), "t1", Context(), now=NOW)
        arm = assign_variant(f"u{i}", "exp1", {"A": 0.5, "B": 0.5})
        assert d.policy == f"pol-{arm.lower()}" and d.context["variant"] == f"exp1/{arm}"
        events.append(FeedbackEvent(f"e{i}", d.user_id, "t1", d.angle_id, d.decision_id,
                                    "click" if (arm == "B" or i % 5 == 0) else "impression"))
    record_events(events, settings)
    rows = {r.metric: r for r in experiment_report("exp1", "A", settings)}
    assert rows["click"].label == "Winner" and rows["click"].better == "B"


def test_shadow_policy_never_changes_what_is_served(settings) -> None:
    _titles("t1")
    prod = AnglePolicy(settings, name="prod", log_decisions=False)
    with_shadow = AnglePolicy(settings, name="prod",
                              shadow=AnglePolicy(settings, BanditConfig(epsilon=1.0), name="cand", log_decisions=False))
    for i in range(40):
        u = UserProfile(f"u{i}")
        a, b = prod.choose(u, "t1", Context(), now=NOW), with_shadow.choose(u, "t1", Context(), now=NOW)
        assert (a.angle_id, a.propensity) == (b.angle_id, b.propensity) and a.shadow is None
        assert b.shadow["policy"] == "cand" and b.shadow["angle_id"] in IDS and 0 < b.shadow["propensity"] <= 1
    from genperso.angles.decision_log import flush_decision_log

    flush_decision_log(settings)
    with session_scope(settings) as s:
        row = s.get(AngleDecisionRow, b.decision_id)
        assert row.shadow == dict(b.shadow)


def test_js_distance_values() -> None:
    assert js_distance(np.array([1, 2, 3]), np.array([2, 4, 6])) == pytest.approx(0.0)
    assert js_distance(np.array([1, 0]), np.array([0, 1])) == pytest.approx(1.0)
    assert 0 < js_distance(np.array([3, 1]), np.array([1, 3])) < 1


def test_monitor_mix_drift_reward_and_coverage(settings) -> None:
    _titles("t1", "t2")
    start = dt.datetime(2026, 11, 20)
    with session_scope(settings) as s:
        for day, angle in ((0, "action"), (1, "action"), (2, "romance")):
            for i in range(10):
                s.add(AngleDecisionRow(decision_id=f"d{day}-{i}", user_id="u", title_id="t1" if i % 2 else "t2",
                                       angle_id=angle, propensity=0.5, eligible=["action", "romance"],
                                       reward=1.0 if angle == "romance" else 0.0,
                                       created_at=start + dt.timedelta(days=day, hours=1)))
    rep = monitor(settings, window_hours=24, n_windows=3, threshold=0.3, now=start + dt.timedelta(days=3))
    assert [w["decisions"] for w in rep.windows] == [10, 10, 10]
    assert rep.windows[0]["mix"]["action"] == 1.0 and rep.windows[2]["mix"]["romance"] == 1.0
    assert rep.windows[1]["js_distance"] == 0.0 and rep.windows[2]["js_distance"] == 1.0
    assert len(rep.alerts) == 1 and set(rep.alerts[0]["most_changed"]) == {"action", "romance"}
    assert rep.reward_per_angle["romance"] == {"n": 10, "mean": 1.0}
    assert rep.coverage == pytest.approx(4 / (2 * len(IDS))) and rep.eligible_coverage == pytest.approx(1.0)


def test_diverse_indices_cover_clusters() -> None:
    rng = np.random.default_rng(0)
    centers = np.eye(8)[:4]
    pts = np.concatenate([c + 0.05 * rng.normal(size=(10, 8)) for c in centers])
    pts /= np.linalg.norm(pts, axis=1, keepdims=True)
    picked = diverse_indices(pts, 4)
    assert sorted(i // 10 for i in picked) == [0, 1, 2, 3]


def test_onboarding_small_catalog_uses_angle_exemplars_and_picks_persist(settings) -> None:
    grid = onboarding_grid(6)
    assert len(grid) == 6 and all(i.kind == "angle" for i in grid) and len({i.id for i in grid}) == 6
    prof = onboard_user("newbie", ["angle:suspense", "angle:mystery"])
    assert prof.source == "onboarding"
    again = build_user("newbie")
    assert again.source == "onboarding" and np.allclose(again.embedding, prof.embedding)
    with pytest.raises(InvalidInput):
        onboard_user("newbie", [])
    with pytest.raises(Exception, match="unknown"):
        onboard_user("newbie", ["angle:nope"])


def test_cli_choose_list_and_evaluate(settings, tmp_path) -> None:
    from genperso.cli import app
    from genperso.logs import configure_logging

    configure_logging()  # as main() does: logs go to stderr at WARNING
    _titles("t1")
    runner = CliRunner()
    res = runner.invoke(app, ["choose-angle", "--title-id", "t1", "--cold", "--context",
                              '{"maturity": "kids", "device": "tablet"}', "--json"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.output)
    assert d["angle_id"] in IDS and d["propensity"] == pytest.approx(d["scores"][d["angle_id"]], abs=1e-6)
    emb = tmp_path / "u.npy"
    np.save(emb, np.random.default_rng(1).normal(size=384))
    res = runner.invoke(app, ["choose-angle", "--title-id", "t1", "--embedding-file", str(emb), "--json"])
    assert res.exit_code == 0 and json.loads(res.output)["angle_id"] in IDS
    res = runner.invoke(app, ["angles", "list", "--json"])
    assert [r["id"] for r in json.loads(res.output)] == list(IDS)
    sim = make_simulator(IDS, seed=1)
    logs = sim.log(2000, np.full((sim.n_cells, len(IDS)), 1 / len(IDS)), np.random.default_rng(0))
    log = tmp_path / "log.jsonl"
    log.write_text("\n".join(json.dumps({"features": list(s.x), "priors": dict(s.offsets), "eligible": list(s.eligible),
                                         "angle_id": s.angle_id, "propensity": s.propensity, "reward": s.reward})
                             for s in logs))
    res = runner.invoke(app, ["evaluate-policy", "--log", str(log), "--candidate", "uniform", "--json"])
    assert res.exit_code == 0, res.output
    rep = json.loads(res.output)
    truth = sim.true_value(np.full((sim.n_cells, len(IDS)), 1 / len(IDS)))
    assert rep["snips"]["lo"] <= truth <= rep["snips"]["hi"]


def test_cli_errors_are_one_line(settings) -> None:
    res = subprocess.run([sys.executable, "-m", "genperso.cli", "choose-angle", "--title-id", "t1", "--cold",
                          "--history", "x"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and "exactly one of" in res.stderr and "Traceback" not in res.stderr


def test_cli_feedback_monitor_onboarding_and_delete(settings, tmp_path) -> None:
    from genperso.cli import app
    from genperso.logs import configure_logging

    configure_logging()
    _titles("t1")
    runner = CliRunner()
    d = json.loads(runner.invoke(app, ["choose-angle", "--title-id", "t1", "--cold", "--user-id", "eve",
                                       "--json"]).output)
    events = tmp_path / "events.jsonl"
    events.write_text("\n".join(json.dumps({"event_id": f"e{i}", "user_id": "eve", "title_id": "t1",
                                            "angle_id": d["angle_id"], "decision_id": d["decision_id"], "type": t})
                                for i, t in enumerate(("impression", "click"))))
    res = runner.invoke(app, ["angles", "feedback", str(events), "--json"])
    assert res.exit_code == 0 and json.loads(res.output) == {"accepted": 2, "duplicates": 0}
    res = runner.invoke(app, ["angles", "feedback", str(events), "--json"])
    assert json.loads(res.output) == {"accepted": 0, "duplicates": 2}
    rep = json.loads(runner.invoke(app, ["angles", "monitor", "--json"]).output)
    assert rep["decisions"] == 1 and rep["reward_per_angle"][d["angle_id"]] == {"n": 1, "mean": 0.3}
    grid = json.loads(runner.invoke(app, ["angles", "onboarding", "--n", "4", "--json"]).stdout)
    assert len(grid) == 4
    res = runner.invoke(app, ["angles", "onboard", "--user-id", "eve", "--picks", grid[0]["id"], "--json"])
    assert res.exit_code == 0 and json.loads(res.output)["source"] == "onboarding"
    res = runner.invoke(app, ["angles", "delete-user", "eve", "--json"])
    out = json.loads(res.output)
    assert out["events"] == 2 and out["profiles"] == 1 and out["unlearned"] == 1
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"event_id": "x", "user_id": "u", "title_id": "t1", "angle_id": "action", "type": "like"}')
    res = runner.invoke(app, ["angles", "feedback", str(bad)])
    assert res.exit_code != 0 and "bad.jsonl:1" in str(res.exception)


def test_evaluate_policy_from_the_catalog_log(settings) -> None:
    from genperso.angles.evaluation import load_logged
    from genperso.cli import app
    from genperso.logs import configure_logging

    configure_logging()
    _titles("t1")
    pol = AnglePolicy(settings, name="prod")
    events = []
    for i in range(150):
        d = pol.choose(UserProfile(f"u{i}"), "t1", Context(), now=NOW)
        events.append(FeedbackEvent(f"i{i}", d.user_id, "t1", d.angle_id, d.decision_id, "impression"))
        if d.angle_id in ("drama", "family"):
            events.append(FeedbackEvent(f"c{i}", d.user_id, "t1", d.angle_id, d.decision_id, "click"))
    pol.choose(UserProfile("no-feedback"), "t1", Context(), now=NOW)
    record_events(events, settings)
    samples = load_logged(settings)
    assert len(samples) == 150  # the decision without feedback has no reward yet
    assert all(0 < s.propensity <= 1 and len(s.x) == pol.dim and s.angle_id in s.eligible for s in samples)
    assert {s.reward for s in samples} == {0.0, 0.3}
    res = CliRunner().invoke(app, ["evaluate-policy", "--candidate", "current", "--json"])
    assert res.exit_code == 0, res.output
    rep = json.loads(res.stdout)
    assert rep["n"] == 150 and rep["dr"]["lo"] <= rep["dr"]["value"] <= rep["dr"]["hi"]
    assert rep["logged_value"] == pytest.approx(np.mean([s.reward for s in samples]))
