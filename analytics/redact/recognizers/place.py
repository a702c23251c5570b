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


class PlaceRecognizer(TokenRecognizer):
    """The place a caller is at, named after "près de", "direction", "near"...

    spaCy rarely finds lower-case town names; where a caller broke down is personal
    data too.
    """

    def __init__(self, lexicon: Lexicon, language: str = "fr") -> None:
        super().__init__(lexicon, (LOCATION,), language)

    def find(self, tokens: Sequence[Token], hits: Sequence[ContextHit]) -> list[RecognizerResult]:
        results = []
        for index in range(len(tokens)):
            size = match_phrase(tokens, index, self.lexicon.location_before)
            if not size:
                continue
            first = end = index + size
            while end < len(tokens) and end - first < 4:
                token = tokens[end]
                if (
                    token.is_word
                    and len(token.text) > 1
                    and not self.lexicon.is_plain_word(token.text)
                ):
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
