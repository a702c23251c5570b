"""Date of birth recogniser."""

from __future__ import annotations

from collections.abc import Sequence

from presidio_analyzer import RecognizerResult

from analytics.redact.lexicon import Lexicon
from analytics.redact.recognizers.base import (
    DATE_OF_BIRTH,
    YEAR,
    TokenRecognizer,
    make_result,
)
from analytics.redact.spoken import (
    ContextHit,
    Token,
)


class DateOfBirthRecognizer(TokenRecognizer):
    """A date said after a birth context word: "née le douze mars quatre-vingt-cinq"."""

    def __init__(self, lexicon: Lexicon, language: str = "fr") -> None:
        super().__init__(lexicon, (DATE_OF_BIRTH,), language)

    def find(self, tokens: Sequence[Token], hits: Sequence[ContextHit]) -> list[RecognizerResult]:
        results = []
        for hit in hits:
            if hit.entity_type != DATE_OF_BIRTH:
                continue
            span = self._date_after(tokens, hit.last)
            if span:
                first, last = span
                results.append(
                    make_result(DATE_OF_BIRTH, tokens[first].start, tokens[last - 1].end, 0.85)
                )
                results.extend(self._later_dates(tokens, last))
        results.extend(
            date
            for date in self._last_century_dates(tokens)
            if not any(r.start <= date.start and date.end <= r.end for r in results)
        )
        return results

    def _last_century_dates(self, tokens: Sequence[Token]) -> list[RecognizerResult]:
        """A full date of the last century said with no cue ("Jo Bloggs, 12 May 1961"):
        in a call, a day, a month's name and a 19xx year are most often a date of birth
        (identification lists give it without saying so)."""
        results = []
        months = self.lexicon.months
        for index in range(1, len(tokens) - 1):
            if tokens[index].text not in months:
                continue
            day, year = tokens[index - 1], tokens[index + 1]
            if (
                day.is_digits
                and 1 <= len(day.text) <= 2
                and year.is_digits
                and len(year.text) == 4
                and year.text.startswith("19")
            ):
                results.append(make_result(DATE_OF_BIRTH, day.start, year.end, 0.5))
        return results

    def _later_dates(self, tokens: Sequence[Token], position: int) -> list[RecognizerResult]:
        """Full dates later in the same turn: "… 1938, sorry, no, mine's 31 October 2005"
        corrects the date of birth (a day, a month's name and a year)."""
        results = []
        index = position
        while index < len(tokens) and tokens[index].text != "\n":
            token = tokens[index]
            if token.text in self.lexicon.months and 0 < index < len(tokens) - 1:
                day, year = tokens[index - 1], tokens[index + 1]
                if day.is_digits and len(day.text) <= 2 and YEAR.fullmatch(year.text):
                    results.append(make_result(DATE_OF_BIRTH, day.start, year.end, 0.8))
                    index += 2
            index += 1
        return results

    def _is_date_word(self, token: Token) -> bool:
        word = token.text
        lexicon = self.lexicon
        return (
            (token.is_digits and len(word) <= 4)
            or lexicon.is_number_word(word)
            or word in lexicon.units
            or word in lexicon.months
            or word in lexicon.ordinals
        )

    def _date_after(self, tokens: Sequence[Token], position: int) -> tuple[int, int] | None:
        first = next(
            (
                i
                for i in range(position, min(position + 6, len(tokens)))
                if self._is_date_word(tokens[i])
            ),
            None,
        )
        if first is None:
            return None
        last, numbers = first, 0
        while last < len(tokens) and last - first < 14:
            token = tokens[last]
            if self._is_date_word(token):
                numbers += 1
                last += 1
            elif (token.text in self.lexicon.date_joiners or token.text in "/-.") and (
                last + 1 < len(tokens) and self._is_date_word(tokens[last + 1])
            ):
                last += 1
            else:
                break
        while last > first and tokens[last - 1].text in self.lexicon.date_joiners:
            last -= 1
        return (first, last) if numbers else None
