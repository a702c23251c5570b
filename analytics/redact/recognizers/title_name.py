"""A title and the name after it: "M. Kevin Zhang", "mme sophie duchemin", "Dr Dubois".

The name is every name word after the title (up to four, hyphenated names count as
one), so that the surname is never left after a redacted first name; the title
itself stays readable. A name stops at punctuation ("Mme Moreau, CEO").
"""

from __future__ import annotations

from collections.abc import Sequence

from presidio_analyzer import RecognizerResult

from analytics.redact.lexicon import Lexicon
from analytics.redact.recognizers.base import NAME_PARTICLES, PERSON, TokenRecognizer, make_result
from analytics.redact.spoken import ContextHit, Token

_MAX_WORDS = 4
_INSIDE = frozenset(" -'’")  # what may sit between two words of one name


class TitleNameRecognizer(TokenRecognizer):
    """Name words after a title (M., Mme, Dr, Mr, Mrs, Ms, monsieur, madame...)."""

    def __init__(self, lexicon: Lexicon, language: str = "fr") -> None:
        super().__init__(lexicon, (PERSON,), language)

    def find(self, tokens: Sequence[Token], hits: Sequence[ContextHit]) -> list[RecognizerResult]:
        cased = self.text != self.text.lower()
        results = []
        index = 0
        while index < len(tokens):
            end = self._name_after(tokens, index, cased) if self._is_title(tokens, index) else None
            if end is None:
                index += 1
                continue
            first = index + 1
            if first < len(tokens) and tokens[first].text == ".":
                first += 1
            results.append(make_result(PERSON, tokens[first].start, tokens[end - 1].end, 0.8))
            index = end
        return results

    def _is_title(self, tokens: Sequence[Token], index: int) -> bool:
        token = tokens[index]
        if token.text not in self.lexicon.titles:
            return False
        if index and tokens[index - 1].end == token.start and not tokens[index - 1].is_word:
            return False  # "50M€", "200ms": a unit after a number
        # "m" alone is a title only before a name: checked by the name after it.
        return index == 0 or self.text[tokens[index - 1].end : token.start].strip() != "'"

    def _name_word(self, token: Token, cased: bool) -> bool:
        word = token.text
        if not token.is_word or token.elided or word in self.lexicon.titles:
            return False
        if cased:
            return self.text[token.start].isupper() and len(word) > 1
        lexicon = self.lexicon
        return len(word) > 1 and not (
            lexicon.is_plain_word(word) or lexicon.is_number_word(word) or word in lexicon.fillers
        )

    def _surname_like(self, token: Token, cased: bool) -> bool:
        """A third or fourth name word: not a dictionary word ("président"), unless known."""
        word = token.text
        lexicon = self.lexicon
        if lexicon.is_listed_name(word):
            return True
        return cased or not lexicon.is_dictionary_word(word)

    def _name_after(self, tokens: Sequence[Token], index: int, cased: bool) -> int | None:
        position = index + 1
        if position < len(tokens) and tokens[position].text == ".":
            position += 1
        elif tokens[index].text == "m" and cased:
            return None  # "M" without its full stop: a letter, a size...
        end, words = position, 0
        while end < len(tokens) and words < _MAX_WORDS:
            token = tokens[end]
            gap = self.text[tokens[end - 1].end : token.start] if end > position else " "
            if end > position and not set(gap) <= _INSIDE:
                break  # punctuation ends the name
            if self._name_word(token, cased) and (words < 2 or self._surname_like(token, cased)):
                end += 1
                words += 1
            elif (token.text == "-" and end + 1 < len(tokens)) or (
                token.text in NAME_PARTICLES
                and words
                and end + 1 < len(tokens)
                and self._name_word(tokens[end + 1], cased)
            ):
                end += 1
            else:
                break
        while end > position and not tokens[end - 1].is_word:
            end -= 1
        if not words:
            return None
        # "m" in lower-case text: a first name and a surname, or a name no dictionary
        # knows ("m ahmed mansour", "m zhang").
        if (
            tokens[index].text == "m"
            and not cased
            and words < 2
            and self.lexicon.is_dictionary_word(tokens[position].text)
        ):
            return None
        return end
