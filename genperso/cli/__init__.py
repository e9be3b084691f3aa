"""The ``genperso`` command line (Typer). One module per command group, each with ``register(app)``."""

from __future__ import annotations

import importlib
import logging
import sys

import typer

from ..errors import GenPersoError

__all__ = ["app", "main", "CLI_MODULES"]

app = typer.Typer(
    name="genperso",
    help="Generative personalization of entertainment assets: ingest titles, pick angles, "
    "generate trailers/artwork/titles/remixes, gate them for safety and serve them.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Modules (relative to this package) that add commands. Add a line per command group.
CLI_MODULES: tuple[str, ...] = (
    "safety",
    "catalog",
    "demo",
    "generate",
    "angles",
    "remix",
    "serve",
)

for _name in CLI_MODULES:
    importlib.import_module(f"{__name__}.{_name}").register(app)


def main() -> None:
    """Entry point: library errors become one clear line on stderr and exit code 2."""
    from ..logs import configure_logging

    configure_logging()
    try:
        app(standalone_mode=False)
    except GenPersoError as exc:
        typer.secho(f"error: {exc.message}", err=True, fg=typer.colors.RED)
        sys.exit(2)
    except typer.Abort:
        typer.secho("aborted", err=True)
        sys.exit(130)
    except KeyboardInterrupt:
        typer.secho("interrupted", err=True)
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as exc:  # click usage errors
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        if isinstance(exc, click.exceptions.Exit):
            sys.exit(exc.exit_code)
        logging.getLogger("genperso").debug("unexpected error", exc_info=True)
        typer.secho(
            f"error: unexpected {type(exc).__name__}: {exc} (GENPERSO_LOG_LEVEL=DEBUG shows the traceback)",
            err=True, fg=typer.colors.RED,
        )
        sys.exit(1)
