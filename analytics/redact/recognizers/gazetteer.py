"""Places named anywhere, from the gazetteer: "je suis à marseille", "moved to norway".

spaCy finds capitalised places in written text; ASR writes "londres" and "paris"
in lower case, which it misses. In text that has capitals, only a capitalised
name counts ("Nice" the town, not "nice").
"""

from __future__ import annotations

from collections.abc import Sequence

from presidio_analyzer import RecognizerResult

from analytics.redact.lexicon import Lexicon
from analytics.redact.recognizers.base import LOCATION, TokenRecognizer, make_result
from analytics.redact.spoken import ContextHit, Token


class GazetteerPlaceRecognizer(TokenRecognizer):
    """Countries, regions and towns of the gazetteer, said anywhere."""

    def __init__(self, lexicon: Lexicon, language: str = "fr") -> None:
        super().__init__(lexicon, (LOCATION,), language)

    def find(self, tokens: Sequence[Token], hits: Sequence[ContextHit]) -> list[RecognizerResult]:
        vocabulary = self.lexicon.vocabulary
        if not vocabulary.places:
            return []
        cased = self.text != self.text.lower()
        words = [token.text for token in tokens]
        results = []
        index = 0
        while index < len(tokens):
            size = vocabulary.place_at(words, index) if tokens[index].is_word else 0
            if size and cased and not self.text[tokens[index].start].isupper():
                size = 0
            if size == 1 and cased and _acronym(self.text[tokens[index].start : tokens[index].end]):
                size = 0  # "OMS", "RTO": an acronym, not the town of that name
            if size == 1 and not cased and self._word_region(tokens, index):
                size = 0  # "la prochaine réunion": a meeting, not the island
            if size:
                last = tokens[index + size - 1]
                results.append(make_result(LOCATION, tokens[index].start, last.end, 0.6))
                index += size
            else:
                index += 1
        return results

    def _word_region(self, tokens: Sequence[Token], index: int) -> bool:
        """Lower-case French: a region named like a word, with no "à", "en"... before."""
        if self.supported_language != "fr":
            return False
        lexicon = self.lexicon
        if tokens[index].text not in lexicon.vocabulary.word_regions:
            return False
        previous = index - 1
        if previous >= 0 and tokens[previous].text in ("la", "l", "le"):
            previous -= 1
        return previous < 0 or tokens[previous].text not in lexicon.town_before


def _acronym(written: str) -> bool:
    return written.isupper() and len(written) <= 3
