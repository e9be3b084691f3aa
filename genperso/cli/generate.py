"""``genperso generate ...``: one sub-command per asset kind, each in its own module."""

from __future__ import annotations

import importlib

import typer

__all__ = ["generate_app", "register", "GENERATE_MODULES"]

generate_app = typer.Typer(help="Generate assets for a title and angle (trailer, artwork, titles).", no_args_is_help=True)

# Modules (relative to genperso.cli) that add a command to ``generate_app``. Add a line per kind.
GENERATE_MODULES: tuple[str, ...] = ("gen_trailer", "gen_artwork", "gen_titles")


def register(app: typer.Typer) -> None:
    for name in GENERATE_MODULES:
        importlib.import_module(f"genperso.cli.{name}")
    app.add_typer(generate_app, name="generate")
