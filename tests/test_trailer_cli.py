"""``genperso generate trailer`` against a catalog built directly (title, version, analysis rows);
no music library in this data dir, so the film's own score is the bed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from genperso.cli import app
from genperso.errors import InvalidInput, NotFound
from genperso.types import AudioAnalysis, FaceBox, Shot, StreamInfo, TitleAnalysis
from media import Segment, make_film


@pytest.fixture
def catalog_title(tmp_path: Path) -> str:
    from genperso.catalog import session_scope
    from genperso.catalog.titles import AnalysisRow, TitleRow, TitleVersionRow

    film = tmp_path / "film.mp4"
    segs = [Segment("testsrc" if i % 2 else "faces", 2.5, color="teal", audio="clicks" if i % 2 else "tone")
            for i in range(10)]
    make_film(film, segs)
    shots = tuple(
        Shot(index=i, start=2.5 * i, end=2.5 * (i + 1), motion=0.2 if i % 2 else 0.02, brightness=0.4 + 0.02 * i,
             faces=() if i % 2 else (FaceBox(0.3, 0.2, 0.2, 0.4),), face_count=0 if i % 2 else 1,
             max_face_area=0.0 if i % 2 else 0.08, audio_rms_db=-10.0 if i % 2 else -30.0,
             dominant_colours=(f"#{20 * i:02x}8080",))
        for i in range(10)
    )
    stream = StreamInfo(duration=25.0, width=320, height=180, fps=25.0, video_codec="h264", has_audio=True)
    analysis = TitleAnalysis(title_id="demo", version=1, content_hash="d" * 64, stream=stream, shots=shots,
                             audio=AudioAnalysis(integrated_lufs=-20.0, tempo_bpm=120.0,
                                                 beats=tuple(0.5 * k for k in range(50))))
    with session_scope() as s:
        s.add(TitleRow(id="demo", name="Night of the Test Card", current_version=1))
        s.flush()
        s.add(TitleVersionRow(title_id="demo", version=1, content_hash="d" * 64, source_path=str(film),
                              size_bytes=film.stat().st_size, stream=stream.to_dict(), status="ready"))
        s.add(AnalysisRow(content_hash="d" * 64, title_id="demo", version=1, analysis_version="1", n_shots=10,
                          data=analysis.to_dict()))
    return "demo"


def test_cli_generates_files_and_prints_the_record(catalog_title: str, tmp_path: Path) -> None:
    from genperso.logs import configure_logging

    configure_logging()  # as `genperso` does: logs go to stderr, stdout carries only the record
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["generate", "trailer", "--title-id", catalog_title, "--angle", "family",
                                   "--duration", "15", "--aspect", "9:16", "--out", str(out), "--json"])
    assert res.exit_code == 0, res.output
    record = json.loads(res.stdout)
    for name in ("trailer.mp4", "trailer.otio", "record.json", "cutlist.json"):
        assert (out / name).is_file()
    assert record["music"]["source"] == "film score" and record["music"]["tempo_bpm"] == 120.0
    assert record["output"]["width"] == 180 and record["output"]["height"] == 320
    assert record["title_card"]["text"] == "Night Of The Test Card"  # family angle: title case
    assert record["beat_alignment"]["median_ms"] <= 40.0
    assert json.loads((out / "record.json").read_text())["shots"] == record["shots"]
    # without --json: a readable table, then the record
    res2 = CliRunner().invoke(app, ["generate", "trailer", "--title-id", catalog_title, "--angle", "action",
                                    "--duration", "15", "--out", str(tmp_path / "out2"), "--candidates", "2"])
    assert res2.exit_code == 0, res2.output
    assert "beat alignment" in res2.stdout and "phase" in res2.stdout
    assert (tmp_path / "out2" / "trailer.mp4").is_file()
    assert (tmp_path / "out2" / "candidate-1" / "trailer.mp4").is_file()


@pytest.mark.parametrize("args, exc, msg", [
    (["--angle", "nope"], InvalidInput, "unknown angle"),
    (["--angle", "action", "--duration", "45"], InvalidInput, "duration"),
    (["--angle", "action", "--aspect", "1:1"], InvalidInput, "aspect"),
])
def test_cli_bad_input(tmp_path: Path, args: list[str], exc: type, msg: str) -> None:
    """Parameters are validated before any catalog or media work."""
    res = CliRunner().invoke(app, ["generate", "trailer", "--title-id", "demo", "--out", str(tmp_path), *args])
    assert isinstance(res.exception, exc) and msg in str(res.exception)
    assert not (tmp_path / "trailer.mp4").exists()


def test_cli_unknown_title(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["generate", "trailer", "--title-id", "ghost", "--angle", "action", "--out", str(tmp_path)])
    assert isinstance(res.exception, NotFound)
