"""Blind redaction sets: templates written by a helper who never saw the code, Faker-filled.

The templates (``benchmarks/data/blind/``, see its PROVENANCE.md) are filled with
``faker`` values (fr_FR; en_GB and en_US), each placeholder occurrence independently,
with a fixed seed; the ASR-style version is made the way ``redact_templates`` makes
it (lower case, no punctuation, spoken e-mails, digit groups). An ``answer`` template
follows its agent question after a line break (a change of speaker).

Gold types: names → PERSON, street → STREET_ADDRESS, city → GPE, postcode → ZIP_CODE,
phone, e-mail, IBAN, card, date of birth, licence plate, secret code (PIN), policy
number. A title, a country and an age are neutral (neither hits nor false positives).
These sets are for measuring: never tune recognisers to their wording.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import redact_external
import redact_templates
from faker import Faker

BLIND_DIR = Path(__file__).resolve().parents[1] / "benchmarks" / "data" / "blind"
SEED = redact_templates.SEED
FILLS = 2
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
# placeholder → (gold type, redact_templates value kind or a local maker)
_TYPES = {
    "first_name": ("PERSON", "first"),
    "last_name": ("PERSON", "last"),
    "full_name": ("PERSON", "name"),
    "street_address": ("STREET_ADDRESS", "street"),
    "city": ("GPE", "city"),
    "postcode": ("ZIP_CODE", "postcode"),
    "phone_number": ("PHONE_NUMBER", "phone"),
    "email": ("EMAIL_ADDRESS", "email"),
    "iban": ("IBAN_CODE", "iban"),
    "credit_card": ("CREDIT_CARD", "card"),
    "date_of_birth": ("DATE_OF_BIRTH", "dob"),
    "secret_code": ("PIN", "pin"),
    "licence_plate": ("LICENSE_PLATE", "plate"),
    "policy_number": ("POLICY_NUMBER", "policy"),
    "title": ("TITLE", "title"),
    "country": ("COUNTRY", "country"),
    "age": ("AGE", "age"),
}


def load_templates(language: str) -> list[dict[str, str | None]]:
    path = BLIND_DIR / f"redaction_templates_{language}.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def _value(fake: Faker, kind: str, rng: random.Random, language: str) -> str:
    if kind == "plate":
        return str(fake.license_plate())
    if kind == "policy":
        letters = "".join(rng.choice("ABCDEFGHJKLMNPRSTVWXYZ") for _ in range(rng.randint(2, 3)))
        return f"{letters}{rng.randint(10**5, 10**8 - 1)}"
    if kind == "title":
        return rng.choice(("M.", "Mme", "Dr") if language == "fr" else ("Mr", "Mrs", "Ms", "Dr"))
    if kind == "country":
        return str(fake.country())
    if kind == "age":
        return str(rng.randint(18, 90))
    if kind == "pin":
        return str(rng.randint(0, 10 ** rng.choice((4, 6)) - 1)).zfill(4)
    return redact_templates._value(fake, kind, rng)


def _fill(
    item: dict[str, str | None], language: str, fake: Faker, rng: random.Random
) -> list[tuple[str, list[tuple[int, int, str]]]]:
    template = str(item["template"])
    if item.get("kind") == "answer" and item.get("previous"):
        template = f"{item['previous']}\n{template}"
    pieces: list[tuple[str, str | None]] = []
    position = 0
    for match in _PLACEHOLDER.finditer(template):
        pieces.append((template[position : match.start()], None))
        entity, kind = _TYPES[match.group(1)]
        pieces.append((_value(fake, kind, rng, language), entity))
        position = match.end()
    pieces.append((template[position:], None))
    versions = []
    for asr in (False, True):
        text, spans = "", []
        for piece, entity in pieces:
            if entity is None:
                if not asr:
                    text += piece
                    continue
                for number, turn in enumerate(piece.split("\n")):
                    if number:
                        text = text.rstrip() + "\n"
                    written = " ".join(redact_templates._asr_plain(turn).split())
                    if written and text and not text.endswith((" ", "\n")):
                        text += " "
                    text += f"{written} " if written else ""
                continue
            value = redact_templates._asr_value(entity, piece, language) if asr else piece
            if asr and text and not text.endswith((" ", "\n")):
                text += " "
            spans.append((len(text), len(text) + len(value), entity))
            text += value
        versions.append((text.rstrip() if asr else text, spans))
    return versions


def blind_sets(fills: int = FILLS, seed: int = SEED) -> dict[str, list[redact_external.Record]]:
    """blind_en/orig, blind_en/asr, blind_fr/orig, blind_fr/asr (empty when absent)."""
    return redact_templates.filled_sets(
        "blind",
        {language: load_templates(language) for language in ("en", "fr")},
        _fill,
        lambda _number, item: str(item["id"]),
        fills=fills,
        seed=seed,
        salt="blind-",
    )


if __name__ == "__main__":
    for name, records in blind_sets().items():
        print(f"== {name}: {len(records)} records")
        for record in records[:: max(1, len(records) // 5)][:5]:
            print("  ", repr(record.text), [record.text[s:e] for s, e, _ in record.spans])
