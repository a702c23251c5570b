"""Names as ASR writes them: lower-case words that no dictionary knows.

"šárka ottová", "ubul", "mathias ruud": in a lower-case transcript a word that is
neither a stop word, call vocabulary, a number, a month nor any dictionary word
is most often a name (or a place, also personal data). Written text has capitals
for spaCy to read; there this recogniser stays silent.
"""

from __future__ import annotations

from collections.abc import Sequence

from presidio_analyzer import RecognizerResult

from analytics.redact.lexicon import Lexicon
from analytics.redact.recognizers.base import ANSWERS, PERSON, TokenRecognizer, make_result
from analytics.redact.spoken import ContextHit, Token

_MIN_LETTERS = 3
_VOWELS = frozenset("aeiouyàâäéèêëîïôöùûüÿæœáíóúåøõãı")


class UnknownWordRecognizer(TokenRecognizer):
    """Runs of unknown words (with initials and known names beside them) → PERSON."""

    def __init__(self, lexicon: Lexicon, language: str = "fr") -> None:
        super().__init__(lexicon, (PERSON,), language)

    def is_unknown(self, token: Token) -> bool:
        word = token.text
        lexicon = self.lexicon
        return (
            token.is_word
            and len(word) >= _MIN_LETTERS
            and not lexicon.is_dictionary_word(word)
            and not lexicon.is_number_word(word)
            and word not in lexicon.months
            and word not in lexicon.fillers
            and word not in ANSWERS
            and word not in lexicon.email_at
            and word not in lexicon.email_dot
            and word not in lexicon.tlds
            and word not in lexicon.standards
            and bool(_VOWELS & set(word))  # "rgpd", "drh": letters said, not a name
        )

    def _joins(self, token: Token) -> bool:
        """A middle initial or a known first name or surname next to an unknown word."""
        word = token.text
        if not token.is_word or token.elided:
            return False
        return (len(word) == 1 and word not in ("a", "i", "y", "à")) or (
            word in self.lexicon.first_names or word in self.lexicon.surnames
        )

    def find(self, tokens: Sequence[Token], hits: Sequence[ContextHit]) -> list[RecognizerResult]:
        if not self.lexicon.vocabulary.loaded or self.text != self.text.lower():
            return []
        results = []
        index = 0
        while index < len(tokens):
            if not self.is_unknown(tokens[index]):
                index += 1
                continue
            first, last = index, index + 1
            while first > 0 and self._joins(tokens[first - 1]):
                first -= 1
            while last < len(tokens) and (
                self.is_unknown(tokens[last])
                or (self._joins(tokens[last]) and last + 1 < len(tokens) and self.is_unknown(tokens[last + 1]))
                or (tokens[last].text in self.lexicon.surnames)
            ):
                last += 1
            results.append(make_result(PERSON, tokens[first].start, tokens[last - 1].end, 0.5))
            index = last
        return results
