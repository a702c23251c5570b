"""Text normalisation shared by categories, search and call drivers (pure functions).

Everything works on redacted text: placeholders such as ``<PERSON>`` stay one token.
Folding lowercases and strips diacritics, so ``rappelé`` and ``rappele`` (an ASR
spelling) are the same word; stems come from the Snowball stemmers (French, English).
"""

from __future__ import annotations

import re
import unicodedata
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


def stem(word: str, language: str | None) -> str:
    """The stem of one folded word in a language (the word itself without a stemmer)."""
    code = stem_language(language)
    if code is None or word.startswith("<"):
        return word
    return fold(_stemmer(code).stemWord(word))


def stems(text: str, language: str | None) -> list[str]:
    """Stems of every token of a text, in order (positions kept for phrase queries)."""
    return [stem(word, language) for word in tokens(text)]
