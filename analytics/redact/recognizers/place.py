"""Place recogniser."""

from __future__ import annotations

from collections.abc import Sequence

from presidio_analyzer import RecognizerResult

from analytics.redact.lexicon import Lexicon
from analytics.redact.recognizers.base import LOCATION, TokenRecognizer, make_result
from analytics.redact.spoken import (
    ContextHit,
    Token,
    match_phrase,
)

_SAINTS = frozenset({"saint", "sainte", "st", "ste"})
_TOPONYM_LINKS = frozenset({"sur", "sous", "lès", "lez", "les", "en", "la", "le"})


class PlaceRecognizer(TokenRecognizer):
    """The place a caller is at, named after "près de", "direction", "near"...

    spaCy rarely finds lower-case town names; where a caller broke down is personal
    data too.
    """

    def __init__(self, lexicon: Lexicon, language: str = "fr") -> None:
        super().__init__(lexicon, (LOCATION,), language)

    def _name_like(self, token: Token) -> bool:
        word = token.text
        lexicon = self.lexicon
        if not token.is_word or len(word) < 2 or lexicon.is_plain_word(word):
            return False
        known = word in lexicon.first_names or word in lexicon.surnames
        return known or not lexicon.is_dictionary_word(word)

    def _known_name(self, token: Token) -> bool:
        """ "port james": a known name after a place prefix, even one that is a word."""
        return token.text in self.lexicon.first_names or token.text in self.lexicon.surnames

    def _town_word(self, token: Token, *, first: bool) -> bool:
        """A word of a town's name after "direction", "vers"...: after the first, a
        dictionary word ("vers Azure piloté par") only when it is a known name or a
        gazetteer place."""
        lexicon = self.lexicon
        word = token.text
        if not lexicon.is_dictionary_word(word) or word in lexicon.place_prefixes:
            return True  # "outside west curtis": "west" begins the name
        if word in lexicon.first_names or word in lexicon.surnames:
            return True
        if lexicon.vocabulary.place_at([word], 0) or word in lexicon.vocabulary.word_towns:
            return True
        # French: "près de chalon", the first word may be a word too; English: "near
        # enough", "outside work" are no towns.
        return first and self.supported_language == "fr"

    def _ordinary(self, token: Token) -> bool:
        """A month ("vers janvier"): towns named like words ("chalon") are still taken."""
        return token.text in self.lexicon.months

    def _toponyms(self, tokens: Sequence[Token]) -> list[RecognizerResult]:
        """French town names by their shape, said anywhere: "saint michel", "sainte
        marcelle", "arnaud sur mer", "mathieu les bains", "leleu la forêt"."""
        results = []
        lexicon = self.lexicon
        for index, token in enumerate(tokens):
            end = 0
            following = tokens[index + 1] if index + 1 < len(tokens) else None
            if token.text in _SAINTS and following is not None and self._name_like(following):
                end = index + 2
            elif self._name_like(token) and following is not None:
                position = index + 1
                if tokens[position].text in _TOPONYM_LINKS:
                    position += 1
                    if position < len(tokens) and tokens[position].text in ("le", "la", "les"):
                        position += 1
                    if position < len(tokens) and tokens[position].text in lexicon.place_tails:
                        end = position + 1
            if not end:
                continue
            # "saint robert sur mer": the tail after a saint's name too.
            if end + 1 < len(tokens) and tokens[end].text in _TOPONYM_LINKS:
                tail = end + 1
                if tail < len(tokens) and tokens[tail].text in ("le", "la", "les"):
                    tail += 1
                if tail < len(tokens) and tokens[tail].text in lexicon.place_tails:
                    end = tail + 1
            results.append(make_result(LOCATION, token.start, tokens[end - 1].end, 0.55))
        return results

    def find(self, tokens: Sequence[Token], hits: Sequence[ContextHit]) -> list[RecognizerResult]:
        results = self._toponyms(tokens) if self.supported_language == "fr" else []
        for index in range(len(tokens)):
            size = match_phrase(tokens, index, self.lexicon.location_before)
            if not size:
                continue
            first = end = index + size
            if first < len(tokens) and self._ordinary(tokens[first]):
                continue  # "vers janvier": a date, not a place
            while end < len(tokens) and end - first < 4:
                token = tokens[end]
                after_prefix = end > first and tokens[end - 1].text in self.lexicon.place_prefixes
                if (
                    token.is_word
                    and len(token.text) > 1
                    and not self.lexicon.is_plain_word(token.text)
                    and (after_prefix or self._town_word(token, first=end == first))
                ) or (after_prefix and self._known_name(token)):
                    end += 1
                elif token.text == "-" or token.text in ("sur", "en", "saint", "le", "la"):
                    following = tokens[end + 1] if end + 1 < len(tokens) else None
                    if end == first or following is None or not following.is_word:
                        break
                    if self.lexicon.is_plain_word(following.text):
                        break  # "chalon sur une aire": the town ends before "sur"
                    end += 1
                else:
                    break
            while end > first and not tokens[end - 1].is_word:
                end -= 1
            if end > first:
                results.append(make_result(LOCATION, tokens[first].start, tokens[end - 1].end, 0.6))
        return results
