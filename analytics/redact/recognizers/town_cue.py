"""Towns named after a cue that no other recogniser reads, and postcodes said alone.

"une ville qui s'appelle X", "entre X et Y", "l'agence de X", "on est à X",
"somewhere between X and Y": the words after the cue are a place even when no
gazetteer lists them (villages, hamlets, ASR's spelling of them). A French or US
postcode is five digits: said alone ("non c'est 02524", "now Springfield 06451")
it is still an address, unless an amount or a unit follows ("15000 euros").
"""

from __future__ import annotations

from collections.abc import Sequence

from presidio_analyzer import RecognizerResult

from analytics.redact.lexicon import Lexicon
from analytics.redact.recognizers.base import ADDRESS, LOCATION, TokenRecognizer, make_result
from analytics.redact.spoken import ContextHit, Token, match_phrase

_MAX_WORDS = 4  # "saint martin sur le lac"
_LINKS = frozenset({"sur", "sous", "en", "lès", "lez", "les", "le", "la", "de", "du", "des"})
_JOINS = frozenset({"-"})
_POSTCODE_DIGITS = 5


class TownCueRecognizer(TokenRecognizer):
    """LOCATION after "qui s'appelle", "entre … et", "agence de"...; ADDRESS for lone
    five-digit postcodes."""

    def __init__(self, lexicon: Lexicon, language: str = "fr") -> None:
        super().__init__(lexicon, (LOCATION, ADDRESS), language)

    # -- which words may be a town's name ------------------------------------------
    def _capital_ok(self, token: Token) -> bool:
        """In text that has capitals, a town's name has one."""
        if self.text == self.text.lower():
            return True
        return self.text[token.start : token.start + 1].isupper()

    def _word(self, token: Token, *, strong: bool) -> bool:
        """A word a town's name can be. After a strong cue ("qui s'appelle") any word
        but a stop word; after a weak one no dictionary word unless it is a known name
        or, in written text, capitalised mid-sentence."""
        lexicon = self.lexicon
        word = token.text
        if not token.is_word or len(word) < 2 or lexicon.is_plain_word(word):
            return False
        if word in lexicon.months or lexicon.is_number_word(word) or word in lexicon.fillers:
            return False
        if not self._capital_ok(token):
            return False
        if strong or word in lexicon.first_names or word in lexicon.surnames:
            return True
        if lexicon.vocabulary.place_at([word], 0) or word in lexicon.vocabulary.word_towns:
            return True
        if not lexicon.is_dictionary_word(word):
            return True
        if self.supported_language == "fr" and not lexicon.vocabulary.in_tables(word):
            return True  # "Fischer": only the English dictionary (WordNet) lists it
        return self.text != self.text.lower()  # capitalised: "Pierre", "Marin"

    def _name_end(self, tokens: Sequence[Token], first: int, *, strong: bool) -> int:
        """End (exclusive) of the town's name starting at ``first`` (``first``: none)."""
        lexicon = self.lexicon
        index = first
        if index < len(tokens) and tokens[index].text in lexicon.place_prefixes:
            index += 1  # "east scott", "saint julien"
        if index >= len(tokens) or not self._word(tokens[index], strong=strong):
            return first
        end = index + 1
        while end < len(tokens) and end - first < _MAX_WORDS:
            link = tokens[end].text
            if link in _JOINS or link in _LINKS:
                after = end + 1
                if (
                    link in ("sur", "sous", "en", "lès", "lez")
                    and after < len(tokens)
                    and tokens[after].text in ("le", "la", "les")
                ):
                    after += 1
                if after < len(tokens) and (
                    tokens[after].text in lexicon.place_tails
                    or (link in _JOINS and self._word(tokens[after], strong=True))
                    or (
                        link not in ("le", "la", "de", "du", "des")
                        and self._word(tokens[after], strong=False)
                    )
                ):
                    end = after + 1
                    continue
            break
        return end

    # -- cues ----------------------------------------------------------------------
    def _after_cues(self, tokens: Sequence[Token]) -> list[RecognizerResult]:
        lexicon = self.lexicon
        results = []
        for index in range(len(tokens)):
            strong = match_phrase(tokens, index, lexicon.town_named)
            weak = 0 if strong else match_phrase(tokens, index, lexicon.town_cues)
            if not weak and not strong and tokens[index].text in lexicon.town_nouns_of:
                following = index + 1
                if following < len(tokens) and tokens[following].text in ("de", "d", "à", "a"):
                    weak = 2
            size = strong or weak
            if not size:
                continue
            first = index + size
            end = self._name_end(tokens, first, strong=bool(strong))
            if end > first:
                # After "qui s'appelle" the place wins over a name read in the same words.
                score = 0.9 if strong else 0.6
                results.append(
                    make_result(LOCATION, tokens[first].start, tokens[end - 1].end, score)
                )
        return results

    def _side(self, tokens: Sequence[Token], first: int) -> tuple[int, bool]:
        """End of one side of "entre X et Y", and whether it is surely a name."""
        end = self._name_end(tokens, first, strong=False)
        if end > first:
            return end, True
        token = tokens[first] if first < len(tokens) else None
        if (
            token is not None
            and token.is_word
            and (token.text in self.lexicon.first_names or token.text in self.lexicon.surnames)
        ):
            return first + 1, True  # "pierre": a known name that is also a word
        return self._name_end(tokens, first, strong=True), False

    def _between(self, tokens: Sequence[Token]) -> list[RecognizerResult]:
        """ "entre X et Y", "between X and Y": two towns when one side is surely a
        name and the other a word that can be one."""
        results = []
        for index, token in enumerate(tokens):
            if token.text not in self.lexicon.town_between:
                continue
            end_left, sure_left = self._side(tokens, index + 1)
            if end_left == index + 1 or end_left >= len(tokens):
                continue
            if tokens[end_left].text not in ("et", "and"):
                continue
            end_right, sure_right = self._side(tokens, end_left + 1)
            if end_right == end_left + 1 or not (sure_left or sure_right):
                continue
            for first, end in ((index + 1, end_left), (end_left + 1, end_right)):
                results.append(make_result(LOCATION, tokens[first].start, tokens[end - 1].end, 0.6))
        return results

    def _lone_postcodes(self, tokens: Sequence[Token]) -> list[RecognizerResult]:
        results = []
        units = self.lexicon.amount_units
        for index, token in enumerate(tokens):
            if not token.is_digits or len(token.text) != _POSTCODE_DIGITS:
                continue
            before = tokens[index - 1] if index else None
            after = tokens[index + 1] if index + 1 < len(tokens) else None
            if (
                before is not None
                and (
                    before.is_digits
                    or before.text
                    in self.lexicon.standards  # "iso 27001" or self.text[before.end : token.start] in ("-", ".", "/", ",")
                )
            ):
                continue  # part of a longer number ("12 34567", "1.23456")
            if after is not None and (
                after.is_digits
                or after.text in units
                or self.text[token.end : after.start] in ("-", ".", "/", ",")
            ):
                continue  # "15000 euros", "12345-678"
            tail = self.text[token.end : token.end + 2].strip()
            head = self.text[max(token.start - 1, 0) : token.start]
            if tail[:1] in ("%", "€", "$", "£") or head in ("$", "£", "€", "+", "#"):
                continue
            results.append(make_result(ADDRESS, token.start, token.end, 0.45))
            end = self._name_end(tokens, index + 1, strong=False)
            if end > index + 1:  # "16200 Mauryville": the town after its postcode
                results.append(
                    make_result(LOCATION, tokens[index + 1].start, tokens[end - 1].end, 0.5)
                )
        return results

    def find(self, tokens: Sequence[Token], hits: Sequence[ContextHit]) -> list[RecognizerResult]:
        return self._after_cues(tokens) + self._between(tokens) + self._lone_postcodes(tokens)
