"""PINs, secret codes, passwords and card security codes said aloud.

"my pin is 4821", "le code secret c'est 1 2 3 4", "cvv four five six", "mon mot de
passe c'est soleil42": the digits (however said) or, for a password, the word(s)
after the trigger are redacted, even when the code is short. A card's code counts
as CREDIT_CARD, any other as SECRET_CODE.
"""

from __future__ import annotations

from collections.abc import Sequence

from presidio_analyzer import RecognizerResult

from analytics.redact.lexicon import Lexicon
from analytics.redact.recognizers.base import (
    CREDIT_CARD,
    SECRET_CODE,
    TokenRecognizer,
    make_result,
)
from analytics.redact.spoken import ContextHit, Run, Token, find_runs, match_phrase

_REACH = 6  # tokens between the trigger and the code ("my pin is um it's 4821")
_MIN_DIGITS, _MAX_DIGITS = 3, 10
_PASSWORD_WORDS = 3


class SecretCodeRecognizer(TokenRecognizer):
    """A short code after "pin", "code secret", "cvv", "password"..."""

    def __init__(self, lexicon: Lexicon, language: str = "fr") -> None:
        super().__init__(lexicon, (SECRET_CODE, CREDIT_CARD), language)

    def find(self, tokens: Sequence[Token], hits: Sequence[ContextHit]) -> list[RecognizerResult]:
        triggers = self._triggers(tokens)
        if not triggers:
            return []
        runs = find_runs(tokens, self.lexicon)
        results = []
        for after, entity, password in triggers:
            run = next(
                (
                    r
                    for r in runs
                    if after <= r.first <= after + _REACH
                    and _MIN_DIGITS <= len(r.digits) <= _MAX_DIGITS
                ),
                None,
            )
            if run:
                results.append(make_result(entity, run.start, run.end, 0.8))
            elif _code_in_trigger_run(runs, tokens, after):
                # "pin 4666": the run reader took "pin" for spelled letters ("p i n").
                results.append(make_result(entity, tokens[after].start, _run_end(runs, after), 0.8))
            elif password:
                found = self._password(tokens, after)
                if found:
                    results.append(make_result(SECRET_CODE, found[0], found[1], 0.6))
        return results

    def _triggers(self, tokens: Sequence[Token]) -> list[tuple[int, str, bool]]:
        found = []
        for index in range(len(tokens)):
            size = match_phrase(tokens, index, self.lexicon.card_codes)
            if size:
                found.append((index + size, CREDIT_CARD, False))
                continue
            size = match_phrase(tokens, index, self.lexicon.secret_codes)
            if size:
                words = tokens[index : index + size]
                password = any(t.text in ("passe", "password", "word") for t in words)
                found.append((index + size, SECRET_CODE, password))
        return found

    def _password(self, tokens: Sequence[Token], after: int) -> tuple[int, int] | None:
        """The word(s) said after "password is", "mot de passe c'est"."""
        lexicon = self.lexicon
        words: list[Token] = []
        for token in tokens[after : after + _REACH]:
            if token.text == "\n":
                break
            plain = token.text in lexicon.stop_words or token.text in lexicon.fillers
            if words and plain:
                break
            if len(token.text) == 1 and token.is_word:
                continue  # the "c" of "c'est"
            if not plain and (token.is_word or token.is_digits):
                words.append(token)
                if len(words) == _PASSWORD_WORDS:
                    break
        if not words:
            return None
        return words[0].start, words[-1].end


def _run_end(runs: Sequence[Run], after: int) -> int:
    run = _covering(runs, after)
    return run.end if run is not None else 0


def _covering(runs: Sequence[Run], after: int) -> Run | None:
    return next((r for r in runs if r.first < after < r.last), None)


def _code_in_trigger_run(runs: Sequence[Run], tokens: Sequence[Token], after: int) -> bool:
    """A run that starts on the trigger's own letters and goes on with the code."""
    run = _covering(runs, after)
    if run is None:
        return False
    digits = "".join(t.text for t in tokens[after : run.last] if t.is_digits)
    return _MIN_DIGITS <= len(digits) <= _MAX_DIGITS
