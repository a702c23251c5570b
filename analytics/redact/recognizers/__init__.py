"""Presidio recognisers for what callers of an assistance insurer say, as ASR writes it.

One recogniser per module, each an :class:`presidio_analyzer.EntityRecognizer`;
:mod:`analytics.redact.recognizers.registry` lists them and builds a language's set.
Each works on lower-case unpunctuated text and on the forms people dictate in
(digits, digit groups, number words, spelled letters). They share one reading of
the text per segment (tokens and context words, see :mod:`.base`), the run reading
of :mod:`analytics.redact.spoken` and the word lists of :mod:`analytics.redact.lexicon`.
"""

from analytics.redact.recognizers.base import (
    ADDRESS,
    CARD_CODE,
    CLAIM_NUMBER,
    CREDIT_CARD,
    DATE_OF_BIRTH,
    EMAIL_ADDRESS,
    FR_NIR,
    IBAN_CODE,
    ID_NUMBER,
    LICENSE_PLATE,
    LOCATION,
    PERSON,
    PHONE_NUMBER,
    POLICY_NUMBER,
    RUN_ENTITIES,
)
from analytics.redact.recognizers.date_of_birth import DateOfBirthRecognizer
from analytics.redact.recognizers.name import NameRecognizer
from analytics.redact.recognizers.offline_email import OfflineEmailRecognizer
from analytics.redact.recognizers.place import PlaceRecognizer
from analytics.redact.recognizers.spoken_email import SpokenEmailRecognizer
from analytics.redact.recognizers.spoken_number import SpokenNumberRecognizer, classify_run
from analytics.redact.recognizers.street_address import StreetAddressRecognizer

__all__ = [
    "ADDRESS",
    "CARD_CODE",
    "CLAIM_NUMBER",
    "CREDIT_CARD",
    "DATE_OF_BIRTH",
    "EMAIL_ADDRESS",
    "FR_NIR",
    "IBAN_CODE",
    "ID_NUMBER",
    "LICENSE_PLATE",
    "LOCATION",
    "PERSON",
    "PHONE_NUMBER",
    "POLICY_NUMBER",
    "RUN_ENTITIES",
    "DateOfBirthRecognizer",
    "NameRecognizer",
    "OfflineEmailRecognizer",
    "PlaceRecognizer",
    "SpokenEmailRecognizer",
    "SpokenNumberRecognizer",
    "StreetAddressRecognizer",
    "classify_run",
]
