"""Names as ASR writes them: lower-case words that no dictionary knows.

"šárka ottová", "ubul", "mathias ruud": in a lower-case transcript a word that is
neither a stop word, call vocabulary, a number, a month nor any dictionary word
is most often a name (or a place, also personal data). Written text has capitals
for spaCy to read; there this recogniser stays silent.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from presidio_analyzer import RecognizerResult

from analytics.redact.lexicon import Lexicon
from analytics.redact.recognizers.base import (
    ANSWERS,
    LOCATION,
    PERSON,
    TokenRecognizer,
    make_result,
)
from analytics.redact.spoken import ContextHit, Token

_MIN_LETTERS = 3
_NAME_PREFIX = re.compile(r"(Mc|Mac|De|Di|Da|Du|La|Le|Van|Von|O)(?=[A-Z])")
_SHOUTED_TOWN = 6  # letters: shorter words in capitals are acronyms ("COMEX")
# Latin, Greek and Cyrillic vowels: a word without any is letters said ("rgpd").
_VOWELS = frozenset("aeiouyàâäéèêëîïôöùûüÿæœáíóúåøõãıαεηιουωάέήίόύώаеёиоуыэюяіїє")


class UnknownWordRecognizer(TokenRecognizer):
    """Runs of unknown words (with initials and known names beside them) → PERSON."""

    def __init__(self, lexicon: Lexicon, language: str = "fr") -> None:
        super().__init__(lexicon, (PERSON, LOCATION), language)
        # French speech borrows English terms, brands and acronyms that no French
        # dictionary lists ("roadmap", "cnil"): there one unknown word alone is not
        # taken (the benchmark measured 39 characters of names against 946 of terms
        # on the French set); a name needs a title, a trigger, a known name or a
        # second unknown word beside it. In English one unknown word is most often
        # a name or a place. After a cue ("chez", "à", "un certain") it is taken in
        # French too.
        self._lone_names = language != "fr"

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
            and word not in lexicon.context_index  # "iban", "rib", "cvv"
            and not lexicon.is_title(
                word, self.supported_language
            )  # "mme", "dr": the name is after it
            and not lexicon.is_elided_word(word)  # "linstitut": "l'institut" unpunctuated
            and bool(_VOWELS & set(word))  # "rgpd", "drh": letters said, not a name
        )

    def _capitalised(self, tokens: Sequence[Token]) -> list[RecognizerResult]:
        """Written text: capitalised words in a row, one of them unknown ("Johannes Varvio",
        "Szabina J Gelencsér"); a long unknown word in capitals is a town ("FÜRLING").
        """
        results = []
        index = 0
        while index < len(tokens):
            if not self._title_case(tokens[index]):
                index += 1
                continue
            last = index + 1
            while (
                last < len(tokens)
                and self._title_case(tokens[last])
                and self._same_name(tokens, last)
            ):
                last += 1
            end = last
            # "Deloitte France", "Pfizer Europe": a company and a place, not a name.
            while end - index > 1 and self.lexicon.vocabulary.place_at([tokens[end - 1].text], 0):
                end -= 1
            words = [t for t in tokens[index:end] if len(t.text) > 1]
            lone = end - index == 1 and not self._lone_names
            if not lone and any(self.is_unknown(t) for t in words):
                results.append(make_result(PERSON, tokens[index].start, tokens[end - 1].end, 0.45))
            index = last
        for token in tokens if self._lone_names else ():
            written = self.text[token.start : token.end]
            if written.isupper() and len(written) >= _SHOUTED_TOWN and self.is_unknown(token):
                results.append(make_result(LOCATION, token.start, token.end, 0.45))
        return results

    def _title_case(self, token: Token) -> bool:
        """ "Varvio", "J": a capital, then lower case ("OVHcloud", "YesWeHack" are brands)."""
        written = self.text[token.start : token.end]
        if not token.is_word or not written[:1].isupper():
            return False
        if len(written) == 1:
            return True
        inner = written[1:]
        if _NAME_PREFIX.match(written):
            inner = written[_NAME_PREFIX.match(written).end() :]  # type: ignore[union-attr]
        return inner.islower() or (inner[:1].isupper() and inner[1:].islower())

    def _same_name(self, tokens: Sequence[Token], index: int) -> bool:
        """No punctuation but a full stop after an initial between two words of a name."""
        gap = self.text[tokens[index - 1].end : tokens[index].start]
        if gap in (" ", "-"):
            return True
        return gap in (". ", ".") and len(tokens[index - 1].text) == 1

    def _joins(self, token: Token) -> bool:
        """A middle initial or a known first name or surname next to an unknown word."""
        word = token.text
        if not token.is_word or token.elided:
            return False
        if self.lexicon.is_title(word, self.supported_language):
            return False  # "marie dubois m philippe arnaud": two names
        return (len(word) == 1 and word not in ("a", "i", "y", "à")) or (
            self.lexicon.is_listed_name(word)
        )

    def _after_determiner(self, tokens: Sequence[Token], index: int) -> bool:
        """ "la cnil", "l'anssi", "our portal": one word after an article is a thing."""
        return index > 0 and tokens[index - 1].text in self.lexicon.determiners

    def _after_cue(self, tokens: Sequence[Token], index: int) -> bool:
        """ "chez X", "à X", "un certain X": a word a person or a place follows."""
        return index > 0 and tokens[index - 1].text in self.lexicon.lone_name_cues

    def find(self, tokens: Sequence[Token], hits: Sequence[ContextHit]) -> list[RecognizerResult]:
        if not self.lexicon.vocabulary.loaded:
            return []
        if self.text != self.text.lower():
            return self._capitalised(tokens)
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
                or (
                    self._joins(tokens[last])
                    and last + 1 < len(tokens)
                    and self.is_unknown(tokens[last + 1])
                )
                or (tokens[last].text in self.lexicon.surnames)
            ):
                last += 1
            lone = last - first == 1
            if not lone or not (
                self._after_determiner(tokens, first)
                or not (self._lone_names or self._after_cue(tokens, first))
            ):
                results.append(make_result(PERSON, tokens[first].start, tokens[last - 1].end, 0.5))
            index = last
        return results
