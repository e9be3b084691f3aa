"""The deterministic half of playlist-title generation: the brief, the prompt, clean-up,
filters and the template fallback. No model is loaded here (``titles`` does that).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidInput
from ..types import Angle, Context, daypart

__all__ = ["TrackBrief", "Brief", "MAX_CHARS", "clean_title", "reject_reason", "near_duplicate_key",
           "build_messages", "template_titles", "time_of_day", "make_brief"]

MAX_CHARS = 40
_ECHO = ("playlist title", "assistant", "angle", "the brief", "here is", "here's", "title:", "sure", "i'm",
         "as an ai", "user", "tracks:", "bpm", "playlists")
_STOP = {"the", "a", "an", "of", "and", "for", "to", "in", "on", "with", "at", "by", "&"}


@dataclass(frozen=True)
class TrackBrief:
    title: str = ""
    genres: tuple[str, ...] = ()
    tempo_bpm: float | None = None
    energy: float | None = None  # 0..1


@dataclass(frozen=True)
class Brief:
    angle: Angle
    context: Context
    tracks: tuple[TrackBrief, ...] = ()
    title_name: str | None = None
    title_genres: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def genres(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for g in (*self.title_genres, *(g for t in self.tracks for g in t.genres)):
            seen.setdefault(g.strip().lower(), None)
        return tuple(k for k in seen if k)

    @property
    def tempo(self) -> float | None:
        vals = [t.tempo_bpm for t in self.tracks if t.tempo_bpm]
        return sum(vals) / len(vals) if vals else None

    @property
    def energy(self) -> float:
        vals = [t.energy for t in self.tracks if t.energy is not None]
        return sum(vals) / len(vals) if vals else float(self.angle.style.music_energy)

    def mood_words(self) -> str:
        e = self.energy
        return "high-energy" if e >= 0.7 else ("upbeat" if e >= 0.5 else ("mellow" if e >= 0.3 else "calm"))

    def describe(self) -> str:
        """One sentence: what the title should fit (embedded for ranking, shown in the prompt)."""
        parts = [f"{self.angle.name} playlist, {self.mood_words()}: {', '.join(self.angle.keywords[:4])}"]
        activity = self.context.activity or ""
        parts.append(f"for {activity} in the {time_of_day(self.context.hour)}" if activity
                     else f"for the {time_of_day(self.context.hour)}")
        if self.genres:
            parts.append("music: " + ", ".join(self.genres[:4]))
        if self.tempo:
            parts.append(f"about {round(self.tempo)} BPM")
        if self.title_name:
            parts.append(f"inspired by the film {self.title_name}")
        return "; ".join(parts)


def time_of_day(hour: float) -> str:
    return daypart(hour)


def make_brief(angle: Angle, context: Mapping[str, Any] | Context | None, tracks: Sequence[Any] = (),
               title_name: str | None = None, title_genres: Sequence[str] = ()) -> Brief:
    """Validate the parts of a brief (context keys are ``Context`` fields; tracks are dicts)."""
    if isinstance(context, Context):
        ctx = context
    else:
        raw = dict(context or {})
        allowed = set(Context.__dataclass_fields__)
        unknown = sorted(set(raw) - allowed)
        if unknown:
            raise InvalidInput(f"unknown context keys {unknown}; allowed: {sorted(allowed)}")
        try:
            ctx = Context(**raw)
        except (TypeError, ValueError) as exc:
            raise InvalidInput(f"invalid context: {exc}") from None
    briefs = []
    for t in tracks:
        if isinstance(t, TrackBrief):
            briefs.append(t)
            continue
        if not isinstance(t, Mapping):
            raise InvalidInput(f"each track must be an object with genres/tempo_bpm/energy/title, got {t!r}")
        genres = t.get("genres") or ()
        if isinstance(genres, str):
            genres = (genres,)
        tempo = t.get("tempo_bpm", t.get("tempo"))
        energy = t.get("energy")
        try:
            briefs.append(TrackBrief(str(t.get("title") or ""), tuple(str(g) for g in genres),
                                     float(tempo) if tempo is not None else None,
                                     float(energy) if energy is not None else None))
        except (TypeError, ValueError):
            raise InvalidInput(f"track tempo/energy must be numbers: {dict(t)!r}") from None
    return Brief(angle, ctx, tuple(briefs), title_name, tuple(title_genres))


# --------------------------------------------------------------------------------------------
# Prompt
# --------------------------------------------------------------------------------------------

_SYSTEM = "You name music playlists. Answer with one short, catchy playlist title (2 to 5 words). No quotes."
_SHOTS: tuple[tuple[str, str], ...] = (
    ("Romance playlist, calm: love, tender; for a dinner date in the evening; music: soul, jazz", "Candlelight Slow Dance"),
    ("Action playlist, high-energy: speed, adrenaline; for a workout in the morning; music: rock; about 160 BPM",
     "Full Throttle Sunrise"),
)


def build_messages(brief: Brief) -> list[dict[str, str]]:
    msgs = [{"role": "system", "content": _SYSTEM}]
    for user, answer in _SHOTS:
        msgs += [{"role": "user", "content": user}, {"role": "assistant", "content": answer}]
    msgs.append({"role": "user", "content": brief.describe()})
    return msgs


# --------------------------------------------------------------------------------------------
# Clean-up and filters
# --------------------------------------------------------------------------------------------

_QUOTES = "\"'`“”‘’«»*_#"
_PREFIX = re.compile(r"^\s*(?:playlist\s*)?(?:title|name)\s*[:\-]\s*", re.I)
_NUMBERED = re.compile(r"^\s*(?:\d+[.)]|[-•*])\s*")


def clean_title(raw: str) -> str:
    """First line, without list markers, 'Title:' prefixes, quotes, emoji and trailing punctuation."""
    text = (raw or "").strip().splitlines()[0] if (raw or "").strip() else ""
    text = _NUMBERED.sub("", text)
    text = _PREFIX.sub("", text)
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "S" or ch in "&+$")  # emoji, symbols
    text = text.strip().strip(_QUOTES).strip()
    text = re.sub(r"[\"“”«»`*_#]", "", text)
    text = re.sub(r"\s*\(.*$", "", text)  # "(Note ..." and other asides
    text = re.sub(r"\s+", " ", text).strip(" -:;,.!?'")
    if text and text == text.lower():
        text = " ".join(w[:1].upper() + w[1:] for w in text.split())
    return text


def reject_reason(title: str) -> str | None:
    """Why a cleaned title is not usable (None when it is)."""
    if not title:
        return "empty"
    if len(title) > MAX_CHARS:
        return f"longer than {MAX_CHARS} characters"
    if len(title) < 3:
        return "too short"
    words = title.split()
    if len(words) > 7:
        return "too many words"
    letters = [c for c in title if not c.isspace()]
    ascii_letters = sum(c.isascii() and c.isalpha() for c in letters)
    if ascii_letters / max(len(letters), 1) < 0.7:
        return "not mostly Latin letters"
    low = title.lower()
    if any(e in low for e in _ECHO):
        return "echoes the prompt"
    if ";" in title or title.count(",") >= 2 or title.count(":") >= 2:
        return "a list, not a title"
    content = [w.lower().strip(",.!?:;") for w in words if w.lower() not in _STOP]
    if len(content) != len(set(content)):
        return "repeated word"
    if re.search(r"(.)\1\1", low):
        return "repeated characters"
    if low.endswith((" and", " the", " of", " a", " with", " for", " to", " in", ",")):
        return "unfinished"
    return None


def near_duplicate_key(title: str) -> str:
    words = [w for w in re.findall(r"[a-z0-9]+", title.lower()) if w not in _STOP]
    return " ".join(sorted(words))


# --------------------------------------------------------------------------------------------
# Template fallback (and the benchmark's baseline)
# --------------------------------------------------------------------------------------------


def template_titles(brief: Brief) -> list[str]:
    """Titles from the angle's keywords and the context, no model. Deterministic, all <= 40 chars."""
    kw = [k.replace("-", " ").title() for k in brief.angle.keywords[:4]] or [brief.angle.name]
    tod = time_of_day(brief.context.hour).title()
    act = (brief.context.activity or "").strip().title()
    genre = brief.genres[0].title() if brief.genres else ""
    out = []
    if act:
        out += [f"{kw[0]} {act}", f"{act}: {kw[1] if len(kw) > 1 else kw[0]}"]
    out += [f"{tod} {kw[0]}", f"{brief.angle.name} {tod} Mix"]
    if genre:
        out += [f"{kw[0]} {genre}", f"{genre} for the {tod}"]
    if brief.title_name:
        out.append(f"{brief.title_name}: {kw[0]}")
    seen: dict[str, None] = {}
    for t in out:
        t = re.sub(r"\s+", " ", t).strip()
        if len(t) > MAX_CHARS:
            t = t[:MAX_CHARS].rsplit(" ", 1)[0].rstrip(":,")
        if t and t.lower() not in (s.lower() for s in seen):
            seen[t] = None
    return list(seen)
