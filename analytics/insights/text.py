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
    """One part of a query: a word, a phrase ("..."), or a prefix (word*); ``-`` excludes."""

    kind: str  # "word" | "phrase" | "prefix"
    words: tuple[str, ...]
    negated: bool = False

    def alternatives(self, languages: tuple[str | None, ...]) -> tuple[tuple[str, ...], ...]:
        """The stem sequences this term matches, one per language (duplicates dropped)."""
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


def parse_query(query: str) -> tuple[Term, ...]:
    """Words, "phrases", prefix* and -exclusions; words are folded, symbols dropped.

    Nothing of the query's own syntax reaches a full-text engine: each term is rebuilt
    from its word characters only.
    """
    terms = []
    for neg_phrase, phrase, neg_word, word in _QUERY.findall(query):
        if phrase or neg_phrase:
            words = tuple(w.strip("<>") for w in tokens(phrase))
            if words:
                kind = "phrase" if len(words) > 1 else "word"
                terms.append(Term(kind, words, bool(neg_phrase)))
            continue
        words = tuple(w.strip("<>") for w in tokens(word))
        if not words:
            continue
        if word.endswith("*") and len(words) == 1:
            terms.append(Term("prefix", words, bool(neg_word)))
        elif len(words) == 1:
            terms.append(Term("word", words, bool(neg_word)))
        else:  # "l'assurance", "e-mail": the parts in a row
            terms.append(Term("phrase", words, bool(neg_word)))
    return tuple(terms)


def highlight(
    text: str, terms: tuple[Term, ...], language: str | None
) -> tuple[tuple[str, bool], ...]:
    """A segment's text cut into (piece, matched) pieces for a results list.

    A word is matched when its stem (or folded form) is one a positive term looks for;
    the pieces keep the text exactly as stored, so the caller escapes it when it renders.
    """
    wanted: set[str] = set()
    prefixes: list[str] = []
    for term in terms:
        if term.negated:
            continue
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
