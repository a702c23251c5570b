"""Spoken email recogniser."""

from __future__ import annotations

from collections.abc import Sequence

from presidio_analyzer import RecognizerResult

from analytics.redact.lexicon import Lexicon
from analytics.redact.recognizers.base import (
    EMAIL_ADDRESS,
    WRITTEN_JOINERS,
    TokenRecognizer,
    make_result,
)
from analytics.redact.spoken import (
    ContextHit,
    Token,
    match_phrase,
)


class SpokenEmailRecognizer(TokenRecognizer):
    """E-mail addresses said aloud: "jean point dupont arobase orange point fr",
    "john dot smith at gmail dot com", or half written "jean.dupont arobase free.fr".
    """

    def __init__(self, lexicon: Lexicon, language: str = "fr") -> None:
        super().__init__(lexicon, (EMAIL_ADDRESS,), language)

    def find(self, tokens: Sequence[Token], hits: Sequence[ContextHit]) -> list[RecognizerResult]:
        results = []
        for index, token in enumerate(tokens):
            if token.text not in self.lexicon.email_at or index == 0:
                continue
            strong = token.text != "at"
            domain_end = self._domain_end(tokens, index + 1, strong)
            local_start = self._local_start(tokens, index - 1) if domain_end else None
            if domain_end is not None and local_start is not None:
                start, end = tokens[local_start].start, tokens[domain_end - 1].end
                results.append(make_result(EMAIL_ADDRESS, start, end, 0.9 if strong else 0.8))
        return results

    def _is_part(self, token: Token) -> bool:
        return (
            (token.is_word or token.is_digits)
            and not (token.elided and len(token.text) == 1)  # the "j" of "j'habite"
            and token.text not in self.lexicon.fillers
        )

    def _is_dot(self, tokens: Sequence[Token], position: int) -> bool:
        """A spoken dot, or a written one inside an address (not a full stop)."""
        if position <= 0 or position >= len(tokens) - 1:
            return False
        token = tokens[position]
        if token.text in WRITTEN_JOINERS:
            return (
                tokens[position - 1].end == token.start and token.end == tokens[position + 1].start
            )
        return token.text in self.lexicon.email_dot

    def _dot_length(self, tokens: Sequence[Token], position: int) -> int:
        return 1 if self._is_dot(tokens, position) else 0

    def _domain_end(self, tokens: Sequence[Token], position: int, strong: bool) -> int | None:
        """Index after the domain ("orange point fr"), which must have a dot."""
        if position >= len(tokens) or not self._is_part(tokens[position]):
            return None
        end, dots, last_label = position + 1, 0, tokens[position].text
        while True:
            dot = self._dot_length(tokens, end) or match_phrase(
                tokens, end, self.lexicon.email_joiners
            )
            if not dot or end + dot >= len(tokens) or not self._is_part(tokens[end + dot]):
                break
            dots += 1 if self._dot_length(tokens, end) else 0
            last_label = tokens[end + dot].text
            end += dot + 1
        if dots == 0:
            return None
        if not strong and not self._tld_like(last_label):
            return None
        return end

    def _tld_like(self, label: str) -> bool:
        """A top-level domain after a spoken "at": a known one, or any short label that is
        not a word ("hu", "cz", "xyz"), so that no country's domain is missed.
        """
        if label in self.lexicon.tlds:
            return True
        return (
            2 <= len(label) <= 4
            and label.isascii()
            and label.isalpha()
            and not (self.lexicon.is_plain_word(label))
        )

    def _local_start(self, tokens: Sequence[Token], position: int) -> int | None:
        """Index of the first token of the local part ending at ``position``."""
        if position < 0 or not self._is_part(tokens[position]):
            return None
        if self.lexicon.is_plain_word(tokens[position].text) and len(tokens[position].text) > 1:
            return None
        # One bare word may join a one-word local part said without its dot ("jean
        # dupont arobase …"), never one already dotted ("mail jean.dupont@…").
        start, bare_words = position, 0
        while start > 0 and position - start < 30:
            joiner = self._joiner_before(tokens, start)
            if joiner and start - joiner - 1 >= 0 and self._is_part(tokens[start - joiner - 1]):
                start -= joiner + 1
                bare_words = 1
                continue
            previous = tokens[start - 1]
            spelled = len(previous.text) == 1 and previous.is_word and not previous.elided
            single = len(tokens[start].text) == 1
            initial = spelled and bare_words < 1  # "j dupont arobase …"
            if (
                (spelled and single)
                or initial
                or (
                    bare_words < 1
                    and self._is_part(previous)
                    and not self.lexicon.is_plain_word(previous.text)
                    and not previous.elided
                )
            ):
                bare_words += 0 if spelled and single else 1
                start -= 1
                continue
            break
        return start

    def _joiner_before(self, tokens: Sequence[Token], position: int) -> int:
        """Length of a dot or joiner phrase ending just before ``position``."""
        for size in (3, 2, 1):
            first = position - size
            if first < 0:
                continue
            if size == 1 and self._is_dot(tokens, first):
                return 1
            if size == 1 and tokens[first].text in WRITTEN_JOINERS:
                continue  # "-" or "_" with spaces around: not part of an address
            if match_phrase(tokens, first, self.lexicon.email_joiners) == size:
                return size
        return 0
