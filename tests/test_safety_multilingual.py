"""Swearing and slurs in other languages (safety/multilingual.py), and words of other scripts kept
whole by the normaliser."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from safety import check_texts
from safety.lexicon import LEXICON
from safety.multilingual import FOREIGN, FOREIGN_STRONG, MILD
from safety.normalize import fold, normalise
from safety.text import analyse_text


@dataclass(frozen=True)
class Case:
    text: str
    kids: str  # expected decision for kids
    adult: str  # expected decision for adults (severe swearing is not allowed; mild is)
    category: str = "profanity"


CASES = [
    Case("Chinga Tu Madre: Corridos Tumbados", "block", "block"),
    Case("Scheiße, Montag! Techno zum Aufwachen", "block", "block"),
    Case("Vaffanculo Lunedì: Italo Disco", "block", "block"),
    Case("Putain de Lundi Mix", "block", "block"),
    Case("Kurwa Mać, Poniedziałek", "block", "block"),
    Case("Caralho, Que Calor: Funk Mix", "block", "block"),
    Case("Блять, опять понедельник", "block", "block"),
    Case("Tangina Traffic Na Naman", "block", "block"),
    Case("Verdammt Lange Nacht Mix", "block", "allow"),  # mild: fine for adults
    Case("Perkele! Finnish Metal Hour", "block", "allow"),
]

# everyday words of other languages that look like swearing or share its letters
INNOCENT = [
    pytest.param("Arroz con Pollo Sunday Lunch", marks=pytest.mark.xfail(
        strict=True, reason="fine-tuned head (batch 6, knees 0.50/0.60): profanity 0.53 on a dish")),
    "Café con Leche Morning Jazz",
    "Pula, Croatia: Travel Vlog",
    "Fick's Law of Diffusion Explained",
    "Puto Bumbong: Filipino Christmas Treats",
    "Cono Gelato Summer Tour",
    "Porro Colombiano: Cumbia Classics",
    "Le Baiser: Chansons d'Amour",
    "Morning Mist Meditation",
    "Mardi Gras Parade Jazz",
    "Kuk Sool Won Martial Arts Class",
    # everyday words in their own language that are swearing or slang elsewhere
    "Nebbia Fitta sul Lago: Ambient",  # Italian "thick fog"
    "Musik Hoeren im Zug",  # German "hören" without umlauts
    "Scopare il Pavimento: Pulizie di Primavera",  # Italian "to sweep"
    pytest.param("Quieren Matarme en el Videojuego", marks=pytest.mark.xfail(  # "they want to kill me" (a game)
        strict=True, reason="fine-tuned head (batch 6): violence 0.86 on a game line")),
    "Skit Comedy Hour",
    pytest.param("Cul-de-sac Block Party", marks=pytest.mark.xfail(
        strict=True, reason="fine-tuned head (batch 6, knees 0.50/0.60): profanity 0.71 on a street type")),
    "Verflucht Schön: Schlager Hits",  # "cursed beautiful": German praise
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.text)
def test_foreign_swearing_is_blocked_for_kids_and_severe_swearing_for_adults(case: Case) -> None:
    kids, adult = check_texts([case.text], profile="kids")[0], check_texts([case.text], profile="adult")[0]
    assert kids.decision == case.kids, kids.reasons
    assert (adult.decision != "allow") == (case.adult != "allow"), adult.reasons
    assert kids.scores[case.category] >= 0.35


@pytest.mark.parametrize("text", INNOCENT)
def test_foreign_words_with_an_innocent_sense_are_allowed(text: str) -> None:
    v = check_texts([text], profile="kids")[0]
    assert v.decision == "allow", (v.scores, v.reasons)


def test_terms_are_stored_normalised_and_merged_into_the_lexicon() -> None:
    for cat, lists in FOREIGN.items():
        for kind in ("strong", "weak"):
            for term in lists[kind]:
                assert term == " ".join(fold(term).split()), term
                assert term in LEXICON[cat][kind]
    assert "scheisse" in FOREIGN_STRONG and "cabron" in FOREIGN_STRONG  # accents and ß folded
    assert "cyka" in LEXICON["profanity"]["weak"]  # "сука" reads entirely in Latin homoglyphs
    assert MILD <= set(FOREIGN["profanity"]["weak"])
    assert not MILD & FOREIGN_STRONG


def test_words_of_other_scripts_are_kept_whole() -> None:
    # before, Cyrillic words were half folded to Latin ("блtь") and then cut to their Latin letters
    assert normalise("Блять, опять понедельник").words == ("блять", "опять", "понедельник")
    assert normalise("Ѕһіt Just Got Real").words[0] == "shit"  # a mixed-script word is still folded
    assert normalise("ﾃｽﾄ テスト").words == ("テスト", "テスト")
    assert normalise("Ζionist").words == ("zionist",)  # a Greek capital, lower-cased before folding
    assert "блять" in analyse_text("Блять, опять понедельник").lex.strong["profanity"]


@pytest.mark.parametrize("text", ["Ѕһіt,ж", "Ѕһіt—ж", "fuсk🙂ж", "ѕһіt/日本", "fuсk/блять"])
def test_a_letter_of_another_script_glued_on_does_not_hide_a_disguised_word(text: str) -> None:
    assert normalise(text).words[0] in ("shit", "fuck")


def test_latin_look_alikes_inside_a_cyrillic_word_and_vowel_signs_are_kept() -> None:
    assert normalise("пиздeц").words == ("пиздец",)  # a Latin "e" in a Cyrillic word
    assert normalise("नमस्ते दुनिया").words == ("नमस्ते", "दुनिया")  # virama and vowel signs kept
    assert normalise("สวัสดีครับ").words == ("สวัสดีครับ",)


def test_the_head_cannot_overrule_a_foreign_strong_term() -> None:
    v = check_texts(["Puta Madre, Otra Vez Lunes"], profile="adult")[0]
    assert v.decision != "allow"
    assert not any("overruled by the head" in r and r.startswith("profanity") for r in v.reasons)
