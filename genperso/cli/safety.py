"""``genperso safety ...``: check texts and images against the brand-safety policy, inspect the
review queue and the policy version."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from ..errors import InvalidInput

__all__ = ["register", "safety_app"]

safety_app = typer.Typer(help="Brand safety: check texts/images, review queue, policy.", no_args_is_help=True)


def _profile(value: str) -> str:
    from safety.policy import validate_profile

    return validate_profile(value)


def _emit(items: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(items, indent=2, ensure_ascii=False))
        return
    for it in items:
        scores = ", ".join(f"{k}={v:.2f}" for k, v in it["scores"].items() if v >= 0.05) or "-"
        colour = {"allow": typer.colors.GREEN, "review": typer.colors.YELLOW, "block": typer.colors.RED}[it["decision"]]
        typer.secho(f"{it['decision']:<6} {it['label']:<10} {it['input']}", fg=colour)
        typer.echo(f"       scores: {scores}")
        for r in it["reasons"]:
            typer.echo(f"       - {r}")


@safety_app.command("check-text")
def check_text_cmd(
    texts: Annotated[
        Optional[list[str]], typer.Argument(help="Texts to check; none or '-' reads stdin, one per line.")
    ] = None,
    profile: Annotated[str, typer.Option("--profile", help="Audience: kids, teen or adult.")] = "adult",
    brand: Annotated[Optional[str], typer.Option("--brand", help="Apply this brand's rules from the policy.")] = None,
    title_id: Annotated[Optional[str], typer.Option("--title-id", help="Apply this title's rules.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list, one verdict per input.")] = False,
) -> None:
    """Check texts (titles, taglines, lines): one verdict per input."""
    from safety import check_texts

    _profile(profile)
    items = list(texts or [])
    if not items or items == ["-"]:
        if sys.stdin.isatty():
            raise InvalidInput("no texts given: pass TEXT arguments or pipe one text per line on stdin")
        items = [line.rstrip("\r\n") for line in sys.stdin if line.strip()]
    if not items:
        raise InvalidInput("no texts to check (stdin was empty)")
    verdicts = check_texts(items, profile=profile, brand=brand, title_id=title_id)
    _emit([{"input": t, "profile": profile, **v.to_dict()} for t, v in zip(items, verdicts)], as_json)


@safety_app.command("check-image")
def check_image_cmd(
    files: Annotated[list[Path], typer.Argument(help="Image files (png, jpg, webp, ...).")],
    profile: Annotated[str, typer.Option("--profile", help="Audience: kids, teen or adult.")] = "adult",
    title_text: Annotated[Optional[str], typer.Option("--title-text", help="The title drawn on the image.")] = None,
    title_box: Annotated[
        Optional[str], typer.Option("--title-box", help="x,y,w,h of the title (pixels): legibility check.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list, one verdict per input.")] = False,
) -> None:
    """Check image files: blank frames, title legibility, nudity (NudeNet), CLIP (if configured)."""
    from safety import check_images

    _profile(profile)
    box = None
    if title_box is not None:
        try:
            box = tuple(int(v) for v in title_box.split(","))
        except ValueError:
            raise InvalidInput(f"--title-box must be four integers x,y,w,h, got {title_box!r}") from None
        if len(box) != 4:
            raise InvalidInput(f"--title-box must be four integers x,y,w,h, got {title_box!r}")
    verdicts = check_images(files, profile=profile, title_text=title_text, title_box=box)  # type: ignore[arg-type]
    _emit([{"input": str(f), "profile": profile, **v.to_dict()} for f, v in zip(files, verdicts)], as_json)


@safety_app.command("reviews")
def reviews_cmd(
    status: Annotated[str, typer.Option("--status", help="pending, approved, rejected or all.")] = "pending",
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000)] = 50,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List gate runs that served nothing and wait for (or got) a human decision."""
    from ..catalog import session_scope
    from ..catalog.safety import SafetyRepo

    with session_scope() as s:
        rows = [r.to_dict() for r in SafetyRepo(s).reviews(status=None if status == "all" else status, limit=limit)]
    if as_json:
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False, default=str))
        return
    if not rows:
        typer.echo(f"no {status} review items")
    for r in rows:
        typer.echo(f"{r['id']}  {r['status']:<8} {r['decision']:<6} {r['kind']:<8} {r['profile']:<5} "
                   f"title={r['title_id'] or '-'} candidates={len(r['candidates'])}")


@safety_app.command("policy")
def policy_cmd(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Show the policy version (part of every asset cache key) and the classifiers available."""
    from safety import CLASSIFIERS, load_policy, policy_version
    from safety.base import ClassifierUnavailable, get_classifier
    from safety.policy import policy_file

    status: dict[str, str] = {}
    for name in sorted(CLASSIFIERS):
        if name == "text":
            status[name] = "available (loaded on first check)"
            continue
        try:
            get_classifier(name)
            status[name] = "available"
        except ClassifierUnavailable as exc:
            status[name] = f"unavailable: {exc}"
    pol = load_policy()
    out = {"policy_version": policy_version(), "file": str(policy_file()), "version": pol.version,
           "semantic_mode": pol.semantic_mode, "brands": sorted(pol.brands), "classifiers": status}
    if as_json:
        typer.echo(json.dumps(out, indent=2))
        return
    for k, v in out.items():
        typer.echo(f"{k}: {v}")


def register(app: typer.Typer) -> None:
    app.add_typer(safety_app, name="safety")
