"""``genperso demo``: the whole product on the embedded default (see ``genperso.demo``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

__all__ = ["register"]

console = Console(stderr=True)


def demo_cmd(
    film: Annotated[Optional[Path], typer.Option(help="Use this film instead of fetching Big Buck Bunny.")] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for generation.")] = 1800.0,
) -> None:
    """Fetch Big Buck Bunny, ingest it, personalize sample users, generate their assets, write a gallery."""
    from ..demo import run_demo
    from .catalog import progress_bar

    with progress_bar(True) as cb:
        report = run_demo(say=lambda m: console.print(m), progress=cb, film=film, timeout_s=timeout)
    console.print(f"\n[bold green]gallery:[/] file://{report.gallery}")
    console.print("[bold]review UI:[/] run `.venv/bin/genperso serve` and open http://127.0.0.1:8000/review "
                  f"with the reviewer key [bold]{report.reviewer_key}[/]")


def register(app: typer.Typer) -> None:
    app.command("demo")(demo_cmd)
