"""The public name lists (``analytics/redact/name_lists.py``) and how the lexicon guards
them. The names here are chosen for these tests (never taken from ``../shared/eval``)."""

from __future__ import annotations

import pytest

from analytics.redact.lexicon import default_lexicon
from analytics.redact.name_lists import NameLists, load_name_lists

LEXICON = default_lexicon()


def test_the_lists_come_from_the_installed_packages() -> None:
    lists = load_name_lists()
    # Far more than the packaged lists; US Census and INSEE names both present.
    assert len(lists.first_names) > 5_000 and len(lists.surnames) > 20_000
    assert {"jolene", "tiphaine", "soizic"} <= lists.first_names
    assert {"whitfield", "kerbrat"} <= lists.surnames
    # Accents are kept and folded: transcripts drop them.
    assert {"maëlys", "maelys"} <= lists.first_names


def test_the_rare_tail_is_left_out() -> None:
    lists = load_name_lists()
    assert all(len(word) >= 3 and word.isalpha() for word in lists.first_names | lists.surnames)
    assert "zurawska" not in lists.surnames  # an INSEE surname past the common tier


@pytest.mark.parametrize(
    "word", ["jolene", "tiphaine", "kerbrat", "whitfield", "aaron", "james", "fabien", "micheline"]
)
def test_listed_names_that_are_no_words_are_names(word: str) -> None:
    assert LEXICON.is_listed_name(word)


@pytest.mark.parametrize(
    "word",
    [
        "iban",  # a cue word ("Iban" is a first name too)
        "bureau",  # a French word
        "lyon",  # a place
        "houston",  # a place, though WordNet lists it as a noun only
        "will",  # a stop word
        "frank",  # an English adjective and verb
        "numbers",  # the plural of a word
        "china",  # a country
        "tea",  # too short a noun
        "blanche",  # a French inflected form ("blanc")
        "aimée",  # a French participle
    ],
)
def test_listed_names_that_are_words_need_a_cue(word: str) -> None:
    assert word in load_name_lists()
    assert not LEXICON.is_listed_name(word)


def test_an_empty_list_knows_no_name() -> None:
    assert "jolene" not in NameLists() and len(NameLists()) == 0
