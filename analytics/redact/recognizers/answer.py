"""The answer to a request for personal data, redacted from the question alone.

"can I take your full name?" | "presile of endermere": ASR garbles the name, so no
recogniser knows it for one. When a turn asks for a name, an address, an e-mail, a
number or a date of birth, the content words of the other speaker's answer (its
first sentence, a dozen words at most) are redacted as that type. Recall beats
precision here: "yes", "it's", "euh" stay, the rest goes.

The Redactor puts the previous turns before the segment, separated by a line break
at each change of speaker (see ``neighbour_context``); a question mark inside one
text ("Bot: what's your name? User: …") separates them too.
"""

from __future__ import annotations

from collections.abc import Sequence

from presidio_analyzer import RecognizerResult

from analytics.redact.lexicon import Lexicon
from analytics.redact.recognizers.base import (
    ADDRESS,
    ANSWERS,
    DATE_OF_BIRTH,
    EMAIL_ADDRESS,
    ID_NUMBER,
    PERSON,
    PHONE_NUMBER,
    SECRET_CODE,
    TokenRecognizer,
    make_result,
)
from analytics.redact.spoken import ContextHit, Token, match_phrase

_ANSWER_TOKENS = 12  # how far an answer runs
_QUESTION_GAP = 6  # tokens between the request and the end of the question
_ENDS = frozenset(".!?")
_BREAKS = frozenset(",;:()")
# Words of an answer that are not the value; other call vocabulary ("rose") may be.
_COURTESY = frozenset(
    {"please", "sorry", "thank", "thanks", "sure", "course", "merci", "désolé", "désolée",
     "bien", "sûr", "certainly", "absolutely", "right", "alright", "d", "accord"}
)  # fmt: skip
_ONE_VALUE = frozenset({PERSON, EMAIL_ADDRESS, PHONE_NUMBER, DATE_OF_BIRTH})
_ENTITIES = (PERSON, ADDRESS, EMAIL_ADDRESS, PHONE_NUMBER, DATE_OF_BIRTH, SECRET_CODE, ID_NUMBER)
_POSTCODE = "POSTCODE"  # a request kind only: its answer's codes are an ADDRESS
# Requests whose answer is a code: every code said in the answer turn is redacted
# ("is it 4617? yeah, 2439": the first try and the correction).
_CODE_KINDS = frozenset({PHONE_NUMBER, DATE_OF_BIRTH, SECRET_CODE, ID_NUMBER, _POSTCODE})
_WORD_KINDS = (PERSON, ADDRESS, EMAIL_ADDRESS)  # their answer is words: they win
_OPENER_REACH = 3  # tokens: a question word among the first ones
_NOUN_AT_END = 3  # tokens: "and the cardholder's name", "votre nom s'il vous plaît"
_TURN_TOKENS = 30  # how far a code answer is read
_SCORE = 0.86


class AnswerRecognizer(TokenRecognizer):
    """Content words of the answer turn after a request for personal data."""

    def __init__(self, lexicon: Lexicon, language: str = "fr") -> None:
        super().__init__(lexicon, _ENTITIES, language)

    def find(self, tokens: Sequence[Token], hits: Sequence[ContextHit]) -> list[RecognizerResult]:
        results, answered = self._phrase_answers(tokens)
        results.extend(self._question_answers(tokens, answered))
        return results

    def _phrase_answers(self, tokens: Sequence[Token]) -> tuple[list[RecognizerResult], set[int]]:
        """Answers after the request phrases of the lexicon; also the answer starts."""
        results: list[RecognizerResult] = []
        answered: set[int] = set()
        for index in range(len(tokens)):
            said = match_phrase(tokens, index, self.lexicon.email_triggers)
            if said:
                # "email me at …", "mon mail c'est …": the caller says it next.
                results.extend(self._answer(tokens, index + said, EMAIL_ADDRESS))
                continue
            asked = self._request_at(tokens, index)
            if not asked:
                continue
            entity, size = asked
            start = self._answer_start(tokens, index + size)
            if start is None:
                continue
            answered.add(start)
            results.extend(self._answer(tokens, start, entity))
            if entity == ADDRESS:
                results.extend(self._codes(tokens, start, ADDRESS))  # the postcode said later
        return results, answered

    def _question_answers(
        self, tokens: Sequence[Token], answered: set[int]
    ) -> list[RecognizerResult]:
        """Answers to questions in other words: a turn that asks, naming a kind of data.

        "what's the postcode where you're broken down?", "sorry what was the surname
        again", "vous êtes où exactement ?": the turn's last sentence is a question
        (a "?", a question word at its start, or the noun at its end) and names what it
        asks for; the next turn after the line break answers it.
        """
        results: list[RecognizerResult] = []
        breaks = [index for index, token in enumerate(tokens) if token.text == "\n"]
        first = 0
        for stop in breaks:
            answer = stop + 1
            turn = self._last_sentence(tokens, first, stop)
            first = answer
            if answer >= len(tokens) or answer in answered or not turn:
                continue
            kind = self._asked_kind(tokens, turn)
            if kind is None:
                continue
            if kind in _CODE_KINDS:
                entity = ADDRESS if kind == _POSTCODE else kind
                results.extend(self._codes(tokens, answer, entity))
            else:
                results.extend(self._answer(tokens, answer, kind))
                if kind == ADDRESS:
                    results.extend(self._codes(tokens, answer, ADDRESS))
        return results

    def _last_sentence(self, tokens: Sequence[Token], first: int, stop: int) -> list[Token]:
        """The tokens of the last sentence of the turn [first, stop)."""
        begin = first
        for index in range(first + 1, stop):
            gap = self.text[tokens[index - 1].end : tokens[index].start]
            ended = bool(set(gap) & _ENDS) or tokens[index - 1].text in _ENDS
            if ended and index < stop - 1 and tokens[index].text not in _ENDS:
                begin = index
        return list(tokens[begin:stop])

    def _asked_kind(self, tokens: Sequence[Token], turn: Sequence[Token]) -> str | None:
        """The kind of data the sentence asks for, or None when it asks for none."""
        lexicon = self.lexicon
        found: list[tuple[int, int, str]] = []  # (-length, position, kind)
        for position in range(len(turn)):
            for kind, nouns in lexicon.request_nouns.items():
                size = match_phrase(turn, position, nouns)
                if size:
                    found.append((-size, position, kind))
        if not found:
            return None
        end = turn[-1].end
        asks = "?" in self.text[turn[0].start : end + 2]
        if not asks:
            asks = any(
                match_phrase(turn, position, lexicon.request_openers)
                for position in range(min(_OPENER_REACH, len(turn)))
            )
        if not asks:
            asks = any(position - size >= len(turn) - _NOUN_AT_END for size, position, _ in found)
        if not asks:
            return None
        kinds = {kind for _, _, kind in found}
        words = [kind for kind in _WORD_KINDS if kind in kinds and kind != ADDRESS]
        if words:
            return words[0]
        if _POSTCODE in kinds:
            return _POSTCODE  # "what's the postcode where you are?"
        return ADDRESS if ADDRESS in kinds else min(found)[2]

    def _codes(self, tokens: Sequence[Token], start: int, entity: str) -> list[RecognizerResult]:
        """Every code said in the answer turn: digits, number words, spelled letters."""
        results: list[RecognizerResult] = []
        run: list[Token] = []
        window = tokens[start : start + _TURN_TOKENS]
        for position, token in enumerate(window):
            if token.text == "\n":
                break
            if self._code_part(token, bool(run)) or _glued_to_digits(window, position):
                run.append(token)
                continue
            results.extend(self._emit_code(run, entity))
            run = []
        results.extend(self._emit_code(run, entity))
        return results

    def _emit_code(self, run: Sequence[Token], entity: str) -> list[RecognizerResult]:
        """A code has a digit or two number words ("un peu" is no code, "un deux" is)."""
        numbers = sum(self.lexicon.is_number_word(token.text) for token in run)
        if not any(ch.isdigit() for token in run for ch in token.text) and numbers < 2:
            return []
        return self._emit(run, entity)

    def _code_part(self, token: Token, inside: bool) -> bool:
        word = token.text
        lexicon = self.lexicon
        if any(ch.isdigit() for ch in word) and word.isalnum():
            return True  # "4617", "en1", "0fu"
        if lexicon.is_number_word(word) or word in lexicon.repeat or word in lexicon.months:
            return True
        if inside and token.is_word and len(word) == 1 and not token.elided:
            return True  # a letter said between digits
        return inside and word in ("-", "/")

    def _request_at(self, tokens: Sequence[Token], index: int) -> tuple[str, int] | None:
        best: tuple[str, int] | None = None
        for entity, phrases in self.lexicon.questions.items():
            size = match_phrase(tokens, index, phrases)
            if size and (best is None or size > best[1]):
                best = entity, size  # "votre adresse mail" asks for an e-mail
        return best

    def _answer_start(self, tokens: Sequence[Token], position: int) -> int | None:
        """The first token of the other speaker's turn after the request, if it follows."""
        end = min(len(tokens), position + _QUESTION_GAP + 1)
        for index in range(position, end):
            if tokens[index].text == "\n":
                return index + 1 if index + 1 < len(tokens) else None
            if index > 0 and "?" in self.text[tokens[index - 1].end : tokens[index].start]:
                return index
        if end == len(tokens) or position >= len(tokens):
            return None
        return None

    def _answer(self, tokens: Sequence[Token], start: int, entity: str) -> list[RecognizerResult]:
        results = []
        run: list[Token] = []
        last = min(len(tokens), start + _ANSWER_TOKENS)
        for index in range(start, last):
            token = tokens[index]
            if token.text == "\n":
                break
            gap_before = self.text[tokens[index - 1].end : token.start] if run else ""
            if run and set(gap_before) & _BREAKS:
                results.extend(self._emit(run, entity))
                run = []
                if entity in _ONE_VALUE:
                    break  # "Bray, I'm the driver": the value was said first
            if results and entity == EMAIL_ADDRESS and not run:
                break  # one address, then the sentence goes on
            label = (
                index == start
                and entity != EMAIL_ADDRESS
                and self.text[token.end : token.end + 1] == ":"
            )
            if label:
                continue  # "User: …", a speaker's label
            hyphenated = bool(run) and run[-1].text == "-" and run[-1].end == token.start
            if (
                self._content(token, entity)
                or (run and self._joins(token, entity) and index + 1 < last)
                or (hyphenated and token.is_word)  # "Saint-Jean-de-Luz": "de" too
            ):
                run.append(token)
            else:
                results.extend(self._emit(run, entity))
                run = []
            gap_after = self.text[token.end : tokens[index + 1].start] if index + 1 < last else ""
            if set(gap_after) & _ENDS and entity != EMAIL_ADDRESS:
                break
        results.extend(self._emit(run, entity))
        return results

    def _joins(self, token: Token, entity: str) -> bool:
        """A token that carries a value on: punctuation inside it, and in an address
        said aloud the spoken "at" / "dot" (Whisper writes "kordl .nl at www .nampo
        .com": the domain after the "at" is the caller's too)."""
        if token.text in ("-", ".", "_", "@"):
            return True
        word = token.text.lower()
        return entity == EMAIL_ADDRESS and (
            word in self.lexicon.email_at or word in self.lexicon.email_dot
        )

    def _content(self, token: Token, entity: str) -> bool:
        word = token.text
        if token.is_digits:
            return True
        lexicon = self.lexicon
        if entity == PHONE_NUMBER:
            # A number is said in digits and number words: "attendez, je cherche" is not one.
            return lexicon.is_number_word(word) or word in lexicon.repeat
        if entity == DATE_OF_BIRTH:
            return (
                lexicon.is_number_word(word) or word in lexicon.months or word in lexicon.ordinals
            )
        if not token.is_word or (token.elided and len(word) == 1):
            return False
        return not (
            word in lexicon.stop_words
            or word in lexicon.fillers
            or word in ANSWERS
            or word in _COURTESY
            or word in lexicon.request_words
            or match_phrase([token], 0, lexicon.name_before)
        )

    def _emit(self, run: Sequence[Token], entity: str) -> list[RecognizerResult]:
        while run and not (run[-1].is_word or run[-1].is_digits):
            run = run[:-1]
        if not run:
            return []
        # Above spaCy's 0.85: Presidio drops a result inside a same-type one of a
        # higher score before our clean-up, which may then drop spaCy's ("dr castro").
        return [make_result(entity, run[0].start, run[-1].end, _SCORE)]


def _glued_to_digits(tokens: Sequence[Token], position: int) -> bool:
    """ "EN1", "0FU": letters written against digits belong to the code."""
    token = tokens[position]
    if not token.is_word:
        return False
    before = position > 0 and tokens[position - 1].end == token.start
    after = position + 1 < len(tokens) and tokens[position + 1].start == token.end
    return (before and tokens[position - 1].is_digits) or (after and tokens[position + 1].is_digits)
