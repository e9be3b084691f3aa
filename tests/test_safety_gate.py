"""The gate: best-first choice, nothing blocked chosen, review queue, audit records, CLI."""

from __future__ import annotations

import io
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from genperso.catalog import session_scope
from genperso.catalog.safety import SafetyRepo
from genperso.errors import InvalidInput
from genperso.generators.base import Candidate
from safety import gate, policy_version
from safety.policy import reset_policy


def _text(rank: int, text: str) -> Candidate:
    return Candidate(rank=rank, score=1.0 - rank / 10, files={}, record={"seed": rank}, text=text)


def test_gate_picks_next_best_when_first_is_blocked() -> None:
    res = gate("titles", [_text(0, "Shut the F*** Up Workout"), _text(1, "Kill It At The Gym"),
                          _text(2, "Sunday Morning Coffee")], profile="kids", title_id="bbb")
    assert res.decision == "allow"
    assert res.chosen is not None and res.chosen.rank == 1
    assert [r for r, _ in res.verdicts] == [0, 1]  # stops at the first allowed candidate
    assert res.verdicts[0][1].decision == "block"
    assert res.review_id is None
    assert res.policy_version == policy_version()
    with session_scope() as s:
        rows = SafetyRepo(s).decisions(gate_id=res.gate_id)
    assert sorted((r.candidate_rank, r.decision, r.chosen) for r in rows) == [(0, "block", False), (1, "allow", True)]
    blocked = next(r for r in rows if r.candidate_rank == 0)
    assert blocked.scores["profanity"] >= 0.9 and blocked.profile == "kids" and blocked.title_id == "bbb"
    assert blocked.models["alt-profanity-check"] and blocked.reasons and blocked.kind == "titles"
    assert json.dumps(res.to_dict())


def test_all_blocked_goes_to_review_queue_and_nothing_is_chosen() -> None:
    cands = [_text(1, "Snorting cocaine in the club"), _text(0, "Go f u c k yourself")]
    res = gate("titles", cands, profile="adult", brand="sunnyside")
    assert res.decision == "block" and res.chosen is None and res.chosen_verdict is None
    assert all(v.decision == "block" for _, v in res.verdicts)
    assert [r for r, _ in res.verdicts] == [0, 1]  # best rank first, whatever the input order
    with session_scope() as s:
        repo = SafetyRepo(s)
        item = repo.get_review(res.review_id)  # type: ignore[arg-type]
        assert item.status == "pending" and item.decision == "block" and item.brand == "sunnyside"
        assert [c["rank"] for c in item.candidates] == [0, 1]
        assert item.candidates[0]["verdict"]["label"] == "profanity"
        assert [r.id for r in repo.reviews()] == [res.review_id]
        assert len(repo.decisions(gate_id=res.gate_id)) == 2
        repo.resolve(item.id, status="rejected", by="tester", note="both unusable")
    with session_scope() as s:
        assert SafetyRepo(s).reviews() == []


def test_review_is_not_served_unless_policy_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cands = [_text(0, "Fucking awesome party")]  # strong profanity: adult -> review
    res = gate("titles", cands, profile="adult")
    assert res.decision == "review" and res.chosen is None and res.review_id
    src = (Path(__file__).resolve().parents[1] / "assets" / "safety_policy.toml").read_text()
    custom = tmp_path / "p.toml"
    custom.write_text(src.replace("[profiles.adult]\nreview_servable = false",
                                  "[profiles.adult]\nreview_servable = true"))
    monkeypatch.setenv("GENPERSO_SAFETY_POLICY", str(custom))
    reset_policy()
    res2 = gate("titles", cands, profile="adult")
    assert res2.decision == "review" and res2.chosen is not None and res2.review_id is None
    assert res2.policy_version != res.policy_version


def test_artwork_gate_skips_black_and_missing_images(tmp_path: Path) -> None:
    black = tmp_path / "black.png"
    Image.fromarray(np.zeros((90, 160, 3), np.uint8)).save(black)
    good = tmp_path / "good.png"
    rng = np.random.default_rng(0)
    Image.fromarray(np.clip(rng.normal(120, 40, (90, 160, 3)), 0, 255).astype(np.uint8)).save(good)
    cands = [
        Candidate(0, 0.9, {"art.png": str(black)}, {}),
        Candidate(1, 0.8, {"art.png": str(tmp_path / "gone.png")}, {}),
        Candidate(2, 0.7, {"art.png": str(good)}, {}),
    ]
    res = gate("artwork", cands, profile="teen", record=False)
    assert res.chosen is not None and res.chosen.rank == 2
    assert res.verdicts[0][1].label == "blank"
    assert res.verdicts[1][1].decision == "block" and "not found" in res.verdicts[1][1].reasons[0]
    with session_scope() as s:
        assert SafetyRepo(s).decisions() == []  # record=False writes nothing


def test_remix_and_trailer_kinds(tmp_path: Path) -> None:
    explicit = Candidate(0, 1.0, {}, {"tracks": [{"id": "a", "explicit": True}]})
    clean = Candidate(1, 0.9, {}, {"tracks": [{"id": "b", "explicit": False, "title": "Morning Light"}]})
    res = gate("remix", [explicit, clean], profile="kids")
    assert res.chosen is not None and res.chosen.rank == 1
    no_video = Candidate(0, 1.0, {"poster.png": str(tmp_path / "x.png")}, {})
    res2 = gate("trailer", [no_video], profile="adult")
    assert res2.decision == "block" and res2.chosen is None and res2.review_id
    with pytest.raises(InvalidInput, match="unknown asset kind"):
        gate("poster", [explicit])
    with pytest.raises(InvalidInput, match="unknown safety profile"):
        gate("titles", [explicit], profile="grownups")


@dataclass(frozen=True)
class CliResult:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    """Run ``genperso safety ...`` through the real entry point in-process (models stay loaded)."""
    from genperso.cli import main

    def run(*args: str, stdin: str = "") -> CliResult:
        monkeypatch.setattr(sys, "argv", ["genperso", "safety", *args])
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        capsys.readouterr()
        code = 0
        try:
            main()
        except SystemExit as exc:
            code = int(exc.code or 0)
        out = capsys.readouterr()
        return CliResult(code, out.out, out.err)

    return run


def test_cli_check_text_and_image(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    _cli = cli
    r = _cli("check-text", "Kill It At The Gym", "sh1t happens", "--profile", "kids", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert [o["decision"] for o in out] == ["allow", "block"]
    assert out[1]["label"] == "profanity" and out[1]["scores"]["profanity"] >= 0.9 and out[1]["reasons"]
    r = _cli("check-text", "-", "--json", "--brand", "sunnyside", stdin="Cold beer party\nSunny morning\n")
    assert r.returncode == 0, r.stderr
    assert [o["decision"] for o in json.loads(r.stdout)] == ["block", "allow"]
    r = _cli("check-text", "hello", "--profile", "toddler")
    assert r.returncode != 0 and "unknown safety profile" in r.stderr
    img = tmp_path / "black.png"
    Image.fromarray(np.zeros((90, 160, 3), np.uint8)).save(img)
    r = _cli("check-image", str(img), "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)[0]["label"] == "blank"
    r = _cli("check-image", str(tmp_path / "missing.png"))
    assert r.returncode != 0 and "not found" in r.stderr
    bad = tmp_path / "bad.jpg"
    bad.write_text("nope")
    r = _cli("check-image", str(bad), "--json")
    assert r.returncode != 0 and "not a readable image" in r.stderr


def test_remix_sources_use_music_catalog_explicit_flags() -> None:
    from genperso.catalog.titles import MusicTrackRow

    with session_scope() as s:
        s.add(MusicTrackRow(id="dirty-track", title="Night Drive", path="/x.mp3", content_hash="0" * 64,
                            duration=60.0, explicit=True))
        s.add(MusicTrackRow(id="clean-track", title="Morning Light", path="/y.mp3", content_hash="1" * 64,
                            duration=60.0, explicit=False))
    # the remix generator's record layout: "sources" entries name the track id, not its flag
    dirty = Candidate(0, 1.0, {}, {"kind": "remix", "sources": [{"track": "dirty-track", "title": "Night Drive"}]})
    clean = Candidate(1, 0.9, {}, {"kind": "remix", "sources": [{"track": "clean-track", "title": "Morning Light"}]})
    res = gate("remix", [dirty, clean], profile="kids")
    assert res.chosen is not None and res.chosen.rank == 1
    assert any("in the music catalog" in r for r in res.verdicts[0][1].reasons)


def test_artwork_formats_layout_checks_title_box_per_format(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    base = np.clip(rng.normal(120, 30, (180, 320, 3)), 0, 255).astype(np.uint8)
    legible, illegible = base.copy(), base.copy()
    legible[60:120, 40:280] = 10
    legible[80:100, 50:270:5] = 245
    illegible[60:120, 40:280] = 120
    illegible[80:100, 50:270:5] = 128
    files = {}
    for name, arr in (("good", legible), ("bad", illegible)):
        Image.fromarray(arr).save(tmp_path / f"{name}.jpg", quality=95)
        files[name] = str(tmp_path / f"{name}.jpg")

    def cand(rank: int, name: str) -> Candidate:
        fmt = {"files": {"jpg": files[name]}, "title": {"text": "Big Day", "box": [40, 60, 240, 60]}}
        return Candidate(rank, 1.0, {"16x9.jpg": files[name]}, {"formats": {"16x9": fmt}})

    res = gate("artwork", [cand(0, "bad"), cand(1, "good")], profile="adult")
    assert res.verdicts[0][1].label == "legibility" and res.verdicts[0][1].decision == "block"
    assert res.chosen is not None and res.chosen.rank == 1
