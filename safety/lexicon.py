"""The fast lexical pre-pass: per-category term lists on normalised text.

``strong`` terms are unambiguous (a strong hit scores the category high on its own);
``weak`` terms are cues whose meaning depends on context ("kill it at the gym", "shoot for the
stars", "breast cancer awareness"): they only send the text to the semantic scorer, which
decides. Multi-word entries are matched as phrases. Masked words (``f***``) are matched against
strong terms of the same shape.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .multilingual import FOREIGN
from .normalize import Normalised, word_variants
from .slang import EXTRA, EXTRA_AMBIGUOUS, INNOCENT, pattern_hits

__all__ = ["LexHit", "LEXICON", "AMBIGUOUS", "scan", "phrase_in", "resolve_mask", "squeeze"]

LEXICON: dict[str, dict[str, tuple[str, ...]]] = {
    "profanity": {
        "strong": (
            "fuck", "fucks", "fucking", "fucked", "fucker", "fuckers", "motherfucker", "motherfucking", "fuckin",
            "shit", "shits", "shitty", "bullshit", "shithead", "shitshow", "bitch", "bitches", "bitching",
            "asshole", "assholes", "cunt", "cunts", "wanker", "twat", "dickhead", "bastard", "bastards",
            "piss off", "pissed off", "goddamn", "goddamnit", "dumbass", "jackass", "wtf", "stfu", "fml",
            "fck", "fcking", "fuk", "fuking", "fuq", "phuck", "phucking", "biatch", "sht", "shyt", "azz", "assh0le",
            "effing", "effin", "fing", "f'ing",  # minced "f-ing" ("f-ing" is read as "fing")
            "ffs", "gtfo", "mofo", "mofos", "fook", "fookin", "fooking", "fooked",  # acronyms, dialect spellings
        ),
        "weak": ("feck", "fecking", "damn", "dammit", "hell", "crap", "crappy", "ass", "arse", "bloody", "piss",
                 "pissed", "dick", "cock", "prick", "sucks", "suck", "screw", "freaking", "frickin", "bollocks", "bugger"),
    },
    "violence": {
        "strong": ("behead", "beheading", "decapitate", "dismember", "massacre the", "shoot him", "shoot her",
                   "shoot them", "stab him", "stab her", "kill him", "kill her", "kill them", "kill you",
                   "murder them", "torture", "genocide", "mass shooting", "school shooting", "slit throat",
                   "bloodbath", "execute them", "terrorist attack", "blow up the"),
        "weak": ("gunfight", "gunfire", "shootout", "firefight", "burn", "beat him", "beat her", "beat them",
                 "execute", "executed", "execution", "hostage", "kidnap", "lynch", "drown", "tied up", "run over", "run them over", "kill",
                 "kills", "killer", "killing", "killed", "murder", "murdered", "murderer", "shoot",
                 "shooting", "shot", "shots", "gun", "guns", "knife", "stab", "stabbed", "bomb", "bombs", "blood",
                 "bloody", "dead", "death", "die", "dies", "dying", "war", "fight", "fighting", "attack",
                 "assault", "weapon", "weapons", "rifle", "slaughter", "massacre", "gore", "gory", "corpse",
                 "violent", "violence", "terror", "terrorist", "hostage", "explosion", "explode", "beat up",
                 "punch", "brutal", "bullet", "bullets", "strangle", "choke", "destroy", "smash", "crush",
                 "battle", "sniper", "grenade", "bleed", "bleeding", "hurt", "revenge", "hunt", "slay",
                 "rape", "raped", "abuse"),
    },
    "sexual": {
        "strong": ("porn", "porno", "pornhub", "xxx", "blowjob", "handjob", "orgasm", "horny", "nsfw", "hentai",
                   "milf", "onlyfans", "dildo", "booty call", "booty calls", "cumshot", "nudes", "nude pics", "send nudes", "boobs", "tits",
                   "pussy", "threesome", "gangbang", "erection", "masturbate", "masturbation", "camgirl",
                   "striptease", "sex tape", "have sex", "sex with", "anal sex", "oral sex"),
        "weak": ("sex", "sexy", "sexual", "nude", "naked", "breast", "breasts", "strip", "stripper", "hot",
                 "erotic", "kinky", "lingerie", "seductive", "seduce", "bedroom", "bed", "lust", "steamy",
                 "booty", "thong", "undress", "fetish", "bondage", "spank", "hookup", "hook up", "kiss",
                 "intimate", "sensual", "naughty", "topless", "bikini", "rape", "raped", "dirty", "wet",
                 "body", "touch", "moan", "69", "sex pistols"),
    },
    "hate": {
        "strong": ("nigger", "niggers", "faggot", "faggots", "kike", "kikes", "spic", "spics", "chink", "chinks",
                   "wetback", "raghead", "tranny", "trannies", "subhuman", "untermensch", "white power",
                   "heil hitler", "sieg heil", "white supremacy", "gas the", "ethnic cleansing", "race war",
                   "go back to your country", "master race", "retards"),
        "weak": ("superior", "race", "racial", "ethnic", "hate", "hates", "hating", "hateful", "nazi", "nazis", "inferior", "vermin", "invaders",
                 "invasion", "infest", "filthy", "savages", "savage", "animals", "retard", "retarded", "deport",
                 "illegals", "immigrants", "muslims", "jews", "asians", "arabs", "christians", "latinos",
                 "disabled", "gays", "women", "blacks", "whites", "mexicans",
                 "foreigners", "refugees", "disgusting", "parasites", "scum", "thugs", "supremacy", "purity",
                 "pure blood", "don't belong", "dont belong", "go back", "kind", "lesser", "breed",
                 # protected groups named: the semantic scorer decides whether the text demeans them
                 "girls", "trans", "transgender", "lesbians", "gay", "muslim", "jewish", "immigrant",
                 "migrants", "black people", "white people", "old people", "fat people", "elderly"),
    },
    "drugs": {
        "strong": ("cocaine", "heroin", "meth", "methamphetamine", "crystal meth", "fentanyl", "mdma", "lsd",
                   "ketamine", "crack cocaine", "smoke crack", "snort", "snorting", "overdose on", "shoot up",
                   "get high", "getting high", "get stoned", "get wasted", "getting wasted", "blackout drunk",
                   "bong", "edibles", "shrooms", "xanax", "oxycodone", "opioids"),
        "weak": ("drug", "drugs", "drugstore", "weed", "marijuana", "cannabis", "pot", "high", "stoned", "dope",
                 "blunt", "joint", "joints", "420", "pills", "pill", "ecstasy", "molly", "acid", "trip",
                 "tripping", "crack", "coke", "smoke", "smoking", "vape", "vaping", "cigarette", "cigarettes",
                 "booze", "drunk", "wasted", "beer", "vodka", "tequila", "whiskey", "wine", "shots", "hangover",
                 "dealer", "addict", "addiction", "rehab", "needle", "powder", "hash", "lit", "baked", "buzzed",
                 "alcohol", "party", "sober", "overdose", "dose", "narcotic", "narcotics", "opium"),
    },
    "self_harm": {
        "strong": ("kill myself", "killing myself", "kms", "end my life", "ending my life", "take my own life",
                   "want to die", "wanna die", "cut myself", "cutting myself", "self harm", "self-harm",
                   "selfharm", "slit my wrists", "hang myself", "suicidal", "commit suicide", "better off dead",
                   "no reason to live", "starve myself", "end it all", "ending it all", "end it tonight",
                   "thinspiration", "pro ana", "proana"),
        "weak": ("suicide", "die", "dying", "dead", "death", "cut", "cutting", "wrists", "overdose", "pills",
                 "hopeless", "worthless", "end it", "ending it", "disappear", "goodbye", "gone", "pain",
                 "numb", "starve", "starving", "skinny", "anorexia", "bulimia", "jump", "bridge", "noose",
                 "rope", "razor", "blade", "alone", "empty", "tired of", "burden", "miss me", "give up", "without me",
                 "better off", "worthless", "no one cares", "nobody cares",
                 "no point", "last time", "hurt myself", "myself", "purge"),
    },
}

# Weak cues whose innocent sense dominates in titles, taglines and playlist names ("party",
# "shots", "bridge", "killer workout", "hot hits") or that merely name a topic or a group
# ("drugs", "women"). When every cue of a category is one of these, the semantic evidence must
# beat the benign anchors by a margin (``text.AMBIGUOUS_MARGIN``) instead of merely tying them.
AMBIGUOUS: dict[str, frozenset[str]] = {
    "profanity": frozenset(),
    "violence": frozenset((
        "kill", "kills", "killer", "killing", "killed", "shoot", "shooting", "shot", "shots", "bomb", "bombs",
        "dead", "death", "die", "dies", "dying", "war", "fight", "fighting", "attack", "battle", "destroy",
        "smash", "crush", "hunt", "slay", "sniper", "explosion", "explode", "burn", "punch", "brutal", "blood",
        "bloody", "revenge", "hurt", "choke", "bleed", "bleeding", "execute", "executed", "execution", "terror",
        "beat up", "run over",
    )),
    "sexual": frozenset((
        "hot", "body", "touch", "wet", "dirty", "bed", "bedroom", "kiss", "intimate", "strip", "breast",
        "breasts", "sex", "sexy", "booty", "69", "steamy", "naughty", "bikini", "moan", "spank", "hook up",
        "hookup", "sex pistols",
    )),
    "drugs": frozenset((
        "party", "high", "trip", "tripping", "shots", "wasted", "lit", "baked", "buzzed", "pot", "joint", "joints", "acid",
        "crack", "coke", "smoke", "smoking", "powder", "hash", "dose", "pill", "pills", "wine", "beer", "needle",
        "sober", "rehab", "drug", "drugs", "drugstore", "addict", "addiction", "alcohol", "dope",
    )),
    "self_harm": frozenset((
        "jump", "bridge", "gone", "goodbye", "pain", "cut", "cutting", "alone", "empty", "numb", "disappear",
        "myself", "dead", "death", "die", "dying", "rope", "blade", "skinny", "starve", "starving", "tired of",
        "purge", "last time", "give up", "better off", "miss me", "without me", "no point", "end it", "ending it",
    )),
    "hate": frozenset((
        "kind", "women", "race", "racial", "ethnic", "breed", "animals", "savage", "purity", "superior", "lesser",
        "hate", "hates", "hating", "hateful", "disgusting", "filthy", "muslims", "jews", "asians", "arabs",
        "christians", "latinos", "disabled", "gays", "blacks", "whites", "mexicans", "foreigners", "refugees",
        "immigrants", "go back", "girls", "trans", "transgender", "lesbians", "gay", "muslim", "jewish",
        "immigrant", "migrants", "black people", "white people", "old people", "fat people", "elderly",
    )),
}

# slang, euphemisms and compounds from ``slang`` (kept there to keep this module readable), and other
# languages' swearing, slang and slurs from ``multilingual``
for _extra in (EXTRA, FOREIGN):
    for _cat, _lists in _extra.items():
        for _kind in ("strong", "weak"):
            LEXICON[_cat][_kind] = tuple(dict.fromkeys(LEXICON[_cat][_kind] + _lists[_kind]))
for _cat, _terms in EXTRA_AMBIGUOUS.items():
    AMBIGUOUS[_cat] = AMBIGUOUS[_cat] | _terms

_MASK_TARGETS: tuple[tuple[str, str], ...] = tuple(
    (cat, term)
    for cat, lists in LEXICON.items()
    for kind in ("strong", "weak")
    for term in lists[kind]
    if " " not in term and cat in ("profanity", "sexual", "hate")
)
# the other categories' words are masked too ("s*icide", "h*roin"), but their short words collide
# with innocent ones far more often: they are tried only when most of the word is visible
_MASK_TARGETS_VISIBLE: tuple[tuple[str, str], ...] = tuple(
    (cat, term)
    for cat, lists in LEXICON.items()
    for kind in ("strong", "weak")
    for term in lists[kind]
    if " " not in term and "-" not in term and len(term) >= 5 and cat not in ("profanity", "sexual", "hate")
)


def resolve_mask(pattern: str) -> tuple[str, str] | None:
    """A masked word's pattern ("^s.icide$") -> (category, term) it stands for, or None."""
    rx = re.compile(pattern)
    for cat, term in _MASK_TARGETS:
        if rx.match(term):
            return cat, term
    body = pattern[1:-1]
    hidden = body.count(".") - body.count("\\.")
    visible = len(re.sub(r"\\(.)", r"\1", body)) - hidden
    if visible < 3 or hidden * 3 > visible + hidden:
        return None
    for cat, term in _MASK_TARGETS_VISIBLE:
        if rx.match(term):
            return cat, term
    return None


@dataclass(frozen=True)
class LexHit:
    strong: dict[str, tuple[str, ...]]  # category -> strong terms found
    weak: dict[str, tuple[str, ...]]  # category -> weak cues found
    resolved_text: str  # normalised text with masked words replaced by the term they match
    innocent: frozenset[str] = frozenset()  # categories whose cues all sat inside innocent compounds

    @property
    def cued(self) -> bool:
        return bool(self.strong or self.weak)

    def only_ambiguous(self, category: str) -> bool:
        """Whether this category's only cues are weak words with a dominant innocent sense."""
        weak = self.weak.get(category, ())
        if category in self.strong:
            return False
        if not weak:
            return category in self.innocent
        return all(t in AMBIGUOUS[category] for t in weak)


# term index, built once: (category, kind, term) in lexicon order; single words by word, phrases
# (and hyphenated terms) by their first word
_TERMS: tuple[tuple[str, str, str], ...] = tuple(
    (cat, kind, term) for cat, lists in LEXICON.items() for kind in ("strong", "weak") for term in lists[kind]
)
_BY_WORD: dict[str, list[int]] = {}
_BY_FIRST_WORD: dict[str, list[int]] = {}
for _i, (_cat, _kind, _term) in enumerate(_TERMS):
    if " " in _term or "-" in _term:
        _BY_FIRST_WORD.setdefault(_term.split(" ")[0], []).append(_i)
    else:
        _BY_WORD.setdefault(_term, []).append(_i)
_INNOCENT_BY_FIRST_WORD: dict[str, list[str]] = {}
for _phrase in INNOCENT:
    _INNOCENT_BY_FIRST_WORD.setdefault(_phrase.split(" ")[0], []).append(_phrase)


def phrase_in(phrase: str, padded_text: str) -> bool:
    return f" {phrase} " in padded_text


# innocent words that contain a profane root (the "Scunthorpe problem"): place names, golf terms
_ROOT_EXCEPTIONS = frozenset((
    "scunthorpe", "scunthorpes", "mishit", "mishits", "mishitting", "shitake", "shiitake", "shiitakes",
    "snigger", "sniggers", "sniggering", "sniggered", "sniggerer", "sniggerers",
))


def _substring_strong(word: str) -> str | None:
    # compounds such as "shitstorm", "fuckboy", "motherfuckin": roots that are never innocent
    if word in _ROOT_EXCEPTIONS:
        return None
    for root in ("fuck", "shit", "cunt", "nigger", "faggot"):
        if root in word and not (root == "shit" and word.startswith("shiitake")):
            return root
    return None


_RUN3 = re.compile(r"([a-z])\1{2,}")


def squeeze(word: str) -> str:
    """A word with a letter stretched over three or more ("shooooot", "starrrving") -> the lexicon
    term it spells, squeezed to two letters ("shoot") or to one ("starving"); any other word (a
    known term such as "xxx", roman numerals, "zzz", numbers) is returned as it is."""
    if word in _BY_WORD or not _RUN3.search(word):
        return word
    for w in (_RUN3.sub(r"\1\1", word), re.sub(r"([a-z])\1+", r"\1", word)):
        if w in _BY_WORD:
            return w
    return word


def scan(norm: Normalised) -> LexHit:
    strong: dict[str, list[str]] = {}
    weak: dict[str, list[str]] = {}
    # stretched letters are squeezed in the text the embedder sees ("weeeed" -> "weed")
    squeezed = [squeeze(w) for w in norm.words]
    resolved = list(squeezed)
    # a resolved mask takes its word's place in the text the embedder sees ("is the answer" ->
    # "suicide is the answer"); inserted from the back so earlier positions stay valid
    at = norm.mask_at if len(norm.mask_at) == len(norm.masks) else (len(resolved),) * len(norm.masks)
    found: list[tuple[int, str]] = []
    for pattern, pos in zip(norm.masks, at):
        hit = resolve_mask(pattern)
        if hit is None:
            continue
        cat, term = hit
        kind = "strong" if term in LEXICON[cat]["strong"] else "weak"
        (strong if kind == "strong" else weak).setdefault(cat, []).append(term)
        found.append((pos, term))
    for pos, term in sorted(found, key=lambda x: x[0], reverse=True):
        resolved.insert(pos, term)
    variants = [word_variants(w) for w in norm.words]
    flat = set().union(*variants) if variants else set()
    shortest = [min(v, key=len) for v in variants]
    padded_forms = {" " + " ".join(norm.words) + " ", " " + " ".join(squeezed) + " "}
    if variants:
        padded_forms.add(" " + " ".join(shortest) + " ")
    # look up the text's words in the term index instead of testing every term against the text
    hits: set[int] = set()
    for w in flat:
        hits.update(_BY_WORD.get(w, ()))
    for tok in set(norm.words).union(shortest, squeezed):
        for i in _BY_FIRST_WORD.get(tok, ()):
            if any(phrase_in(_TERMS[i][2], p) for p in padded_forms):
                hits.add(i)
    # words inside an innocent compound ("strip mall", "drug store") are not weak cues
    covered: set[str] = set()
    for tok in set(norm.words):
        for phrase in _INNOCENT_BY_FIRST_WORD.get(tok, ()):
            if any(phrase_in(phrase, p) for p in padded_forms):
                covered.update(phrase.split(" "))
    innocent: set[str] = set()
    masked: set[str] = set()  # cue words of innocent compounds, left out of the text the embedder sees
    for i in sorted(hits):  # lexicon order, as the reasons list them
        cat, kind, term = _TERMS[i]
        if kind == "weak" and covered and all(w in covered for w in term.split(" ")):
            innocent.add(cat)
            masked.update(term.split(" "))
            continue
        (strong if kind == "strong" else weak).setdefault(cat, []).append(term)
    for cat, name in pattern_hits(" ".join(norm.words), set(norm.words)):
        strong.setdefault(cat, []).append(name)
    for w in norm.words:
        root = _substring_strong(w)
        if root is not None and root not in strong.get("profanity", ()):
            cat = "hate" if root in ("nigger", "faggot") else "profanity"
            strong.setdefault(cat, []).append(root)
    return LexHit(
        strong={k: tuple(dict.fromkeys(v)) for k, v in strong.items()},
        weak={k: tuple(dict.fromkeys(v)) for k, v in weak.items() if k not in strong},
        resolved_text=" ".join(w for w in resolved if w not in masked) if masked else " ".join(resolved),
        innocent=frozenset(c for c in innocent if c not in strong and c not in weak),
    )
