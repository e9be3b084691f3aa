"""Text safety: obfuscations, hard negatives, profiles, brand rules, policy file handling."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from genperso.errors import InvalidInput
from safety import check_texts, load_policy, policy_version
from safety.lexicon import resolve_mask, scan
from safety.normalize import normalise
from safety.policy import reset_policy


if TYPE_CHECKING:
    from safety.text import TextClassifier


@dataclass(frozen=True)
class Case:
    text: str
    label: str  # expected worst category


OBFUSCATED = [
    Case("F*** this job", "profanity"),
    Case("sh1t happens", "profanity"),
    Case("f u c k mondays", "profanity"),
    Case("s.h.i.t show", "profanity"),
    Case("fuuuuuck yeah", "profanity"),
    Case("\u0455\u04bb\u0456t just got real", "profanity"),  # Cyrillic homoglyphs
    Case("\u0405\u04ba\u0406T JUST GOT REAL", "profanity"),  # upper-case Cyrillic homoglyphs
    Case("you stupid b!tch", "profanity"),
    Case("\uff26\uff35\uff23\uff2b it", "profanity"),  # fullwidth
    Case("hardcore p0rn mix", "sexual"),
    Case("co-caine lines", "drugs"),
]

HARD_NEGATIVES = [
    "Kill It At The Gym",
    "Killer Workout",
    "Shoot for the Stars",
    "Bomb Dot Com Dance Party",
    "Shoot Your Shot: Basketball Highlights",
    "Breast Cancer Awareness Run",
    "Drugstore Cowboy Dance Mix",
    "Killer Tunes",
]


@pytest.mark.parametrize("case", OBFUSCATED, ids=lambda c: c.text)
def test_obfuscations_are_caught(case: Case) -> None:
    v = check_texts([case.text], profile="kids")[0]
    assert v.decision == "block"
    assert v.label == case.label
    assert v.scores[case.label] >= 0.85


def test_normalise_undoes_obfuscation() -> None:
    assert normalise("f u c k you").words[0] == "fuck"
    assert normalise("sh1t").words == ("shit",)
    assert normalise("f***").masks == ("^f...$",)
    assert normalise("Top 40 Hits 2024").words == ("top", "40", "hits", "2024")
    assert normalise("Dance!!!").words == ("dance",)
    assert not normalise("A Star Is Born").obfuscated
    # numbers with a unit or an ordinal are numbers, not leetspeak
    assert normalise("Jump From the 12th Floor").words == ("jump", "from", "the", "12th", "floor")
    assert normalise("90s Hits at 5am, 1080p").words == ("90s", "hits", "at", "5am", "1080p")


@pytest.mark.parametrize(("text", "resolved", "category"), [
    ("F*** this job", "fuck this job", "profanity"),
    ("S*icide Is the Answer", "suicide is the answer", "self_harm"),  # any category, in its place
    ("buy h*roin here", "buy heroin here", "drugs"),
    ("sh*t happens, f*** it", "shit happens fuck it", "profanity"),
])
def test_masked_words_resolve_in_place(text: str, resolved: str, category: str) -> None:
    hit = scan(normalise(text))
    assert hit.resolved_text == resolved
    assert category in hit.strong or category in hit.weak


@pytest.mark.parametrize("pattern", ["^sh.ll$", "^wh..l$", "^bl.nk$", "^k.ll$", "^h...in$", "^s..c..e$"])
def test_masks_of_innocent_or_mostly_hidden_words_stay_unresolved(pattern: str) -> None:
    # outside profanity/sexual/hate, a word resolves only when at least two thirds of it show
    assert resolve_mask(pattern) is None


@pytest.mark.parametrize("text", HARD_NEGATIVES)
@pytest.mark.parametrize("profile", ["adult", "kids"])
def test_hard_negatives_are_allowed(text: str, profile: str) -> None:
    v = check_texts([text], profile=profile)[0]
    assert v.decision == "allow", v.to_dict()


# words whose innocent sense dominates in playlist names: a tie with the benign anchors is no evidence
AMBIGUOUS_NEGATIVES = [
    "Block Party Jump Starters",
    "Shots on Goal Highlights",
    "Golden Gate Bridge Sunset Piano",
    "Hot Chocolate Winter Playlist",
    "Sniper Elite Soundtrack",
    "High Notes and Good Vibes",
    "Sex and the City Soundtrack",
    "Shots Fired Basketball Mixtape",
    "Kiss from a Rose Covers",
]
# ...while the same words in a harmful context are still flagged
AMBIGUOUS_POSITIVES = [
    Case("Jump Off the Bridge and End the Pain", "self_harm"),
    Case("I Will Jump Tonight, Goodbye Everyone", "self_harm"),
    Case("Women Are Worthless", "hate"),
    Case("Bloody Knife in His Back", "violence"),
    Case("Hot Sexy Bedroom Strip Show", "sexual"),
]


# the zero-shot gate on the stock encoder (no fine-tuned head) is tested on its own below; it has
# more false positives overall than the shipped gate (see safety.text.ZERO_SHOT_WITH_ADAPTER)


@pytest.fixture(scope="module")
def zero_shot() -> "TextClassifier":
    from safety.text import TextClassifier

    clf = TextClassifier(head=False)
    assert clf.zero_shot
    return clf


# the shipped head's known false positive among them, a strict xfail so a fix shows up
_SATC = pytest.mark.xfail(strict=True, reason="fine-tuned head (batch 5): sexual 0.99 on a series title")


@pytest.mark.parametrize("text", [pytest.param(t, marks=_SATC) if t.startswith("Sex and the City") else t
                                  for t in AMBIGUOUS_NEGATIVES])
def test_ambiguous_cues_alone_are_allowed_for_kids(text: str) -> None:
    v = check_texts([text], profile="kids")[0]
    assert v.decision == "allow", v.to_dict()


def test_the_ambiguity_margin_is_what_allows_them(zero_shot: "TextClassifier", monkeypatch: pytest.MonkeyPatch) -> None:
    from safety.lexicon import LexHit

    assert all(max(s.scores.values()) < 0.35 for s in zero_shot.classify_batch(AMBIGUOUS_NEGATIVES))
    monkeypatch.setattr(LexHit, "only_ambiguous", lambda self, category: False)
    assert any(max(s.scores.values()) >= 0.35 for s in zero_shot.classify_batch(AMBIGUOUS_NEGATIVES))


def test_ambiguous_cues_in_a_harmful_context_are_flagged() -> None:
    verdicts = check_texts([c.text for c in AMBIGUOUS_POSITIVES], profile="kids")
    assert [(v.decision, v.label) for v in verdicts] == [("block", c.label) for c in AMBIGUOUS_POSITIVES]


def test_cue_of_one_category_does_not_lower_the_gate_of_another() -> None:
    from safety.base import get_classifier
    from safety.text import analyse_text

    a = analyse_text("Damn Fine Cherry Pie and Coffee")
    assert set(a.lex.weak) == {"profanity"} and not a.lex.only_ambiguous("profanity")
    scores = get_classifier("text").classify("Damn Fine Cherry Pie and Coffee").scores
    assert max(v for k, v in scores.items() if k != "profanity") < 0.35, scores


def test_only_ambiguous_cues() -> None:
    from safety.text import analyse_text

    lex = analyse_text("party shots at the bridge").lex
    assert lex.only_ambiguous("drugs") and lex.only_ambiguous("self_harm")
    assert not analyse_text("stoned at the party").lex.only_ambiguous("drugs")  # "stoned" is not innocent
    assert not analyse_text("party time").lex.only_ambiguous("violence")  # no cue at all


def test_dropped_g_is_restored() -> None:
    from safety.normalize import word_variants
    from safety.text import analyse_text

    assert "killing" in word_variants("killin") and "cabing" not in word_variants("cabin")
    assert "profanity" in analyse_text("Bitchin' Beats").lex.strong
    assert "profanity" in analyse_text("Shut your f-ing mouth").lex.strong  # minced "f-ing"


def test_plain_safe_titles_allowed_and_unsafe_flagged_in_one_batch() -> None:
    texts = ["Sunday Morning Coffee", "I will shoot you in the head", "Let's get high tonight",
             "Nobody would miss me if I was gone", "Naked girls live cam"]
    v = check_texts(texts, profile="adult")
    assert [x.decision for x in v][0] == "allow"
    assert all(x.decision != "allow" for x in v[1:])
    assert [x.label for x in v[1:]] == ["violence", "drugs", "self_harm", "sexual"]
    assert v[1].models["minilm"].startswith("all-MiniLM-L6-v2@")
    assert "alt-profanity-check" in v[1].models


def test_kids_block_what_adult_allows() -> None:
    adult, teen, kids = (check_texts(["Damn Good Workout"], profile=p)[0] for p in ("adult", "teen", "kids"))
    assert adult.decision == "allow" and teen.decision == "allow"
    assert kids.decision == "block"
    assert kids.tier["profanity"] == "medium"
    strong = {p: check_texts(["fucking awesome party"], profile=p)[0].decision for p in ("adult", "teen", "kids")}
    assert strong == {"adult": "review", "teen": "block", "kids": "block"}


def test_brand_rules() -> None:
    base = check_texts(["Cold beer summer party"], profile="adult")[0]
    branded = check_texts(["Cold beer summer party"], profile="adult", brand="sunnyside")[0]
    assert base.decision == "allow"
    assert branded.decision == "block" and branded.label == "brand"
    assert any("blocked term 'beer'" in r for r in branded.reasons)
    comp = check_texts(["Better than BrightMorning"], profile="adult", brand="sunnyside")[0]
    assert comp.decision == "block" and any("competitor" in r for r in comp.reasons)
    # a brand override makes mild profanity a block even for adults
    assert check_texts(["Damn Good Workout"], profile="adult", brand="sunnyside")[0].decision == "block"
    # required terms: missing -> not served; present -> allowed
    missing, present = check_texts(["Morning Run Mix", "GymPulse Morning Run Mix"], profile="adult", brand="gympulse")
    assert missing.decision != "allow" and any("required" in r for r in missing.reasons)
    assert present.decision == "allow"
    # title rules
    assert check_texts(["The Rodent Chase"], profile="adult", title_id="bbb")[0].decision == "block"
    assert check_texts(["The Rodent Chase"], profile="adult")[0].decision == "allow"


def test_bad_input() -> None:
    with pytest.raises(InvalidInput, match="unknown safety profile"):
        check_texts(["hi"], profile="toddler")
    with pytest.raises(InvalidInput, match="sequence"):
        check_texts("hi")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="too long"):
        check_texts(["x" * 20_000])
    assert check_texts([]) == []


def test_policy_file_versioning_and_validation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = (Path(__file__).resolve().parents[1] / "assets" / "safety_policy.toml").read_text()
    v0 = policy_version()
    custom = tmp_path / "policy.toml"
    custom.write_text(src.replace('profanity = { floor = "review", high = "allow"',
                                  'profanity = { floor = "block", high = "allow"'))
    monkeypatch.setenv("GENPERSO_SAFETY_POLICY", str(custom))
    reset_policy()
    assert policy_version() != v0
    assert check_texts(["fucking awesome party"], profile="adult")[0].decision == "block"
    # title rules may tighten a category for one title only
    custom.write_text(custom.read_text() + '\n[titles.bbb.categories]\nprofanity = { medium = "block" }\n')
    reset_policy()
    assert check_texts(["Damn Good Workout"], profile="adult", title_id="bbb")[0].decision == "block"
    assert check_texts(["Damn Good Workout"], profile="adult", title_id="other")[0].decision == "allow"
    custom.write_text('version = "x"\n[thresholds]\ndefault = { floor = 0.5, high = 0.9, medium = 0.1 }\n')
    reset_policy()
    with pytest.raises(InvalidInput, match="floor >= high >= medium"):
        load_policy()
    custom.write_text("not toml [")
    reset_policy()
    with pytest.raises(InvalidInput, match="not valid TOML"):
        load_policy()


def test_every_lexicon_term_is_found_in_context() -> None:
    from safety.lexicon import LEXICON, scan

    missing = []
    for cat, lists in LEXICON.items():
        for kind in ("strong", "weak"):
            for term in lists[kind]:
                if " ".join(normalise(term).words) != term:  # never produced by normalise ("assh0le", "self-harm")
                    continue
                hit = scan(normalise(f"listen to {term} today"))
                found = hit.strong.get(cat, ()) if kind == "strong" else hit.weak.get(cat, ()) + hit.strong.get(cat, ())
                if kind == "strong" and term not in found or kind == "weak" and not found:
                    missing.append((cat, kind, term))
    assert not missing


# unsafe texts with no lexical cue at all: only the semantic scorer can flag them, through the
# uncued similarity gate (text.GATE_LO_UNCUED)
UNCUED_POSITIVES = [
    Case("Pull Up and Spray the Block", "violence"),
    Case("Clothes Off, Lights Low", "sexual"),
    Case("Those People Ruin Everything", "hate"),
    Case("Ready to Catch the Bus Tonight", "self_harm"),
]


@pytest.mark.parametrize("case", UNCUED_POSITIVES, ids=lambda c: c.text)
def test_zero_shot_scorer_flags_texts_without_any_cue(case: Case, zero_shot: "TextClassifier") -> None:
    from safety.text import analyse_text

    assert not analyse_text(case.text).lex.cued
    s = zero_shot.classify(case.text).scores
    assert max(s, key=s.get) == case.label and s[case.label] >= 0.35, s


@pytest.mark.parametrize("case", UNCUED_POSITIVES, ids=lambda c: c.text)
def test_the_gate_flags_texts_without_any_cue(case: Case) -> None:
    v = check_texts([case.text], profile="kids")[0]
    assert v.decision == "block" and v.label == case.label, v.to_dict()


# titles with a bare number: "Ocean Sounds 8 Hours" (self_harm) and "Family Beats 234" (hate) were
# false positives of the gate before training batch 5
@pytest.mark.parametrize("text", [
    "Top 40 Hits 2024", "Apollo 13 Soundtrack", "Episode 14: The Finale", "Rock Anthems 1969",
    "Ocean Sounds 8 Hours", "Family Beats 234",
])
def test_numbered_titles_are_allowed_for_kids(text: str) -> None:
    assert check_texts([text], profile="kids")[0].decision == "allow"


@pytest.mark.parametrize(("word", "squeezed"), [
    ("shooooot", "shoot"), ("weeeed", "weed"), ("starrrving", "starving"), ("fuuuuck", "fuck"), ("hello", "hello"),
    ("xxx", "xxx"), ("iii", "iii"), ("888", "888"), ("www", "www"), ("zzz", "zzz"),  # not stretched words
])
def test_stretched_letters_are_squeezed_to_the_word_the_lexicon_knows(word: str, squeezed: str) -> None:
    from safety.lexicon import squeeze

    assert squeeze(word) == squeezed


def test_stretched_letters_reach_phrases_and_the_embedded_text() -> None:
    hit = scan(normalise("Shooooot Up in the Stairwell"))
    assert "shoot up" in hit.strong["drugs"]
    assert hit.resolved_text.startswith("shoot up")


@pytest.mark.parametrize(("text", "decision"), [
    pytest.param("Spring Wardrobe Purge: Declutter With Me", "allow", marks=pytest.mark.xfail(  # a weak cue now
        strict=True, reason="fine-tuned head (batch 6, knees 0.50/0.60): self_harm on a declutter title")),
    ("Purge After Every Meal", "block"),
    ("Mental Health Week: Talking About Self-Harm With Teens", "allow"),  # the topic named, not an intent
    ("I Want to Self-Harm Tonight", "block"),
    ("FFS, Monday Again", "block"),
])
def test_topic_words_and_acronyms(text: str, decision: str) -> None:
    assert check_texts([text], profile="kids")[0].decision == decision


@pytest.mark.parametrize("text", ["🔥", "❤️ ❤️", "👍👍", "✨"])
def test_text_the_encoder_cannot_read_gets_no_head_evidence(text: str) -> None:
    # emoji only: the encoder sees unknown tokens, on which the head once said "hate 1.00"
    v = check_texts([text], profile="kids")[0]
    assert v.decision == "allow", v.reasons
    assert check_texts([f"{text} kill yourself"], profile="kids")[0].decision == "block"
