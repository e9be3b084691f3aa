"""``genperso remix TRACK [TRACK ...] --bpm TARGET --out FILE``: a tempo-matched, beat-crossfaded remix."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

__all__ = ["register", "remix_cmd"]


def remix_cmd(
    tracks: Annotated[list[str], typer.Argument(help="Audio files or music-library track ids, in play order.")],
    bpm: Annotated[float, typer.Option("--bpm", help="Target tempo in BPM (40-240).")],
    out: Annotated[Path, typer.Option("--out", help="Output file: .m4a (AAC), .mp3 or .wav.")],
    crossfade_beats: Annotated[int, typer.Option("--crossfade-beats", help="Crossfade length in beats.")] = 8,
    max_track_seconds: Annotated[
        Optional[float], typer.Option("--max-track-seconds", help="Play at most this much of each track.")
    ] = None,
    engine: Annotated[str, typer.Option("--engine", help="auto, ffmpeg-rubberband, rubberband-cli or librosa.")] = "auto",
    as_json: Annotated[bool, typer.Option("--json", help="Print only the JSON record.")] = False,
) -> None:
    """Stretch the tracks to one tempo (Rubber Band), crossfade them on beats, master to -14 LUFS."""
    from ..generators.remix import RemixConfig, remix
    from .catalog import print_json, progress_bar

    if max_track_seconds is not None and max_track_seconds <= 0:
        from ..errors import InvalidInput

        raise InvalidInput(f"--max-track-seconds must be positive, got {max_track_seconds:g}")
    cfg = RemixConfig(crossfade_beats=crossfade_beats, engine=engine, max_track_seconds=max_track_seconds)
    with progress_bar(not as_json) as cb:
        res = remix(tracks, bpm, out, cfg, progress=lambda stage, frac: cb("remix", frac))
    rec = res.record
    if as_json:
        print_json(rec)
        return
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title=f"remix -> {res.path}")
    for col in ("track", "source BPM", "level", "ratio", "engine"):
        table.add_column(col)
    for s in rec["sources"]:
        table.add_row(s["track"], f"{s['source_bpm']:.2f}", s["level"], f"{s['stretch_ratio']:.4f}", s["engine"])
    for s in rec["skipped"]:
        table.add_row(s["track"], f"{s['source_bpm']:.2f}", "skipped", "-", s["reason"])
    console.print(table)
    o = rec["output"]
    console.print(
        f"target {rec['target_bpm']:.2f} BPM, re-measured {rec['output_tempo']['bpm']:.2f} BPM "
        f"({rec['output_tempo']['error_pct']}%), {o['integrated_lufs']:.1f} LUFS, true peak {o['true_peak_dbtp']:.1f} dBTP, "
        f"{rec['duration_s']:.1f} s; record: {res.record_path}"
    )


def register(app: typer.Typer) -> None:
    app.command("remix")(remix_cmd)
