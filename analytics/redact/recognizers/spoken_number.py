"""Spoken number recogniser."""

from __future__ import annotations

import re
from collections.abc import Sequence

from presidio_analyzer import RecognizerResult

from analytics.redact.lexicon import Lexicon
from analytics.redact.recognizers.base import (
    ADDRESS,
    CARD_CODE,
    CLAIM_NUMBER,
    CLOCK_TIME,
    CREDIT_CARD,
    DATE_OF_BIRTH,
    FR_NIR,
    IBAN_CODE,
    IBAN_SHAPE,
    ID_NUMBER,
    LICENSE_PLATE,
    OLD_FR_PLATE,
    PERSON,
    PHONE_NUMBER,
    POLICY_NUMBER,
    RUN_ENTITIES,
    SIV_PLATE,
    UK_PLATE,
    UK_POSTCODE,
    YEAR,
    TokenRecognizer,
    make_result,
)
from analytics.redact.spoken import (
    ContextHit,
    Run,
    Token,
    context_types,
    find_runs,
    iban_valid,
    luhn_valid,
    nir_valid,
)

_CLOCK_OR_PERCENT = re.compile(r"\d\s?h\s?\d\d|\d\s?%")
# A quarter, term or half of a year: "q2", "t3", "s1", "h2" (beside a year: a period).
_PERIOD = re.compile(r"\b[qtsh][1-4]\b")
_A_YEAR = re.compile(r"\b(19|20)\d\d\b")


class SpokenNumberRecognizer(TokenRecognizer):
    """Dictated numbers and codes: phones, IBAN, NIR, cards, plates, policy/claim numbers.

    A run's type comes from the nearest context word when its length fits that type
    ("numéro de contrat" → POLICY_NUMBER), else from its shape (10 digits starting
    with 0 → PHONE_NUMBER, Luhn-valid 16 digits → CREDIT_CARD…). A long run that
    fits nothing is still redacted as ID_NUMBER: recall beats precision here.
    """

    def __init__(self, lexicon: Lexicon, language: str = "fr") -> None:
        super().__init__(lexicon, RUN_ENTITIES, language)

    def _date_or_time(self, tokens: Sequence[Token], run: Run) -> bool:
        """A month's name, a clock time or a percentage inside the run."""
        months = self.lexicon.months
        if any(token.text in months for token in tokens[run.first : run.last]):
            return True
        said = self.text[run.start : run.end].lower()
        if _PERIOD.search(said) and _A_YEAR.search(said):
            return True  # "q2 q3 2024": quarters of a year
        return _clock_or_percent(self.text[run.start : min(len(self.text), run.end + 2)])

    def find(self, tokens: Sequence[Token], hits: Sequence[ContextHit]) -> list[RecognizerResult]:
        results = []
        for run in find_runs(tokens, self.lexicon):
            if tokens[run.first].text in self.lexicon.standards:
                continue  # "iso 27001": a standard's number
            # A short value ("123", "2019") takes its type only from words right next to it.
            short = len(run.symbols) <= 5
            contexts = context_types(
                hits, run.first, run.last, before=5 if short else 10, after=0 if short else 4
            )
            typed = classify_run(run, contexts)
            if typed and typed[0] == ID_NUMBER and self._date_or_time(tokens, run):
                continue  # "22 mai 2024", "2024, 9h00": a date, not a code
            if typed:
                entity, score = typed
                results.append(make_result(entity, run.start, run.end, score))
        return results


def _clock_or_percent(text: str) -> bool:
    return bool(_CLOCK_OR_PERCENT.search(text))


def classify_run(run: Run, contexts: Sequence[str] = ()) -> tuple[str, float] | None:
    """The entity type and score of a run of dictated symbols, or None.

    ``contexts`` are the entity types of the context words around the run, nearest
    first: the nearest one the run's length fits wins ("the membership number on
    the card is …" is a member number, too short for a card).
    """
    symbols, digits = run.symbols, run.digits
    if CLOCK_TIME.fullmatch(symbols):
        return None  # "14 h 30"
    if len(symbols) == 8 and YEAR.fullmatch(symbols[:4]) and YEAR.fullmatch(symbols[4:]):
        return None  # "2024-2026": a span of years
    if IBAN_SHAPE.fullmatch(symbols):
        return IBAN_CODE, 1.0 if iban_valid(symbols) else 0.85
    if SIV_PLATE.fullmatch(symbols):
        return LICENSE_PLATE, 0.9
    for context in contexts:
        if _fits_context(run, context):
            return (CREDIT_CARD if context == CARD_CODE else context), 0.85
    return _classify_by_shape(run, symbols, digits)


def _fits_context(run: Run, context: str) -> bool:
    symbols, digits, letters = run.symbols, run.digits, run.letters
    size = len(symbols.lstrip("+"))
    if context == PHONE_NUMBER:
        return 8 <= len(digits) <= 15 and len(letters) == 0
    if context == IBAN_CODE:
        return size >= 10
    if context == FR_NIR:
        return 12 <= size <= 15 and len(digits) >= 11
    if context == CREDIT_CARD:
        return 12 <= len(digits) <= 19 and len(letters) == 0
    if context == CARD_CODE:
        return 3 <= len(digits) <= 4 and len(letters) == 0
    if context == LICENSE_PLATE:
        return 4 <= size <= 10 and len(digits) >= 1
    if context in (POLICY_NUMBER, CLAIM_NUMBER):
        return size >= 5 or (size == 4 and len(digits) >= 1 and not YEAR.fullmatch(symbols))
    if context == DATE_OF_BIRTH:
        return 4 <= len(digits) <= 8 and len(letters) == 0
    if context == ADDRESS:
        return len(digits) == 5 and len(letters) == 0
    if context == PERSON:
        return len(letters) >= 2 and len(digits) == 0 and run.single_letters >= 2
    # An entity type added by settings: any code of some length.
    return size >= 4


def _classify_by_shape(run: Run, symbols: str, digits: str) -> tuple[str, float] | None:
    letters = run.letters
    if not letters:
        if symbols.startswith("+") and 10 <= len(digits) <= 15:
            return PHONE_NUMBER, 0.9
        if digits.startswith("00") and 12 <= len(digits) <= 15:
            return PHONE_NUMBER, 0.85
        if digits.startswith("0") and len(digits) in (10, 11):
            return PHONE_NUMBER, 0.85
        if digits.startswith("33") and len(digits) == 11:
            return PHONE_NUMBER, 0.7
        if len(digits) in (13, 15) and digits[0] in "12":
            return FR_NIR, 0.95 if nir_valid(digits) else 0.7
        if 13 <= len(digits) <= 19 and luhn_valid(digits):
            return CREDIT_CARD, 0.9
    elif len(symbols) == 15 and symbols[:1] in "12" and nir_valid(symbols):
        return FR_NIR, 0.95  # Corsica: 2A / 2B
    if UK_POSTCODE.fullmatch(symbols) and len(symbols) >= 5:
        return ADDRESS, 0.6
    if UK_PLATE.fullmatch(symbols) or (OLD_FR_PLATE.fullmatch(symbols) and len(symbols) >= 6):
        return LICENSE_PLATE, 0.6
    if not digits and run.single_letters >= 3:
        return PERSON, 0.6  # a spelled word is most often a name
    if len(digits) >= 7 or (len(symbols) >= 8 and len(digits) >= 4):
        return ID_NUMBER, 0.6
    return None
