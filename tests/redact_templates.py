"""External-style redaction sets: call-centre templates filled with Faker values.

The templates are dialogue lines of an assistance insurer's calls (English and
French) with placeholders; ``faker`` (fr_FR, en_GB, en_US) fills them, with a fixed
seed. Each record comes in two versions, like ``../shared/eval``:

- ``orig``: as written (the values as Faker writes them);
- ``asr``: as a recogniser that writes no case or punctuation would: lower case,
  punctuation as spaces, e-mails spoken ("jean point dupont arobase orange point fr",
  "john dot smith at gmail dot com"), phone numbers in digit groups (French pairs),
  an extension said "extension" / "poste".

Turns are separated by a line break (a change of speaker). The values are never
taken from the recognisers' word lists; the templates were written apart from them
(the names, streets and towns come from Faker only).

    python tests/redact_templates.py   # prints a few records of each set
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

import redact_external
from faker import Faker

SEED = 20261201
FILLS_PER_TEMPLATE = 3

EN_TEMPLATES = (
    "Good afternoon, you're through to roadside assistance, can I take your full name?|Yes, it's {PERSON:name}.",
    "And the first line of your address?|{STREET_ADDRESS:street}, {GPE:city}, {ZIP_CODE:postcode}.",
    "Could you spell your surname for me?|Sure, {PERSON:last}.",
    "Hi, this is {PERSON:first} calling about my claim, my car broke down outside {GPE:city}.",
    "What's the best number to reach you on?|You can call me on {PHONE_NUMBER:phone}.",
    "My mobile is {PHONE_NUMBER:phone}, extension {PHONE_NUMBER:ext}, if I'm at work.",
    "Can I have an email address to send the claim form to?|Yes, email me at {EMAIL_ADDRESS:email}.",
    "My email is {EMAIL_ADDRESS:email}, that's where the last letter went.",
    "The policy is in my wife's name, {PERSON:name}, we live at {STREET_ADDRESS:street}.",
    "For the refund I need your bank details.|My IBAN is {IBAN_CODE:iban}.",
    "I paid with my card, the number is {CREDIT_CARD:card}.",
    "For security, can you confirm your date of birth?|It's {DATE_OF_BIRTH:dob}.",
    "Please don't read it out, but the bank asked for my PIN, it's {PIN:pin}.",
    "I'm staying with {PERSON:first} in {GPE:city} until Friday.",
    "The garage is at {STREET_ADDRESS:street}, the postcode is {ZIP_CODE:postcode}.",
    "Who am I speaking with?|{PERSON:first} {PERSON:last}, I'm the driver.",
    "My son {PERSON:first} was driving, he's got his licence since last year.",
    "We moved to {GPE:city} in March and I lived at {STREET_ADDRESS:street} before that.",
    "The tow truck driver, a guy called {PERSON:first}, said it was the gearbox.",
    "Send the courtesy car to {STREET_ADDRESS:street} in {GPE:city} please.",
    "What's your postcode?|{ZIP_CODE:postcode}.",
    "You can reach my husband {PERSON:name} on {PHONE_NUMBER:phone}.",
    "Where exactly are you?|On the hard shoulder just past {GPE:city}.",
    "I spoke to Mr {PERSON:last} yesterday and he said someone would call back.",
    "The card security code is {PIN:cvv} and it expires next year.",
    "Can you give me a contact number?|Sure, {PHONE_NUMBER:phone}.",
    "Dr {PERSON:last} at the hospital in {GPE:city} has the medical report.",
    "The hire car was booked under {PERSON:name}, reference on the email to {EMAIL_ADDRESS:email}.",
    "Is the billing address still {STREET_ADDRESS:street}?|No, we're now at {STREET_ADDRESS:street2}.",
    "Hello, my name is {PERSON:name} and I'm calling from {GPE:city}.",
)

FR_TEMPLATES = (
    "Bonjour, assistance dépannage, à qui ai-je l'honneur ?|Bonjour, {PERSON:name}.",
    "Pouvez-vous me donner votre adresse ?|Oui, c'est {STREET_ADDRESS:street}, {ZIP_CODE:postcode} {GPE:city}.",
    "Vous pouvez m'épeler votre nom de famille ?|{PERSON:last}.",
    "Je suis en panne sur l'autoroute juste après {GPE:city}, je ne peux plus avancer.",
    "À quel numéro peut-on vous rappeler ?|Au {PHONE_NUMBER:phone}.",
    "Mon portable c'est le {PHONE_NUMBER:phone}, sinon au bureau poste {PHONE_NUMBER:ext}.",
    "Vous avez une adresse mail pour recevoir le constat ?|Oui, mon mail c'est {EMAIL_ADDRESS:email}.",
    "Mon adresse mail est {EMAIL_ADDRESS:email}, je l'ai déjà donnée la dernière fois.",
    "Le contrat est au nom de ma femme, {PERSON:name}, on habite {STREET_ADDRESS:street}.",
    "Pour le remboursement il me faudrait votre RIB.|Mon IBAN c'est {IBAN_CODE:iban}.",
    "J'ai payé le dépanneur avec ma carte, le numéro c'est {CREDIT_CARD:card}.",
    "Pour vérifier votre identité, quelle est votre date de naissance ?|Le {DATE_OF_BIRTH:dob}.",
    "La banque m'a demandé mon code secret, c'est {PIN:pin}, c'est normal ?",
    "Je suis hébergé chez {PERSON:first} à {GPE:city} jusqu'à vendredi.",
    "Le garage se trouve {STREET_ADDRESS:street}, code postal {ZIP_CODE:postcode}.",
    "Je suis bien avec qui ?|{PERSON:first} {PERSON:last}, c'est moi le conducteur.",
    "C'est mon fils {PERSON:first} qui conduisait, il a son permis depuis un an.",
    "On a déménagé à {GPE:city} en mars, avant on habitait {STREET_ADDRESS:street}.",
    "Le dépanneur, un certain {PERSON:first}, m'a dit que c'était la boîte de vitesses.",
    "Vous pouvez livrer le véhicule de prêt au {STREET_ADDRESS:street} à {GPE:city} ?",
    "Quel est votre code postal ?|{ZIP_CODE:postcode}.",
    "Vous pouvez joindre mon mari, {PERSON:name}, au {PHONE_NUMBER:phone}.",
    "Où êtes-vous exactement ?|Sur le bas-côté, un peu après {GPE:city}.",
    "J'ai eu M. {PERSON:last} hier, il m'a dit qu'on me rappellerait.",
    "Le cryptogramme c'est {PIN:cvv} et la carte expire l'an prochain.",
    "Un numéro où vous joindre ?|Oui, le {PHONE_NUMBER:phone}.",
    "Le docteur {PERSON:last} de l'hôpital de {GPE:city} a le rapport médical.",
    "La voiture de location est réservée au nom de Mme {PERSON:name}, la confirmation est partie à {EMAIL_ADDRESS:email}.",
    "L'adresse de facturation est toujours {STREET_ADDRESS:street} ?|Non, maintenant c'est {STREET_ADDRESS:street2}.",
    "Bonjour, je m'appelle {PERSON:name} et j'appelle de {GPE:city}.",
)

LOCALES = {"en": ("en_GB", "en_US"), "fr": ("fr_FR",)}
_PLACEHOLDER = re.compile(r"\{([A-Z_]+):(\w+)\}")


def _value(fake: Faker, kind: str, rng: random.Random) -> str:
    makers: dict[str, Callable[[], str]] = {
        "name": fake.name,
        "first": fake.first_name,
        "last": fake.last_name,
        "street": fake.street_address,
        "street2": fake.street_address,
        "city": fake.city,
        "postcode": fake.postcode,
        "phone": fake.phone_number,
        "ext": lambda: str(rng.randint(10, 9999)),
        "email": fake.email,
        "iban": fake.iban,
        "card": fake.credit_card_number,
        "pin": lambda: f"{rng.randint(0, 9999):04d}",
        "cvv": lambda: f"{rng.randint(0, 999):03d}",
        "dob": lambda: fake.date_of_birth(minimum_age=18, maximum_age=90).strftime(
            "%d/%m/%Y" if fake.locales[0].startswith("fr") else "%d %B %Y"
        ),
    }
    value = makers[kind]()
    if kind == "name":
        # Faker adds titles and suffixes ("Dr.", "MD") to some names: keep the name.
        value = re.sub(
            r"^(Dr|Mr|Mrs|Ms|Miss|M|Mme|Mlle)\.? |,? (MD|DDS|PhD|DVM|Jr\.|Sr\.|I+|IV|V)$", "", value
        )
    return " ".join(value.split())


# --- the ASR-style version ------------------------------------------------------------


def _asr_plain(text: str) -> str:
    text = text.replace("’", "'").lower()
    return re.sub(r"[^\w\s']", " ", text)


def _asr_email(value: str, language: str) -> str:
    dot, at, dash = ("point", "arobase", "tiret") if language == "fr" else ("dot", "at", "dash")
    words = []
    for piece in re.split(r"([.@_-])", value.lower()):
        words.append({".": dot, "@": at, "-": dash, "_": "underscore"}.get(piece, piece))
    return " ".join(word for word in words if word)


def _asr_phone(value: str, language: str) -> str:
    value = value.lower()
    extension = ""
    found = re.search(r"(?:x|ext\.?|extension)\s*(\d+)$", value)
    if found:
        extension = f" {'poste' if language == 'fr' else 'extension'} {found.group(1)}"
        value = value[: found.start()]
    plus = "+" if value.strip().startswith("+") else ""
    digits = re.sub(r"\D", "", value)
    if language == "fr" and not plus and len(digits) == 10:
        groups = [digits[i : i + 2] for i in range(0, 10, 2)]
    elif plus:
        groups = [digits[:2], *[digits[i : i + 3] for i in range(2, len(digits), 3)]]
    else:
        groups = [digits[i : i + 3] for i in range(0, len(digits) - 4, 3)] + [digits[-4:]]
    return plus + " ".join(group for group in groups if group) + extension


def _asr_value(entity: str, value: str, language: str) -> str:
    if entity == "EMAIL_ADDRESS":
        return _asr_email(value, language)
    if entity == "PHONE_NUMBER" and len(re.sub(r"\D", "", value)) > 6:
        return _asr_phone(value, language)
    return " ".join(_asr_plain(value).split())


def _fill(
    template: str, language: str, fake: Faker, rng: random.Random
) -> tuple[tuple[str, list[tuple[int, int, str]]], tuple[str, list[tuple[int, int, str]]]]:
    """The written and the ASR-style text of one filled template, with gold spans."""
    versions: list[tuple[str, list[tuple[int, int, str]]]] = []
    values: dict[str, str] = {}
    pieces: list[tuple[str, str | None]] = []
    position = 0
    for match in _PLACEHOLDER.finditer(template):
        pieces.append((template[position : match.start()], None))
        entity, kind = match.groups()
        key = f"{entity}:{kind}"
        if key not in values:
            values[key] = _value(fake, kind, rng)
        pieces.append((values[key], entity))
        position = match.end()
    pieces.append((template[position:], None))
    for asr in (False, True):
        text, spans = "", []
        for piece, entity in pieces:
            turns = piece.split("|")
            for number, turn in enumerate(turns):
                if number:
                    text = text.rstrip() + "\n"
                if entity is None and not asr:
                    text += turn
                elif entity is None:
                    written = " ".join(_asr_plain(turn).split())
                    if (written or turn) and text and not text.endswith((" ", "\n")):
                        text += " "
                    text += f"{written} " if written else ""
                else:
                    value = _asr_value(entity, turn, language) if asr else turn
                    spans.append((len(text), len(text) + len(value), entity))
                    text += value
        versions.append((text.rstrip() if asr else text, spans))
    return versions[0], versions[1]


Spans = list[tuple[int, int, str]]
Item = TypeVar("Item")


def filled_sets(
    name: str,
    templates: Mapping[str, Sequence[Item]],
    fill: Callable[[Item, str, Faker, random.Random], Sequence[tuple[str, Spans]]],
    record_key: Callable[[int, Item], str],
    *,
    fills: int,
    seed: int,
    salt: str = "",
) -> dict[str, list[redact_external.Record]]:
    """``{name}_{language}/orig`` and ``/asr``: each template filled ``fills`` times per
    Faker locale (seeded per locale, ``salt`` keeping one family's draws its own).

    ``fill`` returns the written and the ASR-style text of one filled template with
    its gold spans; ``record_key`` names a template in the record ids.
    """
    sets: dict[str, list[redact_external.Record]] = {}
    for language, items in templates.items():
        for locale in LOCALES[language]:
            fake = Faker(locale)
            fake.seed_instance(seed)
            rng = random.Random(f"{seed}-{salt}{locale}")
            for number, item in enumerate(items):
                for round_ in range(fills):
                    record_id = f"{locale}:{record_key(number, item)}:{round_}"
                    filled = fill(item, language, fake, rng)
                    for version, (text, spans) in zip(("orig", "asr"), filled, strict=True):
                        record = redact_external.Record(
                            record_id, language, version, text, tuple(spans)
                        )
                        sets.setdefault(f"{name}_{language}/{version}", []).append(record)
    return sets


def template_sets(
    fills: int = FILLS_PER_TEMPLATE, seed: int = SEED
) -> dict[str, list[redact_external.Record]]:
    """The four sets: templates_en/orig, templates_en/asr, templates_fr/orig, templates_fr/asr."""
    return filled_sets(
        "templates",
        {"en": EN_TEMPLATES, "fr": FR_TEMPLATES},
        _fill,
        lambda number, _template: str(number),
        fills=fills,
        seed=seed,
    )


if __name__ == "__main__":
    for name, records in template_sets().items():
        print(f"== {name}: {len(records)} records")
        for record in records[:: max(1, len(records) // 6)][:6]:
            print("  ", repr(record.text), [record.text[s:e] for s, e, _ in record.spans])
