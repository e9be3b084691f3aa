"""Angle commands: ``choose-angle``, ``evaluate-policy`` and the ``angles`` group (list, onboarding,
onboard, feedback, delete-user, monitor, experiment-report, export-log)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.table import Table

__all__ = ["register", "parse_context", "load_embedding_file"]

angles_app = typer.Typer(help="Personalization angles: list, onboarding, feedback, monitoring, experiments.",
                         no_args_is_help=True)
console = Console(stderr=True)
out = Console()


def _print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def parse_context(text: str | None) -> Any:
    from ..errors import InvalidInput
    from ..types import Context

    if not text:
        return Context()
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"--context is not valid JSON: {exc.msg}") from None
    if not isinstance(data, dict):
        raise InvalidInput("--context must be a JSON object")
    allowed = {"hour", "weekday", "device", "locale", "maturity", "session_id", "activity"}
    unknown = set(data) - allowed
    if unknown:
        raise InvalidInput(f"--context has unknown keys {sorted(unknown)}; allowed: {sorted(allowed)}")
    try:
        return Context(**data)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"--context: {exc}") from None


def load_embedding_file(path: Path) -> Any:
    import numpy as np

    from ..errors import InvalidInput

    if not path.is_file():
        raise InvalidInput(f"embedding file not found: {path}")
    try:
        if path.suffix.lower() == ".json":
            return np.asarray(json.loads(path.read_text(encoding="utf-8")), dtype=np.float64)
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"cannot read embedding file {path} (.npy or .json list expected): {exc}") from None


def choose_angle_cmd(
    title_id: Annotated[str, typer.Option("--title-id", help="Catalog title id.")],
    embedding_file: Annotated[Optional[Path], typer.Option("--embedding-file", help="User vector (.npy or .json).")] = None,
    history: Annotated[Optional[str], typer.Option("--history", help="Comma-separated title ids, genres or text.")] = None,
    cold: Annotated[bool, typer.Option("--cold", help="Cold-start user (population prior).")] = False,
    user_id: Annotated[str, typer.Option("--user-id", help="User id (stickiness, logging).")] = "cli-user",
    context: Annotated[Optional[str], typer.Option("--context", help='JSON, e.g. {"device":"mobile","hour":22}')] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print only the JSON decision.")] = False,
) -> None:
    """Choose the angle for one user and title (logged with its propensity)."""
    from ..angles.policy import get_policy
    from ..angles.users import build_user
    from ..errors import InvalidInput

    given = sum([embedding_file is not None, history is not None, cold])
    if given != 1:
        raise InvalidInput("give exactly one of --embedding-file, --history or --cold")
    ctx = parse_context(context)
    if embedding_file is not None:
        user = build_user(user_id, embedding=load_embedding_file(embedding_file))
    elif history is not None:
        items = [h.strip() for h in history.split(",") if h.strip()]
        if not items:
            raise InvalidInput("--history is empty")
        user = build_user(user_id, history=items)
    else:
        from ..types import UserProfile, validate_id

        user = UserProfile(user_id=validate_id(user_id, "user id"), source="cold")
    decision = get_policy().choose(user, title_id, ctx)
    if as_json:
        _print_json(decision.to_dict())
        return
    t = Table(title=f"{title_id}: {decision.angle_id} (p={decision.propensity:.3f})")
    t.add_column("angle")
    t.add_column("probability", justify="right")
    for a, p in sorted(decision.scores.items(), key=lambda kv: -kv[1]):
        t.add_row(a, f"{p:.3f}")
    out.print(t)
    out.print(decision.explanation)


def list_cmd(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The angle catalog: id, name, short description and style."""
    from ..angles.catalog import load_angles

    angles = load_angles()
    rows = [{"id": a.id, "name": a.name, "description": a.description.split(":")[0][:60],
             "style": {"pace": a.style.pace, "grade": a.style.grade, "music_energy": a.style.music_energy,
                       "tempo_bpm": list(a.style.tempo_bpm)}, "min_support": a.min_support} for a in angles]
    if as_json:
        _print_json(rows)
        return
    t = Table(title=f"angles ({angles.version})")
    for col in ("id", "name", "description", "pace", "grade", "music", "bpm"):
        t.add_column(col)
    for r in rows:
        s = r["style"]
        t.add_row(r["id"], r["name"], r["description"], f"{s['pace']:.2f}", s["grade"], f"{s['music_energy']:.2f}",
                  f"{s['tempo_bpm'][0]:.0f}-{s['tempo_bpm'][1]:.0f}")
    out.print(t)


def onboarding_cmd(n: Annotated[int, typer.Option("--n", help="Grid size.")] = 8,
                   as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """A diverse grid of titles (or angle exemplars) to show a new user."""
    from ..angles.onboarding import onboarding_grid

    items = onboarding_grid(n)
    if as_json:
        _print_json([i.to_dict() for i in items])
        return
    t = Table(title="onboarding grid")
    t.add_column("id")
    t.add_column("kind")
    t.add_column("label")
    for i in items:
        t.add_row(i.id, i.kind, i.label)
    out.print(t)


def onboard_cmd(user_id: Annotated[str, typer.Option("--user-id")],
                picks: Annotated[str, typer.Option("--picks", help="Comma-separated ids from the grid.")],
                as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Initialise a user's vector from their onboarding picks."""
    from ..angles.onboarding import onboard_user

    prof = onboard_user(user_id, [p for p in picks.split(",") if p.strip()])
    res = {"user_id": prof.user_id, "source": prof.source, "picks": list(prof.history)}
    _print_json(res) if as_json else console.print(f"[green]onboarded[/] {prof.user_id} from {len(prof.history)} picks")


def feedback_cmd(path: Annotated[Path, typer.Argument(help="JSONL file of feedback events.")],
                 as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Record feedback events (idempotent by event_id) and apply them to the bandit."""
    from ..angles.events import FeedbackEvent
    from ..angles.policy import get_policy
    from ..errors import InvalidInput

    if not path.is_file():
        raise InvalidInput(f"events file not found: {path}")
    events = []
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                events.append(FeedbackEvent.from_dict(json.loads(line)))
            except json.JSONDecodeError as exc:
                raise InvalidInput(f"{path}:{i}: not valid JSON: {exc.msg}") from None
            except InvalidInput as exc:
                raise InvalidInput(f"{path}:{i}: {exc.message}") from None
    from ..angles.events import record_events

    pol = get_policy()
    accepted, dup = record_events(events, pol.settings, store=pol.store)
    res = {"accepted": accepted, "duplicates": dup}
    _print_json(res) if as_json else console.print(f"accepted {accepted}, duplicates {dup}")


def delete_user_cmd(user_id: Annotated[str, typer.Argument()],
                    as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Delete a user's events, profile and sessions; unlearn and anonymise their decisions."""
    from ..angles.events import delete_user

    res = delete_user(user_id)
    _print_json(res) if as_json else console.print(f"deleted {user_id}: {res}")


def monitor_cmd(
    window_hours: Annotated[float, typer.Option("--window-hours")] = 24.0,
    windows: Annotated[int, typer.Option("--windows")] = 7,
    threshold: Annotated[float, typer.Option("--threshold", help="JS distance that raises a drift alert.")] = 0.1,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Angle mix over time (drift alerts), reward per angle and coverage."""
    from ..angles.monitoring import monitor

    rep = monitor(window_hours=window_hours, n_windows=windows, threshold=threshold)
    if as_json:
        _print_json(rep.to_dict())
        return
    t = Table(title=f"angle mix ({rep.decisions} decisions, coverage {rep.coverage:.1%}, "
                    f"eligible coverage {rep.eligible_coverage:.1%})")
    t.add_column("window")
    t.add_column("n", justify="right")
    t.add_column("top angles")
    t.add_column("JS", justify="right")
    for w in rep.windows:
        top = sorted(w["mix"].items(), key=lambda kv: -kv[1])[:3]
        t.add_row(w["start"], str(w["decisions"]), ", ".join(f"{a} {p:.0%}" for a, p in top if p),
                  f"{w.get('js_distance', 0):.3f}")
    out.print(t)
    for a in rep.alerts:
        out.print(f"[red]drift[/] {a['window']}: JS {a['js_distance']} > {a['threshold']} ({', '.join(a['most_changed'])})")


def experiment_report_cmd(experiment: Annotated[str, typer.Option("--experiment")],
                          control: Annotated[str, typer.Option("--control")],
                          as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Per-metric A/B report with confidence intervals and Winner / Preferred / Same labels."""
    from ..angles.experiments import experiment_report

    rows = experiment_report(experiment, control)
    if as_json:
        _print_json([r.to_dict() for r in rows])
        return
    t = Table(title=f"experiment {experiment} vs {control}")
    for col in ("metric", "variant", "n", "mean", "control", "diff [95% CI]", "label"):
        t.add_column(col)
    for r in rows:
        t.add_row(r.metric, r.variant, str(r.n_variant), f"{r.mean_variant:.4f}", f"{r.mean_control:.4f}",
                  f"{r.diff:+.4f} [{r.lo:+.4f}, {r.hi:+.4f}]", r.label + (f" ({r.better})" if r.better else ""))
    out.print(t)


def calibrate_cmd(limit: Annotated[int, typer.Option("--limit", help="Catalog titles to embed.")] = 5000,
                  as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Calibrate the zero-shot prior on the catalog's titles (run after ingesting a catalog)."""
    from ..angles.calibration import calibrate_from_catalog

    res = calibrate_from_catalog(limit=limit)
    _print_json(res) if as_json else console.print(f"calibrated on {res['n']} titles: {res['path']}")


def export_log_cmd(path: Annotated[Path, typer.Argument(help="Output JSONL file.")]) -> None:
    """Write logged decisions with rewards as JSONL (input of evaluate-policy --log)."""
    from ..angles.evaluation import iter_dicts, load_logged

    samples = load_logged()
    with path.open("w", encoding="utf-8") as f:
        for d in iter_dicts(samples):
            f.write(json.dumps(d) + "\n")
    console.print(f"wrote {len(samples)} logged decisions to {path}")


def evaluate_policy_cmd(
    log: Annotated[Optional[Path], typer.Option("--log", help="JSONL log; default: the catalog's decisions.")] = None,
    candidate: Annotated[str, typer.Option("--candidate", help="current | uniform | prior")] = "current",
    policy: Annotated[Optional[str], typer.Option("--policy", help="Only decisions logged by this policy.")] = None,
    confidence: Annotated[float, typer.Option("--confidence")] = 0.95,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Off-policy estimate (IPS, SNIPS, DR with CIs) of a candidate policy from logged decisions."""
    from ..angles.evaluation import evaluate, load_jsonl, load_logged, prior_greedy_policy, uniform_policy
    from ..errors import InvalidInput

    if not 0.5 <= confidence < 1:
        raise InvalidInput("--confidence must be in [0.5, 1)")
    samples = load_jsonl(log) if log else load_logged(policy=policy)
    if candidate == "uniform":
        cand = uniform_policy
    elif candidate == "prior":
        cand = prior_greedy_policy()
    elif candidate == "current":
        from ..angles.policy import decision_seed, get_policy

        pol = get_policy()

        def cand(s):  # type: ignore[no-untyped-def]
            return pol.probabilities(s.x, s.offsets, s.eligible, decision_seed("eval", s.decision_id, 0, pol.name))
    else:
        raise InvalidInput(f"unknown candidate {candidate!r}: use current, uniform or prior")
    rep = evaluate(samples, cand, confidence=confidence)
    if as_json:
        _print_json({"candidate": candidate, **rep.to_dict()})
        return
    t = Table(title=f"candidate {candidate}: {rep.n} logged decisions (logged value {rep.logged_value:.4f}, "
                    f"ESS {rep.ess:.0f})")
    for col in ("estimator", "value", f"{confidence:.0%} CI"):
        t.add_column(col)
    for name, e in (("IPS", rep.ips), ("SNIPS", rep.snips), ("DR", rep.dr)):
        t.add_row(name, f"{e.value:.4f}", f"[{e.lo:.4f}, {e.hi:.4f}]")
    out.print(t)


def register(app: typer.Typer) -> None:
    app.command("choose-angle")(choose_angle_cmd)
    app.command("evaluate-policy")(evaluate_policy_cmd)
    angles_app.command("list")(list_cmd)
    angles_app.command("onboarding")(onboarding_cmd)
    angles_app.command("onboard")(onboard_cmd)
    angles_app.command("feedback")(feedback_cmd)
    angles_app.command("delete-user")(delete_user_cmd)
    angles_app.command("monitor")(monitor_cmd)
    angles_app.command("experiment-report")(experiment_report_cmd)
    angles_app.command("export-log")(export_log_cmd)
    angles_app.command("calibrate")(calibrate_cmd)
    app.add_typer(angles_app, name="angles")
