"""Text normalisation that undoes common obfuscations before lexical matching.

Handles unicode homoglyphs and accents (Cyrillic/Greek look-alikes, fullwidth forms), leetspeak
(``sh1t``, ``@ss``), repeated letters (``fuuuuck``), spaced or dotted letters (``f u c k``,
``f.u.c.k``) and masked words (``f***``, ``sh*t``): masks are returned as patterns that the
lexicon matches against words of the same length.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

__all__ = ["Normalised", "normalise", "fold", "word_variants"]

_INVISIBLE_CHARS = ("\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad")  # zero-width, soft hyphen
_HOMOGLYPHS = str.maketrans({
    # Cyrillic
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c",
    "т": "t", "у": "y", "х": "x", "і": "i", "ї": "i", "ј": "j", "ѕ": "s", "ԁ": "d", "һ": "h", "ⅼ": "l",
    "А": "a", "В": "b", "Е": "e", "К": "k", "М": "m", "Н": "h", "О": "o", "Р": "p", "С": "c", "Т": "t",
    "У": "y", "Х": "x", "І": "i",
    # Greek
    "α": "a", "β": "b", "ε": "e", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t", "υ": "u",
    "χ": "x", "Α": "a", "Β": "b", "Ε": "e", "Ι": "i", "Κ": "k", "Μ": "m", "Ν": "n", "Ο": "o", "Ρ": "p",
    "Τ": "t", "Χ": "x", "Υ": "y", "Ζ": "z", "ζ": "z",  # text is lower-cased first: "Ζ" arrives as "ζ"
    # symbols
    "ß": "ss", "æ": "ae", "œ": "oe", "ø": "o", "ł": "l", "đ": "d", "ħ": "h", "ı": "i",
} | {ch: "" for ch in _INVISIBLE_CHARS})
_INVISIBLE = str.maketrans({ch: "" for ch in _INVISIBLE_CHARS})
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "9": "g",
                       "@": "a", "$": "s", "!": "i", "|": "l", "€": "e", "£": "l", "+": "t"})
_MASK_CHARS = "*#%_"
_TOKEN_RE = re.compile(r"[^\s]+")
_SPACED_RE = re.compile(r"(?<![\w*])((?:[a-z0-9@$!*][\s.\-_·•]{1,2}){2,}[a-z0-9@$!*])(?![\w*])")
_NUMBER_UNIT_RE = re.compile(r"^\d+(?:[.,]\d+)?(?:st|nd|rd|th|s|am|pm|k|m|x|h|hr|hrs|d|min|mins|mg|ml|kg|km|g|lb|lbs"
                             r"|mph|bpm|p|fps|v|cm|mm|ft|gb|mb)$")
_EDGE_PUNCT = "\"'“”‘’`.,;:()[]{}<>«»?¿¡~^&=/\\"


@dataclass(frozen=True)
class Normalised:
    text: str  # folded, de-obfuscated text (letters, digits decoded, single spaces)
    words: tuple[str, ...]  # its words
    masks: tuple[str, ...]  # regex patterns for masked words (e.g. "^f...$")
    obfuscated: bool  # something had to be undone
    mask_at: tuple[int, ...] = ()  # per mask, the index in ``words`` where it stood


# Latin letters that pass for Cyrillic ones inside a Cyrillic word ("пиздeц" with a Latin "e")
_TO_CYRILLIC = str.maketrans({"a": "а", "e": "е", "o": "о", "p": "р", "c": "с", "x": "х", "y": "у", "k": "к",
                              "m": "м", "t": "т", "b": "в", "h": "н"})


def _is_cyrillic(ch: str) -> bool:
    return "\u0400" <= ch <= "\u04ff"


def _strip_diacritics(t: str) -> str:
    """Combining marks dropped after Latin, Greek and Cyrillic letters ("é" -> "e") only: in Indic or
    Thai script they are the vowels of the word, and a run of marks alone (a vowel sign that the
    word-run split of ``fold`` cut off, "स्ते") is kept."""
    out: list[str] = []
    for ch in unicodedata.normalize("NFKD", t):
        if unicodedata.combining(ch) and out and (out[-1].isascii() or "\u0370" <= out[-1] <= "\u04ff"):
            continue
        out.append(ch)
    return unicodedata.normalize("NFC", "".join(out))


def _fold_token(tok: str) -> str:
    t = _strip_diacritics(tok.translate(_HOMOGLYPHS)).translate(_HOMOGLYPHS)
    # a word of another script stays in it ("блять", not the half-Latin "блtь"): homoglyphs are
    # folded only where the whole word then reads in Latin letters ("Ѕһіt" -> "shit")
    if any(ch.isalpha() and not ch.isascii() for ch in t):
        t = _strip_diacritics(tok).translate(_INVISIBLE)
        if any(_is_cyrillic(ch) for ch in t) and all(_is_cyrillic(ch) or ch.isascii() for ch in t if ch.isalpha()):
            t = t.translate(_TO_CYRILLIC)
        return t
    return t


def fold(text: str) -> str:
    """Lower-case, NFKC, homoglyphs to ASCII (in words that then read in Latin letters), accents
    stripped, invisible characters removed."""
    t = unicodedata.normalize("NFKC", text).lower()
    # decided per run of word characters, so that a letter of another script glued on through
    # punctuation ("ѕһіt,ж") does not keep the disguised word from folding
    return "".join(_fold_token(tok) for tok in re.split(r"(\W+)", t))


def _deleet(token: str) -> str:
    core = token.strip(_EDGE_PUNCT)
    if not core:
        return ""
    letters = sum(ch.isalpha() for ch in core)
    # a pure number stays a number ("2024", "4 minute"), so does a number with its unit or ordinal
    # ("12th", "90s", "5am", "1080p"); mixed tokens are decoded ("sh1t", "@ss")
    if (letters == 0 and not any(ch in "@$" for ch in core)) or _NUMBER_UNIT_RE.match(core):
        return core
    return core.translate(_LEET)


def word_variants(word: str) -> set[str]:
    """The word, with letter runs squeezed to two and to one (``fuuuck`` -> ``fuuck``, ``fuck``),
    a plural without its ``s`` and an ``-in'`` ending with its ``g`` back."""
    two = re.sub(r"(.)\1{2,}", r"\1\1", word)
    one = re.sub(r"(.)\1+", r"\1", word)
    out = {word, two, one}
    if len(word) > 4 and word.endswith("s") and not word.endswith("ss"):  # plurals: "hostages" -> "hostage"
        out.add(word[:-1])
    if len(word) > 5 and word.endswith("in"):  # dropped g: "bitchin'", "killin" -> "-ing"
        out.add(word + "g")
    return out


def _split_words(d: str) -> list[str]:
    """Words of a token in any script: letters, digits, apostrophes and combining marks (the vowel
    signs of Devanagari or Thai, which ``\\w`` does not count as word characters)."""
    parts: list[str] = []
    cur: list[str] = []
    for ch in d:
        if ch.isalnum() or ch == "'" or (cur and unicodedata.category(ch).startswith("M")):
            cur.append(ch)
        elif cur:
            parts.append("".join(cur))
            cur = []
    if cur:
        parts.append("".join(cur))
    return parts


def normalise(text: str) -> Normalised:
    folded = fold(text)
    obfuscated = folded != text.lower()
    # join spaced/dotted single letters: "f u c k" -> "fuck", "s.h.i.t" -> "shit"
    def _join(m: re.Match[str]) -> str:
        return re.sub(r"[\s.\-_·•]", "", m.group(1))

    joined = _SPACED_RE.sub(lambda m: " " + _join(m) + " ", folded)
    if joined != folded:
        obfuscated = True
    words: list[str] = []
    masks: list[str] = []
    mask_at: list[int] = []
    for tok in _TOKEN_RE.findall(joined):
        core = tok.strip(_EDGE_PUNCT + "!").lstrip("#*_")
        tok = core
        if core[:1].isalpha() and any(ch in _MASK_CHARS for ch in core):
            body = _deleet(core.replace("*", "\x00").replace("#", "\x01")).replace("\x00", "*").replace("\x01", "#")
            pattern = "".join("." if ch in _MASK_CHARS else re.escape(ch) for ch in body)
            masks.append(f"^{pattern}$")
            mask_at.append(len(words))
            obfuscated = True
            continue
        d = _deleet(tok)
        if d != tok.strip(_EDGE_PUNCT):
            obfuscated = True
        # "co-caine", "s-h-i-t": a hyphenated token is also read with its hyphens removed
        if "-" in d.strip("-") and len(d.replace("-", "")) > 3:
            glued = d.replace("-", "")
            if all(len(x) <= 4 for x in d.split("-")) or min(len(x) for x in d.split("-")) <= 2:
                words.append(glued)
                obfuscated = True
        for part in (re.split(r"[^\w']+|_", d) if d.isascii() else _split_words(d)):
            part = part.strip("'")
            if part:
                words.append(part)
    return Normalised(text=" ".join(words), words=tuple(words), masks=tuple(masks), obfuscated=obfuscated,
                      mask_at=tuple(mask_at))
