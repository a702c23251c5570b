"""The clean-up of names and places after the real engines (spaCy + our recognisers).

Sentences written for these tests; personal values from Faker (fixed seed), firms and
products invented. Never strings from ``../shared/eval``.
"""

from __future__ import annotations

import pytest
from faker import Faker

from analytics.redact import Redactor, default_redactor
from analytics.redact.refine import _camel_word

_FR = Faker("fr_FR")
_FR.seed_instance(4242)
_EN = Faker("en_US")
_EN.seed_instance(4242)
FR_LAST = [_FR.last_name() for _ in range(3)]
FR_FIRST = [_FR.first_name() for _ in range(3)]


@pytest.fixture(scope="module")
def redactor() -> Redactor:
    return default_redactor()  # built once per process, shared with test_redact


def _hidden(redactor: Redactor, text: str, language: str) -> set[int]:
    return {i for e in redactor.find(text, language) for i in range(e.start, e.end)}


def _readable(redactor: Redactor, text: str, value: str, language: str) -> bool:
    start = text.index(value)
    hidden = _hidden(redactor, text, language)
    return not any(i in hidden for i in range(start, start + len(value)) if text[i].isalnum())


def _hidden_whole(redactor: Redactor, text: str, value: str, language: str) -> bool:
    start = text.index(value)
    hidden = _hidden(redactor, text, language)
    return all(i in hidden for i in range(start, start + len(value)) if text[i].isalnum())


@pytest.mark.parametrize(
    ("word", "brand"),
    [("NetQuartz", True), ("KalvoraDB2", True), ("dataNoveo", True), ("McAllister", False),
     ("LeBrun", False), ("DiMarco", False), ("Moreau", False), ("DUPONT", False)],
)  # fmt: skip
def test_camel_case_words_are_brands(word: str, brand: bool) -> None:
    assert _camel_word(word) is brand


@pytest.mark.slow
@pytest.mark.parametrize(
    ("text", "firm"),
    [
        ("Le contrat de maintenance est signé avec Brightmesh depuis mars.", "Brightmesh"),
        ("Pour la supervision, nous utilisons NetQuartz sur tous les sites.", "NetQuartz"),
        ("La certification a été délivrée par Kalvora l'an dernier.", "Kalvora"),
    ],
)
def test_french_firms_and_products_stay_readable(redactor: Redactor, text: str, firm: str) -> None:
    assert _readable(redactor, text, firm, "fr")


@pytest.mark.slow
@pytest.mark.parametrize("index", range(3))
def test_french_names_are_cut_before_a_firm_or_a_job(redactor: Redactor, index: int) -> None:
    first, last = FR_FIRST[index], FR_LAST[index]
    text = f"Réunion avec M. {first} {last} de NetQuartz, puis avec Mme {last} DRH."
    assert _hidden_whole(redactor, text, f"{first} {last}", "fr")
    assert _readable(redactor, text, "NetQuartz", "fr")
    assert _readable(redactor, text, "DRH", "fr")
    assert _hidden_whole(redactor, text, f"Mme {last}"[4:], "fr")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("Le budget atteint 50M€. La Banque Populaire finance le reste.", "Banque"),
        ("Temps de réponse <200ms (objectif tenu).", "objectif"),
    ],
)
def test_units_after_numbers_are_no_titles(redactor: Redactor, text: str, word: str) -> None:
    assert _readable(redactor, text, word, "fr")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("text", "town"),
    [
        ("Le nouvel entrepôt ouvre à Lille en juin.", "Lille"),
        ("le nouvel entrepôt ouvre à lille en juin", "lille"),
        ("Il a été soigné au CHU de Bordeaux.", "Bordeaux"),
    ],
)
def test_french_towns_named_like_words_are_hidden(redactor: Redactor, text: str, town: str) -> None:
    assert _hidden_whole(redactor, text, town, "fr")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("text", "postcode"),
    [
        ("We are opening a depot in Castelnovo 43015 next spring.", "43015"),
        ("Ship it to 12 Harbour Road\n  Port Mellin\n  NS\n  B0J 2H0", "B0J 2H0"),
        ("The office in Valderrey 8402 handles the claims.", "8402"),
    ],
)
def test_postcodes_after_a_town_are_hidden(redactor: Redactor, text: str, postcode: str) -> None:
    assert _hidden_whole(redactor, text, postcode, "en")


@pytest.mark.slow
def test_a_year_after_a_town_stays_readable(redactor: Redactor) -> None:
    text = "We moved to Leeds in 2019 and to Paris 2024."
    assert _readable(redactor, text, "2024", "en")
    assert _readable(redactor, text, "2019", "en")


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Ce soir je dîne chez Tiphaine avec les enfants.", "Tiphaine"),
        ("Le week-end on va chez Anouk à la campagne.", "Anouk"),
    ],
)
def test_a_first_name_after_chez_is_hidden(redactor: Redactor, text: str, name: str) -> None:
    assert _hidden_whole(redactor, text, name, "fr")
