"""Addresses in any country's format, as a chain of numbers and place words.

"20789 allika 46 suite 501 riisa estonia 62488", "3482 via franscini 71", "unit 0822
box 8858", "apt 656", "code postal 75011": a chain starts at an *anchor* (a street
the street recogniser finds, a number + name words + number, a flat/suite/box
number, a postcode after an address word) and runs on over the numbers, unit
numbers and place words that follow, as far as a word that belongs to the sentence
(a stop word or common vocabulary).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from presidio_analyzer import RecognizerResult

from analytics.redact.lexicon import Lexicon
from analytics.redact.recognizers.base import (
    ADDRESS,
    ANSWERS,
    UK_POSTCODE,
    TokenRecognizer,
    make_result,
)
from analytics.redact.recognizers.street_address import StreetAddressRecognizer
from analytics.redact.spoken import ContextHit, Token, match_phrase

_YEAR = re.compile(r"(19|20)\d\d")
_MAX_CHAIN = 14  # tokens an address may run on after its anchor
_JOINERS = frozenset({".", "-", "/", "\n"})
_MILITARY_POST = frozenset({"fpo", "apo", "dpo"})
_MILITARY_AREAS = frozenset({"aa", "ae", "ap"})
_SHIPS = frozenset({"usns", "usnv", "uscgc", "uss", "unit", "psc", "cmr"})
# Street suffixes that are prepositions after a name: Italian "via" comes first.
_NOT_AFTER_A_NAME = frozenset({"via"})
_PARTICLES = frozenset({"de", "del", "della", "di", "da", "do", "dos", "la", "le", "sur", "of"})


class AddressChainRecognizer(TokenRecognizer):
    """Addresses of any format: an anchor, then the numbers and place words after it."""

    def __init__(self, lexicon: Lexicon, language: str = "fr") -> None:
        super().__init__(lexicon, (ADDRESS,), language)
        self._streets = StreetAddressRecognizer(lexicon, language)

    def find(self, tokens: Sequence[Token], hits: Sequence[ContextHit]) -> list[RecognizerResult]:
        anchors = self._anchors(tokens, hits)
        spans: list[tuple[int, int]] = []
        for first, last in sorted(anchors):
            first = self._extend_back(tokens, first)
            last = self._extend(tokens, last)
            if spans and first <= spans[-1][1]:
                spans[-1] = (spans[-1][0], max(spans[-1][1], last))
            else:
                spans.append((first, last))
        return [
            make_result(ADDRESS, tokens[first].start, tokens[last - 1].end, 0.7)
            for first, last in spans
        ]

    # --- anchors ------------------------------------------------------------------

    def _anchors(
        self, tokens: Sequence[Token], hits: Sequence[ContextHit]
    ) -> list[tuple[int, int]]:
        anchors = []
        starts = {token.start: i for i, token in enumerate(tokens)}
        ends = {token.end: i + 1 for i, token in enumerate(tokens)}
        for result in self._streets.find(tokens, hits):
            if result.start in starts and result.end in ends:
                anchors.append((starts[result.start], ends[result.end]))
        for index in range(len(tokens)):
            found = (
                self._number_street_number(tokens, index)
                or self._number_name_suffix(tokens, index)
                or self._street_name_number(tokens, index)
                or self._unit_number(tokens, index)
            )
            if found:
                anchors.append(found)
        for index in range(len(tokens)):
            found = self._military(tokens, index) or self._corner(tokens, index)
            if found:
                anchors.append(found)
        for hit in hits:
            if hit.entity_type == ADDRESS:
                found = self._postcode_after(tokens, hit.last)
                if found:
                    anchors.append(found)
        return anchors

    def _number_street_number(self, tokens: Sequence[Token], index: int) -> tuple[int, int] | None:
        """ "20789 allika 46", "6750 koskikatu 25": a number, 1-4 place words, a number."""
        if not _house_number(tokens[index], 6):
            return None
        position = index + 1
        words = 0
        while position < len(tokens) and words < 4 and self.is_place_word(tokens[position]):
            position += 1
            words += 1
        if not words or position >= len(tokens) or not _house_number(tokens[position], 5):
            return None
        between = tokens[index + 1 : position]
        closing = self.text[between[-1].end : tokens[position].end + 1]
        if "(" in closing or "%" in closing:
            return None  # "4.1 RÉSERVES MINEURES (3)", "12 DPIAs réalisées (100 %)"
        common = sum(self._dictionary_word(token) for token in between)
        sentence = common == len(between) or (len(between) > 1 and 2 * common >= len(between))
        if sentence and (
            len(between) > 1 or _YEAR.fullmatch(tokens[index].text) or self._plural_word(between[0])
        ):
            # "3 communication collaborateurs 6", "2024 objectif 15", "2 audits 5": a
            # street is named in the singular, a count of things in the plural
            return None
        if any(token.text in self.lexicon.standards for token in between):
            return None  # "audit qualité iso 27001"
        if _YEAR.fullmatch(tokens[index].text) and _YEAR.fullmatch(tokens[position].text):
            return None  # "2019 rapport 2020"
        return index, position + 1

    def _number_name_suffix(self, tokens: Sequence[Token], index: int) -> tuple[int, int] | None:
        """ "473 baker dam", "06 bradley knolls": a number, 1-3 words, a street suffix."""
        if not _house_number(tokens[index], 6):
            return None
        for words in (1, 2, 3):
            last = index + words + 1
            if last > len(tokens):
                return None
            name = tokens[index + 1 : last - 1]
            suffix = tokens[last - 1]
            if not all(t.is_word and t.text not in self.lexicon.stop_words for t in name):
                return None
            if suffix.text in _NOT_AFTER_A_NAME:
                return None  # "3 contractors via Mindquest": a preposition (wave6-places)
            if suffix.text in self.lexicon.street_suffixes and (name or words == 1):
                if words == 1 and not name:
                    continue
                return index, last
        return None

    def _street_name_number(self, tokens: Sequence[Token], index: int) -> tuple[int, int] | None:
        """ "via garibaldi 12", "ul. miła 53", "rua mina 50": street word, name, number."""
        if tokens[index].text not in self.lexicon.street_words or self.lexicon.is_title(
            tokens[index].text, self.supported_language
        ):
            return None  # "dr émilie rousseau 15": a doctor in French, not a drive
        position = index + 1
        if position < len(tokens) and tokens[position].text == ".":
            position += 1
        words = 0
        while position < len(tokens) and words < 3 and self.is_place_word(tokens[position]):
            position += 1
            words += 1
        if words and position < len(tokens) and _house_number(tokens[position], 5):
            return index, position + 1
        return None

    def _unit_number(self, tokens: Sequence[Token], index: int) -> tuple[int, int] | None:
        """ "suite 279", "apt 656", "box 8858", "psc 3294"."""
        size = match_phrase(tokens, index, self.lexicon.unit_words)
        if not size:
            return None
        position = index + size
        if position < len(tokens) and tokens[position].text == ".":
            position += 1
        if position < len(tokens) and _house_number(tokens[position], 6):
            if tokens[index].text in ("no", "nr", "lot", "house", "maison", "block", "bloc"):
                return None  # too common alone: only inside a chain
            return index, position + 1
        return None

    def _military(self, tokens: Sequence[Token], index: int) -> tuple[int, int] | None:
        """US military mail: "usns møller fpo aa 85844", "unit 8524 box 0979 dpo ap 56"."""
        if tokens[index].text not in _MILITARY_POST or index + 2 >= len(tokens):
            return None
        if tokens[index + 1].text not in _MILITARY_AREAS or not tokens[index + 2].is_digits:
            return None
        first = index
        # the ship or unit before: "usns møller", "uscgc khadzhiyev"
        for back in (2, 3):
            if index - back >= 0 and tokens[index - back].text in _SHIPS:
                first = index - back
        return first, index + 3

    def _corner(self, tokens: Sequence[Token], index: int) -> tuple[int, int] | None:
        """An intersection: "the corner of dalbraut 99 and frederikke coves"."""
        size = match_phrase(tokens, index, self.lexicon.corner_words)
        if not size:
            return None
        position, end, joined = index + size, index + size, False
        while position < len(tokens) and position - index < _MAX_CHAIN:
            token = tokens[position]
            if token.text in ("and", "et") and not joined and end > index + size:
                joined = True
            elif (
                token.is_digits
                or self.is_place_word(token)
                or token.text in self.lexicon.street_suffixes
                or (token.text in _PARTICLES and end > index + size)
            ):
                end = position + 1
            else:
                break
            position += 1
        if not joined or end <= index + size:
            return None
        return index, end

    def _postcode_after(self, tokens: Sequence[Token], position: int) -> tuple[int, int] | None:
        """A postcode or house number said after "zip", "code postal", "address"."""
        for index in range(position, min(position + 4, len(tokens))):
            token = tokens[index]
            if token.is_digits and 3 <= len(token.text) <= 6:
                return index, index + 1
            if UK_POSTCODE.fullmatch(token.text):
                return index, index + 1
            if index + 1 < len(tokens) and UK_POSTCODE.fullmatch(
                token.text + tokens[index + 1].text
            ):
                return index, index + 2
        return None

    # --- the chain ------------------------------------------------------------------

    def is_place_word(self, token: Token) -> bool:
        """A word of a street, town, region or country name."""
        word = token.text
        lexicon = self.lexicon
        if word in lexicon.street_words or match_phrase([token], 0, lexicon.street_types):
            return True
        return (
            token.is_word
            and len(word) > 1
            and not lexicon.is_plain_word(word)
            and not lexicon.is_number_word(word)
            and word not in lexicon.months
            and word not in lexicon.fillers
            and word not in ANSWERS
        )

    def _dictionary_word(self, token: Token) -> bool:
        """A dictionary word that is no street word and no place: not a street's name."""
        lexicon = self.lexicon
        word = token.text
        return (
            lexicon.is_dictionary_word(word)
            and word not in lexicon.street_words
            and not match_phrase([token], 0, lexicon.street_types)
            and not lexicon.vocabulary.place_at([word], 0)
        )

    def _plural_word(self, token: Token) -> bool:
        """A dictionary word in the plural ("recommandations", "audits")."""
        word = token.text
        return (
            len(word) > 4
            and word[-1] in "sx"
            and self.lexicon.is_dictionary_word(word[:-1])
            and self._dictionary_word(token)
        )

    def _extend(self, tokens: Sequence[Token], last: int) -> int:
        """Run on over numbers, unit numbers and place words."""
        end, limit = last, min(len(tokens), last + _MAX_CHAIN)
        while end < limit:
            token = tokens[end]
            unit = match_phrase(tokens, end, self.lexicon.unit_words)
            if unit and end + unit < len(tokens) and _house_number(tokens[end + unit], 6):
                end += unit + 1
            elif (
                _house_number(token, 6)
                or UK_POSTCODE.fullmatch(token.text)
                or self.is_place_word(token)
                or (
                    len(token.text) == 2
                    and token.is_word
                    and token.text.isascii()
                    and self._state_code(token)
                )
            ):
                end += 1
            elif token.text in _JOINERS or token.text in _PARTICLES:
                following = end + 1
                while (
                    following < len(tokens)
                    and following - end < 3
                    and tokens[following].text in _JOINERS
                ):
                    following += 1
                if following < len(tokens) and self._continues(tokens[following]):
                    end = following
                else:
                    break
            else:
                break
        while end > last and not (tokens[end - 1].is_word or tokens[end - 1].is_digits):
            end -= 1
        return end

    def _state_code(self, token: Token) -> bool:
        """ "co", "qc", "on" written in capitals: a state or province code."""
        text = self.text[token.start : token.end]
        return text.isupper()

    def _continues(self, token: Token) -> bool:
        return token.is_digits or self.is_place_word(token)

    def _extend_back(self, tokens: Sequence[Token], first: int) -> int:
        """Take in a number said right before ("370 3911 fourth avenue")."""
        if first > 0 and _house_number(tokens[first - 1], 6):
            return first - 1
        return first


def _house_number(token: Token, digits: int) -> bool:
    return token.is_digits and len(token.text) <= digits
