"""Tables per recogniser: what each must hide, and what it must leave readable.

The values here are written for these tests (never taken from ``../shared/eval``).
The recognisers run in a real Presidio AnalyzerEngine on Presidio's NoOpNlpEngine
(no spaCy: fast); the vocabulary and gazetteer are the real packaged ones.
"""

from __future__ import annotations

import re
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from presidio_analyzer.nlp_engine import NlpArtifacts, NoOpNlpEngine
from stdnum import iban as stdnum_iban

from analytics.redact import RedactConfig, Redactor, build_analyzer
from analytics.redact.lexicon import default_lexicon
from analytics.redact.recognizers import base
from analytics.redact.recognizers.registry import TOKEN_RECOGNIZERS

LEXICON = default_lexicon()


@pytest.fixture(scope="module")
def redactor() -> Redactor:
    models = [{"lang_code": lang, "model_name": "none"} for lang in ("fr", "en")]
    config = RedactConfig()
    return Redactor(config, analyzer=build_analyzer(config, nlp_engine=NoOpNlpEngine(models)))


def hidden(redactor: Redactor, text: str, language: str) -> tuple[set[int], dict[int, str]]:
    entities = redactor.find(text, language)
    positions: set[int] = set()
    types: dict[int, str] = {}
    for entity in entities:
        for i in range(entity.start, entity.end):
            positions.add(i)
            types[i] = entity.entity_type
    return positions, types


def assert_hidden(
    redactor: Redactor, text: str, value: str, language: str, entity: str | None = None
) -> None:
    start = text.index(value)
    positions, types = hidden(redactor, text, language)
    left = [
        text[i]
        for i in range(start, start + len(value))
        if text[i].isalnum() and i not in positions
    ]
    assert not left, (
        f"readable: {''.join(left)!r} of {value!r} in {redactor.redact_text(text, language)[0]!r}"
    )
    if entity is not None:
        kinds = {types[i] for i in range(start, start + len(value)) if text[i].isalnum()}
        assert kinds == {entity}, kinds


def assert_kept(redactor: Redactor, text: str, word: str, language: str) -> None:
    start = text.index(word)
    positions, _ = hidden(redactor, text, language)
    assert not any(i in positions for i in range(start, start + len(word))), redactor.redact_text(
        text, language
    )[0]


# --- the registry and the shared reading ---------------------------------------------


def test_one_module_per_recogniser() -> None:
    modules = [recognizer.__module__ for recognizer in TOKEN_RECOGNIZERS]
    assert len(modules) == len(set(modules))
    assert all(
        isinstance(r, type) and issubclass(r, base.TokenRecognizer) for r in TOKEN_RECOGNIZERS
    )


def test_text_is_read_once_per_segment(monkeypatch: pytest.MonkeyPatch, redactor: Redactor) -> None:
    calls = []
    real = base.tokenize

    def counting(text: str) -> tuple[base.Token, ...]:
        calls.append(len(text))
        return real(text)

    monkeypatch.setattr(base, "tokenize", counting)
    redactor.find("my name is mark hollis and i live at 4 fen road", "en")
    assert len(calls) == 1  # every recogniser and the clean-up share one reading


def test_reading_is_kept_on_the_artefacts_and_renewed_for_another_text() -> None:
    artifacts = NlpArtifacts([], [], [], [], None, "en")
    first = base.read("one text", LEXICON, artifacts)
    assert base.read("one text", LEXICON, artifacts) is first
    assert base.read("another text", LEXICON, artifacts) is not first
    assert "one text" not in repr(first)


# --- names --------------------------------------------------------------------------

NAMES = [
    # (text, name, language): titles with first name and surname, lower case, diacritics
    ("M. Kevin Zhang a rappelé ce matin.", "Kevin Zhang", "fr"),
    ("j'ai eu m ahmed mansour au téléphone", "ahmed mansour", "fr"),
    ("Mme Oriane Vasseur-Kerbrat est la conductrice.", "Oriane Vasseur-Kerbrat", "fr"),
    ("Dr Petrov signed the form.", "Petrov", "en"),
    # a middle initial and a surname that is also a word, after a known first name
    ("the card holder is kate m baker", "kate m baker", "en"),
    # an agent's name of dictionary words before the closing words; spelled letters
    ("assistance bonjour rosine bouvier à votre écoute", "rosine bouvier", "fr"),
    ("that's mcandrew m c a n d r e w", "m c a n d r e w", "en"),
    ("j'ai noté m paul vernier daf du groupe", "paul vernier", "fr"),
    ("I spoke to Mrs Oyelaran yesterday", "Oyelaran", "en"),
    ("the driver was ferenc szőllősi from the garage", "ferenc szőllősi", "en"),
    ("c'est jolanta wiśniewska qui appelle", "jolanta wiśniewska", "fr"),
    ("ask for tiberiu please", "tiberiu", "en"),
    ("Then Radomir Kovačević called back", "Radomir Kovačević", "en"),
]


@pytest.mark.parametrize(("text", "name", "language"), NAMES)
def test_names_are_hidden_whole(redactor: Redactor, text: str, name: str, language: str) -> None:
    assert_hidden(redactor, text, name, language, "PERSON")


TITLES_KEPT = [
    ("M. Kevin Zhang a rappelé ce matin.", "M.", "fr"),
    ("I spoke to Mrs Oyelaran yesterday", "yesterday", "en"),
    ("Mme Vasseur, directrice du site, a signé.", "directrice", "fr"),
    ("we moved last year and lived there ever since", "moved", "en"),
    ("we moved last year and lived there ever since", "lived", "en"),
    ("Conforme au cahier des charges", "Conforme", "fr"),
    ("Interviewer : pouvez-vous décrire le poste ?", "Interviewer", "fr"),
    ("certification ISO 27001 obtenue", "27001", "fr"),
    ("the plan covers 2024-2026", "2024", "en"),
    ("M. alone is no name", "M", "en"),
    ("notre conformité rgpd est revue", "rgpd", "fr"),
    ("OVHcloud héberge nos données", "OVHcloud", "fr"),
    # names end after the surname; titles alone are no place
    ("mme lucie garrec directrice des achats a rappelé", "directrice", "fr"),
    ("m paul vernier daf du groupe", "daf", "fr"),
    ("Rendez-vous avec le Pr. à midi", "Pr", "fr"),
    # one unknown word after an article, or alone in French, is a thing
    ("nous avons écrit à la sacem hier", "sacem", "fr"),
    ("on utilise zendesk pour les tickets", "zendesk", "fr"),
    ("linterphone ne marche plus", "linterphone", "fr"),
    # "X here" is the agent's name only when X is no dictionary word
    ("the carrier moved here from the depot", "moved", "en"),
    # dates, clock times and percentages are no codes
    ("réunion prévue le 14 juin 2025 à 10h30", "14 juin 2025", "fr"),
    ("taux de réponse 12/12 (100 %)", "12", "fr"),
    # sentence words between two numbers are no street
    ("point 3 validation budgétaire 7", "validation", "fr"),
    ("I turned the corner of the street and left", "corner", "en"),
]


@pytest.mark.parametrize(("text", "word", "language"), TITLES_KEPT)
def test_not_personal_data_stays_readable(
    redactor: Redactor, text: str, word: str, language: str
) -> None:
    assert_kept(redactor, text, word, language)


# --- answers to a request -------------------------------------------------------------

ANSWERS = [
    # (question, answer, value, entity)
    ("can I take your full name and address?", "yes presile of endermere", "presile", "PERSON"),
    ("can I take your full name and address?", "yes presile of endermere", "endermere", "PERSON"),
    ("quel est votre nom ?", "euh trombadoux", "trombadoux", "PERSON"),
    ("and your postcode?", "it's 4 9 3 1 0", "4 9 3 1 0", "ADDRESS"),
    ("votre adresse mail ?", "alors c'est gribouille point com", "gribouille", "EMAIL_ADDRESS"),
    (
        "what's your date of birth?",
        "the fourth of may nineteen eighty",
        "nineteen eighty",
        "DATE_OF_BIRTH",
    ),
    ("who am I speaking to?", "Rose Marsh", "Rose Marsh", "PERSON"),
    # Whisper's rendering of a spelled address: the domain after a spoken "at" is theirs too
    (
        "which email address should we use?",
        "you can email me at vexor .nl at www .quandle .com",
        "www .quandle .com",
        "EMAIL_ADDRESS",
    ),
    (
        "votre adresse mail ?",
        "c'est brindol point fr arobase zorpi point fr",
        "zorpi",
        "EMAIL_ADDRESS",
    ),
]


@pytest.mark.parametrize(("question", "answer", "value", "entity"), ANSWERS)
def test_answer_to_a_request_is_redacted_from_the_question(
    redactor: Redactor, question: str, answer: str, value: str, entity: str
) -> None:
    entities = redactor.find(answer, "en", previous=[question])
    start = answer.index(value)
    covered = {i for e in entities for i in range(e.start, e.end) if e.entity_type == entity}
    assert all(i in covered for i in range(start, start + len(value)) if answer[i].isalnum())


# Questions asked in other words than the lexicon's request phrases: the kind of data
# comes from the noun the question names; a code answer has every code redacted.
ASKED_IN_OTHER_WORDS = [
    ("sorry which surname did you give", "it's okonkwo-hale", "okonkwo-hale", "en", "PERSON"),
    ("and the name of the policy holder", "brannagh vell", "brannagh vell", "en", "PERSON"),
    ("What postcode is the car at?", "hmm let me look, it's KT4 9QP", "KT4 9QP", "en", "ADDRESS"),
    ("the passcode for the account", "is it 8812? no sorry, 5530", "8812", "en", "SECRET_CODE"),
    ("the passcode for the account", "is it 8812? no sorry, 5530", "5530", "en", "SECRET_CODE"),
    ("c'est quoi votre code postal", "attendez je regarde 38140", "38140", "fr", "ADDRESS"),
    ("Vous vous trouvez où ?", "à Quimperlé-sur-Orne", "Quimperlé-sur-Orne", "fr", "ADDRESS"),
    # a number read as a phone by the number recogniser too: hidden, whatever its name
    ("quel est le numéro de dossier", "euh 77 41 09 je crois", "77 41 09", "fr", None),
]


@pytest.mark.parametrize(
    ("question", "answer", "value", "language", "entity"), ASKED_IN_OTHER_WORDS
)
def test_answer_to_a_question_in_other_words(
    redactor: Redactor, question: str, answer: str, value: str, language: str, entity: str | None
) -> None:
    entities = redactor.find(answer, language, previous=[question])
    start = answer.index(value)
    covered = {
        i for e in entities for i in range(e.start, e.end) if entity in (None, e.entity_type)
    }
    assert all(i in covered for i in range(start, start + len(value)) if answer[i].isalnum())


@pytest.mark.parametrize(
    ("question", "answer", "language"),
    [
        ("thanks, I have your name now. what seems to be the problem?", "the battery died", "en"),
        ("où en est le dossier ?", "un peu en retard", "fr"),  # "un" is an article
        ("is the car still running", "yes the engine is on", "en"),  # no kind of data asked
    ],
)
def test_questions_that_ask_for_no_data_leave_the_answer(
    redactor: Redactor, question: str, answer: str, language: str
) -> None:
    assert redactor.find(answer, language, previous=[question]) == []


# A possessive and a relative's word: the name after it (English ASR takes any word but
# a verb's form there, French a known name or a word no dictionary has).
RELATIVES = [
    ("i'm calling for her husband tobiah renwick", "tobiah renwick", "en"),
    ("my neighbour's name is orrin", "orrin", "en"),
    ("my granddaughter kizzy needs her inhaler", "kizzy", "en"),
    ("c'est pour ma belle sœur ysaline", "ysaline", "fr"),
]


@pytest.mark.parametrize(("text", "name", "language"), RELATIVES)
def test_names_after_a_relative(redactor: Redactor, text: str, name: str, language: str) -> None:
    assert_hidden(redactor, text, name, language, "PERSON")


@pytest.mark.parametrize(
    ("text", "word"),
    [("my friend needs a lift", "needs"), ("my son driving home", "driving")],
)
def test_verbs_after_a_relative_stay_readable(redactor: Redactor, text: str, word: str) -> None:
    assert_kept(redactor, text, word, "en")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("date of birth 4 May 1979, no wait, mine is 14 June 1981", "14 June 1981"),
        ("born on 2 March 1990 sorry I mean 12 March 1990", "12 March 1990"),
    ],
)
def test_a_corrected_date_of_birth_is_hidden_too(redactor: Redactor, text: str, value: str) -> None:
    assert_hidden(redactor, text, value, "en", "DATE_OF_BIRTH")


def test_answer_after_a_number_request_keeps_its_words(redactor: Redactor) -> None:
    entities = redactor.find("attendez je cherche", "fr", previous=["votre numéro ?"])
    assert entities == []


def test_without_a_request_the_same_answer_is_not_redacted_whole(redactor: Redactor) -> None:
    assert_kept(redactor, "yes rose marsh", "rose", "en")


# --- e-mails --------------------------------------------------------------------------

EMAILS = [
    ("write to nagy dot eszter at citromail dot hu", "nagy dot eszter at citromail dot hu", "en"),
    ("you can email me at mardret .com", "mardret .com", "en"),
    (
        "mon mail c'est lou tiret anne arobase sfr point fr",
        "lou tiret anne arobase sfr point fr",
        "fr",
    ),
    ("mon adresse mail est p.leroux@laposte.net voilà", "p.leroux@laposte.net", "fr"),
    ("email me at k underscore obi at proton dot me", "k underscore obi at proton dot me", "en"),
]


@pytest.mark.parametrize(("text", "value", "language"), EMAILS)
def test_emails_with_any_tld_and_after_a_trigger(
    redactor: Redactor, text: str, value: str, language: str
) -> None:
    assert_hidden(redactor, text, value, language, "EMAIL_ADDRESS")


def test_at_home_is_no_email(redactor: Redactor) -> None:
    assert redactor.find("we were at home all day", "en") == []


# --- IBAN, phones, secret codes --------------------------------------------------------


@st.composite
def gb_ibans(draw: st.DrawFn) -> str:
    bank = draw(st.text(string.ascii_uppercase, min_size=4, max_size=4))
    account = draw(st.text(string.digits, min_size=14, max_size=14))
    bban = bank + account
    return "GB" + stdnum_iban.calc_check_digits("GB00" + bban) + bban


@settings(max_examples=40, deadline=None)
@given(iban=gb_ibans(), lower=st.booleans(), spaced=st.booleans())
def test_iban_in_any_case_and_spacing(
    redactor: Redactor, iban: str, lower: bool, spaced: bool
) -> None:
    value = iban.lower() if lower else iban
    if spaced:
        value = " ".join(value[i : i + 4] for i in range(0, len(value), 4))
    assert_hidden(redactor, f"my iban is {value} thanks", value, "en", "IBAN_CODE")


PHONES = [
    ("call me on (0161) 496 0753 extension 4587", "(0161) 496 0753 extension 4587", "en"),
    ("my number is +44 7700 900 461", "+44 7700 900 461", "en"),
    ("rappelez-moi au 04 78 12 34 56 poste 12", "04 78 12 34 56 poste 12", "fr"),
    ("the office is 212-555-0147 x32", "212-555-0147 x32", "en"),
    ("sinon au bureau c'est le poste 4471", "4471", "fr"),
]


@pytest.mark.parametrize(("text", "value", "language"), PHONES)
def test_phone_numbers_with_extensions_count_as_phones(
    redactor: Redactor, text: str, value: str, language: str
) -> None:
    assert_hidden(redactor, text, value, language, "PHONE_NUMBER")


@settings(max_examples=40, deadline=None)
@given(
    digits=st.text(string.digits, min_size=8, max_size=8),
    separator=st.sampled_from([" ", ".", "-", ""]),
)
def test_french_mobiles_in_any_layout(redactor: Redactor, digits: str, separator: str) -> None:
    number = "06" + digits
    value = separator.join(number[i : i + 2] for i in range(0, 10, 2))
    assert_hidden(redactor, f"mon portable c'est le {value} merci", value, "fr", "PHONE_NUMBER")


SECRETS = [
    ("my PIN is 4821", "4821", "en", "SECRET_CODE"),
    ("le code secret c'est 1234", "1234", "fr", "SECRET_CODE"),
    ("mon code confidentiel c'est quatre huit deux un", "quatre huit deux un", "fr", "SECRET_CODE"),
    ("the cvv on the back is 739", "739", "en", "CREDIT_CARD"),
    ("le cryptogramme c'est le 512", "512", "fr", "CREDIT_CARD"),
    ("my password is bluehorse77", "bluehorse77", "en", "SECRET_CODE"),
]


@pytest.mark.parametrize(("text", "value", "language", "entity"), SECRETS)
def test_pins_and_codes_said_aloud(
    redactor: Redactor, text: str, value: str, language: str, entity: str
) -> None:
    assert_hidden(redactor, text, value, language, entity)


# --- addresses and places ---------------------------------------------------------------

ADDRESSES = [
    (
        "send it to the corner of quarrow 12 and ellery rise",
        "the corner of quarrow 12 and ellery rise",
        "en",
    ),
    ("our unit is at usns petrell fpo ae 30517", "usns petrell fpo ae 30517", "en"),
    ("send it to Suite 279, 18 Harrow Lane, Leeds", "Suite 279", "en"),
    ("we are at Korsgatan 14 Apt 3 Malmo", "Korsgatan 14 Apt 3", "en"),
    ("my zip is 3520", "3520", "en"),
    ("Unit 4412 Box 0931 DPO AE 40412", "Unit 4412 Box 0931", "en"),
    (
        "j'habite 7 impasse des Glycines 24100 Bergerac",
        "7 impasse des Glycines 24100 Bergerac",
        "fr",
    ),
    ("the car is at 2210 Hollow Creek, ok", "2210 Hollow Creek", "en"),
    ("Via Garibaldi 12 Sondrio", "Via Garibaldi 12", "en"),
]


@pytest.mark.parametrize(("text", "value", "language"), ADDRESSES)
def test_addresses_of_any_format(redactor: Redactor, text: str, value: str, language: str) -> None:
    assert_hidden(redactor, text, value, language)


PLACES = [
    ("je suis en panne à marseille", "marseille", "fr"),
    ("le camion est resté après kervellec sur mer", "kervellec sur mer", "fr"),
    ("ma mère vit à saint brévin depuis mars", "saint brévin", "fr"),
    ("we flew in from the united states", "united states", "en"),
    ("Ship it to 4 Mill Lane, BRAMWICKSTEAD.", "BRAMWICKSTEAD", "en"),
    ("she grew up in ΚΑΛΑΜΑΡΙΑ before moving", "ΚΑΛΑΜΑΡΙΑ", "en"),
    ("on part à londres demain", "londres", "fr"),
    ("we broke down near paris", "paris", "en"),
    ("they moved to Norway", "Norway", "en"),
]


@pytest.mark.parametrize(("text", "value", "language"), PLACES)
def test_places_in_lower_case(redactor: Redactor, text: str, value: str, language: str) -> None:
    assert_hidden(redactor, text, value, language)


def test_town_names_that_are_words_stay_readable_in_written_text(redactor: Redactor) -> None:
    assert_kept(redactor, "That was a nice drive.", "nice", "en")
    assert re.search(r"<", redactor.redact_text("We stopped in Nice.", "en")[0])


# --- towns after a cue, lone postcodes, codes after other cues (wave6-places) ---------

TOWNS_AFTER_A_CUE = [
    ("nous vivons dans un village qui s'appelle kerbriavec depuis", "kerbriavec", "fr"),
    ("on a crevé entre valmoreuil et fontbrassac ce matin", "valmoreuil", "fr"),
    ("on a crevé entre valmoreuil et fontbrassac ce matin", "fontbrassac", "fr"),
    ("Le dossier est suivi par l'agence de Brocéliac depuis mardi.", "Brocéliac", "fr"),
    ("oui on est à lanvéoc sur mer pour la semaine", "lanvéoc sur mer", "fr"),
    ("la dépanneuse l'a laissée au garage à PontivryBourg", "PontivryBourg", "fr"),
    ("we got a flat somewhere between north quillby and stravenholm", "north quillby", "en"),
    ("she grew up in a village called Ashmarden", "Ashmarden", "en"),
]


@pytest.mark.parametrize(("text", "value", "language"), TOWNS_AFTER_A_CUE)
def test_towns_named_after_a_cue(redactor: Redactor, text: str, value: str, language: str) -> None:
    assert_hidden(redactor, text, value, language)


@pytest.mark.parametrize(
    ("text", "word", "language"),
    [
        ("on déjeune entre midi et deux", "midi", "fr"),
        ("le choix entre rapidité et qualité", "rapidité", "fr"),
        ("we are stuck between a rock and a hard place", "rock", "en"),
        ("la prochaine réunion est lundi", "réunion", "fr"),
    ],
)
def test_words_after_a_town_cue_stay_readable(
    redactor: Redactor, text: str, word: str, language: str
) -> None:
    assert_kept(redactor, text, word, language)


@pytest.mark.parametrize(
    ("text", "value", "language"),
    [
        ("non, c'est 07415, vous avez mis le mauvais", "07415", "fr"),
        ("we moved, it's 12 Elm Row now, Harlow Bay 30917", "30917", "en"),
        ("le nouveau code postal est bien 59320 et pas l'ancien", "59320", "fr"),
    ],
)
def test_postcodes_said_alone(redactor: Redactor, text: str, value: str, language: str) -> None:
    assert_hidden(redactor, text, value, language)


@pytest.mark.parametrize(
    ("text", "word", "language"),
    [
        ("la réparation a coûté 12500 euros au total", "12500", "fr"),
        ("the car has done 45000 miles", "45000", "en"),
        ("nous visons la certification iso 27001 cette année", "27001", "fr"),
    ],
)
def test_amounts_and_standards_are_no_postcode(
    redactor: Redactor, text: str, word: str, language: str
) -> None:
    assert_kept(redactor, text, word, language)


@pytest.mark.parametrize(
    ("text", "value", "language"),
    [
        ("card's fine, and the three on the back are 8 1 5", "8 1 5", "en"),
        ("le code qu'on m'a donné c'est 730912 mais il ne passe pas", "730912", "fr"),
        ("tow truck for the blue van, VRN KD61 ZXR, on the hard shoulder", "KD61 ZXR", "en"),
        ("Confirmed: Ms Ivy Prowse, 3 March 1958, all good", "3 March 1958", "en"),
    ],
)
def test_codes_plates_and_dates_after_unread_cues(
    redactor: Redactor, text: str, value: str, language: str
) -> None:
    assert_hidden(redactor, text, value, language)


def test_the_last_four_digits_of_a_reference_stay_readable(redactor: Redactor) -> None:
    assert_kept(redactor, "my claim number ends in 3 9 0 2, the rest I lost", "3 9 0 2", "en")
    assert_hidden(redactor, "my claim number is 3902 7715", "3902 7715", "en")


def test_a_place_ends_before_a_title() -> None:
    from presidio_analyzer import RecognizerResult

    from analytics.redact.refine import refine

    text = "le partenaire Globex France M. Durand"
    start = text.index("France")
    found = refine([RecognizerResult("LOCATION", start, start + len("France M"), 0.6)], text,
                   LEXICON, None, "fr")  # fmt: skip
    assert [text[r.start : r.end] for r in found] == ["France"]


@pytest.mark.parametrize(
    ("text", "span", "kept"),
    [
        ("avec mme odile ferrand le laboratoire", "odile ferrand le laboratoire", "odile ferrand"),
        ("monsieur garnier présentez le budget", "garnier présentez", "garnier"),
        ("m yann le goff président", "yann le goff", "yann le goff"),
    ],
)
def test_a_french_name_ends_before_the_sentence(text: str, span: str, kept: str) -> None:
    from presidio_analyzer import RecognizerResult

    from analytics.redact.refine import refine

    start = text.index(span)
    found = refine([RecognizerResult("PERSON", start, start + len(span), 0.8)], text,
                   LEXICON, None, "fr")  # fmt: skip
    assert [text[r.start : r.end] for r in found] == [kept]


# --- names from the public lists (no trigger, not in the packaged lists) ----------------

PUBLIC_NAMES = [
    ("yes so jolene whitfield phoned about the bill", "jolene whitfield", "en"),
    ("ok so aaron called back about the parcel", "aaron", "en"),
    ("I spoke with Faith Hargreaves yesterday about the claim.", "Faith Hargreaves", "en"),
    ("alors tiphaine kerbrat a rappelé pour le dossier", "tiphaine kerbrat", "fr"),
    ("oui soizic le bihan passera demain", "soizic", "fr"),
    ("donc micheline a reçu le courrier hier", "micheline", "fr"),
    ("bonjour monsieur kerbrat", "kerbrat", "fr"),
]


@pytest.mark.parametrize(("text", "name", "language"), PUBLIC_NAMES)
def test_names_of_the_public_lists(redactor: Redactor, text: str, name: str, language: str) -> None:
    assert_hidden(redactor, text, name, language, "PERSON")


@pytest.mark.parametrize(
    ("text", "word", "language"),
    [
        ("The heather on the hill needs cutting.", "heather", "en"),
        ("i need the numbers for the iban", "iban", "en"),
        ("le bureau de paris ferme à midi", "bureau", "fr"),
        ("we will frank the letters today", "frank", "en"),
        ("on travaille en lien avec la mairie", "lien", "fr"),  # "Lien": a US first name
        ("la marge a encore baissé ce mois", "marge", "fr"),
    ],
)
def test_public_names_that_are_words_stay_readable(
    redactor: Redactor, text: str, word: str, language: str
) -> None:
    assert_kept(redactor, text, word, language)


# --- counts and periods that are no address nor code (lead, wave 6) ----------------------


@pytest.mark.parametrize(
    ("text", "word", "language"),
    [
        ("nous avons lancé 3 chantiers 12 en cours", "chantiers", "fr"),
        ("we ran 4 workshops 2 of them online", "workshops", "en"),
        ("les chiffres du q1 q2 2025 sont meilleurs", "q2 2025", "fr"),
        ("revenue for h2 t3 2023 went up", "2023", "en"),
    ],
)
def test_counts_and_periods_stay_readable(
    redactor: Redactor, text: str, word: str, language: str
) -> None:
    assert_kept(redactor, text, word, language)


@pytest.mark.parametrize(
    ("text", "value", "language"),
    [
        ("j'habite au 7 kervillou 29 depuis mars", "7 kervillou 29", "fr"),
        ("the dossier is q 7 4 1 9 8 8 3 2", "q 7 4 1 9 8 8 3 2", "en"),
    ],
)
def test_a_street_and_a_code_beside_them_are_still_hidden(
    redactor: Redactor, text: str, value: str, language: str
) -> None:
    assert_hidden(redactor, text, value, language)


@pytest.mark.parametrize(
    ("text", "span", "kept"),
    [
        ("on a roulé de nuit jusqu'au matin", "de", []),
        ("the rest of the road was fine", "of the", []),
        ("on est passés par vannes hier", "vannes", ["vannes"]),
    ],
)
def test_a_place_of_only_stop_words_is_dropped(text: str, span: str, kept: list[str]) -> None:
    from presidio_analyzer import RecognizerResult

    from analytics.redact.refine import refine

    start = text.index(span)
    found = refine([RecognizerResult("LOCATION", start, start + len(span), 0.6)], text,
                   LEXICON, None, "fr" if " on " in f" {text}" else "en")  # fmt: skip
    assert [text[r.start : r.end] for r in found] == kept
