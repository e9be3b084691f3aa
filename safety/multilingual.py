"""Swearing, sexual slang and slurs in languages other than English (merged into ``lexicon``).

Generated titles, taglines and user-style lines are not all English, and the English-trained
pieces of the gate (alt-profanity-check, MiniLM) know little of other languages: "Chinga tu
madre" or "Scheiße" carry no English cue at all. Written from general knowledge of each language's
common vocabulary, not from evaluation texts. Every term is stored in its normalised form (run
through ``normalize.fold``: lower case, accents stripped, so "scheiße" is "scheisse" and
"cabrón" is "cabron"; a Cyrillic word that folds entirely to Latin letters, such as "сука", is
stored as it folds, "cyka").

- ``strong``: words with no innocent sense in titles (the equivalents of "fuck", "cunt",
  "motherfucker"); a hit scores the category high on its own, as English strong terms do.
- ``weak``: words that are also names, places or everyday words somewhere ("Pula" the Croatian
  city, "Verga" the novelist, "cono" an ice-cream cone in Italian, "fan" in Swedish, "Fick's law"):
  they only send the text to the head, which decides.
- ``MILD``: swearing milder than "shit" (the equivalents of "damn", "hell", "bloody"): a hit scores
  profanity at the mild level (``text.WEAK_PROFANITY_CAP``: blocked for kids, fine for adults), the
  level alt-profanity-check gives "damn" in English.

Slurs are kept to unambiguous ones. The head, fine-tuned on a mostly English corpus, is never
allowed to overrule a strong or ``MILD`` term of this module (``text.vetoed``): it has seen too
little of these languages to be sure that "Puta madre" is safe.
"""

from __future__ import annotations

from .normalize import fold

__all__ = ["FOREIGN", "FOREIGN_STRONG", "MILD"]


def _norm(terms: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(" ".join(fold(t).replace("-", " ").split()) for t in terms))


_PROFANITY_STRONG = (
    # Spanish
    "puta", "putas", "hijo de puta", "hija de puta", "hijos de puta", "hijueputa", "hijoputa",
    "puta madre", "chinga", "chingada", "chingado", "chingar", "chingate", "chinga tu madre", "pinche cabron",
    "pendejo", "pendeja", "pendejos", "pendejada", "cabron", "cabrona", "cabrones", "joder", "jodete", "jodido",
    "jodida", "mierda", "mierdas", "gilipollas", "culero", "culera", "malparido", "malparida", "me cago en",
    "concha de tu madre", "la concha de tu madre", "pelotudo", "chupapijas", "mamaguevo", "mamahuevo",
    # Portuguese
    "caralho", "foda se", "fodase", "foder", "fodido", "fodida", "vai se foder", "vai tomar no cu", "filho da puta",
    "filha da puta", "puta que pariu", "buceta", "arrombado", "desgracado", "merda",
    # French
    "merde", "putain", "connard", "connards", "connasse", "salope", "salopes", "encule", "encules", "enculer",
    "nique ta mere", "fils de pute", "ta gueule", "ferme ta gueule", "va te faire foutre",
    "couilles", "chier", "fait chier", "pute", "putes", "enfoire",
    # German
    "scheisse", "scheiss", "scheisskerl", "arschloch", "arschlocher", "fotze", "wichser", "hurensohn",
    "schlampe", "ficken", "fick dich", "gefickt", "verpiss dich", "leck mich", "miststuck", "drecksau",
    # Italian
    "cazzo", "cazzi", "vaffanculo", "fanculo", "stronzo", "stronza", "stronzi", "puttana", "puttane",
    "porca puttana", "coglione", "coglioni", "minchia", "porco dio", "testa di cazzo", "figlio di puttana",
    # Dutch
    "klootzak", "godverdomme", "kankerlijer", "kut wijf",
    # Polish, Czech, Slovak, Hungarian, Romanian, Balkan
    "kurwa", "kurwy", "kurwa mac", "pierdole", "pierdolic", "spierdalaj", "wypierdalaj", "jebac", "jebany",
    "chuj", "skurwysyn", "kurva", "do prdele", "zmrd", "kurac", "jebote", "jebem ti", "jebem", "picka",
    "pizda", "pizda materina", "bazmeg", "muie", "futu ti", "futu ti mortii",
    # Russian / Ukrainian (transliterated, and in Cyrillic)
    "blyat", "blyad", "bljad", "pizdec", "pizdets", "nahui", "nahuy", "nakhui", "nakhuy", "yebat",
    "yobany", "yebany", "ebat", "mudak", "mudaki", "suka blyat", "cyka blyat",
    "блять", "бля", "блядь", "пиздец", "пизда", "хуй", "нахуй", "ебать", "ёбаный", "мудак", "сука блять",
    # Scandinavian, Finnish, Greek, Turkish
    "vittu", "haista vittu", "kusipaa", "gamoto", "gamo to", "siktir", "siktir git",
    "orospu", "orospu cocugu", "amina koyim", "amina koyayim", "yarrak", "yarak",
    # Hindi / Urdu (transliterated), Tagalog, Arabic (transliterated), Korean (romanised)
    "madarchod", "maderchod", "behenchod", "bhenchod", "benchod", "chutiya", "chutiye", "bhosdike",
    "bhosdiwale", "bhosdi ke", "gandu", "teri maa ki", "putangina", "putang ina", "tangina", "tang ina",
    "putang ina mo", "tarantado", "sharmouta", "sharmoota", "sharmuta", "kos omak", "kus emak", "kuss ummak",
    "ibn el sharmouta", "shibal", "ssibal", "shibbal", "gaesaekki", "gaesekki",
)
_PROFANITY_WEAK = (
    # also names, places, foods or everyday words somewhere: the head decides
    "verga", "pinche", "cono", "porra", "bordel", "batard", "fick", "puto", "putos", "pica", "kuk", "lul", "kut",
    "kanker", "tering",
    "tyfus", "huj", "prdel", "hovno", "kokot", "geci", "pula", "dracu", "gago", "malaka", "malakas",
    "skata", "paska", "amk", "baka", "kuso", "cyka", "govno", "figa", "harami",
    "kamina", "kameena", "saala", "randi", "hostia", "huevon", "weon", "boludo", "gueule", "fitta", "fitte",
    "hoer", "verflucht",
)
_MILD = _norm((
    "carajo", "verdammt", "verdammte", "perkele", "saatana", "helvete", "jävla", "faen", "fy faen",
    "chikusho", "kisama", "byeongsin", "bwisit", "kameena",
))
MILD: frozenset[str] = frozenset(_MILD)

FOREIGN: dict[str, dict[str, tuple[str, ...]]] = {
    "profanity": {"strong": _norm(_PROFANITY_STRONG), "weak": _norm(_PROFANITY_WEAK + _MILD)},
    "sexual": {
        "strong": _norm(("chupa pija", "chupame la", "mamada", "follar", "follame", "cogeme", "coger rico",
                         "pompino", "scopami", "suce moi", "ficken wir", "bumsen",
                         "sexo anal", "sexe anal", "punheta", "kantot", "jakol", "chodna", "chudai", "sikis",
                         "sikmek")),
        "weak": _norm(("tetas", "tette", "nichons", "titten", "culo", "chatte", "coño", "polla", "pinga", "pija",
                       "pene", "scopare", "cazzone", "schwanz", "paja", "cogida", "muschi", "caliente", "cachonda",
                       "cachondo",
                       "tesao", "puta barata", "nackt", "desnuda", "desnudo", "nue")),
    },
    "hate": {
        "strong": _norm(("maricon", "maricones", "sudaca", "sudacas", "pidor", "pidoras", "pidaras", "pidory",
                         "schwuchtel", "schwuchteln", "frocio", "froci", "bougnoule", "bougnoules", "youpin",
                         "youpins", "kanake", "kanaken", "zigeunerpack", "judensau", "negrata", "chinito de mierda",
                         "sale arabe", "sale juif", "sale noir", "ausländer raus", "auslander raus", "juden raus",
                         "fuera inmigrantes", "fora imigrantes", "deportez les")),
        "weak": _norm(("marica", "joto", "jotos", "viado", "puto gay", "frocetto", "schwul", "zigeuner",
                       "gitanos", "moros", "macacos", "auslander", "etrangers", "immigres")),
    },
    "drugs": {
        "strong": _norm(("farlopa", "cocaina", "metanfetamina", "kokain", "haschisch", "fumar porro",
                         "fumar mota", "maconha", "dope rauchen", "kiffen", "bedröhnt", "zugedröhnt",
                         "spinello", "sballarsi", "narkota", "ganja peelo")),
        "weak": _norm(("droga", "drogas", "drogue", "drogen", "droghe", "perico", "heroina", "sballo", "charas",
                       "defonce", "koks", "porro", "porros", "mota",
                       "canna", "narkotyki", "travka", "borracho", "borracha", "besoffen", "saoul", "ubriaco",
                       "pastillas", "tripi", "acido")),
    },
    "self_harm": {
        "strong": _norm(("quiero morir", "quiero morirme", "me quiero matar", "suicidarme", "suicidar me",
                         "je veux mourir", "me suicider", "ich will sterben", "ich will mich umbringen",
                         "voglio morire",
                         "voglio uccidermi", "quero morrer", "chcę umrzeć", "chce umrzec", "zabić się",
                         "хочу умереть", "khochu umeret", "mar jaana chahta", "gusto ko nang mamatay")),
        "weak": _norm(("morir", "morirme", "mourir", "sterben", "morire", "morrer", "umrzec", "suicidio", "suicide",
                       "selbstmord", "samobojstwo", "me matar", "matarme", "uccidermi", "cortarme", "me couper",
                       "ritzen", "tagliarmi")),
    },
    "violence": {
        "strong": _norm(("te voy a matar", "los voy a matar", "voy a matarte", "je vais te tuer", "ich bring dich um",
                         "ich bringe dich um", "ti ammazzo", "vou te matar", "zabije cie", "ya tebya ubyu",
                         "я тебя убью", "mar dalunga", "papatayin kita")),
        "weak": _norm(("matar", "matarte", "tuer", "umbringen", "ammazzare", "uccidere", "zabic", "ubit", "balazo",
                       "plomo", "navaja", "cuchillo", "couteau", "messer", "coltello", "pistola", "masacre",
                       "golpear", "paliza", "tabassage", "verprugeln", "pestaggio")),
    },
}
# the head learnt English: it may not overrule these (``text.vetoed``)
FOREIGN_STRONG: frozenset[str] = frozenset(t for lists in FOREIGN.values() for t in lists["strong"])
