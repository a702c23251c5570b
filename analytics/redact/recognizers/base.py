"""What every callqa recogniser shares: entity type names and the token-reading base class."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from analytics.redact.lexicon import Lexicon
from analytics.redact.spoken import ContextHit, Token, find_context, tokenize

# The entity types our recognisers emit (settings may add more).
PERSON = "PERSON"
PHONE_NUMBER = "PHONE_NUMBER"
EMAIL_ADDRESS = "EMAIL_ADDRESS"
ADDRESS = "ADDRESS"
LOCATION = "LOCATION"
IBAN_CODE = "IBAN_CODE"
FR_NIR = "FR_NIR"
CREDIT_CARD = "CREDIT_CARD"
LICENSE_PLATE = "LICENSE_PLATE"
POLICY_NUMBER = "POLICY_NUMBER"
CLAIM_NUMBER = "CLAIM_NUMBER"
DATE_OF_BIRTH = "DATE_OF_BIRTH"
ID_NUMBER = "ID_NUMBER"
SECRET_CODE = "SECRET_CODE"  # PINs, passwords, one-time codes said aloud
CARD_CODE = "CARD_CODE"  # a context type only: security code / expiry → CREDIT_CARD

RUN_ENTITIES = (
    PHONE_NUMBER,
    IBAN_CODE,
    FR_NIR,
    CREDIT_CARD,
    LICENSE_PLATE,
    POLICY_NUMBER,
    CLAIM_NUMBER,
    DATE_OF_BIRTH,
    ADDRESS,
    PERSON,
    ID_NUMBER,
)

SIV_PLATE = re.compile(r"[a-z]{2}\d{3}[a-z]{2}")
OLD_FR_PLATE = re.compile(r"\d{1,4}[a-z]{1,3}\d{2}")
UK_PLATE = re.compile(r"[a-z]{2}\d{2}[a-z]{3}")
IBAN_SHAPE = re.compile(r"[a-z]{2}\d{2}[a-z0-9]{10,30}")
YEAR = re.compile(r"(19|20)\d\d")
NAME_PARTICLES = frozenset(
    {"le", "la", "de", "du", "des", "van", "von", "da", "di", "del", "mac", "ben", "el", "al"}
)
ANSWERS = frozenset(
    {
        "oui",
        "non",
        "ouais",
        "ok",
        "okay",
        "voilà",
        "voila",
        "merci",
        "yes",
        "yeah",
        "no",
        "thanks",
        "bonjour",
        "hello",
    }
)
WRITTEN_JOINERS = frozenset(".-_")
UK_POSTCODE = re.compile(r"[a-z]{1,2}\d[a-z\d]?\d[a-z]{2}")
CLOCK_TIME = re.compile(r"\d{1,2}h(\d{2})?")


def make_result(entity: str, start: int, end: int, score: float) -> RecognizerResult:
    # The analyzer adds the recognizer's name and id to the metadata.
    return RecognizerResult(entity, start, end, score)


@dataclass(frozen=True)
class Reading:
    """One segment read once: its tokens and context words, shared by every recogniser."""

    text: str = field(repr=False)
    tokens: tuple[Token, ...] = field(repr=False)
    hits: tuple[ContextHit, ...] = field(repr=False)


_READING = "callqa_reading"  # the attribute on Presidio's NlpArtifacts that holds it


def read(text: str, lexicon: Lexicon, nlp_artifacts: NlpArtifacts | None = None) -> Reading:
    """The reading of ``text``, made once per segment and kept on its NLP artefacts.

    Presidio hands the same artefacts to every recogniser of one ``analyze`` call, so
    the text is tokenised once, not once per recogniser.
    """
    reading = getattr(nlp_artifacts, _READING, None)
    if isinstance(reading, Reading) and reading.text == text:
        return reading
    tokens = tokenize(text)
    reading = Reading(text, tokens, find_context(tokens, lexicon))
    if nlp_artifacts is not None:
        setattr(nlp_artifacts, _READING, reading)
    return reading


class TokenRecognizer(EntityRecognizer):
    """Base of our recognisers: reads the text once per segment and filters entities."""

    def __init__(self, lexicon: Lexicon, entities: Sequence[str], language: str) -> None:
        self.lexicon = lexicon
        self.text = ""
        super().__init__(
            supported_entities=list(entities),
            supported_language=language,
            name=f"{type(self).__name__}_{language}",
        )

    def load(self) -> None:  # the lexicon is loaded already
        pass

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        wanted = set(entities) if entities else set(self.supported_entities)
        reading = read(text, self.lexicon, nlp_artifacts)
        self.text = text  # for the few checks that need the written case
        found = self.find(reading.tokens, reading.hits)
        return [result for result in found if result.entity_type in wanted]

    def find(self, tokens: Sequence[Token], hits: Sequence[ContextHit]) -> list[RecognizerResult]:
        raise NotImplementedError
