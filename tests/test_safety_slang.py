"""Slang, euphemisms, phrase patterns and innocent compounds of the lexical pre-pass (safety/slang.py)."""

from __future__ import annotations

import pytest

from safety import check_texts
from safety.slang import EXTRA, INNOCENT, PATTERNS, pattern_hits
from safety.text import analyse_text

# (text, category): constructions a word list cannot express, each caught by a pattern
PATTERN_POSITIVES = [
    ("No Immigrants Allowed in This Town", "hate"),
    ("No Dogs or Gypsies Allowed", "hate"),
    ("Islam Is a Cancer", "hate"),
    ("Bomb the Synagogues", "hate"),
    ("Jews Not Welcome", "hate"),
    ("Deport All the Refugees", "hate"),
    ("Keep the Muslims Out", "hate"),
    ("Whites Only Swim Club", "hate"),
    ("Refugees Are Vermin", "hate"),
    ("Seniors Are Useless Leeches", "hate"),
    ("Migrants Go Home Tonight", "hate"),
    ("Never Hire Women", "hate"),
    ("Immigrants Belong in Cages", "hate"),
    ("Jews Run the Banks", "hate"),
    ("Make Them Scream Tonight", "violence"),
    ("Murder Your Neighbours", "violence"),
    ("Break His Jaw After School", "violence"),
    ("Leave Them for Dead", "violence"),
    ("Go Back to Your Own Country", "hate"),
    ("Immigrants Don't Deserve Rights", "hate"),
    ("Walk Into the River Tonight", "self_harm"),
    ("How Many Painkillers Would It Take", "self_harm"),
    ("Stab Him in the Alley", "violence"),
    ("Strangle the Neighbour", "violence"),
    ("Hit Him Over the Head With a Crowbar", "violence"),
    ("Lie Down on the Tracks Tonight", "self_harm"),
    ("Step in Front of the Bus", "self_harm"),
    ("Leap From the Balcony", "self_harm"),
    ("Slit My Wrists", "self_harm"),
    ("Swallow All My Sleeping Pills", "self_harm"),
    ("Drown Myself in the Lake", "self_harm"),
]

# idioms and everyday phrases that share the patterns' words
PATTERN_NEGATIVES = [
    "Kill Em With Kindness Acoustic",
    "Jump on the Bus Singalong",
    "Hang the Lights for Christmas",
    "No Shoes Allowed Yoga Studio",
    "No Pets or Kids Allowed Spa Weekend",
    "Girls Night Out Party Mix",
    "Cut the Cake at the Wedding",
    "Take All the Time You Need",
    "Jump Off the Diving Board",
    "Bridge Over Troubled Water",
    "Kick Off the Season",
    "Women Only Self-Defence Class",
    "Women Belong in Science",
    "Boomers Run the Marathon",
    "Make You Feel My Love",
    "Kill the Lights Dance Mix",
    "Scunthorpe Weekend Market",
    "Sniggering Schoolboys Sketch Show",
    "Rob Them Blind Comedy",
    "Historic Churches of Rome Walking Tour",
    "Break a Leg on Opening Night",
    "Walking Into the Ocean View Resort",
    "How Many Tablets Should I Buy for School",
]

# well-known slang and euphemisms (no cue word of the base lexicon)
SLANG_POSITIVES = [
    ("Hotbox the Car After School", "drugs"),
    ("Roll a Joint Before Class", "drugs"),
    ("Nose Candy Friday", "drugs"),
    ("Chasing the Dragon in the Alley", "drugs"),
    ("Get Smashed Before the Game", "drugs"),
    ("Netflix and Chill at My Place", "sexual"),
    ("Lap Dance Night", "sexual"),
    ("Time to Unalive Myself", "self_harm"),
    ("Thinspo Motivation Board", "self_harm"),
]


@pytest.mark.parametrize(("text", "category"), PATTERN_POSITIVES)
def test_patterns_catch_constructions(text: str, category: str) -> None:
    assert category in {c for c, _ in pattern_hits(analyse_text(text).norm.text, set(analyse_text(text).norm.words))}
    assert category in analyse_text(text).lex.strong
    v = check_texts([text], profile="kids")[0]
    assert v.decision == "block" and v.label == category, v.to_dict()
    assert check_texts([text], profile="adult")[0].decision != "allow"


@pytest.mark.parametrize("text", PATTERN_NEGATIVES)
def test_patterns_leave_idioms_alone(text: str) -> None:
    a = analyse_text(text)
    assert pattern_hits(a.norm.text, set(a.norm.words)) == []
    assert not a.lex.strong


def test_every_pattern_has_a_positive_case() -> None:
    hit = {name for text, _ in PATTERN_POSITIVES
           for _, name in pattern_hits(analyse_text(text).norm.text, set(analyse_text(text).norm.words))}
    missing = {name for _, name, _, _ in PATTERNS} - hit
    # the remaining patterns are exercised by the slang-free examples below
    extra = ["Gypsies Should Be Banned", "Lynch the Lot", "Gun Down Them All", "Kill All the Immigrants",
             "Migrants Out"]
    hit |= {name for t in extra for _, name in pattern_hits(analyse_text(t).norm.text, set(analyse_text(t).norm.words))}
    assert {name for _, name, _, _ in PATTERNS} - hit == set(), missing


@pytest.mark.parametrize(("text", "category"), SLANG_POSITIVES)
def test_slang_is_caught(text: str, category: str) -> None:
    lex = analyse_text(text).lex
    assert category in lex.strong, (lex.strong, lex.weak)
    v = check_texts([text], profile="kids")[0]
    assert v.decision == "block" and v.label == category, v.to_dict()


def test_extra_terms_are_merged_into_the_lexicon() -> None:
    from safety.lexicon import AMBIGUOUS, LEXICON

    for cat, lists in EXTRA.items():
        for kind in ("strong", "weak"):
            assert set(lists[kind]) <= set(LEXICON[cat][kind])
    assert "plug" in AMBIGUOUS["drugs"] and "bat" not in LEXICON["violence"]["weak"]


def test_innocent_compounds_are_not_cues() -> None:
    lex = analyse_text("Comic Strip Sunday Morning").lex
    assert "sexual" not in lex.weak and "sexual" in lex.innocent
    assert lex.only_ambiguous("sexual")  # the semantic score must beat the benign anchors
    assert "sexual" in analyse_text("Strip for the Camera").lex.weak  # outside the compound it is a cue
    assert "drugs" in analyse_text("Drug Store Beauty Finds").lex.innocent
    # the embedder sees the text without the compound's cue word, so "drug" cannot pull it towards drugs
    assert analyse_text("Drug Store Beauty Finds").lex.resolved_text == "store beauty finds"
    assert analyse_text("Drug Bust at the Docks").lex.resolved_text == "drug bust at the docks"
    assert all(" " in p or p in ("potluck", "punchline", "kickoff", "kickboxing", "scoreboard",
                                 "treehouse") for p in INNOCENT)
    for text in ("Comic Strip Sunday Morning", "Jump Rope Playground Games", "Pot Roast Sunday Dinner"):
        assert check_texts([text], profile="kids")[0].decision == "allow"


# slang words that also have a well-known innocent reading are weak cues (or innocent compounds):
# the semantic scorer decides, and these are allowed
SLANG_NEGATIVES = [
    "Hindu Kush Mountains Documentary",
    "Doobie Brothers Greatest Hits",
    "Adrenaline Junkie Extreme Sports",
    "Fag Break at the Factory: British Slang Explained",
    "Goodbye Cruel World Pink Floyd Covers",
    "Junkie XL Film Scores",
]


@pytest.mark.parametrize("text", SLANG_NEGATIVES)
def test_slang_with_an_innocent_reading_is_not_a_strong_term(text: str) -> None:
    assert not analyse_text(text).lex.strong


# the shipped gate's known false positive among them, a strict xfail so a fix shows up
JUNKIE_XL = pytest.mark.xfail(strict=True, reason="fine-tuned head (batch 6, knees 0.50/0.60): drugs on a composer's name")


@pytest.mark.parametrize("text", [pytest.param(t, marks=JUNKIE_XL) if t.startswith("Junkie XL") else t
                                  for t in SLANG_NEGATIVES])
def test_slang_with_an_innocent_reading_is_allowed(text: str) -> None:
    assert check_texts([text], profile="kids")[0].decision == "allow"


def test_broad_verbs_aimed_at_a_person_are_weak_cues() -> None:
    from safety.text import TextClassifier

    lex = analyse_text("Rob Them Blind Comedy").lex
    assert "rob them" in lex.weak["violence"] and "violence" not in lex.strong
    # a weak cue alone does not flag on the stock zero-shot gate (the shipped head's call on this
    # title is a known false positive, below)
    assert TextClassifier(head=False).classify("Rob Them Blind Comedy").scores["violence"] < 0.35
    assert check_texts(["Punch Him Until He Drops"], profile="kids")[0].decision == "block"


@pytest.mark.xfail(strict=True, reason="fine-tuned head (batch 6, knees 0.50/0.60): false positive on an idiom")
def test_rob_them_blind_is_allowed_by_the_shipped_gate() -> None:
    assert check_texts(["Rob Them Blind Comedy"], profile="kids")[0].decision == "allow"
