"""The vocabulary of the recognisers, read once from ``analytics/data/redact``."""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import cache, cached_property
from pathlib import Path
from types import MappingProxyType

from spacy.lang.en.stop_words import STOP_WORDS as EN_STOP_WORDS
from spacy.lang.fr.stop_words import STOP_WORDS as FR_STOP_WORDS

from analytics.redact.name_lists import NameLists, load_name_lists
from analytics.redact.vocabulary import Vocabulary, load_vocabulary

Phrase = tuple[str, ...]
PhraseIndex = Mapping[str, tuple[Phrase, ...]]  # first word → phrases, longest first
DATA_DIR = Path(__file__).resolve().parents[1] / "data" / "redact"


def phrase(text: str) -> Phrase:
    """Split a lexicon entry the way :func:`analytics.redact.spoken.tokenize` splits text."""
    from analytics.redact.spoken import tokenize

    return tuple(token.text for token in tokenize(text))


def phrases(entries: Iterable[str]) -> tuple[Phrase, ...]:
    """Entries as token tuples, longest first so that the longest match wins."""
    unique = {phrase(entry) for entry in entries}
    return tuple(sorted((p for p in unique if p), key=len, reverse=True))


def index_phrases(entries: Iterable[str]) -> PhraseIndex:
    """Phrases keyed by their first word, for a fast longest match."""
    index: dict[str, list[Phrase]] = {}
    for entry in phrases(entries):
        index.setdefault(entry[0], []).append(entry)
    return MappingProxyType({word: tuple(found) for word, found in index.items()})


_FRENCH_ONLY_TITLES = frozenset({"m", "me"})


@dataclass(frozen=True)
class Lexicon:
    """Word lists shared by the recognisers (all lower case)."""

    context_words: Mapping[str, tuple[Phrase, ...]]
    name_before: PhraseIndex
    name_weak_before: frozenset[Phrase]
    name_after: PhraseIndex
    fillers: frozenset[str]
    titles: frozenset[str]
    first_names: frozenset[str]
    surnames: frozenset[str]
    stop_words: frozenset[str]
    common_words: frozenset[str]
    street_types: PhraseIndex
    street_types_after: frozenset[str]
    number_suffixes: frozenset[str]
    name_particles: frozenset[str]
    city_markers: frozenset[str]
    unit_words: PhraseIndex
    street_words: frozenset[str]
    street_suffixes: frozenset[str]
    place_prefixes: frozenset[str]
    units: Mapping[str, int]
    teens: Mapping[str, int]
    tens: Mapping[str, int]
    hundreds: frozenset[str]
    thousands: frozenset[str]
    repeat: Mapping[str, int]
    separators: PhraseIndex
    plus: frozenset[str]
    months: frozenset[str]
    ordinals: frozenset[str]
    date_joiners: frozenset[str]
    email_at: frozenset[str]
    email_dot: frozenset[str]
    email_joiners: PhraseIndex
    email_triggers: PhraseIndex
    tlds: frozenset[str]
    spelling_like: PhraseIndex
    location_before: PhraseIndex
    standards: frozenset[str]
    questions: Mapping[str, PhraseIndex]
    card_codes: PhraseIndex
    secret_codes: PhraseIndex
    vocabulary: Vocabulary = field(default_factory=Vocabulary, repr=False)
    determiners: frozenset[str] = frozenset()
    lone_name_cues: frozenset[str] = frozenset()
    place_tails: frozenset[str] = frozenset()
    corner_words: PhraseIndex = field(default_factory=dict)
    town_before: frozenset[str] = frozenset()
    town_nouns: frozenset[str] = frozenset()
    request_openers: PhraseIndex = field(default_factory=dict)
    possessives: frozenset[str] = frozenset()
    relations: PhraseIndex = field(default_factory=dict)
    relation_links: PhraseIndex = field(default_factory=dict)
    request_nouns: Mapping[str, PhraseIndex] = field(default_factory=dict)
    # Towns after a cue, lone postcodes (recognizers/town_cue.py).
    town_named: PhraseIndex = field(default_factory=dict)
    town_cues: PhraseIndex = field(default_factory=dict)
    town_nouns_of: frozenset[str] = frozenset()
    town_between: frozenset[str] = frozenset()
    amount_units: frozenset[str] = frozenset()
    partial_cues: tuple[Phrase, ...] = ()
    name_lists: NameLists = field(default_factory=NameLists, repr=False)

    @cached_property
    def context_index(self) -> Mapping[str, tuple[tuple[Phrase, str], ...]]:
        """Context phrases keyed by first word: (phrase, entity type), longest first."""
        index: dict[str, list[tuple[Phrase, str]]] = {}
        for entity, entries in self.context_words.items():
            for entry in entries:
                index.setdefault(entry[0], []).append((entry, entity))
        return {
            word: tuple(sorted(found, key=lambda pair: len(pair[0]), reverse=True))
            for word, found in index.items()
        }

    @cached_property
    def request_words(self) -> frozenset[str]:
        """Words of the requests and e-mail triggers ("email", "address", "name")."""
        words = {word for index in self.questions.values() for key in index for word in key}
        for phrases_ in (*self.questions.values(), self.email_triggers):
            for found in phrases_.values():
                for entry in found:
                    words.update(entry)
        return frozenset(word for word in words if word not in self.stop_words)

    @cached_property
    def cue_words(self) -> frozenset[str]:
        """Every word of the context cues and requests ("iban", "swift", "email"): the
        public name lists hold a few ("Iban" is a Basque first name), never a name here."""
        words = {
            word for entries in self.context_words.values() for entry in entries for word in entry
        }
        return frozenset(words | self.request_words)

    def is_number_word(self, word: str) -> bool:
        return (
            word in self.units
            or word in self.teens
            or word in self.tens
            or word in self.hundreds
            or word in self.thousands
        )

    def is_dictionary_word(self, word: str) -> bool:
        """A plain word, or any word the dictionaries know ("moved", "conforme")."""
        return self.is_plain_word(word) or self.vocabulary.is_word(word)

    def is_title(self, word: str, language: str) -> bool:
        """A title before a name; "m" and "me" only in French (in English a middle
        initial, a pronoun)."""
        if word in _FRENCH_ONLY_TITLES and language != "fr":
            return False
        return word in self.titles

    def is_elided_word(self, word: str) -> bool:
        """ "linstitut", "dentreprise": an elided article glued to a dictionary word, as
        transcripts without apostrophes write it (the word has five letters or more).
        """
        stem = word[1:]
        return (
            word[:1] in ("l", "d")
            and len(stem) >= 5
            and stem[:1] in "aeiouyéèêâîôûh"
            and (self.is_plain_word(stem) or self.vocabulary.is_word(stem))
        )

    def is_plain_word(self, word: str) -> bool:
        """A word that is never a name by itself (stop word or common call vocabulary)."""
        return word in self.stop_words or word in self.common_words

    def is_listed_name(self, word: str) -> bool:
        """A first name or surname of the small lists, or of the large public lists when
        it is no dictionary word, stop word or place ("kevin", "zhang"; not "rose",
        "bureau", "paris", which need a cue, a capital or a neighbouring name)."""
        if word in self.first_names or word in self.surnames:
            return True
        if (
            word not in self.name_lists
            or word in self.cue_words
            or self.is_number_word(word)
            or self.vocabulary.place_at((word,), 0) == 1
            or word in self.vocabulary.word_towns
        ):
            return False
        if not self.is_dictionary_word(word):
            return True
        # "aaron", "logan": English nouns only, and no French word ("constance" is one);
        # "fabien", "micheline": frequent French first names the French list has only
        # as lemmas (no inflected form is theirs).
        lists = self.name_lists
        return (
            (
                # an English noun that is no French word either ("marge", "lien")
                (word in lists.noun_only and not self.vocabulary.in_tables(word))
                or (word in lists.frequent_french and len(word) > 4)
            )
            and len(word) > 3  # "art", "bee", "tea"
            and not self.is_plain_word(word)
            and word not in self.street_types
            and word not in self.street_words
            and not (word.endswith("s") and self.is_dictionary_word(word[:-1]))
            and word not in self.months
            and not any(word in table for table in self.vocabulary.tables)
        )

    def is_listed_first_name(self, word: str) -> bool:
        """Like :meth:`is_listed_name`, for a first name."""
        return word in self.first_names or (
            word in self.name_lists.first_names and self.is_listed_name(word)
        )

    def with_context_words(self, extra: Mapping[str, Iterable[str]]) -> Lexicon:
        """A copy with more context words per entity type (from settings)."""
        merged = dict(self.context_words)
        for entity, words in extra.items():
            both = set(merged.get(entity, ())) | set(phrases(words))
            merged[entity] = tuple(sorted(both, key=len, reverse=True))
        return replace(self, context_words=MappingProxyType(merged))


def _data_text(name: str) -> str:
    return (DATA_DIR / name).read_text(encoding="utf-8")


def _word_list(name: str) -> frozenset[str]:
    lines = (line.strip().lower() for line in _data_text(name).splitlines())
    return frozenset(line for line in lines if line and not line.startswith("#"))


@cache
def default_lexicon() -> Lexicon:
    """The packaged lexicon, parsed once per process."""
    data = tomllib.loads(_data_text("lexicon.toml"))
    names, address, numbers = data["names"], data["address"], data["numbers"]
    dates, email = data["dates"], data["email"]
    context = {entity: phrases(words) for entity, words in data["context_words"].items()}
    from analytics.redact.config import DEFAULT_MODELS

    stop_words = frozenset(FR_STOP_WORDS | EN_STOP_WORDS)
    vocabulary = load_vocabulary(tuple(DEFAULT_MODELS.values()), stop_words)
    return Lexicon(
        context_words=MappingProxyType(context),
        name_before=index_phrases(names["before"]),
        name_weak_before=frozenset(phrases(names["weak_before"])),
        name_after=index_phrases(names["after"]),
        fillers=frozenset(names["fillers"]),
        titles=frozenset(names["titles"]),
        first_names=_word_list("first_names.txt"),
        surnames=_word_list("surnames.txt"),
        stop_words=stop_words,
        common_words=_word_list("common_words.txt"),
        street_types=index_phrases(address["street_types"]),
        street_types_after=frozenset(address["street_types_after"]),
        number_suffixes=frozenset(address["number_suffixes"]),
        name_particles=frozenset(address["name_particles"]),
        city_markers=frozenset(address["city_markers"]),
        unit_words=index_phrases(address["unit_words"]),
        street_words=frozenset(address["street_words"]),
        street_suffixes=frozenset(address["street_suffixes"]),
        place_prefixes=frozenset(address["place_prefixes"]),
        units=MappingProxyType(numbers["units"]),
        teens=MappingProxyType(numbers["teens"]),
        tens=MappingProxyType(numbers["tens"]),
        hundreds=frozenset(numbers["hundreds"]),
        thousands=frozenset(numbers["thousands"]),
        repeat=MappingProxyType(numbers["repeat"]),
        separators=index_phrases(numbers["separators"]),
        plus=frozenset(numbers["plus"]),
        months=frozenset(dates["months"]),
        ordinals=frozenset(dates["ordinals"]),
        date_joiners=frozenset(dates["joiners"]),
        email_at=frozenset(email["at"]),
        email_dot=frozenset(email["dot"]),
        email_joiners=index_phrases(email["joiners"]),
        email_triggers=index_phrases(email["triggers"]),
        tlds=frozenset(email["tlds"]),
        spelling_like=index_phrases(data["spelling"]["like"]),
        location_before=index_phrases(data["location"]["before"]),
        standards=frozenset(data["codes"]["standards"]),
        card_codes=index_phrases(data["secrets"]["card"]),
        secret_codes=index_phrases(data["secrets"]["code"]),
        questions=MappingProxyType(
            {entity: index_phrases(words) for entity, words in data["questions"].items()}
        ),
        vocabulary=vocabulary,
        determiners=frozenset(names["determiners"]),
        lone_name_cues=frozenset(names["lone_cues"]),
        place_tails=frozenset(data["location"]["tails"]),
        corner_words=index_phrases(address["corner"]),
        town_before=frozenset(data["location"]["town_before"]),
        town_nouns=frozenset(data["location"]["town_nouns"]),
        request_openers=index_phrases(data["requests"]["openers"]),
        possessives=frozenset(names["possessives"]),
        relations=index_phrases(names["relations"]),
        relation_links=index_phrases(names["relation_links"]),
        request_nouns=MappingProxyType(
            {
                entity: index_phrases(words)
                for entity, words in data["requests"].items()
                if entity != "openers"
            }
        ),
        town_named=index_phrases(data["location"]["named"]),
        town_cues=index_phrases(data["location"]["cues"]),
        town_nouns_of=frozenset(data["location"]["nouns_of"]),
        town_between=frozenset(data["location"]["between"]),
        amount_units=frozenset(data["address"]["amount_units"]),
        partial_cues=phrases(data["codes"]["partial"]),
        name_lists=load_name_lists(DEFAULT_MODELS["en"]),
    )
