"""Slang, euphemisms and phrase patterns for the lexical pre-pass (merged into ``lexicon``).

Written from the GARM brand-safety floor / IAB sensitive-topic definitions and well-known street
and internet vocabulary, not from evaluation texts:

- ``EXTRA``: per-category ``strong`` (unambiguous: drug street names, self-harm euphemisms such as
  "unalive", sexual slang) and ``weak`` (context-dependent) terms, same semantics as ``LEXICON``.
- ``PATTERNS``: word-bounded regular expressions over the normalised text for constructions a
  word list cannot express: exclusion of a protected group ("no <group> allowed", "<group> not
  welcome", "deport the <group>"), violence aimed at a person ("stab him", "pistol whip the
  cashier"), self-harm methods ("in front of a train", "slit my wrists", "swallow all the pills").
  A pattern hit counts as a strong term of its category.
- ``INNOCENT``: compounds in which a cue word has its everyday sense ("strip mall", "drug store",
  "jump rope"); a weak cue inside one is not a cue, and the category must then beat the benign
  anchors by a margin like an innocent-dominant cue (``lexicon.AMBIGUOUS``).
"""

from __future__ import annotations

import re

__all__ = ["EXTRA", "EXTRA_AMBIGUOUS", "PATTERNS", "INNOCENT", "pattern_hits"]

EXTRA: dict[str, dict[str, tuple[str, ...]]] = {
    "profanity": {
        "strong": ("cocksucker", "son of a bitch", "arsehole", "bellend", "knobhead", "tosser", "whore", "whores",
                   "slut", "sluts"),
        "weak": ("frigging", "friggin", "effed", "bloody hell", "jerk off"),
    },
    "violence": {
        "strong": ("pistol whip", "pistol whipped", "pistol whipping", "curb stomp", "curbstomp", "drive by shooting",
                   "gun down", "gunned down", "beat to death", "beaten to death", "stabbed to death", "stab to death",
                   "burn alive", "burned alive", "burnt alive", "shanked", "acid attack", "car bomb", "suicide bomber",
                   "suicide vest", "mass murder", "blow his brains out", "blow their brains out", "pop a cap",
                   "bash his head", "bash her head", "i know where you live", "smash his face", "kick his teeth in",
                   "bludgeon", "bludgeoned",
                   "mutilate", "mutilated", "disembowel", "lynching", "lynch mob", "school shooter", "mass shooter",
                   "packing heat", "catch a body", "caught a body", "spin the block", "slide on the opps",
                   "smoke the opps", "wet him up", "body him"),
        "weak": ("crowbar", "machete", "brass knuckles", "tire iron", "pistol", "pistols", "revolver", "ak47",
                 "glock", "shotgun", "shank", "hitman", "hit man", "serial killer", "drive by", "carjack",
                 "home invasion", "robbery", "beatdown", "beat down", "hanged", "noose", "maim", "axe", "hammer",
                 "body bags", "kill list", "brawl", "brawls", "brawling", "bar fight", "bar fights", "street fight",
                 "fist fight", "fistfight", "knife fight", "catch these hands", "opps", "six feet under", "blicky",
                 "choppa", "draco", "strapped", "glizzy", "bodied"),
    },
    "sexual": {
        "strong": ("netflix and chill", "dtf", "get laid", "getting laid", "strip club", "strip clubs", "lap dance",
                   "lap dances", "wet t shirt", "sexting", "sext", "dick pic", "dick pics", "nip slip", "kama sutra",
                   "bdsm", "dominatrix", "orgy", "orgies", "nympho", "fansly", "sex toy", "sex toys", "vibrator",
                   "cam girls", "webcam girls", "hot singles", "singles in your area", "bust a nut", "doggy style",
                   "doggystyle", "deepthroat", "titties", "titty", "butt naked", "bump uglies", "knocking boots",
                   "lewd", "lewds", "naughty pics", "sexy pics", "x rated", "camgirls",
                   "escort service", "happy ending massage", "spread your legs", "spread her legs", "open your legs",
                   "noods", "noodz", "nudez", "nudies"),
        "weak": ("one night stand", "friends with benefits", "sugar daddy", "sugar baby", "escort", "escorts",
                 "hooker", "hookers", "prostitute", "prostitutes", "pole dancing", "pole dance", "skinny dipping",
                 "boner", "hard on", "swingers", "thot", "quickie", "hanky panky", "make love", "making love",
                 "in the buff", "birthday suit", "clothing optional", "adults only", "thirst trap", "sexy time",
                 "boob", "boobies", "seduction", "aroused", "arousal", "panties", "undies", "between the sheets",
                 "stripping", "strippers", "frisky", "get frisky", "getting frisky", "private show", "cam show",
                 "spicy pics", "spicy content", "feet pics", "smash or pass", "slide into my dms", "body shots"),
    },
    "hate": {
        "strong": ("gook", "gooks", "beaner", "beaners", "towelhead", "towelheads", "darkie",
                   "darkies", "porch monkey", "jungle bunny", "mongoloid", "pikey", "pikeys", "shemale",
                   "white genocide", "great replacement", "blood and soil", "1488", "whites only",
                   "go back where you came from", "go back to where you came from", "deport them all"),
        "weak": ("coon", "coons", "paki", "pakis", "jap", "japs", "negro", "negroes", "spastic", "cripple", "fag",
                 "fags", "final solution", "cripples", "dyke", "gypsies", "gypsy", "build the wall", "send them back",
                 "not welcome",
                 "allowed", "banned", "keep out", "stay out", "replace us", "need not apply", "gas chamber",
                 "gas chambers"),
    },
    "drugs": {
        "strong": ("wake and bake", "nose candy", "hotbox", "hotboxing", "spliff", "spliffs", "doobies",
                   "reefer", "ganja", "sizzurp", "purple drank", "percocet", "percocets", "percs", "xans",
                   "xanny", "xannies", "benzos", "k hole", "khole", "speedball", "angel dust", "pcp", "dmt",
                   "magic mushrooms", "acid trip", "crackhead", "crackheads", "cokehead", "cokeheads", "pothead",
                   "potheads", "methhead", "meth head", "smoke a bowl", "pack a bowl",
                   "bong rip", "bong rips", "bong hits", "blaze it", "blaze one", "get baked", "getting baked",
                   "got baked", "roll a joint", "roll one up", "puff puff pass", "line of coke", "lines of coke",
                   "do a line", "doing lines", "yayo", "yeyo", "skag", "scag", "glue sniffing", "sniff glue",
                   "huffing paint", "keg stand", "beer bong", "get drunk", "getting drunk", "got drunk",
                   "get hammered", "getting hammered", "get blazed", "getting blazed", "drink till you drop",
                   "drink until you pass out", "pill popping", "popping pills", "pop pills", "pop a pill",
                   "cook meth", "cooking meth", "drug deal", "drug dealer", "drug dealing", "sell drugs",
                   "selling drugs", "dime bag", "nickel bag", "bag of weed", "bag of coke", "codeine",
                   "dirty sprite", "nitrous balloons", "dab rig", "zaza", "chasing the dragon", "zooted", "geeked up",
                   "sipping lean", "sippin lean", "sip lean", "double cup", "xanny bars", "xan bars", "mainlining",
                   "crack pipe", "meth pipe", "hit the pipe", "hitting the pipe", "get faded", "getting faded",
                   "get zooted", "loud pack", "420 friendly", "get smashed", "getting smashed", "get plastered",
                   "getting plastered", "get trashed", "getting trashed", "get sloshed", "shotgun a beer",
                   "drink till you puke", "drink until you black out", "mushroom trip", "shroom trip", "acid tabs",
                   "tabs of acid", "thc cart", "thc carts", "thc vape", "wax pen", "on the nod",
                   "shooting dope", "blunt rotation", "smoke sesh"),
        "weak": ("plug", "bump", "blazed", "blaze", "blazing", "toke", "toking", "xan", "oxy", "oxys", "adderall",
                 "opiates", "morphine", "psilocybin", "ayahuasca", "mushrooms", "trippy", "bender", "hammered",
                 "plastered", "sloshed", "trashed", "binge", "chug", "chugging", "keg", "eight ball", "8 ball",
                 "faded", "zonked", "geeked", "turnt", "poppers", "nitrous", "rave", "stash", "drank", "stoner",
                 "edible", "dabs", "tweaking", "trap house", "shooting up", "whippets", "fent", "fetty", "tranq",
                 "bath salts", "k2", "special k", "ket", "microdosing", "nodding off", "fiend", "fiending", "feenin",
                 "thc", "carts", "delta 8", "blackout", "pregame", "jungle juice", "jello shots", "liquid courage",
                 "keg party", "get wrecked", "get tipsy", "sesh", "lean", "kush", "junkie", "junkies", "doobie",
                 "dopesick"),
    },
    "self_harm": {
        "strong": ("unalive", "unaliving", "unalived", "kys", "kill yourself", "killing yourself", "off myself",
                   "offing myself", "end myself", "sewerslide", "sewer slide", "suicide note", "nobody will miss me",
                   "no one will miss me", "wish i was dead", "wish i were dead", "wish i was never born",
                   "wish i had never been born", "dont want to be alive", "don't want to be alive",
                   "dont want to live", "don't want to live", "done with life", "tired of living",
                   "tired of being alive", "drink bleach", "tie a noose", "thinspo", "bonespo", "meanspo",
                   "pro mia", "promia", "ana tips", "ana coach", "final exit", "stop waking up",
                   "stop breathing forever"),
        "weak": ("train", "tracks", "ledge", "rooftop", "wrist", "veins", "scars", "bleach", "carbon monoxide",
                 "sleeping pills", "thigh gap", "skip meals", "skipping meals", "purging", "permanent solution",
                 "my last goodbye", "razor blades", "cut deeper", "bleed out", "punish myself", "hate myself",
                 "want to disappear", "wanna disappear", "never wake up", "not wake up", "sleep forever",
                 "anymore", "farewell", "no way out", "cant go on", "can't go on", "vanish", "swallow",
                 "jump off", "step off", "in front of", "wont be here", "won't be here", "permanent sleep",
                 "final sleep", "tylenol", "paracetamol", "acetaminophen", "zero calorie", "ana buddy",
                 "body check", "purge after", "goodbye cruel world"),
    },
}

# broad verbs aimed at a person ("kick them", "rob him"): idioms exist ("rob them blind", "kick them
# out"), so they are weak cues and the semantic scorer decides
_BROAD_VERBS = ("punch", "punched", "punching", "kick", "kicked", "kicking", "jump", "jumped", "rob", "robbed",
                "robbing", "mug", "mugged", "batter", "battered", "slash", "slashed", "torch", "torched", "whack",
                "whacked", "smack", "smacked", "slap", "slapped", "hit", "bash", "bashed", "choke", "choked")
EXTRA["violence"]["weak"] = EXTRA["violence"]["weak"] + tuple(
    f"{verb} {obj}" for verb in _BROAD_VERBS for obj in ("him", "her", "them", "em")
)

# weak EXTRA terms whose innocent sense dominates (see ``lexicon.AMBIGUOUS``)
EXTRA_AMBIGUOUS: dict[str, frozenset[str]] = {
    "profanity": frozenset(),
    "violence": frozenset(("pistol", "pistols", "hitman", "hit man", "serial killer", "robbery", "axe", "hammer",
                           "shank", "six feet under", "draco", "strapped", "glizzy", "bodied", "catch these hands")),
    "sexual": frozenset(("escort", "escorts", "hooker", "hookers", "swingers", "quickie", "make love",
                         "making love", "birthday suit", "boob", "pole dancing", "pole dance", "skinny dipping",
                         "friends with benefits", "one night stand", "sugar daddy", "sugar baby", "in the buff",
                         "adults only", "panties", "undies", "thirst trap", "seduction", "sexy time", "hanky panky",
                         "stripping", "strippers", "between the sheets", "frisky", "private show", "smash or pass",
                         "slide into my dms", "spicy content")),
    "hate": frozenset(("coon", "coons", "jap", "japs", "negro", "negroes", "fag", "fags", "final solution", "allowed",
                       "banned", "keep out", "stay out", "dyke", "gypsy", "gypsies", "cripple", "cripples", "spastic",
                       "not welcome")),
    "drugs": frozenset(("plug", "bump", "blaze", "blazing", "mushrooms", "trippy", "bender", "hammered",
                        "plastered", "trashed", "binge", "chug", "chugging", "keg", "eight ball", "8 ball", "faded",
                        "geeked", "turnt", "poppers", "rave", "stash", "drank", "morphine", "adderall", "oxy", "oxys",
                        "toke", "toking", "blazed", "stoner", "edible", "dabs", "tweaking", "trap house",
                        "shooting up", "special k", "ket", "kush", "junkie", "junkies", "doobie", "dopesick",
                        "blackout", "pregame", "jello shots", "liquid courage",
                        "keg party", "get wrecked", "get tipsy", "sesh", "lean", "fiend", "carts", "bath salts")),
    "self_harm": frozenset(("train", "tracks", "ledge", "rooftop", "wrist", "veins", "scars", "bleach", "anymore",
                            "farewell", "no way out", "cant go on", "can't go on", "vanish", "swallow", "jump off",
                            "step off", "in front of", "sleeping pills", "never wake up", "not wake up",
                            "sleep forever", "wont be here", "won't be here", "hate myself", "tylenol", "paracetamol",
                            "acetaminophen", "body check", "final sleep", "goodbye cruel world")),
}

# protected groups (GARM "Hate speech": race, ethnicity, nationality, religion, gender, sexuality,
# disability, age, body), plural and collective forms as they appear in exclusion slogans
_GROUP = (
    r"(?:muslims?|jews?|jewish people|blacks|black people|whites|white people|asians?|arabs?|africans?|"
    r"indians|chinese|mexicans?|latinos?|latinas|hispanics|gypsies|roma|catholics|christians|hindus|sikhs|"
    r"atheists|immigrants?|migrants?|refugees|foreigners|gays?|gay people|lesbians|queers|homos|trans|"
    r"trans people|transgender people|women|girls|females|men|boys|disabled people|the disabled|cripples|"
    r"wheelchair users|fat people|fatties|old people|old folks|seniors|the elderly|boomers|irish|poles|russians|"
    r"ukrainians|"
    r"palestinians|israelis|koreans|japanese|filipinos|pakistanis|somalis|syrians|afghans|nigerians|"
    r"haitians|negroes|illegals)"
)
_PRONOUN = r"(?:him|her|them|em)"

_PATTERN_SPECS: tuple[tuple[str, str, str], ...] = (
    ("hate", "exclusion ('no <group> allowed')",
     rf"\bno (?:more )?(?:\w+ (?:or|and|nor) )?{_GROUP} (?:(?:or|and) \w+ )?"
     rf"(?:allowed|wanted|welcome|permitted|admitted|here|please|need apply)\b"),
    ("hate", "exclusion ('<group> not welcome')",
     rf"\b{_GROUP} (?:are )?(?:not|never|arent|aren't) (?:allowed|welcome|wanted|permitted|human|people)\b"),
    ("hate", "exclusion ('<group> go home')",
     rf"\b{_GROUP} (?:out$|get out|go home|keep out|stay out|need not apply)"),
    ("hate", "exclusion ('don't hire <group>')",
     rf"\b(?:dont|don't|do not|never|wont|won't|will not|refuse to|stop) (?:hire|hiring|rent to|renting to|serve|"
     rf"serving|employ|employing|vote for|promote|promoting|admit|admitting) (?:any )?{_GROUP}\b"),
    ("hate", "'<group> belong in the kitchen'",
     rf"\b{_GROUP} (?:belong|belongs|should stay|should be kept|must stay) (?:in|at|on) (?:the |a )?(?:kitchen|"
     rf"home|cages?|zoo|jail|prison|camps?|chains|gutter|back of the bus)\b"),
    ("hate", "'<group> don't deserve'",
     rf"\b{_GROUP} (?:dont|don't|do not|doesnt|doesn't|never) deserve (?:love|rights|to live|respect|jobs|a voice|"
     rf"to vote|to exist|kindness|anything)\b|\b(?:black|gay|trans|muslim|jewish|immigrant|asian|women's) lives? "
     rf"(?:dont|don't|do not|doesnt|doesn't) matter\b"),
    ("hate", "'go back to <place>'",
     r"\bgo back to (?:africa|asia|mexico|china|india|pakistan|the middle east|your own country|your country|"
     r"where you came from|where they came from|the jungle|the desert|your shithole)\b"),
    ("hate", "conspiracy trope ('<group> control everything')",
     rf"\b{_GROUP} (?:control|controls|run|runs|own|owns|rule|rules) (?:everything|the world|the media|the banks|"
     rf"hollywood|the government|the money)\b"),
    ("hate", "exclusion ('ban / deport <group>')",
     rf"\b(?:ban|deport|expel|kick out|throw out|round up|get rid of|keep out|lock up|send back) "
     rf"(?:all )?(?:the |those |these )?{_GROUP}\b"),
    ("hate", "exclusion ('keep <group> out')", rf"\b(?:keep|kick|throw) (?:the |those |all )?{_GROUP} out\b"),
    ("hate", "segregation ('whites only')", r"\b(?:whites|white people|christians|straights) only\b"),
    ("hate", "dehumanising ('<group> are vermin')",
     rf"\b(?:{_GROUP}|islam|judaism) (?:are|r|is) (?:all )?(?:animals|vermin|rats|parasites|subhuman|scum|trash|"
     rf"savages|a disease|"
     rf"a plague|a cancer|the problem|the enemy|criminals|invaders|inferior|dogs|pigs|apes|monkeys|roaches|"
     rf"cockroaches|filth|disgusting|useless|leeches|worthless|a burden|a waste of space|freaks|terrorists|rapists|"
     rf"thieves|less than human|mentally ill|evil)\b"),
    ("hate", "attack on places of worship",
     r"\b(?:ban|burn|burn down|bomb|destroy|attack|torch|vandalise|vandalize) (?:all |every |the |their )?"
     r"(?:mosques?|synagogues?|churches|temples|gurdwaras)\b"),
    ("hate", "violence against a group",
     rf"\b(?:kill|shoot|gas|hang|lynch|burn|exterminate|eliminate|purge|wipe out|hunt|beat up) "
     rf"(?:all )?(?:the |those |these )?{_GROUP}\b"),
    ("hate", "'<group> should die'",
     rf"\b{_GROUP} (?:should|must|deserve to|need to) (?:die|burn|hang|be (?:banned|deported|killed|shot|"
     rf"gassed|locked up|removed|eliminated|exterminated|sterilised|sterilized))\b"),
    ("violence", "violence aimed at a person",
     rf"\b(?:hang|lynch|stab|strangle|torture|pistol whip|curb stomp|stomp on|shank|bludgeon|maim|mutilate|"
     rf"suffocate|smother|behead|gun down|kidnap|pummel)"
     rf"(?:s|ed|ped|bed|ing|ping|bing)? {_PRONOUN}\b"),
    ("violence", "violence aimed at a named victim",
     r"\b(?:lynch|stab|strangle|torture|pistol whip|curb stomp|shank|bludgeon|behead|gun down|maim|mutilate)"
     r"(?:s|ed|bed|ing|bing)? (?:the|that|this|my|his|her|their|your|a) \w+"),
    ("violence", "threat ('make them suffer', 'I know where you live')",
     r"\b(?:make|making|watch) (?:him|her|them|em|you) (?:suffer|bleed|beg|scream)\b|\bi know where you live\b"),
    ("violence", "killing a rival",
     r"\b(?:kill|killing|murder|murdering|stab|stabbing|shoot|shooting|slaughter|execute|whack|off) (?:your|my|his|"
     r"her|their|the) (?:rivals?|enemies|enemy|neighbou?rs?|boss|wife|husband|family|teachers?|classmates?|ex|"
     r"parents|mom|dad|brother|sister|coworkers?|snitch|opps)\b"),
    ("violence", "maiming threat ('break his legs', 'put him in the ground')",
     r"\b(?:break|breaking|snap|snapping|smash|smashing|bust|busting) (?:his|her|their|your|ur) (?:legs?|neck|jaw|"
     r"arms?|face|skull|bones|knees?|teeth|nose)\b|\b(?:put|putting|leave|leaving) (?:him|her|them|em|you) "
     r"(?:in the ground|in the dirt|six feet under|in a body bag|in the hospital|in a ditch|for dead|bleeding|"
     r"dead)\b"),
    ("violence", "armed attack",
     r"\b(?:beat|hit|smash|bash|club|attack|threaten|whack|cave|bust|teach)(?:s|ed|ing)? (?:him|her|them|em|"
     r"you|his \w+|her \w+|their \w+|the \w+)(?: \w+){0,3} (?:with|using) (?:a|my|the|his|your) (?:bat|"
     r"baseball bat|crowbar|machete|knife|gun|pipe|hammer|brick|chain|tire iron|axe|bottle|golf club)\b"),
    ("self_harm", "self-harm method (train)",
     r"\b(?:(?:jump|jumping|jumped|step|stepping|stepped|walk|walking|throw myself|throwing myself|"
     r"threw myself|leap|leaping|lie down|lying down) (?:in front of|under) (?:a|the|an|that|oncoming) "
     r"(?:train|subway|bus|truck|lorry|car|traffic|tube)|(?:lie|lying|lay|laying) (?:down )?(?:on|across) "
     r"the (?:train tracks|tracks|railway|rails))\b"),
    ("self_harm", "self-harm method (height)",
     r"\b(?:jump|jumping|jumped|leap|leaping|throw myself|throwing myself|step|stepping) "
     r"(?:off|from) (?:a|the|this|that|my|an) (?:bridge|roof|rooftop|building|ledge|cliff|balcony|tower|"
     r"overpass|skyscraper|window|parking garage|tall building)\b"),
    ("self_harm", "self-harm method (cutting)",
     r"\b(?:slit|slitting|slice|slicing|cut|cutting|slash|slashing) (?:my|your|both|open my) "
     r"(?:wrists?|veins|arms?|thighs?|skin|forearms?)\b"),
    ("self_harm", "self-harm method (overdose)",
     r"\b(?:swallow|swallowing|take|taking|took|down|downing|pop|popping|chug|chugging|empty|emptying) "
     r"(?:all|every|the whole bottle of|a bottle of|a handful of|a fistful of|all of) (?:(?:my|the|of my|of the) )?"
     r"(?:pills|meds|tablets|sleeping pills|painkillers|pill bottle|prescriptions?)\b"),
    ("self_harm", "self-harm method (walking into traffic or water)",
     r"\b(?:walk|walking|walked|step|stepping|run|running|wade|wading) (?:out )?into (?:the )?(?:traffic|oncoming "
     r"traffic|sea|ocean|river|lake|freeway|highway|motorway)\b(?! (?:view|front|cruise|resort|hotel|tour|side))"),
    ("self_harm", "self-harm method (how many pills)",
     r"\bhow many (?:pills|tylenol|paracetamol|acetaminophen|sleeping pills|painkillers|aspirin|advil|xanax|"
     r"sleeping tablets)\b"),
    ("self_harm", "self-harm method (hanging, poisoning, drowning)",
     r"\b(?:hang|hanging|hanged|drown|drowning|poison|poisoning|gas|starve|starving|suffocate|suffocating|"
     r"bleed|bleeding) myself\b"),
)

# a pattern is only tried when the text contains one of its trigger substrings (a cheap C-level
# test: most texts skip every regex); hate patterns need a group word
_GROUP_TOKENS = set(re.findall(r"[a-z]+", _GROUP)) - {"the", "people", "users"} | {"straights", "islam", "judaism"}
_GROUP_WORDS = frozenset(_GROUP_TOKENS | {t[:-1] for t in _GROUP_TOKENS if t.endswith("s")})
_TRIGGERS: dict[str, tuple[str, ...]] = {
    "'<group> don't deserve'": ("deserve", "matter"),
    "'go back to <place>'": ("go back to",),
    "attack on places of worship": ("mosque", "synagogue", "church", "temple", "gurdwara"),
    "violence aimed at a person": ("him", "her", "them", "em"),
    "violence aimed at a named victim": ("lynch", "stab", "strangl", "tortur", "pistol", "curb", "shank",
                                         "bludgeon", "behead", "gun down", "maim", "mutilat"),
    "armed attack": ("bat", "crowbar", "machete", "knife", "gun", "pipe", "hammer", "brick", "chain", "iron", "axe",
                     "bottle", "club"),
    "self-harm method (train)": ("train", "subway", "bus", "truck", "lorry", "car", "traffic", "tube", "track",
                                 "rail"),
    "self-harm method (height)": ("off ", "from "),
    "self-harm method (cutting)": ("wrist", "vein", "arm", "thigh", "skin"),
    "self-harm method (overdose)": ("pill", "meds", "tablet", "painkiller", "prescription"),
    "self-harm method (hanging, poisoning, drowning)": ("myself",),
    "self-harm method (walking into traffic or water)": ("into ",),
    "self-harm method (how many pills)": ("how many",),
    "threat ('make them suffer', 'I know where you live')": ("suffer", "bleed", "beg", "scream", "where you live"),
    "maiming threat ('break his legs', 'put him in the ground')": ("his ", "her ", "their ", "your ", "ur ",
                                                                   "him", "them", "em ", "you"),
    "killing a rival": ("kill", "murder", "stab", "shoot", "slaughter", "execute", "whack", "off "),
}
PATTERNS: tuple[tuple[str, str, re.Pattern[str], tuple[str, ...] | None], ...] = tuple(
    (cat, name, re.compile(rx), _TRIGGERS.get(name) if cat != "hate" or name in _TRIGGERS else None)
    for cat, name, rx in _PATTERN_SPECS
)

INNOCENT: tuple[str, ...] = (
    "strip mall", "strip malls", "comic strip", "comic strips", "strip steak", "sunset strip", "landing strip",
    "drug store", "drug stores", "jump rope", "jumping rope", "skipping rope", "rope skipping",
    "rope swing", "ropes course", "tug of war", "high school", "high score", "high five", "high tide",
    "high tea", "photo shoot", "shooting star", "shooting stars", "hot dog", "hot dogs", "hot sauce",
    "hot chocolate", "hot air balloon", "pot roast", "pot luck", "potluck", "crock pot", "hot pot", "pot pie",
    "joint venture", "joint pain", "crack the code", "crack of dawn", "diet coke", "coke zero", "coca cola",
    "acid jazz", "acid reflux", "citric acid", "baked goods", "baked potato", "baked beans", "bake sale",
    "bake off", "dead sea", "dead end", "dead heat", "grateful dead", "death valley", "killer whale",
    "killer whales", "yellow brick road", "goodbye song", "goodbye songs", "lethal weapon", "die hard",
    "fire drill", "bridge club", "bridge tournament", "train station", "train ride", "toy train",
    "train set", "steam train", "model train", "night train", "soul train", "baseball bat", "cricket bat",
    "fruit bat", "vampire bat", "bat signal", "bat mitzvah", "line dance", "line dancing", "punch line",
    "punchline", "fruit punch", "snow day", "snow angel", "snowball fight", "ice cream", "ice skating",
    "ice hockey", "hit parade", "greatest hits", "smash hits", "box office hit", "score board", "scoreboard",
    "final score", "film score", "movie score", "bowl game", "super bowl", "salad bowl", "grass court",
    "herb garden", "powder room", "powder puff", "baby powder", "gun show", "water gun", "nerf gun",
    "glue gun", "rob roy", "mug cake", "coffee mug", "tree house", "treehouse", "christmas tree",
    "family tree", "last dance", "last christmas", "final countdown", "final fantasy", "farewell tour",
    "sleep sounds", "sleep music", "deep sleep", "sleep stories", "ride or die", "joy ride", "hay ride",
    "bike ride", "road trip", "field trip", "day trip", "spice girls", "hammer time", "swing dance",
    "lines of code", "front line", "finish line", "molly malone", "rolling stones", "rock and roll",
    "sushi roll", "egg roll", "spring roll", "kick off", "kickoff", "kick boxing", "kickboxing",
    "bang bang", "big bang", "horse riding", "horse racing", "rocking horse", "dark horse",
    "dirty laundry", "dirty dishes", "dirty work", "dirty jobs", "flu shot", "flu shots", "espresso shots",
    "shots of espresso", "booster shot", "mug shot", "hot tub", "hot wings", "hot rod", "hot yoga",
    "hindu kush", "doobie brothers", "adrenaline junkie", "adrenaline junkies", "news junkie", "sugar junkie",
    "pornstar martini", "pornstar martinis", "fag break", "razor scooter", "bath salts and candles",
    "strip search", "sex education", "sex ed", "drug test", "drug free", "drug testing",
)


def pattern_hits(text: str, words: frozenset[str] | set[str]) -> list[tuple[str, str]]:
    """(category, pattern name) for each pattern that matches the normalised ``text`` (its ``words``)."""
    group = not _GROUP_WORDS.isdisjoint(words)
    out: list[tuple[str, str]] = []
    for cat, name, rx, triggers in PATTERNS:
        if triggers is None:
            if not group:
                continue
        elif not any(t in text for t in triggers):
            continue
        if rx.search(text):
            out.append((cat, name))
    return out
