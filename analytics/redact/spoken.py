"""Reading ASR text the way a caller speaks: tokens, spoken numbers, spelled codes.

ASR writes a dictated number in many ways: ``06 47 83 29 15``, ``0647832915``,
``zéro six quarante-sept quatre-vingt-trois…``, ``oh seven seven double oh…``;
a code as ``ab-123-cd`` or ``a b 1 2 3 c d`` or ``b comme bernard``. This module
turns such stretches into *runs*: the symbols said (digits, letters, ``+``) with
the character span they cover in the original text. The recognisers then decide
what a run is from its shape and from the context words around it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from analytics.redact.lexicon import Lexicon, Phrase, PhraseIndex

_TOKEN = re.compile(r"\d+|[^\W\d_]+|[@+._/\-]|\n")
_APOSTROPHES = "'’"
_SYMBOLS = frozenset("@+._/-")
_RUN_SEPARATORS = frozenset("-/.")
_ASCII_LETTER = re.compile(r"[a-z]")
_WEAK_NUMBER_WORDS = frozenset({"oh", "o", "un", "une", "one"})
_WEAK_LETTERS = frozenset({"i", "a", "y"})
_PLATE_START = re.compile(r"[a-z]{2}\d{3}")


class Token(NamedTuple):  # a named tuple: cheaper to build than a dataclass
    """A word, a digit group or a symbol, lower-cased, with its span in the text."""

    text: str
    start: int
    end: int
    elided: bool = False  # touches an apostrophe ("c'est", "it's"): never a spelled letter

    @property
    def is_digits(self) -> bool:
        return self.text.isdigit()

    @property
    def is_word(self) -> bool:
        return self.text.isalpha()


def tokenize(text: str) -> tuple[Token, ...]:
    """Split text into lower-cased tokens; apostrophes and hyphens split words.

    A line break is a token of its own: it marks a change of speaker between
    neighbouring segments, which no run, name or address crosses.
    """
    tokens = []
    for match in _TOKEN.finditer(text):
        start, end = match.span()
        elided = (end < len(text) and text[end] in _APOSTROPHES) or (
            start > 0 and text[start - 1] in _APOSTROPHES
        )
        tokens.append(Token(match.group().lower(), start, end, elided))
    return tuple(tokens)


def match_phrase(
    tokens: Sequence[Token], index: int, candidates: Sequence[Phrase] | PhraseIndex
) -> int:
    """Length in tokens of the first (longest) candidate phrase starting at ``index``."""
    if index >= len(tokens):
        return 0
    if isinstance(candidates, Mapping):
        candidates = candidates.get(tokens[index].text, ())
    for candidate in candidates:
        size = len(candidate)
        if index + size <= len(tokens) and all(
            tokens[index + k].text == word for k, word in enumerate(candidate)
        ):
            return size
    return 0


@dataclass(frozen=True)
class ContextHit:
    """A context word (or phrase) found in the text: tokens [first, last)."""

    first: int
    last: int
    entity_type: str


def find_context(tokens: Sequence[Token], lexicon: Lexicon) -> tuple[ContextHit, ...]:
    """Every context phrase of every entity type, longest match per position."""
    by_first_word = lexicon.context_index
    hits = []
    index = 0
    while index < len(tokens):
        found = None
        for entry, entity in by_first_word.get(tokens[index].text, ()):
            if match_phrase(tokens, index, (entry,)):
                found = ContextHit(index, index + len(entry), entity)
                break
        if found:
            hits.append(found)
            index = found.last
        else:
            index += 1
    return tuple(hits)


def context_types(
    hits: Sequence[ContextHit],
    first: int,
    last: int,
    *,
    before: int = 10,
    after: int = 4,
    types: frozenset[str] | None = None,
) -> list[str]:
    """Entity types of the context hits around tokens [first, last), nearest first.

    Words said before the value come before words said after it ("mon numéro de
    contrat c'est le …" is the usual order).
    """
    preceding = sorted(
        (
            hit
            for hit in hits
            if hit.last <= first
            and first - hit.last <= before
            and (types is None or hit.entity_type in types)
        ),
        key=lambda hit: -hit.last,
    )
    following = sorted(
        (
            hit
            for hit in hits
            if hit.first >= last
            and hit.first - last <= after
            and (types is None or hit.entity_type in types)
        ),
        key=lambda hit: hit.first,
    )
    return [hit.entity_type for hit in (*preceding, *following)]


def nearest_context(
    hits: Sequence[ContextHit],
    first: int,
    last: int,
    *,
    before: int = 10,
    after: int = 4,
    types: frozenset[str] | None = None,
) -> str | None:
    """The entity type of the context hit nearest to tokens [first, last), if any."""
    found = context_types(hits, first, last, before=before, after=after, types=types)
    return found[0] if found else None


# --- spoken numbers -------------------------------------------------------------------


def parse_number(tokens: Sequence[Token], index: int, lexicon: Lexicon) -> tuple[str, int] | None:
    """Read one spoken number starting at ``index`` ("quatre-vingt-trois" → "83").

    Returns the digits and the index after the number, or None. French and English
    compounds are read the usual way: "vingt et un", "soixante-dix-sept",
    "quatre-vingt-dix", "nineteen" + "eighty five" (two numbers), "deux mille vingt".
    A zero is always a number of its own, so "zéro six" reads "0" then "6".
    """
    first = tokens[index].text
    if first in lexicon.units and lexicon.units[first] == 0:
        return "0", index + 1
    total, current, last_kind = 0, 0, ""
    position = index
    consumed = index
    while position < len(tokens):
        word = tokens[position].text
        kind = _number_step(word, current, last_kind, lexicon)
        if kind is None:
            if _is_number_joiner(tokens, position, last_kind, lexicon):
                position += 1
                continue
            break
        if kind == "thousand":
            total, current = max(current, 1) * 1000, 0
        else:
            current = _add(word, current, kind, lexicon)
        last_kind = kind
        position += 1
        consumed = position
    if consumed == index:
        return None
    return str(total + current), consumed


def _number_step(word: str, current: int, last: str, lexicon: Lexicon) -> str | None:
    """The kind of ``word`` if it continues the number read so far, else None."""
    below_hundred = current % 100
    if word in lexicon.units and lexicon.units[word] > 0:
        unit = lexicon.units[word]
        if last in ("", "hundred", "thousand"):
            return "unit"
        if last in ("tens", "tens60", "tens80") and below_hundred % 10 == 0:
            return "unit+"
        if last == "ten" and unit >= 7 and below_hundred % 10 == 0:
            return "unit+"
        return None
    if word in lexicon.teens:
        if last in ("", "hundred", "thousand") or (last in ("tens60", "tens80")):
            return "ten" if lexicon.teens[word] == 10 else "teen"
        return None
    if word in lexicon.tens:
        value = lexicon.tens[word]
        if value == 20 and last == "unit" and below_hundred == 4:
            return "tens80"  # quatre-vingt
        if last in ("", "hundred", "thousand"):
            return "tens60" if value == 60 else "tens"
        return None
    if word in lexicon.hundreds:
        if last == "" or last == "thousand" or (last == "unit" and current < 10):
            return "hundred"
        return None
    if word in lexicon.thousands:
        return "thousand" if last != "thousand" and current < 1000 else None
    return None


def _add(word: str, current: int, kind: str, lexicon: Lexicon) -> int:
    if kind in ("unit", "unit+"):
        return current + lexicon.units[word]
    if kind in ("ten", "teen"):
        return current + lexicon.teens[word]
    if kind == "tens80":
        return current - 4 + 80
    if kind in ("tens", "tens60"):
        return current + lexicon.tens[word]
    if kind == "hundred":
        return max(current, 1) * 100 if current < 10 else current + 100
    return current


def _is_number_joiner(tokens: Sequence[Token], position: int, last: str, lexicon: Lexicon) -> bool:
    """A hyphen or "et"/"and" inside a compound: quarante-sept, vingt et un, hundred and five."""
    if not last or position + 1 >= len(tokens):
        return False
    word, following = tokens[position].text, tokens[position + 1].text
    if word == "-":
        return lexicon.is_number_word(following)
    if word == "et" and last.startswith("tens"):
        return following in ("un", "une", "onze")
    if word == "and" and last == "hundred":
        return lexicon.is_number_word(following)
    return False


# --- runs of dictated symbols ---------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """Symbols dictated in a row (digits, letters, "+"), tokens [first, last)."""

    symbols: str
    first: int
    last: int
    start: int  # character span in the text
    end: int
    single_letters: int = 0  # letters said one by one ("a b c"), as opposed to "ab"

    @property
    def digits(self) -> str:
        return "".join(ch for ch in self.symbols if ch.isdigit())

    @property
    def letters(self) -> str:
        return "".join(ch for ch in self.symbols if ch.isalpha())


def find_runs(tokens: Sequence[Token], lexicon: Lexicon) -> tuple[Run, ...]:
    """Every maximal run of dictated symbols in the tokens."""
    runs = []
    index = 0
    while index < len(tokens):
        run = _read_run(tokens, index, lexicon)
        if run is None:
            index += 1
        else:
            runs.append(run)
            index = run.last
    return tuple(runs)


def _read_run(tokens: Sequence[Token], index: int, lexicon: Lexicon) -> Run | None:
    elements: list[tuple[str, int]] = []  # (symbols, index after the element)
    position = index
    if tokens[index].text == "+" or tokens[index].text in lexicon.plus:
        element = _read_element(tokens, index + 1, lexicon, "")
        if element is None or not element[0][0].isdigit():
            return None
        elements.append(("+", index + 1))
        position = index + 1
    while position < len(tokens):
        previous = elements[-1][0] if elements else ""
        element = _read_element(tokens, position, lexicon, previous)
        if element is None:
            element = _plate_end(tokens, position, elements)
        if element is None:
            gap = _separator_length(tokens, position, lexicon) if elements else 0
            if gap and _read_element(tokens, position + gap, lexicon, previous):
                position += gap
                continue
            break
        elements.append(element)
        position = element[1]
    # "… 4 5 6 i think", "a 2018 ford": a pronoun or article next to digits is not a
    # spelled letter.
    while len(elements) > 1 and elements[-1][0] in _WEAK_LETTERS and not elements[-2][0].isalpha():
        elements.pop()
    if len(elements) > 1 and elements[0][0] in _WEAK_LETTERS and not _is_letter(elements[1][0]):
        index = elements[0][1]
        elements.pop(0)
    if not elements or elements[-1][0] == "+":
        return None
    last = elements[-1][1]
    symbols = [text for text, _ in elements]
    single_letters = sum(1 for text in symbols if text.isalpha() and len(text) == 1)
    return Run(
        "".join(symbols), index, last, tokens[index].start, tokens[last - 1].end, single_letters
    )


def _is_letter(symbols: str) -> bool:
    return len(symbols) == 1 and symbols.isalpha()


def _plate_end(
    tokens: Sequence[Token], position: int, elements: Sequence[tuple[str, int]]
) -> tuple[str, int] | None:
    """The last two letters of "ch 696 my", even when they spell a common word."""
    said = "".join(text for text, _ in elements)
    if not _PLATE_START.fullmatch(said):
        return None
    if position < len(tokens) and tokens[position].text in _RUN_SEPARATORS:
        position += 1
    if position < len(tokens):
        word = tokens[position].text
        if len(word) == 2 and word.isascii() and word.isalpha() and not tokens[position].elided:
            return word, position + 1
    return None


def _separator_length(tokens: Sequence[Token], position: int, lexicon: Lexicon) -> int:
    if position < len(tokens) and tokens[position].text in _RUN_SEPARATORS:
        return 1
    return match_phrase(tokens, position, lexicon.separators)


def _read_element(
    tokens: Sequence[Token], position: int, lexicon: Lexicon, previous: str
) -> tuple[str, int] | None:
    """One dictated element at ``position``: digits, a spoken number, a letter or a code.

    ``previous`` is the element said just before ("" at the start of a run).
    """
    if position >= len(tokens):
        return None
    token = tokens[position]
    word = token.text
    if token.is_digits:
        return word, position + 1
    if word in lexicon.repeat and position + 1 < len(tokens):
        repeated = _read_element(tokens, position + 1, lexicon, previous)
        if repeated and len(repeated[0]) == 1:
            return repeated[0] * lexicon.repeat[word], repeated[1]
        return None
    if lexicon.is_number_word(word) or word in lexicon.units:
        # "oh", "un", "une", "one" are digits only among digits: otherwise they are an
        # interjection, an article or a spelled letter.
        digit_by_digit = len(previous) == 1 and previous.isdigit()
        weak = word in _WEAK_NUMBER_WORDS and not (
            digit_by_digit or _continues(tokens, position + 1, lexicon)
        )
        if not weak:
            return parse_number(tokens, position, lexicon)
        if word != "o":
            return None
    if not token.is_word or token.elided or not _ASCII_LETTER.fullmatch(word[:1]):
        return None
    if len(word) == 1:
        like = match_phrase(tokens, position + 1, lexicon.spelling_like)
        if like and position + like + 1 < len(tokens):
            return word, position + like + 2  # "b comme bernard"
        return word, position + 1
    if len(word) <= 3 and word.isascii():
        # "ab 123 cd", "fr76": short letter groups count next to digits; a group that
        # is also a word ("le", "ta") only when glued to them ("le130ep", "ay-843-ta").
        after = position + 1
        if after < len(tokens) and tokens[after].text in _RUN_SEPARATORS:
            after += 1
        next_digit = after < len(tokens) and tokens[after].is_digits
        previous_digit = previous[-1:].isdigit()
        glued = _glued(tokens, position - 1, position) if previous_digit else False
        glued = glued or (next_digit and _glued(tokens, position, after))
        plate = not previous and _siv_ahead(tokens, position)  # "ma 800 gp"
        if (previous_digit or next_digit) and (glued or plate or not lexicon.is_plain_word(word)):
            return word, position + 1
    return None


def _siv_ahead(tokens: Sequence[Token], position: int) -> bool:
    """Two letters, three digits, two letters from ``position`` (a French plate)."""
    said = [token.text for token in tokens[position : position + 5] if token.text not in "-"]
    return (
        len(said) >= 3
        and len(said[0]) == 2
        and len(said[1]) == 3
        and said[1].isdigit()
        and len(said[2]) == 2
        and said[2].isalpha()
    )


def _glued(tokens: Sequence[Token], first: int, last: int) -> bool:
    """Tokens first..last touch each other (no space between them)."""
    if first < 0 or last >= len(tokens):
        return False
    return all(tokens[i].end == tokens[i + 1].start for i in range(first, last))


def _continues(tokens: Sequence[Token], position: int, lexicon: Lexicon) -> bool:
    if position >= len(tokens):
        return False
    word = tokens[position].text
    return (
        tokens[position].is_digits
        or word in lexicon.units
        or word in lexicon.repeat
        or lexicon.is_number_word(word)
    )


# --- checksums ------------------------------------------------------------------------


def luhn_valid(digits: str) -> bool:
    """The payment-card checksum."""
    if not digits.isdigit() or len(digits) < 12:
        return False
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def nir_valid(symbols: str) -> bool:
    """The French social security number key (97 - number mod 97; Corsica 2A/2B)."""
    if len(symbols) != 15:
        return False
    body = symbols[:13].replace("2a", "19").replace("2b", "18")
    if not body.isdigit() or not symbols[13:].isdigit():
        return False
    return 97 - int(body) % 97 == int(symbols[13:])


def iban_valid(symbols: str) -> bool:
    """The IBAN mod-97 check."""
    if len(symbols) < 15 or not symbols[:2].isalpha() or not symbols[2:4].isdigit():
        return False
    moved = symbols[4:] + symbols[:4]
    as_digits = "".join(str(int(ch, 36)) for ch in moved)
    return as_digits.isdigit() and int(as_digits) % 97 == 1
