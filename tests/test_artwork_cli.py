"""``genperso generate artwork`` against a catalog built directly from rows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from genperso.cli import app
from genperso.cli.gen_artwork import generate_artwork_for_title
from genperso.errors import InvalidInput, NotFound
from media import make_stills_film
from test_artwork import DUR, FRAMES, ORDER, _analysis


@pytest.fixture
def catalog_title(tmp_path: Path, settings) -> str:
    from genperso.catalog import session_scope
    from genperso.catalog.titles import AnalysisRow, TitleRow, TitleVersionRow

    film = tmp_path / "film.mp4"
    make_stills_film(film, [FRAMES[k] for k in ORDER], [DUR] * len(ORDER))
    an = _analysis()
    with session_scope(settings) as s:
        s.add(TitleRow(id="tiny", name="Tiny Film", genres=["Comedy"], current_version=1))
        s.flush()
        s.add(TitleVersionRow(title_id="tiny", version=1, content_hash=an.content_hash, source_path=str(film),
                              size_bytes=film.stat().st_size, stream=an.stream.to_dict(), status="ready"))
        s.add(AnalysisRow(content_hash=an.content_hash, title_id="tiny", version=1, analysis_version="1",
                          n_shots=len(an.shots), data=an.to_dict()))
    return "tiny"


def test_cli_writes_every_candidate_and_record(catalog_title: str, tmp_path: Path) -> None:
    from genperso.logs import configure_logging

    configure_logging()  # as ``main()`` does: logs to stderr, stdout is the JSON record only
    out = tmp_path / "art"
    res = CliRunner().invoke(app, ["generate", "artwork", "--title-id", catalog_title, "--angle", "comedy",
                                   "--candidates", "2", "--out", str(out), "--json"])
    assert res.exit_code == 0, res.output
    printed = json.loads(res.stdout)
    on_disk = json.loads((out / "record.json").read_text())
    assert printed == on_disk
    assert len(on_disk["candidates"]) == 2 and len(on_disk["files"]) == 2 * 4 * 2
    for f in on_disk["files"]:
        assert Path(f["path"]).is_file() and Path(f["path"]).parent.parent == out
        assert {"format", "width", "height", "source_timecode", "crop", "contrast_ratio", "upscaled"} <= set(f)


def test_cli_bad_inputs(catalog_title: str, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="unknown angle"):
        generate_artwork_for_title(catalog_title, "no-such-angle", tmp_path, {})
    with pytest.raises(InvalidInput, match="candidates"):
        generate_artwork_for_title(catalog_title, "comedy", tmp_path, {"candidates": 0})
    with pytest.raises(InvalidInput, match="candidates"):
        generate_artwork_for_title(catalog_title, "comedy", tmp_path, {"candidates": 99})
    with pytest.raises(InvalidInput, match="disabled"):  # generative stage not configured
        generate_artwork_for_title(catalog_title, "comedy", tmp_path, {"restyle": 0.4})
    with pytest.raises(NotFound):
        generate_artwork_for_title("unknown-title", "comedy", tmp_path, {})
    with pytest.raises(InvalidInput):
        generate_artwork_for_title("../etc", "comedy", tmp_path, {})
