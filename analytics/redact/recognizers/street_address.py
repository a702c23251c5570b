"""Street address recogniser."""

from __future__ import annotations

from collections.abc import Sequence

from presidio_analyzer import RecognizerResult

from analytics.redact.lexicon import Lexicon
from analytics.redact.recognizers.base import ADDRESS, ANSWERS, TokenRecognizer, make_result
from analytics.redact.spoken import (
    ContextHit,
    Token,
    match_phrase,
    nearest_context,
    parse_number,
)


class StreetAddressRecognizer(TokenRecognizer):
    """Postal addresses: number + street type + name [+ postcode] [+ city].

    "12 rue des lilas 75011 paris", "au cinq bis avenue jean jaurès à lyon",
    "22 baker street in london".
    """

    _STRONG = frozenset(
        {
            "rue",
            "avenue",
            "boulevard",
            "bd",
            "allée",
            "allee",
            "impasse",
            "chemin",
            "quai",
            "lotissement",
            "faubourg",
            "street",
            "road",
            "lane",
            "drive",
        }
    )

    def __init__(self, lexicon: Lexicon, language: str = "fr") -> None:
        super().__init__(lexicon, (ADDRESS,), language)

    def find(self, tokens: Sequence[Token], hits: Sequence[ContextHit]) -> list[RecognizerResult]:
        results = []
        index = 0
        while index < len(tokens):
            found = self._address_at(tokens, index, hits)
            if found is None:
                index += 1
                continue
            first, last, score = found
            results.append(make_result(ADDRESS, tokens[first].start, tokens[last - 1].end, score))
            index = last
        return results

    def _address_at(
        self, tokens: Sequence[Token], index: int, hits: Sequence[ContextHit]
    ) -> tuple[int, int, float] | None:
        size = match_phrase(tokens, index, self.lexicon.street_types)
        if not size:
            return None
        street_word = tokens[index].text
        candidates = []
        if street_word in self.lexicon.street_types_after:
            english = self._english_street(tokens, index)  # "22 baker street"
            if english is not None:
                candidates.append((english, self._city_after(tokens, index + size), 0.85))
        number_start = self._number_before(tokens, index)
        name_end = self._name_after(tokens, index + size, limit=5)
        in_context = nearest_context(hits, index, index + 1, before=8, types=frozenset({ADDRESS}))
        if name_end > index + size and (
            number_start is not None or street_word in self._STRONG or in_context
        ):
            first = number_start if number_start is not None else index
            score = 0.85 if number_start is not None else 0.7
            candidates.append((first, self._city_after(tokens, name_end), score))
        if not candidates:
            return None
        return max(candidates, key=lambda found: (found[1] - found[0], found[2]))

    def _number_before(self, tokens: Sequence[Token], index: int) -> int | None:
        """Start of a house number ("12", "douze", "5 bis") ending right before ``index``."""
        end = index
        if end > 0 and tokens[end - 1].text in self.lexicon.number_suffixes:
            end -= 1
        for start in range(max(0, end - 6), end):
            token = tokens[start]
            if token.is_digits and start == end - 1 and len(token.text) <= 4:
                return start
            if not token.is_digits:
                parsed = parse_number(tokens, start, self.lexicon)
                if parsed and parsed[1] == end and parsed[0] != "0":
                    return start
        return None

    def _english_street(self, tokens: Sequence[Token], index: int) -> int | None:
        """Start of "22 baker street": a number, one to three name words, the street type."""
        for words in (1, 2, 3):
            name_first = index - words
            if name_first < 1:
                return None
            if not self._is_name_word(tokens[name_first]):
                return None
            number_start = self._number_before(tokens, name_first)
            if number_start is not None:
                return number_start
        return None

    def _is_name_word(self, token: Token) -> bool:
        """A word of a street or town name: not a stop word ("station" and "moulin" are)."""
        word = token.text
        return (
            token.is_word
            and len(word) > 1
            and not token.elided
            and word not in self.lexicon.stop_words
            and word not in self.lexicon.fillers
            and word not in ANSWERS
        )

    def _name_after(self, tokens: Sequence[Token], position: int, limit: int) -> int:
        """End of a street or city name (words, particles inside, hyphens)."""
        end, words = position, 0
        while end < len(tokens) and words < limit:
            token = tokens[end]
            if self._is_name_word(token) and token.text not in self.lexicon.fillers:
                words += 1
                end += 1
            elif (token.text in self.lexicon.name_particles or token.text == "-") and (
                end + 1 < len(tokens) and self._joins_name(tokens, end + 1)
            ):
                end += 1
            else:
                break
        return end

    def _joins_name(self, tokens: Sequence[Token], position: int) -> bool:
        """A particle is inside a name only when a name word follows (maybe after more particles)."""
        for token in tokens[position : position + 3]:
            if self._is_name_word(token):
                return True
            if token.text not in self.lexicon.name_particles and token.text != "-":
                return False
        return False

    def _city_after(self, tokens: Sequence[Token], position: int) -> int:
        """Extend over "75011 paris", "à lyon", "in london", "cedex"."""
        end = position
        if end < len(tokens) and tokens[end].is_digits and len(tokens[end].text) in (4, 5):
            end += 1
            city_end = self._name_after(tokens, end, limit=4)
            return city_end
        if end < len(tokens) and tokens[end].text in self.lexicon.city_markers:
            city_end = self._name_after(tokens, end + 1, limit=4)
            if city_end > end + 1:
                end = city_end
                if end < len(tokens) and tokens[end].is_digits and len(tokens[end].text) == 5:
                    end += 1
        return end
