"""Remixes on the serving path: no tracks named, so the generator picks library tracks that reach the
angle's (or the activity's) tempo within the stretch limits; the library is part of the asset key."""

from __future__ import annotations

from pathlib import Path

import pytest

from genperso.errors import InvalidInput
from media import make_clicks


@pytest.fixture
def library(tmp_path: Path, settings) -> dict[str, float]:  # type: ignore[no-untyped-def]
    from genperso.music import ingest_music

    bpms = {"slow-100": 100.0, "mid-140": 140.0, "fast-170": 170.0}
    for tid, bpm in bpms.items():
        ingest_music(make_clicks(tmp_path / f"{tid}.wav", bpm=bpm, duration=16.0, stereo=True), track_id=tid)
    return bpms


def test_pick_tracks_that_reach_the_target(library: dict[str, float]) -> None:
    from genperso.generators.remix import pick_library_tracks

    # with a tight stretch limit only the track at (a metrical level of) the target tempo qualifies
    assert pick_library_tracks((160.0, 180.0), energy=0.9, limits=(0.9, 1.12), n=3) == ["fast-170"]
    assert pick_library_tracks((130.0, 150.0), energy=0.9, limits=(0.9, 1.12), n=3) == ["mid-140"]
    # with the default limits 100 BPM reaches 165 at double time (ratio 0.825)
    assert set(pick_library_tracks((150.0, 180.0), energy=0.9, limits=(0.8, 1.25), n=3)) == set(library)
    with pytest.raises(InvalidInput, match="no track that reaches"):
        pick_library_tracks((230.0, 240.0), energy=0.5, limits=(0.95, 1.05))


def test_explicit_tracks_only_for_adults(library: dict[str, float]) -> None:
    from genperso.catalog import session_scope
    from genperso.catalog.titles import MusicRepo
    from genperso.generators.remix import pick_library_tracks

    with session_scope() as s:
        MusicRepo(s).get("fast-170").explicit = True
    assert "fast-170" in pick_library_tracks((160.0, 175.0), 0.9, (0.8, 1.25), n=3, maturity="adult")
    assert "fast-170" not in pick_library_tracks((160.0, 175.0), 0.9, (0.8, 1.25), n=3, maturity="kids")


def test_generator_without_tracks_and_library_in_key(library: dict[str, float], tmp_path: Path) -> None:
    from genperso.angles.catalog import get_angle
    from genperso.generators.base import GenerationRequest
    from genperso.generators.remix import RemixGenerator, _fingerprint_cache
    from genperso.music import ingest_music

    gen = RemixGenerator()
    before = gen.model_revisions()["music_library"]
    out = gen.generate(GenerationRequest(angle=get_angle("action"), out_dir=tmp_path / "out",
                                         params={"context": {"activity": "morning run"}, "maturity": "teen"}))
    rec = out.candidates[0].record
    used = {s["track"] for s in rec["sources"]}
    assert used and used <= {"mid-140", "fast-170"}
    assert 150.0 <= rec["target_bpm"] <= 180.0
    assert Path(out.candidates[0].files["remix.m4a"]).stat().st_size > 0
    ingest_music(make_clicks(tmp_path / "new.wav", bpm=120.0, duration=8.0), track_id="new-120")
    _fingerprint_cache.clear()
    assert gen.model_revisions()["music_library"] != before
