"""Playlist titles: clean-up, filters, ranking, safety and fallback with deterministic inputs; one
slow test with the real SmolLM2."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from genperso.angles.catalog import get_angle
from genperso.errors import GenPersoError, InvalidInput
from genperso.generators import titles as titles_mod
from genperso.generators.base import GenerationRequest
from genperso.generators.titles import TitlesConfig, TitlesGenerator, generate_titles, rank_titles
from genperso.generators.titles_text import (
    MAX_CHARS,
    build_messages,
    clean_title,
    make_brief,
    near_duplicate_key,
    reject_reason,
    template_titles,
)
from genperso.models.lm import Sample


@dataclass(frozen=True)
class CleanCase:
    raw: str
    clean: str
    reason: str | None


CLEAN_CASES = [
    CleanCase('"Full Throttle Sunrise"', "Full Throttle Sunrise", None),
    CleanCase("Title: Midnight Clues\nmore text", "Midnight Clues", None),
    CleanCase("1. dawn patrol beats", "Dawn Patrol Beats", None),
    CleanCase("Run Wild 🔥🏃", "Run Wild", None),
    CleanCase("Enerde-the-speed (Note: this", "Enerde-the-speed", None),
    CleanCase("A Morning Run, Action, Adventure And A Very Long Tail", "A Morning Run, Action, Adventure And A Very Long Tail",
              f"longer than {MAX_CHARS} characters"),
    CleanCase("Love Love Songs", "Love Love Songs", "repeated word"),
    CleanCase("Here is your playlist title", "Here is your playlist title", "echoes the prompt"),
    CleanCase("Быстрый бег утром", "Быстрый бег утром", "not mostly Latin letters"),
    CleanCase("Ride Into the", "Ride Into the", "unfinished"),
    CleanCase("   ", "", "empty"),
    CleanCase("Go", "Go", "too short"),
    CleanCase("Action Run; Action Fight", "Action Run; Action Fight", "a list, not a title"),
    CleanCase("Mystery 125 BPM", "Mystery 125 BPM", "echoes the prompt"),
]


@pytest.mark.parametrize("case", CLEAN_CASES, ids=lambda c: c.raw[:20])
def test_clean_and_reject(case: CleanCase) -> None:
    assert clean_title(case.raw) == case.clean
    assert reject_reason(case.clean) == case.reason


def test_near_duplicate_key_ignores_case_order_and_stopwords() -> None:
    assert near_duplicate_key("The Night Run") == near_duplicate_key("run night")
    assert near_duplicate_key("Night Run") != near_duplicate_key("Night Ride")


def _brief(angle: str = "action", **ctx: Any):
    return make_brief(get_angle(angle), {"hour": 7, "activity": "morning run", "device": "mobile", **ctx},
                      [{"genres": ["rock", "metal"], "tempo_bpm": 160, "energy": 0.9}])


def test_brief_prompt_and_templates() -> None:
    b = _brief()
    text = b.describe()
    assert "morning run" in text and "rock" in text and "160 BPM" in text and "high-energy" in text
    msgs = build_messages(b)
    assert msgs[0]["role"] == "system" and msgs[-1] == {"role": "user", "content": text}
    tmpl = template_titles(b)
    assert len(tmpl) >= 4 and all(len(t) <= MAX_CHARS and reject_reason(t) is None for t in tmpl)
    with pytest.raises(InvalidInput, match="unknown context keys"):
        make_brief(get_angle("action"), {"mood": "happy"})
    with pytest.raises(InvalidInput, match="hour"):
        make_brief(get_angle("action"), {"hour": 30})


def _fake_embed(texts: list[str]) -> np.ndarray:
    """Bag of letters: deterministic, unit-norm; texts sharing words with the brief score higher."""
    out = np.zeros((len(texts), 64), dtype=np.float32)
    for i, t in enumerate(texts):
        for w in re.findall(r"[a-z]+", t.lower()):
            out[i, hash(w) % 64] += 1.0
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)


def test_rank_prefers_brief_words_and_drops_near_duplicates() -> None:
    cfg = TitlesConfig(near_duplicate_cos=0.99)
    ranked = rank_titles("speed adrenaline morning run", ["Velvet Lounge", "Morning Run Speed", "Morning Run Speed!"],
                         [-1.0, -1.0, -1.0], cfg, embed_fn=_fake_embed)
    assert ranked[0][0].startswith("Morning Run Speed") and ranked[-1][0] == "Velvet Lounge"
    assert len(ranked) == 2  # the '!' variant has the same bag of words: a near-duplicate


class FakeLM:
    """An adapter with the LanguageModel interface returning fixed samples (no model)."""

    revision = "fake-lm@0"

    def __init__(self, texts: list[str]) -> None:
        self.texts = texts
        self.calls: list[tuple[int, int]] = []

    def prompt(self, messages: list[dict[str, str]]) -> str:
        return "\n".join(m["content"] for m in messages)

    def sample(self, prompt: str, *, n: int, seed: int, **_: Any) -> list[Sample]:
        self.calls.append((n, seed))
        return [Sample(self.texts[i % len(self.texts)], -1.5, not self.texts[i % len(self.texts)].endswith("..."))
                for i in range(n)]


@dataclass
class FakeVerdict:
    decision: str
    reasons: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"decision": self.decision, "reasons": list(self.reasons)}


def _fake_safety(texts: list[str], *, profile: str, brand: str | None) -> list[FakeVerdict]:
    def decide(t: str) -> FakeVerdict:
        low = t.lower()
        if "kill" in low:
            return FakeVerdict("block", ("violence",))
        if "blood" in low:
            return FakeVerdict("review", ("violence?",))
        return FakeVerdict("allow")
    return [decide(t) for t in texts]


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(titles_mod, "safety_check", _fake_safety)
    import genperso.models.embed as embed_mod

    monkeypatch.setattr(embed_mod, "embed", _fake_embed)


def test_filter_rank_and_safety_with_fake_model(fakes: None) -> None:
    lm = FakeLM(["Morning Run Speed", "Kill Them All Morning", "Blood Rush Run", "Morning Run Speed",
                 "An Extremely Long Title That Goes On And On Forever", "Adrenaline Sunrise Sprint", "Dawn Ri..."])
    res = generate_titles(_brief(), n=5, seed=7, lm=lm)
    texts = [c.text for c in res.candidates]
    assert "Kill Them All Morning" not in texts  # blocked: never returned
    assert len(texts) == len(set(texts)) and all(len(t) <= MAX_CHARS for t in texts)
    assert texts[-1] == "Blood Rush Run" and not res.candidates[-1].servable  # review: last, not servable
    assert all(c.servable for c in res.candidates[:-1]) and not res.fallback
    reasons = {r["reason"] for r in res.rejected}
    assert {"safety: block", "duplicate", f"longer than {MAX_CHARS} characters", "cut at the token or length limit"} <= reasons
    assert res.candidates[0].score >= res.candidates[1].score
    assert lm.calls == [(TitlesConfig().samples, 7)] and res.model_revisions["lm"] == "fake-lm@0" and res.prompt_hash


def test_fallback_to_templates_when_nothing_passes(fakes: None) -> None:
    lm = FakeLM(["Kill Kill Kill", "Здравствуй мир", "Here is a playlist title for you"])
    res = generate_titles(_brief(), n=3, seed=0, lm=lm)
    assert res.fallback and len(res.candidates) == 3
    assert all(c.fallback and c.source == "template" and c.servable for c in res.candidates)
    assert set(c.text for c in res.candidates) <= set(template_titles(_brief()))


def test_missing_safety_package_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "safety", None)  # import safety -> ImportError
    with pytest.raises(GenPersoError, match="safety package is not importable"):
        titles_mod.safety_check(["Morning Run"], profile="adult", brand=None)


def test_generator_writes_record(fakes: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lm = FakeLM(["Morning Run Speed", "Adrenaline Sunrise Sprint", "Rock the Dawn"])
    import genperso.models.lm as lm_mod

    monkeypatch.setattr(lm_mod, "get_lm", lambda: lm)
    req = GenerationRequest(angle=get_angle("action"), out_dir=tmp_path / "o", seed=3,
                            params={"n": 2, "context": {"hour": 7, "activity": "morning run"}})
    out = TitlesGenerator().generate(req)
    assert len(out.candidates) == 2 and out.candidates[0].text
    rec = out.candidates[0].record
    assert rec["seed"] == 3 and rec["model_revisions"]["lm"] == "fake-lm@0" and rec["verdict"]["decision"] == "allow"
    assert set(rec["parts"]) == {"similarity", "fluency", "length"}
    saved = json.loads((tmp_path / "o" / "titles.json").read_text())
    assert saved["candidates"][0]["text"] == out.candidates[0].text


def test_real_safety_blocks_unsafe_candidates(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("safety")
    import genperso.models.embed as embed_mod

    monkeypatch.setattr(embed_mod, "embed", _fake_embed)
    lm = FakeLM(["Kill Them All Tonight", "Morning Run Speed", "Sunrise Sprint Mix"])
    res = generate_titles(_brief(), n=5, seed=0, lm=lm)
    assert "Kill Them All Tonight" not in [c.text for c in res.candidates]
    assert any(r["reason"] == "safety: block" for r in res.rejected)
    assert res.candidates and res.candidates[0].verdict["decision"] == "allow"


def test_cli_errors() -> None:
    exe = [sys.executable, "-m", "genperso.cli", "generate", "titles"]
    bad_json = subprocess.run([*exe, "--angle", "action", "--context", "{hour: 7"], capture_output=True, text=True,
                              timeout=120)
    assert bad_json.returncode == 2 and "not valid JSON" in bad_json.stderr and "Traceback" not in bad_json.stderr
    bad_angle = subprocess.run([*exe, "--angle", "western-noir"], capture_output=True, text=True, timeout=120)
    assert bad_angle.returncode == 2 and "unknown angle" in bad_angle.stderr


@pytest.fixture(scope="session")
def lm_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("lm-cache")


@pytest.mark.slow
def test_real_smollm2_generates_a_valid_title(lm_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from genperso.config import reset_settings
    from genperso.models import lm as lm_mod

    monkeypatch.setenv("GENPERSO_MODEL_CACHE_DIR", str(lm_cache))
    reset_settings()
    lm_mod._load.cache_clear()
    lm = lm_mod.get_lm()
    assert (lm_cache / lm_mod.DEFAULT_LM_DIRNAME / "model.safetensors").exists()
    assert lm.revision.startswith("smollm2-135m-instruct@")
    res = generate_titles(_brief(), n=3, seed=1, lm=lm, config=TitlesConfig(samples=8))
    model_titles = [c for c in res.candidates if c.source == "model"]
    assert model_titles, res.rejected
    assert all(len(c.text) <= MAX_CHARS for c in res.candidates)


@pytest.mark.slow
def test_real_smollm2_prefix_cache_and_length_stop(lm_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Reusing the KV cache of the shared prompt head gives the same samples as prefilling the whole
    prompt; samples that outgrow ``max_chars`` stop early and come back marked incomplete."""
    from genperso.config import reset_settings
    from genperso.models import lm as lm_mod

    monkeypatch.setenv("GENPERSO_MODEL_CACHE_DIR", str(lm_cache))
    reset_settings()
    lm = lm_mod.get_lm()
    msgs = build_messages(_brief())
    prompt, head = lm.prompt(msgs), lm.prompt_prefix(msgs[:-1])
    assert prompt.startswith(head) and len(head) < len(prompt)
    plain = lm.sample(prompt, n=6, seed=5, max_new_tokens=10)
    cached = lm.sample(prompt, n=6, seed=5, max_new_tokens=10, prefix=head)
    again = lm.sample(prompt, n=6, seed=5, max_new_tokens=10, prefix=head)  # served from the prefix cache
    assert [s.text for s in plain] == [s.text for s in cached] == [s.text for s in again]
    assert np.allclose([s.mean_logprob for s in plain], [s.mean_logprob for s in cached], atol=1e-3)
    short = lm.sample(prompt, n=6, seed=5, max_new_tokens=10, prefix=head, max_chars=8)
    for s in short:
        if s.complete:  # ended on its own before outgrowing the limit
            assert len(s.text.strip()) <= 8
        else:
            assert len(s.text.strip()) > 8 or len(lm.tokenizer.encode(s.text, add_special_tokens=False)) >= 10
    assert any(not s.complete and len(s.text.strip()) > 8 for s in short)
