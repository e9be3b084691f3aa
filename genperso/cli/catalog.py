"""Catalog commands: ``ingest``, ``ingest-music``, ``titles list``, ``analysis show``, ``sample fetch``."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

__all__ = ["register", "progress_bar", "print_json"]

titles_app = typer.Typer(help="List and inspect the title catalog.", no_args_is_help=True)
analysis_app = typer.Typer(help="Inspect the stored analysis of a title version.", no_args_is_help=True)
sample_app = typer.Typer(help="The demo title (Big Buck Bunny, CC-BY-3.0).", no_args_is_help=True)
console = Console(stderr=True)


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


@contextlib.contextmanager
def progress_bar(enabled: bool = True) -> Iterator[Any]:
    """A rich progress bar fed by ``callback(stage, fraction)``; silent when disabled."""
    if not enabled:
        yield lambda stage, fraction: None
        return
    with Progress(TextColumn("[bold]{task.description:<22}"), BarColumn(), TextColumn("{task.percentage:>5.1f}%"),
                  TimeElapsedColumn(), console=console, transient=False) as prog:
        tasks: dict[str, Any] = {}

        def callback(stage: str, fraction: float) -> None:
            if stage not in tasks:
                tasks[stage] = prog.add_task(stage, total=1.0)
            prog.update(tasks[stage], completed=max(0.0, min(1.0, float(fraction))))

        yield callback
        for t in tasks.values():
            prog.update(t, completed=1.0)


def ingest_cmd(
    path: Annotated[Path, typer.Argument(help="Video file of the title (any container/codec ffmpeg reads).")],
    title_id: Annotated[str, typer.Option("--title-id", help="Catalog id: letters, digits, _ - .")],
    meta: Annotated[Optional[Path], typer.Option("--meta", help="JSON: name, synopsis, genres, maturity_rating, brand.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print only the JSON result.")] = False,
) -> None:
    """Register a title (or a new version of it) and analyse it once. Same bytes again: no-op."""
    from ..ingest import ingest_title, load_meta

    meta_data = load_meta(meta) if meta else None
    with progress_bar(not as_json) as cb:
        res = ingest_title(path, title_id=title_id, meta=meta_data, progress=cb)
    if as_json:
        print_json(res.to_dict())
    else:
        console.print(f"[green]{res.status}[/]: title {res.title_id} v{res.version} — {res.n_shots} shots, "
                      f"{res.duration:.1f} s, hash {res.content_hash[:12]}")


def ingest_music_cmd(
    paths: Annotated[Optional[list[Path]], typer.Argument(help="Audio files to add to the music library.")] = None,
    bundled: Annotated[bool, typer.Option("--bundled", help="Ingest the tracks shipped in assets/music.")] = False,
    track_id: Annotated[Optional[str], typer.Option("--id", help="Track id (one file only).")] = None,
    title: Annotated[Optional[str], typer.Option(help="Track title.")] = None,
    artist: Annotated[Optional[str], typer.Option(help="Artist.")] = None,
    licence: Annotated[Optional[str], typer.Option(help="Licence (e.g. CC-BY-4.0).")] = None,
    explicit: Annotated[bool, typer.Option(help="Flag explicit content.")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Add audio tracks to the library: measures tempo, beats, key, energy and loudness."""
    from ..errors import InvalidInput
    from ..music import ingest_bundled, ingest_music

    if not paths and not bundled:
        raise InvalidInput("give audio files or --bundled")
    if track_id and paths and len(paths) > 1:
        raise InvalidInput("--id applies to one file only")
    results = []
    if bundled:
        results += ingest_bundled()
    for p in paths or []:
        meta = {k: v for k, v in {"title": title, "artist": artist, "licence": licence}.items() if v}
        if explicit:
            meta["explicit"] = True
        results.append(ingest_music(p, track_id=track_id, meta=meta))
    if as_json:
        print_json([{k: v for k, v in r.items() if k != "beats"} for r in results])
        return
    table = Table("id", "title", "tempo", "key", "energy", "LUFS", "status")
    for r in results:
        table.add_row(r["id"], r["title"], f"{r['tempo_bpm']:.1f}", r["key"] or "", f"{r['energy']:.2f}",
                      f"{r['loudness_lufs']:.1f}", r["status"])
    Console().print(table)


@titles_app.command("list")
def titles_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List the catalog: id, name, current version, status, duration, shots."""
    from ..catalog import session_scope
    from ..catalog.titles import AnalysisRow, TitleRepo

    rows = []
    with session_scope() as s:
        repo = TitleRepo(s)
        for t in repo.list():
            versions = repo.versions(t.id)
            cur = next((v for v in versions if v.version == t.current_version), None)
            arow = s.get(AnalysisRow, cur.content_hash) if cur else None
            rows.append({
                "id": t.id, "name": t.name, "genres": list(t.genres or []), "maturity_rating": t.maturity_rating,
                "current_version": t.current_version, "versions": len(versions),
                "status": cur.status if cur else "registered",
                "duration": (cur.stream or {}).get("duration") if cur else None,
                "shots": arow.n_shots if arow else None,
            })
    if as_json:
        print_json(rows)
        return
    table = Table("id", "name", "version", "status", "duration", "shots", "genres")
    for r in rows:
        table.add_row(r["id"], r["name"], str(r["current_version"] or "-"), r["status"],
                      f"{r['duration']:.1f} s" if r["duration"] else "-", str(r["shots"] or "-"), ", ".join(r["genres"]))
    Console().print(table)


@analysis_app.command("show")
def analysis_show(
    title_id: Annotated[str, typer.Argument(help="Title id.")],
    version: Annotated[Optional[int], typer.Option(help="Version (default: current).")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Print a title's analysis: facts, shots (times, features, keyframes), beats, loudness, speech."""
    from ..catalog import session_scope
    from ..catalog.titles import TitleRepo
    from ..config import get_settings
    from ..types import validate_id

    validate_id(title_id, "title id")
    with session_scope() as s:
        repo = TitleRepo(s)
        title = repo.get(title_id).info()
        analysis = repo.analysis(title_id, version)
    data = {"title": title.to_dict(), "data_dir": str(get_settings().data_dir), **analysis.to_dict()}
    if as_json:
        print_json(data)
        return
    st = analysis.stream
    a = analysis.audio
    out = Console()
    out.print(f"[bold]{title.name}[/] ({title_id} v{analysis.version}) — {st.duration:.1f} s, {st.width}x{st.height} "
              f"@ {st.fps:g} fps, {st.video_codec}, audio: {st.audio_codec or 'none'} {st.audio_channels} ch")
    if a:
        out.print(f"loudness {a.integrated_lufs} LUFS, true peak {a.true_peak_dbtp} dBTP, tempo {a.tempo_bpm} BPM, "
                  f"{len(a.beats)} beats, {len(a.speech_segments)} speech segments")
    table = Table("#", "start", "end", "motion", "bright", "colour", "faces", "audio dB", "speech", "flags")
    for sh in analysis.shots:
        flags = ",".join(f for f, on in (("black", sh.is_black), ("blank", sh.is_blank)) if on)
        table.add_row(str(sh.index), f"{sh.start:.2f}", f"{sh.end:.2f}", f"{sh.motion:.3f}", f"{sh.brightness:.2f}",
                      f"{sh.colourfulness:.2f}", str(sh.face_count), f"{sh.audio_rms_db:.0f}", f"{sh.speech_ratio:.2f}",
                      flags)
    out.print(table)


@sample_app.command("fetch")
def sample_fetch(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Fetch Big Buck Bunny from the moviepy 2.2.1 sdist on PyPI, verify checksums, cache it."""
    from ..sample import fetch_sample_film

    film = fetch_sample_film(progress=None if as_json else (lambda m: console.print(m)))
    if as_json:
        print_json({"path": str(film.path), "sha256": film.sha256, "attribution": film.attribution})
    else:
        console.print(f"[green]ok[/] {film.path}\n{film.attribution}")


def register(app: typer.Typer) -> None:
    app.command("ingest")(ingest_cmd)
    app.command("ingest-music")(ingest_music_cmd)
    app.add_typer(titles_app, name="titles")
    app.add_typer(analysis_app, name="analysis")
    app.add_typer(sample_app, name="sample")
