"""Title ingestion: versions by content, no-op re-ingest, invalidation, nothing half-written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from genperso.errors import InvalidInput, MediaError
from media import Segment, make_film, make_tone

META = {"name": "Synthetic Test Film", "synopsis": "Colours and tones.", "genres": ["Drama"], "maturity_rating": "PG"}


def _counts() -> dict[str, int]:
    from genperso.catalog import session_scope
    from genperso.catalog.titles import AnalysisRow, TitleRow, TitleVersionRow

    with session_scope() as s:
        return {
            "titles": s.scalar(sa.select(sa.func.count()).select_from(TitleRow)) or 0,
            "versions": s.scalar(sa.select(sa.func.count()).select_from(TitleVersionRow)) or 0,
            "analyses": s.scalar(sa.select(sa.func.count()).select_from(AnalysisRow)) or 0,
        }


@pytest.fixture(scope="module")
def films(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("films")
    a = d / "a.mp4"
    make_film(a, [Segment("testsrc", 2.0), Segment("color", 2.0, color="blue", audio="loud"), Segment("mandelbrot", 2.0)])
    b = d / "b.mp4"
    make_film(b, [Segment("color", 2.0, color="green"), Segment("testsrc", 3.0)])
    return {"a": a, "b": b}


def test_ingest_versions_and_noop(films: dict[str, Path], settings) -> None:  # type: ignore[no-untyped-def]
    from genperso.catalog import session_scope
    from genperso.catalog.titles import TitleRepo
    from genperso.ingest import ingest_title

    stages: list[str] = []
    first = ingest_title(films["a"], title_id="film", meta=META, progress=lambda st, f: stages.append(st))
    assert (first.status, first.version) == ("new", 1)
    assert first.n_shots >= 3 and first.duration == pytest.approx(6.0, abs=0.1)
    assert stages, "progress callback was never called"

    again = ingest_title(films["a"], title_id="film")
    assert (again.status, again.version, again.content_hash) == ("unchanged", 1, first.content_hash)
    assert _counts() == {"titles": 1, "versions": 1, "analyses": 1}

    second = ingest_title(films["b"], title_id="film")
    assert (second.status, second.version, second.superseded) == ("new_version", 2, (1,))
    with session_scope() as s:
        repo = TitleRepo(s)
        title = repo.get("film")
        assert title.current_version == 2 and title.name == META["name"] and title.genres == ["Drama"]
        statuses = {v.version: v.status for v in repo.versions("film")}
        assert statuses == {1: "superseded", 2: "ready"}
        analysis = repo.analysis("film")
        assert analysis.version == 2 and analysis.content_hash == second.content_hash
        assert repo.analysis("film", version=1).content_hash == first.content_hash
        src = Path(repo.current_version("film").source_path)
    assert src.is_file() and src.parent == settings.media_dir
    for shot in analysis.shots:
        for kf in shot.keyframes:
            assert (settings.data_dir / kf).is_file()


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda d: d / "missing.mp4", "not found"),
        (lambda d: _write(d / "empty.mp4", b""), "empty"),
        (lambda d: _write(d / "text.mp4", b"hello, I am not a film\n" * 100), "corrupt|not a media file|cannot"),
    ],
)
def test_bad_files_leave_nothing(tmp_path: Path, settings, make, message: str) -> None:  # type: ignore[no-untyped-def]
    from genperso.ingest import ingest_title

    with pytest.raises(MediaError, match=message):
        ingest_title(make(tmp_path), title_id="bad")
    assert _counts() == {"titles": 0, "versions": 0, "analyses": 0}


def test_truncated_and_audio_only_leave_nothing(films: dict[str, Path], tmp_path: Path, settings) -> None:  # type: ignore[no-untyped-def]
    from genperso.ingest import ingest_title

    truncated = _write(tmp_path / "t.mp4", films["a"].read_bytes()[: films["a"].stat().st_size // 3])
    with pytest.raises(MediaError):
        ingest_title(truncated, title_id="t")
    audio_only = make_tone(tmp_path / "a.wav", duration=2.0)
    with pytest.raises(MediaError, match="no video stream"):
        ingest_title(audio_only, title_id="t")
    assert _counts() == {"titles": 0, "versions": 0, "analyses": 0}


def test_meta_and_id_validation(films: dict[str, Path], settings) -> None:  # type: ignore[no-untyped-def]
    from genperso.ingest import ingest_title

    with pytest.raises(InvalidInput, match="invalid title id"):
        ingest_title(films["a"], title_id="../../x")
    with pytest.raises(InvalidInput, match="maturity_rating"):
        ingest_title(films["a"], title_id="m", meta={"maturity_rating": "XXX"})
    with pytest.raises(InvalidInput, match="unknown metadata fields: colour"):
        ingest_title(films["a"], title_id="m", meta={"colour": "red"})
    assert _counts()["titles"] == 0


def test_cli_ingest_list_and_show(films: dict[str, Path], tmp_path: Path, settings) -> None:  # type: ignore[no-untyped-def]
    meta = tmp_path / "meta.json"
    meta.write_text(json.dumps(META))
    run = lambda *a: subprocess.run([sys.executable, "-m", "genperso.cli", *a], capture_output=True, text=True)  # noqa: E731
    p = run("ingest", str(films["a"]), "--title-id", "cli-film", "--meta", str(meta), "--json")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["status"] == "new"
    p = run("titles", "list", "--json")
    rows = json.loads(p.stdout)
    assert rows[0]["id"] == "cli-film" and rows[0]["status"] == "ready" and rows[0]["shots"] >= 3
    p = run("analysis", "show", "cli-film", "--json")
    data = json.loads(p.stdout)
    assert data["title"]["name"] == META["name"]
    assert len(data["shots"]) >= 3 and {"start", "end", "motion", "keyframes"} <= set(data["shots"][0])
    assert "beats" in data["audio"] and data["audio"]["integrated_lufs"] is not None
    bad_meta = tmp_path / "bad.json"
    bad_meta.write_text("{not json")
    p = run("ingest", str(films["a"]), "--title-id", "x", "--meta", str(bad_meta))
    assert p.returncode == 2 and "not valid JSON" in p.stderr


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path
