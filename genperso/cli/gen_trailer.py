"""``genperso generate trailer``: a personalised trailer cut of a catalog title for one angle."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import typer

from .generate import generate_app

__all__ = ["trailer", "generate_trailer_for_title"]


def generate_trailer_for_title(
    title_id: str,
    angle_id: str,
    out_dir: Path,
    params: dict[str, Any],
) -> dict[str, Any]:
    """Load the title, its current version and analysis from the catalog; write trailer.mp4,
    trailer.otio, cutlist.json and record.json (the best candidate) into ``out_dir``."""
    from ..angles.catalog import get_angle
    from ..catalog import session_scope
    from ..catalog.titles import TitleRepo
    from ..config import get_settings
    from ..errors import InvalidInput, NotFound
    from ..generators.base import GenerationRequest
    from ..generators.trailer import TrailerGenerator, parse_params
    from ..types import validate_id

    settings = get_settings()
    validate_id(title_id, "title id")
    try:
        angle = get_angle(angle_id)
    except NotFound as exc:  # a bad --angle is the caller's input error, not a missing resource
        raise InvalidInput(exc.message, field="angle") from None
    parse_params(params, settings.max_candidates)  # fail fast, before any catalog or media work
    with session_scope(settings) as s:
        info, analysis, source = TitleRepo(s).generation_inputs(title_id)
    out_dir = out_dir.expanduser().resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    req = GenerationRequest(angle=angle, out_dir=out_dir, title=info, analysis=analysis, params=params,
                            data_dir=settings.data_dir, source_path=source)
    out = TrailerGenerator().generate(req)
    best = out.candidates[0]
    for role in ("trailer.mp4", "trailer.otio", "cutlist.json", "record.json", "title-card.png"):
        src = Path(best.files[role])
        if src.parent != out_dir:
            shutil.copy2(src, out_dir / role)
    record = dict(best.record)
    record["files"] = {role: str(out_dir / role) for role in ("trailer.mp4", "trailer.otio", "cutlist.json", "record.json")}
    record["candidates"] = [{"rank": c.rank, "score": c.score, "dir": str(Path(c.files["trailer.mp4"]).parent)}
                            for c in out.candidates]
    return record


@generate_app.command("trailer")
def trailer(
    title_id: str = typer.Option(..., "--title-id", help="Catalog title id"),
    angle: str = typer.Option(..., "--angle", help="Angle id (see assets/angles.toml)"),
    duration: int = typer.Option(30, "--duration", help="15, 30 or 60 seconds"),
    aspect: str = typer.Option("16:9", "--aspect", help="16:9 or 9:16"),
    out: Path = typer.Option(..., "--out", help="Output directory"),
    candidates: int = typer.Option(1, "--candidates", help="Number of candidate cuts (best is kept in --out)"),
    allow_spoilers: bool = typer.Option(False, "--allow-spoilers", help="Allow material from the end of the film"),
    spoiler_guard: float = typer.Option(0.15, "--spoiler-guard", help="Fraction of the film's end to avoid"),
    music: str = typer.Option("auto", "--music", help="auto (library, else film score), library or film"),
    json_out: bool = typer.Option(False, "--json", help="Print only the record as JSON"),
) -> None:
    """Cut a trailer: writes trailer.mp4, trailer.otio, cutlist.json and record.json into --out."""
    params = {"duration": duration, "aspect": aspect, "candidates": candidates, "allow_spoilers": allow_spoilers,
              "spoiler_guard_fraction": spoiler_guard, "music": music}
    if json_out:
        record = generate_trailer_for_title(title_id, angle, out, params)
        typer.echo(json.dumps(record, ensure_ascii=False, default=str))
        return
    from rich.console import Console
    from rich.table import Table

    console = Console()
    with console.status(f"cutting a {duration} s {aspect} {angle} trailer of {title_id} ..."):
        record = generate_trailer_for_title(title_id, angle, out, params)
    table = Table(title=f"{title_id} — {angle} trailer ({duration} s, {aspect})")
    for col in ("#", "shot", "source in", "source out", "timeline", "phase", "score"):
        table.add_column(col)
    for i, s in enumerate(record["shots"]):
        table.add_row(str(i), str(s["index"]), f"{s['source_in']:.2f}", f"{s['source_out']:.2f}",
                      f"{s['timeline_in']:.2f}", s["phase"], f"{s['scores']['combined']:.3f}")
    console.print(table)
    music_rec = record["music"]
    console.print(f"music: {music_rec.get('title') or music_rec['source']} ({music_rec['source']}, "
                  f"{music_rec['tempo_bpm']:.0f} bpm) · beat alignment median {record['beat_alignment']['median_ms']} ms · "
                  f"loudness {record['loudness']['output']['integrated_lufs']} LUFS · grade {record['grade']['look']}")
    console.print_json(json.dumps(record, default=str))
