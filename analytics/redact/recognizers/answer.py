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
    PERSON,
    PHONE_NUMBER,
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
_ENTITIES = (PERSON, ADDRESS, EMAIL_ADDRESS, PHONE_NUMBER, DATE_OF_BIRTH)


class AnswerRecognizer(TokenRecognizer):
    """Content words of the answer turn after a request for personal data."""

    def __init__(self, lexicon: Lexicon, language: str = "fr") -> None:
        super().__init__(lexicon, _ENTITIES, language)

    def find(self, tokens: Sequence[Token], hits: Sequence[ContextHit]) -> list[RecognizerResult]:
        results = []
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
            results.extend(self._answer(tokens, start, entity))
        return results

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
            if self._content(token, entity) or (
                run and self._joins(token, entity) and index + 1 < last
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
        return [make_result(entity, run[0].start, run[-1].end, 0.55)]
