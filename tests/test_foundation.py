"""Foundation: value types, settings, catalog auto-migration, probing, angle catalog, sample guard."""

from __future__ import annotations

import io
import math
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa

from genperso.errors import InvalidInput, MediaError, NotFound
from genperso.types import (
    AssetKey,
    Context,
    FaceBox,
    Shot,
    StreamInfo,
    TitleAnalysis,
    as_unit_vector,
    validate_id,
)
from media import Segment, make_film, make_tone


@dataclass(frozen=True)
class IdCase:
    value: str
    ok: bool


ID_CASES = [
    IdCase("big-buck-bunny", True),
    IdCase("t1.v2_final", True),
    IdCase("../etc/passwd", False),
    IdCase("a/b", False),
    IdCase("..", False),
    IdCase("", False),
    IdCase(".hidden", False),
    IdCase("x" * 129, False),
    IdCase("name with space", False),
]


@pytest.mark.parametrize("case", ID_CASES, ids=lambda c: repr(c.value[:20]))
def test_validate_id(case: IdCase) -> None:
    if case.ok:
        assert validate_id(case.value) == case.value
    else:
        with pytest.raises(InvalidInput, match="invalid"):
            validate_id(case.value)


def test_unit_vector_validation() -> None:
    v = as_unit_vector([3.0, 4.0], 2)
    assert v.dtype == np.float32 and math.isclose(float(np.linalg.norm(v)), 1.0, rel_tol=1e-6)
    with pytest.raises(InvalidInput, match="dimension 3, expected 2"):
        as_unit_vector([1, 2, 3], 2)
    with pytest.raises(InvalidInput, match="NaN"):
        as_unit_vector([1.0, float("nan")], 2)
    with pytest.raises(InvalidInput, match="NaN or infinite"):
        as_unit_vector([1.0, float("inf")], 2)
    with pytest.raises(InvalidInput, match="all zeros"):
        as_unit_vector([0.0, 0.0], 2)
    with pytest.raises(InvalidInput, match="list of numbers"):
        as_unit_vector(["a", "b"], 2)


def test_context_validation() -> None:
    assert Context(hour=21.5, device="mobile", maturity="kids").device == "mobile"
    for bad in ({"hour": 24}, {"hour": -1}, {"weekday": 7}, {"device": "fridge"}, {"maturity": "toddler"}):
        with pytest.raises(InvalidInput):
            Context(**bad)  # type: ignore[arg-type]


def test_asset_key_is_a_content_address() -> None:
    base = AssetKey("h" * 64, "action", "artwork", {"format": "16:9"}, "artwork", "1", {"candidates": 4}, {"m": "r"}, "p1")
    same = AssetKey("h" * 64, "action", "artwork", {"format": "16:9"}, "artwork", "1", {"candidates": 4}, {"m": "r"}, "p1")
    assert base.digest == same.digest and len(base.digest) == 64
    variants = [
        AssetKey("g" * 64, "action", "artwork", {"format": "16:9"}, "artwork", "1", {"candidates": 4}, {"m": "r"}, "p1"),
        AssetKey("h" * 64, "romance", "artwork", {"format": "16:9"}, "artwork", "1", {"candidates": 4}, {"m": "r"}, "p1"),
        AssetKey("h" * 64, "action", "artwork", {"format": "2:3"}, "artwork", "1", {"candidates": 4}, {"m": "r"}, "p1"),
        AssetKey("h" * 64, "action", "artwork", {"format": "16:9"}, "artwork", "2", {"candidates": 4}, {"m": "r"}, "p1"),
        AssetKey("h" * 64, "action", "artwork", {"format": "16:9"}, "artwork", "1", {"candidates": 5}, {"m": "r"}, "p1"),
        AssetKey("h" * 64, "action", "artwork", {"format": "16:9"}, "artwork", "1", {"candidates": 4}, {"m": "s"}, "p1"),
        AssetKey("h" * 64, "action", "artwork", {"format": "16:9"}, "artwork", "1", {"candidates": 4}, {"m": "r"}, "p2"),
    ]
    assert len({v.digest for v in variants} | {base.digest}) == len(variants) + 1


def test_title_analysis_roundtrip() -> None:
    stream = StreamInfo(duration=10.0, width=320, height=180, fps=25.0, video_codec="h264", has_audio=True)
    shot = Shot(index=0, start=0.0, end=4.0, keyframes=("a.jpg",), faces=(FaceBox(0.1, 0.2, 0.3, 0.4),), face_count=1)
    ta = TitleAnalysis("t", 1, "abc", stream, (shot, Shot(index=1, start=4.0, end=10.0)))
    back = TitleAnalysis.from_dict(ta.to_dict())
    assert back == ta
    assert isinstance(back.shots[0].faces[0], FaceBox) and back.shots[0].faces[0].area == pytest.approx(0.12)


def test_settings_env_prefix_and_paths(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from genperso.config import get_settings, reset_settings

    monkeypatch.setenv("GENPERSO_DATA_DIR", str(tmp_path / "d"))
    monkeypatch.setenv("GENPERSO_MAX_DURATION_S", "120")
    reset_settings()
    s = get_settings()
    assert s.data_dir == (tmp_path / "d").resolve()
    assert s.max_duration_s == 120
    assert s.db_url.startswith("sqlite:///") and s.embedded
    assert (tmp_path / "d" / "analysis").is_dir()


def test_catalog_adds_missing_columns(settings) -> None:  # type: ignore[no-untyped-def]
    """An older database without a newer column is migrated in place, data kept."""
    db = settings.data_dir / "old.sqlite3"
    eng = sa.create_engine(f"sqlite:///{db}")
    with eng.begin() as c:
        c.execute(sa.text("CREATE TABLE titles (id VARCHAR(128) PRIMARY KEY, name VARCHAR(512))"))
        c.execute(sa.text("INSERT INTO titles (id, name) VALUES ('old', 'Old title')"))
    eng.dispose()
    from genperso.catalog import init_db

    eng = sa.create_engine(f"sqlite:///{db}")
    init_db(eng)
    cols = {c["name"] for c in sa.inspect(eng).get_columns("titles")}
    assert {"synopsis", "genres", "serving_policy", "current_version"} <= cols
    with eng.connect() as c:
        assert c.execute(sa.text("SELECT name FROM titles WHERE id='old'")).scalar() == "Old title"
    init_db(eng)  # idempotent
    eng.dispose()


def test_title_repo_not_found(settings) -> None:  # type: ignore[no-untyped-def]
    from genperso.catalog import session_scope
    from genperso.catalog.titles import TitleRepo

    with session_scope() as s:
        with pytest.raises(NotFound, match="unknown title id 'nope'"):
            TitleRepo(s).get("nope")


# ---------------------------------------------------------------------------------------------
# probing
# ---------------------------------------------------------------------------------------------


def test_probe_stream_facts(tmp_path: Path) -> None:
    from genperso.media.probe import probe

    film = tmp_path / "f.mp4"
    make_film(film, [Segment("testsrc", 1.5), Segment("color", 1.5, color="blue")], channels=6)
    info = probe(film)
    assert info.width == 320 and info.height == 180 and info.fps == pytest.approx(25.0)
    assert info.duration == pytest.approx(3.0, abs=0.1)
    assert info.has_audio and info.audio_channels == 6 and info.audio_layout == "5.1"
    for seconds in (2.2, 2.5, 2.9):  # short files were once wrongly taken for truncated ones
        short = tmp_path / f"short{seconds}.mp4"
        make_film(short, [Segment("testsrc", seconds)])
        assert probe(short).duration == pytest.approx(seconds, abs=0.1)
    silent = tmp_path / "s.mp4"
    make_film(silent, [Segment("testsrc", 1.0)], audio=False)
    s = probe(silent)
    assert not s.has_audio and s.audio_channels == 0 and s.audio_codec is None


def test_probe_bad_inputs(tmp_path: Path) -> None:
    from genperso.media.probe import probe

    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(MediaError, match="empty"):
        probe(empty)
    with pytest.raises(MediaError, match="not found"):
        probe(tmp_path / "missing.mp4")
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 50)
    with pytest.raises(MediaError, match="corrupt|not a media file|cannot open"):
        probe(text)
    audio = make_tone(tmp_path / "tone.wav", duration=1.0)
    with pytest.raises(MediaError, match="no video stream"):
        probe(audio)
    film = tmp_path / "long.mp4"
    make_film(film, [Segment("testsrc", 6.0)])
    truncated = tmp_path / "trunc.mp4"
    truncated.write_bytes(film.read_bytes()[: film.stat().st_size // 3])
    with pytest.raises(MediaError):
        probe(truncated)


def test_validate_video_limits() -> None:
    from genperso.media.probe import validate_video

    ok = StreamInfo(duration=10.0, width=1280, height=720, fps=24.0, video_codec="h264")
    validate_video(ok, max_duration=60, max_width=4096, max_height=4096)
    cases = [
        (StreamInfo(duration=100.0, width=1280, height=720, fps=24.0, video_codec="h264"), "limit is 60"),
        (StreamInfo(duration=10.0, width=20000, height=720, fps=24.0, video_codec="h264"), "limit is 4096x4096"),
        (StreamInfo(duration=10.0, width=8, height=8, fps=24.0, video_codec="h264"), "too small"),
        (StreamInfo(duration=0.0, width=1280, height=720, fps=24.0, video_codec="h264"), "no usable duration"),
        (StreamInfo(duration=10.0, width=1280, height=720, fps=0.0, video_codec="h264"), "frame rate"),
    ]
    for info, msg in cases:
        with pytest.raises(MediaError, match=msg):
            validate_video(info, max_duration=60, max_width=4096, max_height=4096)


# ---------------------------------------------------------------------------------------------
# angles catalog
# ---------------------------------------------------------------------------------------------


def test_default_angles_file() -> None:
    from genperso.angles.catalog import load_angles

    cat = load_angles()
    assert len(cat) >= 8
    assert {"action", "romance", "comedy", "suspense", "family", "spectacle", "mystery", "drama"} <= set(cat.ids)
    for a in cat:
        assert a.description and a.style.weights, a.id
        lo, hi = a.style.tempo_bpm
        assert 40 <= lo <= hi <= 240
    with pytest.raises(NotFound, match="unknown angle 'nope'"):
        cat.get("nope")


def test_angles_file_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from genperso.angles.catalog import load_angles

    bad = tmp_path / "a.toml"
    bad.write_text("[[angle]]\nid = 'x'\nname = 'X'\n")
    with pytest.raises(InvalidInput, match="misses the field 'description'"):
        load_angles(bad)
    bad.write_text("[[angle]\n")
    with pytest.raises(InvalidInput, match="not valid TOML"):
        load_angles(bad)
    bad.write_text("[[angle]]\nid='x'\nname='X'\ndescription='d'\n[angle.style.weights]\nwobble=1.0\n")
    with pytest.raises(InvalidInput, match="unknown weight keys"):
        load_angles(bad)


# ---------------------------------------------------------------------------------------------
# sample film guard and CLI errors
# ---------------------------------------------------------------------------------------------


def test_sample_refuses_a_tampered_sdist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings) -> None:  # type: ignore[no-untyped-def]
    from genperso.sample import fetch_sample_film

    fake = tmp_path / "moviepy-2.2.1.tar.gz"
    with tarfile.open(fake, "w:gz") as tar:
        data = b"not the film"
        info = tarfile.TarInfo("moviepy-2.2.1/README")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    monkeypatch.setenv("GENPERSO_SAMPLE_SDIST", str(fake))
    with pytest.raises(MediaError, match="checksum mismatch"):
        fetch_sample_film(settings)
    assert not (settings.data_dir / "samples" / "big_buck_bunny" / "bbb.mp4").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["ingest", "/nonexistent/film.mp4", "--title-id", "x"], "file not found"),
        (["ingest", "/etc/hostname", "--title-id", "../../etc"], "invalid title id"),
        (["analysis", "show", "nope"], "unknown title id"),
    ],
)
def test_cli_errors_are_one_line(args: list[str], message: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "genperso.cli", *args], capture_output=True, text=True)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
