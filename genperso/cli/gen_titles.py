"""``genperso generate titles``: ranked, safety-checked playlist titles for an angle and a context."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import typer

from .generate import generate_app

__all__ = ["titles", "titles_for"]


def _parse_json(text: str | None, what: str) -> Any:
    from ..errors import InvalidInput

    if not text:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{what} is not valid JSON: {exc.msg} at character {exc.pos}") from None


def titles_for(angle_id: str, *, context: Any = None, tracks: Any = None, n: int = 5, title_id: str | None = None,
               seed: int = 0, brand: str | None = None, out_dir: Path | None = None) -> dict[str, Any]:
    """The CLI's work, callable: validate, build the brief, run ``TitlesGenerator``; return a record."""
    import tempfile

    from ..angles.catalog import get_angle
    from ..errors import InvalidInput, NotFound
    from ..generators.base import GenerationRequest
    from ..generators.titles import TitlesGenerator

    try:
        angle = get_angle(angle_id)
    except NotFound as exc:
        raise InvalidInput(exc.message, field="angle") from None
    if context is not None and not isinstance(context, dict):
        raise InvalidInput("--context must be a JSON object, e.g. '{\"hour\": 7, \"activity\": \"morning run\"}'")
    if tracks is not None and not isinstance(tracks, list):
        raise InvalidInput("--tracks must be a JSON list of objects with genres, tempo_bpm, energy, title")
    info = None
    if title_id:
        from ..catalog import session_scope
        from ..catalog.titles import TitleRepo
        from ..types import validate_id

        validate_id(title_id, "title id")
        with session_scope() as s:
            info = TitleRepo(s).get(title_id).info()
    params: dict[str, Any] = {"n": n, "context": context or {}, "tracks": tracks or []}
    if brand:
        params["brand"] = brand
    with tempfile.TemporaryDirectory(prefix="genperso-titles-") as tmp:
        req = GenerationRequest(angle=angle, out_dir=out_dir or Path(tmp), title=info, params=params, seed=seed)
        out = TitlesGenerator().generate(req)
        record = json.loads((req.out_dir / "titles.json").read_text(encoding="utf-8"))
    record |= {"angle": angle.id, "title_id": title_id, "n": n, "timings": dict(out.timings)}
    return record


@generate_app.command("titles")
def titles(
    angle: str = typer.Option(..., "--angle", help="Angle id (see assets/angles.toml)"),
    context: Optional[str] = typer.Option(None, "--context", help='JSON, e.g. {"hour": 7, "activity": "morning run", "device": "mobile"}'),
    tracks: Optional[str] = typer.Option(None, "--tracks", help='JSON list, e.g. [{"genres": ["rock"], "tempo_bpm": 160, "energy": 0.9}]'),
    n: int = typer.Option(5, "--n", help="Number of ranked candidates"),
    title_id: Optional[str] = typer.Option(None, "--title-id", help="Catalog title the playlist is about"),
    seed: int = typer.Option(0, "--seed", help="Sampling seed"),
    brand: Optional[str] = typer.Option(None, "--brand", help="Brand whose safety rules apply"),
    out: Optional[Path] = typer.Option(None, "--out", help="Also write titles.json into this directory"),
    json_out: bool = typer.Option(False, "--json", help="Print only the JSON record"),
) -> None:
    """Playlist titles (<= 40 characters) ranked by fit to the brief, each with its safety verdict."""
    record = titles_for(angle, context=_parse_json(context, "--context"), tracks=_parse_json(tracks, "--tracks"),
                        n=n, title_id=title_id, seed=seed, brand=brand, out_dir=out)
    if json_out:
        typer.echo(json.dumps(record, indent=2, ensure_ascii=False))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{record['brief']}" + ("  [fallback: templates]" if record["fallback"] else ""))
    for col in ("#", "title", "score", "similarity", "safety", "servable"):
        table.add_column(col)
    for i, c in enumerate(record["candidates"], 1):
        table.add_row(str(i), c["text"], f"{c['score']:.3f}", f"{c['parts']['similarity']:.3f}",
                      c["verdict"]["decision"], "yes" if c["servable"] else "no")
    Console().print(table)
