"""The registry of recognisers: which run, in which order, for one language.

Every recogniser of ours reads the segment through the shared :class:`.base.Reading`;
Presidio's own (written e-mails, cards, IBAN, spaCy NER) and the settings' deny-lists
and patterns run beside them.
"""

from __future__ import annotations

from collections.abc import Callable

from presidio_analyzer import EntityRecognizer, Pattern, PatternRecognizer
from presidio_analyzer.predefined_recognizers import CreditCardRecognizer, SpacyRecognizer

from analytics.redact.config import RedactConfig
from analytics.redact.lexicon import Lexicon
from analytics.redact.recognizers.address_chain import AddressChainRecognizer
from analytics.redact.recognizers.answer import AnswerRecognizer
from analytics.redact.recognizers.base import LOCATION, PERSON, TokenRecognizer
from analytics.redact.recognizers.date_of_birth import DateOfBirthRecognizer
from analytics.redact.recognizers.gazetteer import GazetteerPlaceRecognizer
from analytics.redact.recognizers.iban import AnyCaseIbanRecognizer
from analytics.redact.recognizers.name import NameRecognizer
from analytics.redact.recognizers.offline_email import OfflineEmailRecognizer
from analytics.redact.recognizers.phone import AnyFormatPhoneRecognizer
from analytics.redact.recognizers.place import PlaceRecognizer
from analytics.redact.recognizers.secret_code import SecretCodeRecognizer
from analytics.redact.recognizers.spoken_email import SpokenEmailRecognizer
from analytics.redact.recognizers.spoken_number import SpokenNumberRecognizer
from analytics.redact.recognizers.street_address import StreetAddressRecognizer
from analytics.redact.recognizers.title_name import TitleNameRecognizer
from analytics.redact.recognizers.town_cue import TownCueRecognizer
from analytics.redact.recognizers.unknown_word import UnknownWordRecognizer

# Our recognisers, built from the lexicon and a language. Order matters only for
# ties between equal spans (the first wins in Presidio's de-duplication).
TOKEN_RECOGNIZERS: tuple[Callable[[Lexicon, str], TokenRecognizer], ...] = (
    SpokenNumberRecognizer,
    SpokenEmailRecognizer,
    StreetAddressRecognizer,
    AddressChainRecognizer,
    NameRecognizer,
    TitleNameRecognizer,
    DateOfBirthRecognizer,
    PlaceRecognizer,
    GazetteerPlaceRecognizer,
    UnknownWordRecognizer,
    AnswerRecognizer,
    AnyCaseIbanRecognizer,
    AnyFormatPhoneRecognizer,
    SecretCodeRecognizer,
    TownCueRecognizer,
)


def build_recognizers(
    config: RedactConfig, language: str, lexicon: Lexicon, *, with_spacy: bool = True
) -> list[EntityRecognizer]:
    """Every recogniser for one language: ours, a few of Presidio's, the settings' ones."""
    recognizers: list[EntityRecognizer] = [
        recognizer(lexicon, language) for recognizer in TOKEN_RECOGNIZERS
    ]
    recognizers += [
        OfflineEmailRecognizer(supported_language=language),
        CreditCardRecognizer(supported_language=language),
    ]
    if with_spacy:
        recognizers.append(
            SpacyRecognizer(supported_language=language, supported_entities=[PERSON, LOCATION])
        )
    for entity, words in config.deny_list.items():
        recognizers.append(
            PatternRecognizer(
                supported_entity=entity,
                supported_language=language,
                deny_list=list(words),
                name=f"deny_list_{entity}_{language}",
            )
        )
    for position, spec in enumerate(config.patterns):
        recognizers.append(
            PatternRecognizer(
                supported_entity=spec.entity,
                supported_language=language,
                patterns=[Pattern(f"settings_{position}", spec.regex, spec.score)],
                context=list(spec.context),
                name=f"pattern_{position}_{spec.entity}_{language}",
            )
        )
    return recognizers
