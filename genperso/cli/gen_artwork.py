"""``genperso generate artwork``: personalised artwork of a catalog title for one angle."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Optional

import typer

from .generate import generate_app

__all__ = ["artwork", "generate_artwork_for_title", "summary_record"]


def summary_record(out: Any, title_id: str, angle_id: str) -> dict[str, Any]:
    """The top-level record: every file of every candidate with format, size, source, crop, scores."""
    files: list[dict[str, Any]] = []
    cands: list[dict[str, Any]] = []
    for c in out.candidates:
        rec = c.record
        src = rec["source"]
        for fmt, entry in rec["formats"].items():
            for ext, path in entry["files"].items():
                files.append({
                    "candidate": c.rank,
                    "role": f"{fmt}.{ext}",
                    "path": path,
                    "format": entry["format"],
                    "width": entry["width"],
                    "height": entry["height"],
                    "bytes": Path(path).stat().st_size,
                    "source_timecode": src["timecode"],
                    "source_shot": src["shot_index"],
                    "crop": entry["crop"],
                    "upscaled": entry["upscaled"],
                    "upscale_factor": entry["upscale_factor"],
                    "contrast_ratio": entry["contrast_ratio"],
                    "faces_cut": entry["faces_cut"],
                })
        cands.append({
            "rank": c.rank,
            "score": c.score,
            "source": src,
            "scores": rec["scores"],
            "record": c.files["record.json"],
        })
    return {
        "kind": "artwork",
        "title_id": title_id,
        "angle": angle_id,
        "generator": f"{out.generator} {out.version}",
        "model_revisions": dict(out.model_revisions),
        "timings": dict(out.timings),
        "candidates": cands,
        "files": files,
    }


def generate_artwork_for_title(title_id: str, angle_id: str, out_dir: Path, params: dict[str, Any],
                               seed: int = 0) -> dict[str, Any]:
    """Load title, current version and analysis from the catalog; write every candidate in
    every format under ``out_dir`` plus ``out_dir/record.json``; return that record."""
    from ..angles.catalog import get_angle
    from ..catalog import session_scope
    from ..catalog.titles import TitleRepo
    from ..config import get_settings
    from ..errors import InvalidInput, NotFound
    from ..generators.artwork import ArtworkGenerator, parse_params
    from ..generators.base import GenerationRequest
    from ..types import validate_id

    settings = get_settings()
    validate_id(title_id, "title id")
    try:
        angle = get_angle(angle_id)
    except NotFound as exc:  # a bad --angle is the caller's input error, not a missing resource
        raise InvalidInput(exc.message, field="angle") from None
    parse_params(params, 1 << 30, float("inf"))  # candidates/formats checked before any catalog work
    with session_scope(settings) as s:
        info, analysis, source = TitleRepo(s).generation_inputs(title_id)
    out_dir = out_dir.expanduser().resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    req = GenerationRequest(angle=angle, out_dir=out_dir, title=info, analysis=analysis, params=params, seed=seed,
                            data_dir=settings.data_dir, source_path=source)
    out = ArtworkGenerator().generate(req)
    record = summary_record(out, title_id, angle.id)
    fd, tmp = tempfile.mkstemp(prefix=".record-", suffix=".json", dir=out_dir)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(record, fh, indent=2, ensure_ascii=False)
    os.replace(tmp, out_dir / "record.json")
    return record


@generate_app.command("artwork")
def artwork(
    title_id: str = typer.Option(..., "--title-id", help="Catalog title id"),
    angle: str = typer.Option(..., "--angle", help="Angle id (see assets/angles.toml)"),
    out: Path = typer.Option(..., "--out", help="Output directory"),
    candidates: int = typer.Option(4, "--candidates", help="Number of candidate artworks (distinct shots)"),
    formats: str = typer.Option("hero,poster,tile,mobile", "--formats", help="Comma-separated formats"),
    allow_same_shot: bool = typer.Option(False, "--allow-same-shot", help="Allow two candidates from one shot"),
    allow_spoilers: bool = typer.Option(False, "--allow-spoilers", help="Allow frames from the last 10% (ending, credits)"),
    pinned_time: Optional[float] = typer.Option(None, "--pinned-time", help="Use the frame at this time (s) for candidate 1"),
    pinned_shot: Optional[int] = typer.Option(None, "--pinned-shot", help="Use this shot index for candidate 1"),
    restyle: Optional[float] = typer.Option(None, "--restyle", help="img2img strength 0..1 (needs GENPERSO_DIFFUSION_MODEL)"),
    seed: int = typer.Option(0, "--seed", help="Seed (generative stage)"),
    json_out: bool = typer.Option(False, "--json", help="Print only the record as JSON"),
) -> None:
    """Make artwork: every candidate as hero 16:9, poster 2:3, tile 1:1 and mobile 9:16 (JPEG + WebP)."""
    params: dict[str, Any] = {"candidates": candidates, "formats": formats, "allow_same_shot": allow_same_shot,
                              "allow_spoilers": allow_spoilers}
    if pinned_time is not None:
        params["pinned_time"] = pinned_time
    if pinned_shot is not None:
        params["pinned_shot"] = pinned_shot
    if restyle is not None:
        params["restyle"] = restyle
    if json_out:
        record = generate_artwork_for_title(title_id, angle, out, params, seed)
        typer.echo(json.dumps(record, indent=2, ensure_ascii=False))
        return
    from rich.console import Console
    from rich.table import Table

    console = Console(stderr=True)
    with console.status(f"artwork for {title_id} / {angle} ..."):
        record = generate_artwork_for_title(title_id, angle, out, params, seed)
    table = Table(title=f"artwork {title_id} / {angle}")
    for col in ("rank", "score", "source", "shot", "hero contrast", "upscaled"):
        table.add_column(col)
    for c in record["candidates"]:
        first = next(f for f in record["files"] if f["candidate"] == c["rank"])
        table.add_row(str(c["rank"]), f"{c['score']:.3f}", c["source"]["timecode"], str(c["source"]["shot_index"]),
                      f"{first['contrast_ratio']:.1f}:1", str(first["upscaled"]))
    console.print(table)
    typer.echo(json.dumps(record, indent=2, ensure_ascii=False))
