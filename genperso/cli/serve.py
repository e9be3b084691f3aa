"""Serving commands: ``serve`` (API), ``worker`` (Celery), ``pregenerate`` (batch), ``keys create``,
``cache invalidate``."""

from __future__ import annotations

import json
import os
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

__all__ = ["register", "worker_argv"]

console = Console(stderr=True)
keys_app = typer.Typer(help="API keys (stored hashed in the catalog).", no_args_is_help=True)
cache_app = typer.Typer(help="The asset cache.", no_args_is_help=True)


def _split(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


def serve_cmd(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(help="API processes (with Redis; embedded mode uses 1).")] = 1,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "warning",
) -> None:
    """Run the HTTP API (uvicorn). With no Redis configured it also runs generation jobs in-process."""
    import uvicorn

    from ..config import get_settings

    settings = get_settings()
    if settings.embedded and workers > 1:
        console.print("[yellow]embedded mode (no GENPERSO_REDIS_URL): running 1 API process[/]")
        workers = 1
    mode = "embedded (jobs run in this process)" if settings.embedded else f"Redis {settings.redis_url}"
    console.print(f"genperso API on http://{host}:{port}  mode: {mode}  docs: /docs")
    uvicorn.run("api.main:create_app", factory=True, host=host, port=port, workers=workers, log_level=log_level,
                access_log=False)


def worker_argv(queues: list[str], concurrency: int, pool: str | None, device: str) -> list[str]:
    """Celery worker arguments. GPU queues get a thread (or solo) pool: CUDA must never be
    initialised in a process that then forks (prefork), and nothing imports torch-CUDA before."""
    if pool is None:
        if "gpu" in queues and device.startswith("cuda"):
            pool = "solo" if concurrency == 1 else "threads"
        else:
            pool = "prefork"
    return ["worker", "-Q", ",".join(queues), "-c", str(concurrency), "--pool", pool, "--loglevel", "INFO",
            "--prefetch-multiplier", "1", "-n", f"genperso-{'-'.join(queues)}@%h"]


def worker_cmd(
    queues: Annotated[str, typer.Option(help="Comma-separated queues: gpu, cpu.")] = "gpu,cpu",
    concurrency: Annotated[int, typer.Option(help="Tasks run at once by this worker.")] = 1,
    pool: Annotated[Optional[str], typer.Option(help="Celery pool (default: threads/solo for gpu on CUDA, "
                                                     "else prefork).")] = None,
) -> None:
    """Run a Celery worker for generation and analysis jobs (needs GENPERSO_REDIS_URL)."""
    from ..config import get_settings
    from ..errors import InvalidInput
    from ..jobs import broker_url

    settings = get_settings()
    if not broker_url(settings):
        raise InvalidInput("no broker configured: set GENPERSO_REDIS_URL (in embedded mode `genperso serve` "
                           "runs the jobs itself)")
    qs = _split(queues) or []
    bad = [q for q in qs if q not in ("gpu", "cpu")]
    if not qs or bad:
        raise InvalidInput(f"queues must be gpu and/or cpu; got {queues!r}")
    if concurrency < 1:
        raise InvalidInput("concurrency must be >= 1")
    from workers.app import app

    app.worker_main(worker_argv(qs, concurrency, pool, settings.device))


def pregenerate_cmd(
    top: Annotated[int, typer.Option(help="How many top titles (recent impressions, then catalog order).")] = 10,
    angles: Annotated[Optional[str], typer.Option(help="Comma-separated angle ids (default: all).")] = None,
    kinds: Annotated[str, typer.Option(help="Comma-separated asset kinds.")] = "artwork",
    batch: Annotated[Optional[str], typer.Option(help="Resume this batch id.")] = None,
    wait: Annotated[bool, typer.Option(help="Wait for the jobs and print the summary.")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print only the JSON summary.")] = False,
) -> None:
    """Pre-generate assets for the top titles x angles x kinds; skips what is cached; resumable."""
    from ..batch import run_batch
    from ..config import get_settings
    from ..pipeline import get_pipeline

    settings = get_settings()
    pipe = get_pipeline(settings)
    if settings.embedded:
        from ..jobs import resume_pending

        resume_pending(settings, pipe.dispatcher)
    if not wait and settings.embedded:
        console.print("[yellow]embedded mode runs jobs in this process: waiting for them anyway[/]")
        wait = True
    kind_list = _split(kinds) or ["artwork"]
    with Progress(TextColumn("[bold]pregenerate"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.description}"),
                  TimeElapsedColumn(), console=console, disable=as_json) as prog:
        task = prog.add_task("", total=None)

        def progress(done: int, total: int, counts: dict[str, int]) -> None:
            prog.update(task, completed=done, total=total,
                        description=" ".join(f"{k}={v}" for k, v in sorted(counts.items())))

        summary = run_batch(pipe, top=top, angles=_split(angles), kinds=kind_list, batch_id=batch, wait=wait,
                            progress=progress)
    c = summary.counts
    out = {"batch_id": summary.batch_id, "items": summary.items, "generated": c.get("done", 0),
           "cached": c.get("cached", 0), "failed": c.get("failed", 0), "blocked": c.get("blocked", 0),
           "review": c.get("review", 0), "pending": c.get("queued", 0) + c.get("pending", 0),
           "seconds": round(summary.seconds, 2)}
    if not as_json:
        table = Table(title=f"batch {summary.batch_id}")
        for k in ("items", "generated", "cached", "blocked", "review", "failed", "pending", "seconds"):
            table.add_column(k, justify="right")
        table.add_row(*[str(out[k]) for k in ("items", "generated", "cached", "blocked", "review", "failed",
                                              "pending", "seconds")])
        Console().print(table)
        if out["pending"]:
            console.print(f"resume with: genperso pregenerate --batch {summary.batch_id}")
    typer.echo(json.dumps(out))
    d = pipe._dispatcher
    if d is not None and hasattr(d, "shutdown"):
        d.shutdown()


def keys_create_cmd(
    role: Annotated[str, typer.Option(help="front-end | reviewer | admin")],
    name: Annotated[str, typer.Option(help="Who uses the key (shown in audit logs).")] = "",
) -> None:
    """Create an API key and print it (only its SHA-256 is stored: copy it now)."""
    from ..catalog import session_scope
    from ..catalog.assets import create_api_key
    from ..config import get_settings

    with session_scope(get_settings()) as s:
        key = create_api_key(s, role, name)
    typer.echo(key)


def cache_invalidate_cmd(
    title: Annotated[Optional[str], typer.Option("--title", help="Title id.")] = None,
    asset: Annotated[Optional[str], typer.Option("--asset", help="Asset id (or 12+ char prefix).")] = None,
    kind: Annotated[Optional[str], typer.Option(help="Only this asset kind.")] = None,
    purge: Annotated[bool, typer.Option(help="Also delete unapproved, unpinned assets so they regenerate.")] = False,
) -> None:
    """Drop cached asset records (and with --purge their catalog rows and files)."""
    from ..pipeline import get_pipeline

    out: dict[str, Any] = get_pipeline().invalidate(title_id=title, asset_id=asset, kind=kind, purge=purge,
                                                    actor=f"cli:{os.environ.get('USER', '')}")
    typer.echo(json.dumps(out))


def register(app: typer.Typer) -> None:
    app.command("serve")(serve_cmd)
    app.command("worker")(worker_cmd)
    app.command("pregenerate")(pregenerate_cmd)
    keys_app.command("create")(keys_create_cmd)
    cache_app.command("invalidate")(cache_invalidate_cmd)
    app.add_typer(keys_app, name="keys")
    app.add_typer(cache_app, name="cache")
