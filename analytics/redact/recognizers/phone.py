"""Phone numbers in any country's format (``phonenumbers``), with their extension.

"+44 20 7946 0958", "(555) 123-4567 x89", "06 12 34 56 78 poste 12",
"555 123 4567 extension 4587": Google's libphonenumber finds numbers written for
the regions callers of each language most often dial; the extension said after one
("extension", "ext", "x", "poste") is part of it, and an extension said on its own
("sinon au bureau poste 3602") is one too.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import phonenumbers
from presidio_analyzer import RecognizerResult

from analytics.redact.lexicon import Lexicon
from analytics.redact.recognizers.base import PHONE_NUMBER, TokenRecognizer, make_result
from analytics.redact.spoken import ContextHit, Token

# Each region is one more pass of the matcher: the two most dialled per language
# (a number with its "+" country code is found whatever the region).
REGIONS = {
    "fr": ("FR", "BE"),
    "en": ("GB", "US"),
}
_EXTENSION = re.compile(
    r"[\s,.;]*(?:extension|extn|ext|ex|x|poste|post|p)\.?\s*(\d[\d ]{0,7}\d|\d)",
    re.IGNORECASE,
)
_NOT_A_PHONE = re.compile(
    r"(19|20)\d\d\s*[-/–à\s]\s*(19|20)\d\d"  # "2024-2026", "2024 2026"
    r"|\d{1,2}[/.-]\d{1,2}[/.-](19|20)?\d\d"  # a date
)
_MIN_DIGITS = 8  # fewer digits are codes, years, amounts
# An extension said on its own ("sinon au bureau poste 3602", "ask for extension 45").
_LONE_EXTENSION = re.compile(r"\b(?:extension|ext|poste)\.?\s*(\d{2,6})\b", re.IGNORECASE)


class AnyFormatPhoneRecognizer(TokenRecognizer):
    """Phone numbers that libphonenumber finds for the language's usual regions."""

    def __init__(self, lexicon: Lexicon, language: str = "fr") -> None:
        super().__init__(lexicon, (PHONE_NUMBER,), language)
        self.regions = REGIONS.get(language, REGIONS["en"])

    def find(self, tokens: Sequence[Token], hits: Sequence[ContextHit]) -> list[RecognizerResult]:
        text = self.text
        spans: dict[tuple[int, int], float] = {
            match.span(1): 0.6 for match in _LONE_EXTENSION.finditer(text)
        }
        if sum(ch.isdigit() for ch in text) < _MIN_DIGITS:
            # cheap way out: most segments say no number at all
            return [make_result(PHONE_NUMBER, s, e, score) for (s, e), score in spans.items()]
        for region in self.regions:
            for match in phonenumbers.PhoneNumberMatcher(
                text, region, leniency=phonenumbers.Leniency.POSSIBLE
            ):
                digits = sum(ch.isdigit() for ch in match.raw_string)
                if digits < _MIN_DIGITS or _NOT_A_PHONE.fullmatch(match.raw_string.strip()):
                    continue
                valid = phonenumbers.is_valid_number(match.number)
                end = _with_extension(text, match.end)
                key = (match.start, end)
                spans[key] = max(spans.get(key, 0.0), 0.75 if valid else 0.5)
        return [
            make_result(PHONE_NUMBER, start, end, score) for (start, end), score in spans.items()
        ]


def _with_extension(text: str, end: int) -> int:
    match = _EXTENSION.match(text, end)
    return match.end() if match else end
