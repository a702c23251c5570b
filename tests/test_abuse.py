"""Verbal-abuse detection: lexicon tables, ASR variants, shouting, settings, labelled sets."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from abuse_eval import BLIND, BLIND3, DEV, HELDOUT, asr_noise, evaluate, load_calls
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.abuse import DATA_DIR, AbuseConfig, detect_abuse, normalise
from analytics.config import Settings
from analytics.errors import ConfigError
from analytics.models import SEVERITIES, RedactedSegment, RedactedTranscript

RANK: dict[str, int] = {s: i for i, s in enumerate(SEVERITIES)}


def call(
    *lines: tuple[str, str] | tuple[str, str, float], language: str = "fr"
) -> RedactedTranscript:
    """A transcript of (speaker, text[, loudness_db]) lines, 3 s each."""
    segments = tuple(
        RedactedSegment(
            speaker=line[0],  # type: ignore[arg-type]
            start=3.0 * i,
            end=3.0 * i + 2.5,
            text=line[1],
            loudness_db=line[2] if len(line) > 2 else None,  # type: ignore[misc]
        )
        for i, line in enumerate(lines)
    )
    return RedactedTranscript("t1", language, 1.0, 3.0 * len(lines), segments)


def one(text: str, language: str, speaker: str = "customer"):
    return detect_abuse(call((speaker, text), language=language))


# -- lexicon and pattern tables -----------------------------------------------------------

FR_ABUSIVE = [
    ("espèce de connard", "insult", "medium"),
    ("espece de abruti va", "insult", "medium"),
    ("euh espèce de euh gros nul", "insult", "medium"),
    ("bande de nazes", "insult", "medium"),
    ("bande d'incapables", "insult", "medium"),
    ("va te faire foutre", "insult", "high"),
    ("allez vous faire voir avec votre contrat", "insult", "high"),
    ("ta gueule", "insult", "medium"),
    ("t'es qu'une salope", "insult", "high"),
    ("vous êtes des enculés", "insult", "high"),
    ("sale con", "insult", "medium"),
    ("pauvre conne", "insult", "medium"),
    ("t es vraiment trop con", "insult", "medium"),
    ("vous êtes complètement débile", "insult", "medium"),
    ("fils de pute", "insult", "high"),
    ("enfoiré", "insult", "medium"),
    ("connards", "insult", "medium"),  # plural
    ("conard", "insult", "medium"),  # ASR spelling
    ("connnnard", "insult", "medium"),  # repeated letters
    ("abrutis", "insult", "medium"),
    ("en culé", "insult", "high"),  # split by the ASR
    ("je sais où vous trouver", "threat", "high"),
    ("je sais ou tu habites", "threat", "high"),
    ("j'vais te retrouver", "threat", "high"),
    ("je vais vous faire la peau", "threat", "high"),
    ("vous allez le regretter", "threat", "medium"),
    ("tu vas me le payer", "threat", "medium"),
    ("je connais votre adresse", "threat", "medium"),
    ("je vais venir tout casser", "threat", "medium"),
    ("je vais t'attendre à la sortie de ton boulot", "threat", "high"),
    ("sale arabe", "harassment", "high"),
    ("rentre dans ton pays", "harassment", "high"),
    ("espèce de pédé", "harassment", "high"),
    ("ta voix est trop sexy", "harassment", "medium"),
    ("putain de merde", "profanity", "low"),
    ("allez dégage", "insult", "medium"),
    ("vous êtes toutes des grosses feignasses", "insult", "medium"),
    ("t'es bouché ou quoi", "insult", "medium"),
    ("je vais lui casser la gueule à votre dépanneur", "threat", "high"),
    ("je vais vous regreter ça vous allez le regreter", "threat", "medium"),  # one t
    ("je sais où vous trrouver", "threat", "high"),  # doubled letter
    ("vous êtes vraimeent une idiote", "insult", "medium"),
]

FR_NOT_ABUSE = [
    "c'est inadmissible",
    "je suis très déçu",
    "c'est scandaleux je vais porter plainte",
    "je veux parler à votre responsable",
    "vous vous moquez du monde",
    "c'est n'importe quoi votre service",
    "c'est idiot ce contrat",
    "une espèce de garantie",
    "une bande de jeunes m'a aidé",
    "quelle espèce de chien avez vous",
    "oh la vache il est tard",
    "un canard a traversé la route",
    "le conteneur est arrivé",
    "mon chat est malade",
    "il est bavard mon fils",
    "le conservatoire de <LOCATION>",
    "je m'appelle <PERSON> j'habite à <LOCATION>",
    "je vais vous retrouver le numéro de dossier",  # not a threat: finding a number
    "le dépanneur m'a traité de connard",  # reported speech
    "vous allez recevoir un mail",
    "je connais bien votre agence",
    "je vais vous trouver un dépanneur",
    "envoyez-moi une photo du véhicule",
    "je vais résilier et laisser un avis sur internet",
    "il m'a dit que j'étais nul en conduite",  # reported speech
    "mon vol est annulé",  # one letter from a misspelt insult: allow-listed
    "dégagez la voie s'il vous plaît",
    "ma chérie est malade",
    "il y a une sale tache sur le siège",
    "je vous attends ce soir au garage",
    "on va se retrouver demain à l'agence",
    "je suis crevé j'ai roulé toute la nuit",
]

EN_ABUSIVE = [
    ("you're a fucking idiot", "insult", "medium"),
    ("you stupid cow", "insult", "medium"),
    ("shut up you dumb bitch", "insult", "medium"),
    ("go fuck yourself", "insult", "high"),
    ("fuck you", "insult", "high"),
    ("f*** you", "insult", "high"),
    ("fuk u", "insult", "high"),
    ("you piece of shit", "insult", "high"),
    ("what a moron", "insult", "medium"),
    ("you bunch of clowns", "insult", "medium"),
    ("ur an assole", "insult", "medium"),  # ASR spelling
    ("ass hole", "insult", "medium"),  # split by the ASR
    ("piss off", "insult", "medium"),
    ("you useless twat", "insult", "medium"),
    ("i know where you live", "threat", "high"),
    ("uh i know where you uh live", "threat", "high"),
    ("i'll find you", "threat", "high"),
    ("im gonna kill you", "threat", "high"),
    ("i will come down there and smash your face in", "threat", "high"),
    ("you're going to regret this", "threat", "medium"),
    ("you will pay for this", "threat", "medium"),
    ("watch your back", "threat", "medium"),
    ("go back to your country", "harassment", "high"),
    ("you're a retard", "harassment", "high"),
    ("stupid foreigner", "harassment", "high"),
    ("what are you wearing", "harassment", "medium"),
    ("send me a pic of yourself", "harassment", "medium"),
    ("send me nudes", "harassment", "medium"),
    ("this is bullshit", "profanity", "low"),
    ("you people should all be shot", "threat", "high"),
    ("i'll be waiting outside your office", "threat", "medium"),
    ("i'll burn his truck", "threat", "high"),
    ("are you single", "harassment", "medium"),
    ("you're such a useless sack of crap", "insult", "high"),
    ("you you know piece of like shit", "insult", "high"),  # fillers inside a phrase
]

EN_NOT_ABUSE = [
    "this is unacceptable",
    "i want to speak to your manager",
    "i'm extremely disappointed",
    "this is ridiculous",
    "i'll take this to court",
    "i'm going to file a formal complaint",
    "that's a stupid rule",
    "i'll find you a hotel nearby",  # the agent helping
    "we will get you sorted",
    "my banker called me",
    "a bigger car please",
    "the ducks were crossing the road",
    "i'm calling from scunthorpe",
    "the cocktail bar in essex",
    "with regard to my claim",
    "he called me an idiot",  # reported speech
    "you can pick up the car tomorrow",
    "my name is <PERSON> and i live in <LOCATION>",
    "can you send me a copy of the policy",
    "send me a picture of the damage",
    "i'll get you a taxi",
    "we will destroy your company online with reviews",
    "the flight was delayed again damn",  # mild swearing: an event, see below
    "the engine should be shot by now",
    "being lazy is fine on holiday",
    "hey there darling thanks",
    "can you kill the engine",
    "i could murder a cup of tea",
    "the battery is dead",
    "shoot me an email",
    "what do you look for in a policy",
]


@pytest.mark.parametrize(("text", "category", "severity"), FR_ABUSIVE)
def test_french_abuse(text: str, category: str, severity: str) -> None:
    report = one(text, "fr")
    found = {e.category: e for e in report.events}
    assert category in found, f"{text!r}: {[(e.category, e.matched) for e in report.events]}"
    assert found[category].severity == severity
    assert found[category].matched


@pytest.mark.parametrize(("text", "category", "severity"), EN_ABUSIVE)
def test_english_abuse(text: str, category: str, severity: str) -> None:
    report = one(text, "en")
    found = {e.category: e for e in report.events}
    assert category in found, f"{text!r}: {[(e.category, e.matched) for e in report.events]}"
    assert found[category].severity == severity


@pytest.mark.parametrize("text", FR_NOT_ABUSE)
def test_french_civil_and_neutral_are_not_abuse(text: str) -> None:
    report = one(text, "fr")
    assert report.events == (), [(e.category, e.matched) for e in report.events]
    assert not report.flagged and report.severity == "none"


@pytest.mark.parametrize("text", EN_NOT_ABUSE)
def test_english_civil_and_neutral_are_not_abuse(text: str) -> None:
    report = one(text, "en")
    worse_than_swearing = [e for e in report.events if e.severity != "low"]
    assert worse_than_swearing == [], [(e.category, e.matched) for e in report.events]
    assert not report.flagged


def test_strong_words_count_without_a_target() -> None:
    assert one("c'est la pute", "fr").flagged  # unlike "idiot", "pute" is never civil


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("F*CKING MORON", "en"),
        ("Espèce de CONNARD !!!", "fr"),
        ("Je sais où vous trouver.", "fr"),
    ],
)
def test_case_and_punctuation_do_not_matter(text: str, language: str) -> None:
    assert one(text, language).flagged


def test_unknown_language_uses_both_lexicons() -> None:
    assert detect_abuse(call(("customer", "espèce de connard"), language="de")).flagged
    assert detect_abuse(call(("customer", "you piece of shit"), language="")).flagged


# -- placeholders -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "<PERSON> <LOCATION> <PHONE_NUMBER> <EMAIL_ADDRESS>",
        "je m'appelle <PERSON> <PERSON>",
        "<CONNARD>",  # a placeholder type that looks like a word never matches
        "this is <PERSON> speaking",
    ],
)
def test_placeholders_never_match(text: str) -> None:
    assert one(text, "fr").events == () and one(text, "en").events == ()


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("<PERSON> espèce de connard", "fr"),
        ("je sais où vous habitez <LOCATION>", "fr"),
        ("i know where you live <PERSON>", "en"),
        ("<PERSON> you fucking idiot", "en"),
    ],
)
def test_placeholders_do_not_hide_abuse(text: str, language: str) -> None:
    assert one(text, language).flagged


def test_normalise() -> None:
    assert normalise("Espèce d'ABRUTI, <PERSON> !") == "espece d abruti _person_"
    assert normalise("euh bon ben", frozenset({"euh", "ben"})) == "bon"
    assert normalise("fuuuuuck") == "fuck"


@settings(max_examples=150, deadline=None)
@given(
    words=st.lists(st.sampled_from(["bonjour", "merci", "dossier", "hello", "claim", "car"])),
    placeholders=st.lists(st.sampled_from(["<PERSON>", "<LOCATION>", "<PHONE_NUMBER>"])),
)
def test_neutral_words_and_placeholders_never_flag(words, placeholders) -> None:
    text = " ".join(words + placeholders)
    for language in ("fr", "en"):
        assert one(text, language).events == ()


@settings(max_examples=150, deadline=None)
@given(text=st.text(max_size=200))
def test_any_text_gives_a_consistent_report(text: str) -> None:
    report = one(text, "fr")
    worst = max((e.severity for e in report.events), key=RANK.__getitem__, default="none")
    assert report.severity == worst
    assert report.flagged == (RANK[worst] >= RANK["medium"])
    assert all(e.text == text for e in report.events)


# -- attribution, severity, shouting, flagging --------------------------------------------


def test_events_are_attributed_to_the_speaker() -> None:
    report = detect_abuse(
        call(
            ("agent", "bonjour <PERSON> à votre écoute"),
            ("customer", "espèce de connard"),
            ("agent", "vous êtes vraiment une idiote"),
        )
    )
    assert [(e.speaker, e.start, e.category) for e in report.events] == [
        ("customer", 3.0, "insult"),  # staff protection
        ("agent", 6.0, "insult"),  # a quality case
    ]
    assert report.events[0].text == "espèce de connard"


def test_a_sentence_cut_in_two_segments_is_read_whole() -> None:
    segments = (
        RedactedSegment("customer", 0.0, 2.0, "je sais où"),
        RedactedSegment("agent", 2.1, 2.4, "oui"),  # a backchannel between the two halves
        RedactedSegment("customer", 2.6, 4.0, "vous habitez"),
        RedactedSegment("customer", 30.0, 31.0, "vous habitez loin"),  # too late to join
    )
    report = detect_abuse(RedactedTranscript("t1", "fr", 1.0, 32.0, segments))
    assert [(e.category, e.start, e.end) for e in report.events] == [("threat", 0.0, 4.0)]
    assert report.events[0].text == "je sais où vous habitez"
    far = AbuseConfig(join_gap_s=0.1)
    assert not detect_abuse(RedactedTranscript("t1", "fr", 1.0, 32.0, segments), far).events


def test_call_severity_is_the_worst_event() -> None:
    report = detect_abuse(
        call(("customer", "bande de nazes"), ("customer", "je sais où vous trouver"))
    )
    assert {e.severity for e in report.events} == {"medium", "high"}
    assert report.severity == "high" and report.flagged


def test_swearing_alone_is_low_and_does_not_flag_by_default() -> None:
    report = detect_abuse(call(("customer", "oh putain j'ai oublié mon contrat")))
    assert [e.category for e in report.events] == ["profanity"]
    assert report.severity == "low" and not report.flagged
    strict = AbuseConfig(flag_min_severity="low")
    assert detect_abuse(call(("customer", "oh putain j'ai oublié mon contrat")), strict).flagged


def _loud_call(shout_db: float) -> RedactedTranscript:
    return call(
        ("customer", "bonjour", -30.0),
        ("customer", "ma voiture est en panne", -31.0),
        ("customer", "ça fait une heure", -29.0),
        ("customer", "putain", -30.0 + shout_db),
        ("agent", "je comprends", -10.0),  # the agent's level does not set the customer's
    )


def test_shouting_raises_severity_one_step() -> None:
    calm, shouted = detect_abuse(_loud_call(2.0)), detect_abuse(_loud_call(12.0))
    assert (calm.events[0].severity, calm.events[0].shouted) == ("low", False)
    assert (shouted.events[0].severity, shouted.events[0].shouted) == ("medium", True)
    assert shouted.flagged and not calm.flagged
    assert not detect_abuse(_loud_call(12.0), AbuseConfig(shout_db=15.0)).events[0].shouted


def test_shouting_needs_enough_segments_for_a_median() -> None:
    t = call(("customer", "bonjour", -40.0), ("customer", "putain", -10.0))
    assert not detect_abuse(t).events[0].shouted


def test_high_stays_high_when_shouted() -> None:
    t = call(
        ("customer", "bonjour", -30.0),
        ("customer", "oui", -30.0),
        ("customer", "je sais où vous trouver", -10.0),
    )
    event = detect_abuse(t).events[0]
    assert event.shouted and event.severity == "high"


# -- settings and data files --------------------------------------------------------------


def test_settings_add_terms_patterns_and_thresholds() -> None:
    section = {
        "flag_min_severity": "low",
        "shout_db": 6,
        "extra_terms_fr": ["zouave | insult | medium | directed"],
        "extra_terms": ["gredin* | insult | low"],
        "extra_patterns": [
            {
                "name": "menace de mort",
                "regex": r"\bvous finirez dans le canal\b",
                "category": "threat",
                "severity": "high",
                "language": "fr",
            }
        ],
    }
    config = AbuseConfig.from_settings(Settings(sections={"abuse": section}))
    assert config.flag_min_severity == "low" and config.shout_db == 6.0
    assert detect_abuse(call(("customer", "espèce de zouave")), config).events
    assert not detect_abuse(call(("customer", "un zouave")), config).events  # directed only
    assert detect_abuse(call(("customer", "gredins")), config).flagged  # low flags now
    report = detect_abuse(call(("customer", "vous finirez dans le canal")), config)
    assert report.events[0].matched == "menace de mort"
    assert not detect_abuse(call(("customer", "zouave"), language="en"), config).events


@pytest.mark.parametrize(
    "section",
    [
        {"flag_min_severity": "extreme"},
        {"unknown_key": 1},
        {"extra_terms": ["missing fields"]},
        {"extra_terms": ["x | slander | low"]},
        {
            "extra_patterns": [
                {"name": "bad", "regex": "(", "category": "insult", "severity": "low"}
            ]
        },
        {"extra_patterns": ["not a table"]},
        {"shout_db": "loud"},
    ],
)
def test_bad_settings_are_rejected(section) -> None:
    with pytest.raises(ConfigError):
        AbuseConfig.from_settings(Settings(sections={"abuse": section}))


def test_data_dir_is_extendable_without_code(tmp_path: Path) -> None:
    data = tmp_path / "abuse"
    shutil.copytree(DATA_DIR, data)
    with (data / "en" / "lexicon.txt").open("a", encoding="utf-8") as f:
        f.write("flibbertigibbet* | insult | medium\n")
    config = AbuseConfig.from_settings(Settings(sections={"abuse": {"data_dir": str(data)}}))
    assert detect_abuse(call(("customer", "flibbertigibbets"), language="en"), config).flagged
    assert not detect_abuse(call(("customer", "flibbertigibbets"), language="en")).flagged


def test_a_broken_data_file_names_the_file(tmp_path: Path) -> None:
    data = tmp_path / "abuse"
    shutil.copytree(DATA_DIR, data)
    (data / "fr" / "lexicon.txt").write_text("connard | insult\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"lexicon\.txt:1"):
        AbuseConfig.from_settings(Settings(sections={"abuse": {"data_dir": str(data)}}))


# -- broader vocabulary: categories the first lexicon missed ------------------------------
# (text, language, category, severity): slang, Quebec, threats without swear words, threats
# to family or third parties, sexual and discriminatory remarks, mockery by the agent.

GENERAL_ABUSIVE = [
    ("t'es vraiment un gros boloss", "fr", "insult", "medium"),
    ("mais t'es teubé toi", "fr", "insult", "medium"),
    ("ta mère la pute", "fr", "insult", "high"),
    ("vieux con va", "fr", "insult", "medium"),
    ("espèce de tête de bite", "fr", "insult", "medium"),
    ("t'es ben épais mon ostie de cave", "fr", "insult", "medium"),
    ("tabarnak de cave", "fr", "insult", "medium"),
    ("je vous emmerde", "fr", "insult", "high"),
    ("allez chier", "fr", "insult", "high"),
    ("vous êtes sourde ou quoi", "fr", "insult", "medium"),
    ("même un gamin de cinq ans comprendrait", "fr", "insult", "medium"),
    ("vous êtes des animaux", "fr", "insult", "medium"),
    ("sale menteur", "fr", "insult", "medium"),
    ("je vais te démonter la tête", "fr", "threat", "high"),
    ("je vais vous refaire le portrait", "fr", "threat", "high"),
    ("si je te croise je te défonce", "fr", "threat", "high"),
    ("t'es un homme mort", "fr", "threat", "high"),
    ("vous perdez rien pour attendre", "fr", "threat", "high"),
    ("on se reverra et vous ferez moins les malins", "fr", "threat", "medium"),
    ("je sais où habitent vos enfants", "fr", "threat", "high"),
    ("je connais l'école de tes gosses", "fr", "threat", "high"),
    ("ton dépanneur je vais le buter", "fr", "threat", "high"),
    ("qu'est-ce que vous portez là", "fr", "harassment", "medium"),
    ("votre voix me fait de l'effet", "fr", "harassment", "medium"),
    ("on pourrait boire un verre après ton service", "fr", "harassment", "medium"),
    ("donne moi ton 06", "fr", "harassment", "medium"),
    ("les femmes ça comprend rien à la mécanique", "fr", "harassment", "medium"),
    ("passez moi un homme", "fr", "harassment", "medium"),
    ("retourne dans ton bled", "fr", "harassment", "high"),
    ("vous les arabes vous êtes tous pareils", "fr", "harassment", "high"),
    ("sale macaque", "fr", "harassment", "high"),
    ("you little shit", "en", "insult", "medium"),
    ("you absolute fuckwit", "en", "insult", "medium"),
    ("you gormless prat", "en", "insult", "medium"),
    ("are you thick or something", "en", "insult", "medium"),
    ("go and fuck yourself", "en", "insult", "high"),
    ("who the hell do you think you are", "en", "insult", "high"),
    ("it's not rocket science is it, even a child could do it", "en", "insult", "medium"),
    ("i'm gonna wring your neck", "en", "threat", "high"),
    ("i'll beat the shit out of you", "en", "threat", "high"),
    ("i'll have you done over", "en", "threat", "high"),
    ("i swear i'll come down there and strangle you", "en", "threat", "high"),
    ("be a shame if something happened to your kids", "en", "threat", "high"),
    ("i know what school your daughter goes to", "en", "threat", "high"),
    ("your days are numbered", "en", "threat", "medium"),
    ("you'd better watch yourself", "en", "threat", "medium"),
    ("what colour is your underwear", "en", "harassment", "medium"),
    ("you sound like you'd be fun in bed", "en", "harassment", "medium"),
    ("have you got a boyfriend", "en", "harassment", "medium"),
    ("women can't understand anything about cars", "en", "harassment", "high"),
    ("put a man on the phone", "en", "harassment", "high"),
    ("go back where you came from", "en", "harassment", "high"),
    ("you can't even speak english", "en", "harassment", "high"),
    ("you people are animals", "en", "insult", "medium"),
    ("je vais revenir avec une batte", "fr", "threat", "high"),
    ("i'm coming round with my gun", "en", "threat", "high"),
]

# Angry but civil, or innocent words close to abusive ones: never an event above swearing.
GENERAL_NOT_ABUSE = [
    ("c'est scandaleux vous vous foutez de moi", "fr"),
    ("je vais porter plainte et changer d'assurance", "fr"),
    ("je vais écrire au médiateur", "fr"),
    ("on se reverra au tribunal", "fr"),
    ("votre service est nul", "fr"),
    ("on a eu une dispute avec le député", "fr"),
    ("il y avait une queue énorme au péage", "fr"),
    ("ma chatte est restée dans la voiture", "fr"),
    ("j'ai mangé du boudin au relais", "fr"),
    ("quel animal voyage avec vous", "fr"),
    ("la pédale de frein ne répond plus", "fr"),
    ("le moteur ça va chauffer", "fr"),
    ("faites attention à vos enfants sur la bande d'arrêt d'urgence", "fr"),
    ("je vais vous faire payer la franchise", "fr"),
    ("je vais le descendre au garage", "fr"),
    ("si je vous trouve un garage je vous fais un devis", "fr"),
    ("je sais où se trouve votre fils, il est à l'hôpital", "fr"),
    ("je vais chercher votre fille à l'aéroport", "fr"),
    ("c'est votre portable personnel", "fr"),
    ("vous êtes mariée ou pacsée pour le contrat famille", "fr"),
    ("je rentre au pays la semaine prochaine", "fr"),
    ("les étrangers doivent présenter leur passeport", "fr"),
    ("vous êtes handicapée vous avez besoin d'un fauteuil", "fr"),
    ("un ordre de mission pour le dépanneur", "fr"),
    ("vous pouvez fumer dehors en attendant", "fr"),
    ("il faut vous réveiller à six heures pour le vol", "fr"),
    ("je voudrais parler à un monsieur <PERSON>", "fr"),
    ("this is a joke", "en"),
    ("i'll take you to court", "en"),
    ("i'll report you to the ombudsman and leave a bad review", "en"),
    ("what a freak accident", "en"),
    ("it's such a simple claim", "en"),
    ("are you a robot", "en"),
    ("thank you mary", "en"),
    ("my old bag got lost at the airport", "en"),
    ("we'll come for you within the hour", "en"),
    ("i'll find you a garage", "en"),
    ("hello i need assistance with my class trip", "en"),
    ("which bit of the road are you on", "en"),
    ("my colleague dick is with the kids", "en"),
    ("i'm travelling to nigeria next week", "en"),
    ("i was just wandering around the car park", "en"),
    ("i'm absolutely fuming", "en"),
    ("mind your step on the hard shoulder", "en"),
    ("accidents happen that's why you have cover", "en"),
    ("are you fit to fly", "en"),
    ("can i have your mobile number", "en"),
    ("i'd like to see you in person to sort it out", "en"),
    ("je vais prendre un couteau pour couper la corde", "fr"),
    ("i'll get a hammer and fix it", "en"),
    ("i'm going with my husband", "en"),
    ("i know where you are, the truck is on its way", "en"),
    ("i'll take you up on that", "en"),
    ("i'll put you down for the three o'clock slot", "en"),
    ("i'll sort you out with a hire car", "en"),
    ("i'll put you in touch with them", "en"),
    ("je sais où vous êtes, le camion arrive", "fr"),
    ("vous allez le payer combien", "fr"),
    ("on est des vrais français de Lyon", "fr"),
]


@pytest.mark.parametrize(("text", "language", "category", "severity"), GENERAL_ABUSIVE)
def test_broader_abuse(text: str, language: str, category: str, severity: str) -> None:
    report = one(text, language)
    found = {e.category: e for e in report.events}
    assert category in found, f"{text!r}: {[(e.category, e.matched) for e in report.events]}"
    assert found[category].severity == severity
    assert report.flagged


@pytest.mark.parametrize(("text", "language"), GENERAL_NOT_ABUSE)
def test_broader_civil_and_innocent_words_are_not_abuse(text: str, language: str) -> None:
    report = one(text, language)
    worse_than_swearing = [(e.category, e.matched) for e in report.events if e.severity != "low"]
    assert worse_than_swearing == [] and not report.flagged


def test_an_insult_cut_across_two_segments_is_found() -> None:
    report = detect_abuse(
        call(("customer", "ça fait deux heures espèce de"), ("customer", "gros incapable"))
    )
    assert report.flagged and report.events[0].end == 5.5  # the event spans both segments
    report = detect_abuse(
        call(("customer", "well you can go and"), ("customer", "fuck yourself"), language="en")
    )
    assert any(e.category == "insult" and e.severity == "high" for e in report.events)


def test_agent_mockery_is_attributed_to_the_agent() -> None:
    report = detect_abuse(call(("agent", "vous êtes bouchée ou quoi"), ("customer", "pardon")))
    assert report.flagged and {e.speaker for e in report.events} == {"agent"}


@pytest.mark.parametrize(
    ("text", "language"),
    [("vous êtes des boulots", "fr"), ("quel boulot", "fr"), ("you re a money", "en")],
)
def test_near_misses_of_directed_words_do_not_count(text: str, language: str) -> None:
    # "boulot" is one letter from "boulet", "money" from "monkey": everyday words.
    assert one(text, language).events == ()


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("connnard", "fr"),
        ("enculer", "fr"),
        ("saloppe", "fr"),
        ("wankerr", "en"),
        ("motherfukers", "en"),
    ],
)
def test_near_misses_of_strong_words_still_count(text: str, language: str) -> None:
    assert one(text, language).flagged


@pytest.mark.parametrize(
    "word",
    ["ordre", "fumer", "ramasser", "salade", "concasseur", "boutique", "aboutir", "bavarder"],
)
def test_common_french_words_are_not_near_misses(word: str) -> None:
    assert one(word, "fr").events == ()
    assert one(f"quel {word}", "fr").events == ()


# -- the labelled sets --------------------------------------------------------------------


def test_labelled_sets_are_broad() -> None:
    dev, heldout, blind = load_calls(DEV), load_calls(HELDOUT), load_calls(BLIND)
    assert len(dev) >= 60 and len(heldout) >= 20 and len(blind) >= 20
    for calls in (dev, heldout, blind):
        kinds = {(c.transcript.language, c.label) for c in calls}
        assert kinds == {
            (lang, label) for lang in ("fr", "en") for label in ("abusive", "civil", "neutral")
        }
    ids = [c.transcript.call_id for c in (*dev, *heldout, *blind)]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("path", [DEV, HELDOUT], ids=["dev", "heldout"])
def test_labelled_set_recall_and_precision(path: Path) -> None:
    figures = evaluate(load_calls(path), detect_abuse)
    assert figures.recall >= 0.9, f"missed: {figures.missed}"
    assert figures.precision >= 0.9, f"false alarms: {figures.false_alarms}"


@pytest.mark.parametrize("path", [DEV, HELDOUT], ids=["dev", "heldout"])
def test_labelled_set_with_more_asr_noise(path: Path) -> None:
    calls = load_calls(path)
    for seed in range(3):
        figures = evaluate([asr_noise(c, seed) for c in calls], detect_abuse)
        assert figures.recall >= 0.9, f"seed {seed} missed: {figures.missed}"
        assert figures.precision >= 0.9, f"seed {seed} false alarms: {figures.false_alarms}"


def test_blind_set_never_flags_civil_or_neutral_calls() -> None:
    # The blind set measures generalisation (see benchmarks/abuse.py); it is not tuned
    # on, so only its precision, the property the design guarantees, is asserted here.
    figures = evaluate(load_calls(BLIND), detect_abuse)
    assert figures.false_alarms == ()


def test_second_blind_set_is_broad_and_never_flags_civil_or_neutral_calls() -> None:
    # Written before the lexicons were broadened (recall 0.20 then; see abuse_eval.py).
    calls = load_calls(BLIND3)
    assert len(calls) == 30
    assert {(c.transcript.language, c.label) for c in calls} == {
        (lang, label) for lang in ("fr", "en") for label in ("abusive", "civil", "neutral")
    }
    others = {c.transcript.call_id for path in (DEV, HELDOUT, BLIND) for c in load_calls(path)}
    assert not others & {c.transcript.call_id for c in calls}
    assert evaluate(calls, detect_abuse).false_alarms == ()


# -- every data-file entry works ----------------------------------------------------------


def _lexicon_entries() -> list[tuple[str, str, str, str, bool]]:
    entries = []
    for path in sorted(DATA_DIR.glob("*/lexicon.txt")):
        folder = path.parent.name
        for line in path.read_text(encoding="utf-8").splitlines():
            fields = [f.strip() for f in line.split("#", 1)[0].split(" | ")]
            if len(fields) < 3:
                continue
            for spelling in fields[0].split("|"):
                word = spelling.replace("*", "")
                entries.append((folder, word, fields[1], fields[2], len(fields) == 4))
    return entries


@pytest.mark.parametrize(("folder", "word", "category", "severity", "directed"), _lexicon_entries())
def test_every_lexicon_spelling_is_detected(folder, word, category, severity, directed) -> None:
    languages = ["fr", "en"] if folder == "common" else [folder]
    for language in languages:
        frame = {"fr": "vous êtes des", "en": "you're a"}[language] if directed else ""
        report = one(f"{frame} {word}", language)
        assert any(e.category == category for e in report.events), (language, word)
        if directed:
            assert not any(e.category == category for e in one(word, language).events), word
