"""Text normalisation shared by categories, search and call drivers (pure functions).

Everything works on redacted text: placeholders such as ``<PERSON>`` stay one token.
Folding lowercases and strips diacritics, so ``rappelé`` and ``rappele`` (an ASR
spelling) are the same word; stems come from the Snowball stemmers (French, English).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import snowballstemmer

_TOKEN = re.compile(r"<[A-Z_]+>|\w+", re.UNICODE)
STEM_LANGUAGES = {"fr": "french", "en": "english"}


def fold(text: str) -> str:
    """Lowercase without diacritics (``Élevé`` → ``eleve``); placeholders are kept."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return stripped.replace("’", "'").lower()


def tokens(text: str) -> list[str]:
    """Folded words of a text; a placeholder (``<PERSON>``) is one token ``<person>``."""
    return [fold(match) for match in _TOKEN.findall(text)]


@lru_cache(maxsize=4)
def _stemmer(language: str) -> snowballstemmer.stemmer:  # type: ignore[name-defined]
    return snowballstemmer.stemmer(STEM_LANGUAGES[language])


def stem_language(language: str | None) -> str | None:
    """The stemmer used for a call language (None: none, words are only folded)."""
    code = (language or "").split("-")[0].lower()
    return code if code in STEM_LANGUAGES else None


@lru_cache(maxsize=200_000)  # words repeat: the pure-Python stemmers cost ~0.3 ms a word
def stem(word: str, language: str | None) -> str:
    """The stem of one folded word in a language (the word itself without a stemmer)."""
    code = stem_language(language)
    if code is None or word.startswith("<"):
        return word
    return fold(_stemmer(code).stemWord(word))


def stems(text: str, language: str | None) -> list[str]:
    """Stems of every token of a text, in order (positions kept for phrase queries)."""
    return [stem(word, language) for word in tokens(text)]


def index_terms(text: str, language: str | None) -> str:
    """What the search index holds for a segment: its stems, in order, space-separated.

    Placeholders lose their brackets (``<PERSON>`` → ``person``): both full-text engines
    would read the brackets as markup.
    """
    return " ".join(s.strip("<>") for s in stems(text, language))


# --- search queries -------------------------------------------------------------------------

_QUERY = re.compile(r'(-?)"([^"]*)"|(-?)(\S+)')


@dataclass(frozen=True)
class Term:
    """One part of a query: a word, a phrase ("..."), or a prefix (word*); ``-`` excludes;
    ``a OR b`` is one term of kind ``or`` whose ``anyof`` are the terms it joins."""

    kind: str  # "word" | "phrase" | "prefix" | "or"
    words: tuple[str, ...]
    negated: bool = False
    anyof: tuple[Term, ...] = ()

    def leaves(self) -> tuple[Term, ...]:
        """The word, phrase and prefix terms of this term (itself unless an OR)."""
        return self.anyof if self.kind == "or" else (self,)

    def alternatives(self, languages: tuple[str | None, ...]) -> tuple[tuple[str, ...], ...]:
        """The stem sequences this term matches, one per language (duplicates dropped)."""
        if self.kind == "or":
            raise ValueError("an OR term has no stems of its own: use leaves()")
        found: list[tuple[str, ...]] = []
        for language in languages:
            if self.kind == "prefix":
                options: list[tuple[str, ...]] = [
                    (stem(self.words[0], language),),
                    (self.words[0],),
                ]
            else:
                options = [tuple(stem(w, language).strip("<>") for w in self.words)]
            for option in options:
                if option not in found:
                    found.append(option)
        return tuple(found)


OR = "OR"  # between two terms (upper case, as in web search): either of them


def parse_query(query: str) -> tuple[Term, ...]:
    """Words, "phrases", prefix* and -exclusions; ``a OR b``; words are folded, symbols
    dropped.

    The terms are all required (AND); ``OR`` joins the terms on either side of it into
    one term that either satisfies (``a b OR c``: a, and b or c). An ``OR`` with no
    positive term on one side is dropped. Nothing of the query's own syntax reaches a
    full-text engine: each term is rebuilt from its word characters only.
    """
    terms: list[Term] = []
    join_next = False
    for neg_phrase, phrase, neg_word, word in _QUERY.findall(query):
        if not neg_word and word == OR:
            join_next = bool(terms) and not terms[-1].negated
            continue
        count = len(terms)
        _parse_term(terms, neg_phrase, phrase, neg_word, word)
        if len(terms) > count and join_next and not terms[-1].negated:
            right = terms.pop()
            left = terms.pop()
            terms.append(Term("or", (), False, left.leaves() + right.leaves()))
        join_next = False
    return tuple(terms)


def _parse_term(terms: list[Term], neg_phrase: str, phrase: str, neg_word: str, word: str) -> None:
    """Append the term of one matched token (nothing when it has no word characters)."""
    if phrase or neg_phrase:
        words = tuple(w.strip("<>") for w in tokens(phrase))
        if words:
            kind = "phrase" if len(words) > 1 else "word"
            terms.append(Term(kind, words, bool(neg_phrase)))
        return
    words = tuple(w.strip("<>") for w in tokens(word))
    if not words:
        return
    if word.endswith("*") and len(words) == 1:
        terms.append(Term("prefix", words, bool(neg_word)))
    elif len(words) == 1:
        terms.append(Term("word", words, bool(neg_word)))
    else:  # "l'assurance", "e-mail": the parts in a row
        terms.append(Term("phrase", words, bool(neg_word)))


def highlight(
    text: str, terms: tuple[Term, ...], language: str | None
) -> tuple[tuple[str, bool], ...]:
    """A segment's text cut into (piece, matched) pieces for a results list.

    A word is matched when its stem (or folded form) is one a positive term looks for;
    the pieces keep the text exactly as stored, so the caller escapes it when it renders.
    """
    wanted: set[str] = set()
    prefixes: list[str] = []
    for term in (leaf for t in terms if not t.negated for leaf in t.leaves()):
        for option in term.alternatives((language, "fr", "en", None)):
            if term.kind == "prefix":
                prefixes.append(option[0])
            else:
                wanted.update(option)
    pieces: list[tuple[str, bool]] = []
    last = 0
    for match in _TOKEN.finditer(text):
        word = fold(match.group())
        hit = stem(word, language).strip("<>") in wanted or word.strip("<>") in wanted
        hit = hit or any(word.startswith(p) for p in prefixes)
        if hit:
            if match.start() > last:
                pieces.append((text[last : match.start()], False))
            pieces.append((match.group(), True))
            last = match.end()
    if last < len(text):
        pieces.append((text[last:], False))
    return tuple(pieces)
