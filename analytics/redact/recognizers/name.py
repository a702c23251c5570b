"""Name recogniser."""

from __future__ import annotations

from collections.abc import Sequence

from presidio_analyzer import RecognizerResult

from analytics.redact.lexicon import Lexicon
from analytics.redact.recognizers.base import NAME_PARTICLES, PERSON, TokenRecognizer, make_result
from analytics.redact.spoken import (
    ContextHit,
    Token,
    find_runs,
    match_phrase,
)


class NameRecognizer(TokenRecognizer):
    """Person names in lower-case ASR text.

    After a trigger ("je m'appelle", "monsieur", "my name is") any non-common word is
    taken as a name; after a weak trigger ("c'est", "this is") only a known first name
    or surname; anywhere, a known first name (with the surname after it) that is not
    also a common word; before "à votre écoute" / "speaking", the agent's name.
    """

    def __init__(self, lexicon: Lexicon, language: str = "fr") -> None:
        super().__init__(lexicon, (PERSON,), language)

    def find(self, tokens: Sequence[Token], hits: Sequence[ContextHit]) -> list[RecognizerResult]:
        spans: list[tuple[int, int, float]] = list(self._spelled_out(tokens))
        for index in range(len(tokens)):
            spans.extend(self._after_trigger(tokens, index))
            spans.extend(self._before_closing(tokens, index))
            spans.extend(self._known_name(tokens, index))
        return [
            make_result(PERSON, tokens[first].start, tokens[last - 1].end, score)
            for first, last, score in _union(spans)
        ]

    def _spelled_out(self, tokens: Sequence[Token]) -> list[tuple[int, int, float]]:
        """A word followed by its spelling ("le floch … l e f l o c h") is a name."""
        spans = []
        for run in find_runs(tokens, self.lexicon):
            if run.digits or run.single_letters < 3:
                continue
            for end in range(run.first, max(0, run.first - 8), -1):
                for size in (1, 2, 3):
                    words = tokens[max(0, end - size) : end]
                    if len(words) == size and "".join(w.text for w in words) == run.letters:
                        spans.append((end - size, end, 0.85))
        return spans

    def _is_known(self, word: str) -> bool:
        return self.lexicon.is_listed_name(word)

    def _name_word(self, token: Token, *, known_only: bool) -> bool:
        word = token.text
        if not token.is_word or len(word) < 2 or token.elided:
            return False
        if self._is_known(word):
            return True
        if known_only:
            return False
        lexicon = self.lexicon
        return not (
            lexicon.is_plain_word(word)
            or lexicon.is_number_word(word)
            or word in lexicon.fillers
            or match_phrase([token], 0, lexicon.street_types)
        )

    def _continues_name(self, tokens: Sequence[Token], index: int, cased: bool) -> bool:
        """A further word of the same name: no punctuation before it, and in written
        text a capital ("Mr Hart yesterday": "yesterday" is not his name).
        """
        gap = self.text[tokens[index - 1].end : tokens[index].start]
        if gap.strip(" -'’") and gap.strip() != ".":
            return False
        token = tokens[index]
        if cased and token.is_word and token.text not in NAME_PARTICLES:
            return self.text[token.start].isupper()
        return True

    def _name_end(self, tokens: Sequence[Token], position: int, known_only: bool) -> int:
        """End of up to three name words from ``position`` (hyphenated names count as one)."""
        end, words = position, 0
        cased = self.text != self.text.lower()
        while end < len(tokens) and words < 3:
            if words and not self._continues_name(tokens, end, cased):
                break
            if self._name_word(tokens[end], known_only=known_only and words == 0):
                end += 1
                words += 1
                hyphenated = end + 1 < len(tokens) and tokens[end].text == "-"
                if hyphenated and self._name_word(tokens[end + 1], known_only=False):
                    end += 2
                continue
            particle = tokens[end].text in NAME_PARTICLES and not known_only
            if (
                particle
                and end + 1 < len(tokens)
                and self._name_word(tokens[end + 1], known_only=False)
            ):
                end += 1  # "le goff", "de la fontaine": the next word is taken next turn
                continue
            break
        if known_only and end > position:
            # "c'est pierre" alone is not enough when the first name is also a word.
            first = tokens[position].text
            ambiguous = self.lexicon.is_plain_word(first)
            if ambiguous and (end - position < 2 or not self._is_known(tokens[position + 1].text)):
                return position
            end = self._known_tail(tokens, position + 1, end)
        return end

    def _known_tail(self, tokens: Sequence[Token], position: int, end: int) -> int:
        """After a weak trigger keep further words only while they are known names."""
        stop = position
        while stop < end and self._is_known(tokens[stop].text):
            stop += 1
        return stop

    def _relation(self, tokens: Sequence[Token], index: int) -> int:
        """Tokens of "my daughter", "her husband's name is", "ma voisine qui s'appelle"."""
        lexicon = self.lexicon
        if tokens[index].text not in lexicon.possessives:
            return 0
        size = match_phrase(tokens, index + 1, lexicon.relations)
        if not size:
            return 0
        end = index + 1 + size
        while True:
            link = match_phrase(tokens, end, lexicon.relation_links)
            if not link:
                return end - index
            end += link

    def _after_trigger(self, tokens: Sequence[Token], index: int) -> list[tuple[int, int, float]]:
        size = match_phrase(tokens, index, self.lexicon.name_before)
        relation = self._relation(tokens, index)
        # A relation the phrase list lacks ("her husband", "my neighbour's name is")
        # takes a name only when the word after it reads as one (see _relative_named).
        unlisted = relation > size
        size = max(size, relation)
        if not size:
            return []
        if index and tokens[index - 1].end == tokens[index].start and not tokens[index - 1].is_word:
            return []  # "50M€", "200ms": a unit after a number, not a title
        trigger = tuple(token.text for token in tokens[index : index + size])
        weak = trigger in self.lexicon.name_weak_before
        position = index + size
        while position < len(tokens) and tokens[position].text in self.lexicon.fillers:
            position += 1
        # "c'est monsieur dupont": the stronger trigger after a weak one takes over.
        if match_phrase(tokens, position, self.lexicon.name_before):
            return []
        end = self._name_end(tokens, position, known_only=weak)
        if end == position:
            return []
        english = relation == size and self.supported_language == "en"
        if (unlisted or english) and not self._relative_named(tokens[position]):
            return []  # "my friend told me", "ma voisine habite": the sentence goes on
        return [(position, end, 0.8 if weak else 0.85)]

    def _relative_named(self, token: Token) -> bool:
        """After "my daughter": a known name, a capitalised word, a word no dictionary
        has, or in English any word but a verb's form ("told", "needs", "driving"):
        the English dictionaries list many first names ("jay", "owen")."""
        lexicon, word = self.lexicon, token.text
        if self._is_known(word) or not lexicon.is_dictionary_word(word):
            return True
        if self.text != self.text.lower():
            return self.text[token.start].isupper()
        if self.supported_language != "en" or len(word) < 3:
            return False
        if word.endswith(("ed", "ing")):
            return False
        return not (word.endswith("s") and lexicon.is_dictionary_word(word[:-1]))

    def _before_closing(self, tokens: Sequence[Token], index: int) -> list[tuple[int, int, float]]:
        """The agent's name before "à votre écoute": "héloïse le goff à votre écoute"."""
        size = match_phrase(tokens, index, self.lexicon.name_after)
        if index == 0 or not size:
            return []
        # "here" also closes sentences ("moved here"): before it only a known name or a
        # word no dictionary knows; "à votre écoute", "speaking" take any name word.
        weak = size == 1 and tokens[index].text in _WEAK_CLOSINGS
        first = index
        while first > 0 and index - first < 4:
            previous = tokens[first - 1]
            # "moved here", "pay tribute here": a dictionary word before the closing
            # words is not the agent's name (unless it is a known one).
            if (
                self._name_word(previous, known_only=False)
                and (
                    not weak
                    or self._is_known(previous.text)
                    or not self.lexicon.is_dictionary_word(previous.text)
                )
            ) or (previous.text in NAME_PARTICLES and first < index):
                first -= 1
            else:
                break
        while first < index and tokens[first].text in NAME_PARTICLES:
            first += 1
        return [(first, index, 0.75)] if first < index else []

    def _known_name(self, tokens: Sequence[Token], index: int) -> list[tuple[int, int, float]]:
        token = tokens[index]
        word = token.text
        if token.elided:
            return []
        if not self.lexicon.is_listed_first_name(word):
            return self._cased_pair(tokens, index)
        if (
            self.text != self.text.lower()
            and not self.text[token.start].isupper()
            and self.lexicon.is_dictionary_word(word)
        ):
            return []  # written text: "a faith", "the heather" are words
        following = index + 1 < len(tokens) and self._is_surname(tokens[index + 1].text)
        if following:
            end = index + 2
            if (
                end + 1 < len(tokens)
                and tokens[end].text == "-"
                and self._is_known(tokens[end + 1].text)
            ):
                end += 2
            return [(index, end, 0.8)]
        if self.lexicon.is_plain_word(word):
            return []
        return [(index, self._surname_after(tokens, index + 1), 0.65)]

    def _is_surname(self, word: str) -> bool:
        lexicon = self.lexicon
        return word in lexicon.surnames or (
            word in lexicon.name_lists.surnames and lexicon.is_listed_name(word)
        )

    def _surname_word(self, token: Token) -> bool:
        """A name word after a first name; a dictionary word ("heath", "told") only when
        the surname lists have it."""
        if not self._name_word(token, known_only=False):
            return False
        lexicon, word = self.lexicon, token.text
        if not lexicon.is_dictionary_word(word) or word in lexicon.surnames:
            return True
        return word in lexicon.name_lists.surnames and not word.endswith(("ed", "ing"))

    def _cased_pair(self, tokens: Sequence[Token], index: int) -> list[tuple[int, int, float]]:
        """Written text: a capitalised first name and surname of the public lists, even
        when both are words ("Will Young", "Rose Bureau"); lower case, they stay words."""
        lists, text = self.lexicon.name_lists, self.text
        if index + 1 >= len(tokens) or text == text.lower():
            return []
        first, second = tokens[index], tokens[index + 1]
        if not (
            first.text in lists.first_names
            and second.text in lists.surnames
            and not self.lexicon.is_plain_word(first.text)
            and not self.lexicon.is_plain_word(second.text)
            and text[first.start].isupper()
            and text[second.start].isupper()
            and self._continues_name(tokens, index + 1, cased=True)
            and not self.lexicon.is_title(second.text, self.supported_language)
        ):
            return []
        return [(index, index + 2, 0.7)]

    def _surname_after(self, tokens: Sequence[Token], position: int) -> int:
        """End of the surname after a known first name: "kate m begum", "isaac heath".

        A middle initial may come first; the surname is any word that is not a stop
        word, common call vocabulary or a number (dictionaries list many surnames).
        """
        if position < len(tokens) and _initial(tokens[position]):
            position += 1
        if position < len(tokens) and not self._continues_name(
            tokens, position, self.text != self.text.lower()
        ):
            return position - 1 if position and _initial(tokens[position - 1]) else position
        if position < len(tokens) and self._surname_word(tokens[position]):
            return position + 1
        return position - 1 if _initial(tokens[position - 1]) else position


_WEAK_CLOSINGS = frozenset({"here"})


def _initial(token: Token) -> bool:
    return token.is_word and len(token.text) == 1 and token.text not in ("a", "i", "y", "à")


def _union(spans: Sequence[tuple[int, int, float]]) -> list[tuple[int, int, float]]:
    """Overlapping token spans merged (best score kept): one name, one result."""
    merged: list[tuple[int, int, float]] = []
    for first, last, score in sorted(spans):
        if merged and first < merged[-1][1]:
            previous = merged[-1]
            merged[-1] = (previous[0], max(previous[1], last), max(previous[2], score))
        else:
            merged.append((first, last, score))
    return merged
