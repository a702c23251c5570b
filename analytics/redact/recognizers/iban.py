"""IBANs in any case and spacing: "GB42 NAWI 1234…", "gb42nawi1234…", "fr76 3000 …".

Presidio's IBAN recogniser wants capitals; ASR writes lower case. Candidates start
with two letters and two digits and run over letter-and-digit groups; the longest
prefix whose ISO 13616 checksum holds (``python-stdnum``) is the IBAN. A glued
IBAN-shaped word whose checksum fails is still taken, at a lower score (a misheard
digit must not leave the rest readable).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from presidio_analyzer import RecognizerResult
from stdnum import iban as stdnum_iban

from analytics.redact.lexicon import Lexicon
from analytics.redact.recognizers.base import IBAN_CODE, TokenRecognizer, make_result
from analytics.redact.spoken import ContextHit, Token

_START = re.compile(r"(?<![^\W_])[a-z]{2}\d{2}", re.IGNORECASE)
_GROUP = re.compile(r"[a-z0-9]+", re.IGNORECASE)
_SHAPE = re.compile(r"[a-z]{2}\d{2}[a-z0-9]{11,30}", re.IGNORECASE)
_MIN, _MAX = 15, 34  # IBAN lengths (Norway to Saint Lucia)


class AnyCaseIbanRecognizer(TokenRecognizer):
    """IBANs, checksum-validated, in any case, glued or in groups."""

    def __init__(self, lexicon: Lexicon, language: str = "fr") -> None:
        super().__init__(lexicon, (IBAN_CODE,), language)

    def find(self, tokens: Sequence[Token], hits: Sequence[ContextHit]) -> list[RecognizerResult]:
        results = []
        text = self.text
        position = 0
        while True:
            match = _START.search(text, position)
            if match is None:
                break
            found = _longest_valid(text, match.start())
            if found:
                end, score = found
                results.append(make_result(IBAN_CODE, match.start(), end, score))
                position = end
            else:
                position = match.end()
        return results


def _groups(text: str, start: int) -> list[tuple[int, str]]:
    """Letter-and-digit groups from ``start``, one space apart, up to an IBAN's length."""
    groups: list[tuple[int, str]] = []
    position, size = start, 0
    while size < _MAX:
        match = _GROUP.match(text, position)
        if match is None:
            break
        groups.append((match.end(), match.group()))
        size += len(match.group())
        following = match.end()
        if text[following : following + 1] != " ":
            break
        position = following + 1
    return groups


def _longest_valid(text: str, start: int) -> tuple[int, float] | None:
    groups = _groups(text, start)
    compact = ""
    candidates = []
    for end, group in groups:
        compact += group
        if _MIN <= len(compact) <= _MAX:
            candidates.append((end, compact))
    for end, value in reversed(candidates):
        if stdnum_iban.is_valid(value):
            return end, 1.0
    first_end, first = groups[0] if groups else (start, "")
    if _SHAPE.fullmatch(first) and sum(ch.isdigit() for ch in first) >= 10:
        return first_end, 0.7
    return None
