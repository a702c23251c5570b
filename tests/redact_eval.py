"""A labelled evaluation set for redaction: ASR-style calls with planted personal data.

Generated reproducibly (seeded) from templates of what callers of a French roadside
and travel assistance insurer and its agents say, written the way Whisper writes
speech (lower case, no punctuation, numbers as digits, digit groups or words), plus
hand-written lines. Ground truth is kept as character spans per segment.

The names, streets and towns here are drawn from lists of their own — many of them
absent from the recogniser's gazetteer — so that name recall is not measured on the
recogniser's own word lists.

``python tests/redact_eval.py`` prints a summary of the set.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from analytics.models import RawSegment, RawTranscript, Speaker

SEED = 20261125

# --- ground truth ---------------------------------------------------------------------


@dataclass(frozen=True)
class Planted:
    entity_type: str
    start: int
    end: int


@dataclass(frozen=True)
class EvalSegment:
    speaker: Speaker
    text: str
    planted: tuple[Planted, ...] = ()


@dataclass(frozen=True)
class EvalCall:
    call_id: str
    language: str
    segments: tuple[EvalSegment, ...] = field(default=())

    def transcript(self) -> RawTranscript:
        segments = tuple(
            RawSegment(segment.speaker, 2.0 * i, 2.0 * i + 1.8, segment.text)
            for i, segment in enumerate(self.segments)
        )
        return RawTranscript(self.call_id, self.language, 0.99, 2.0 * len(segments), segments)


Part = str | tuple[str, str]  # plain text, or (ENTITY_TYPE, value)


def segment(speaker: Speaker, *parts: Part) -> EvalSegment:
    """Join parts with spaces, remembering where each planted value sits."""
    text, planted = "", []
    for part in parts:
        if text:
            text += " "
        if isinstance(part, tuple):
            entity, value = part
            planted.append(Planted(entity, len(text), len(text) + len(value)))
            text += value
        else:
            text += part
    return EvalSegment(speaker, text, tuple(planted))


# --- spoken forms ---------------------------------------------------------------------

FR_UNITS = ["zéro", "un", "deux", "trois", "quatre", "cinq", "six", "sept", "huit", "neuf"]
FR_TEENS = [
    "dix",
    "onze",
    "douze",
    "treize",
    "quatorze",
    "quinze",
    "seize",
    "dix-sept",
    "dix-huit",
    "dix-neuf",
]
FR_TENS = {2: "vingt", 3: "trente", 4: "quarante", 5: "cinquante", 6: "soixante"}
EN_UNITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
EN_TEENS = [
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
EN_TENS = {
    2: "twenty",
    3: "thirty",
    4: "forty",
    5: "fifty",
    6: "sixty",
    7: "seventy",
    8: "eighty",
    9: "ninety",
}
FR_MONTHS = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
]
EN_MONTHS = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
]


def fr_number(n: int) -> str:
    """0..99 in French words, hyphenated as ASR usually writes them."""
    if n < 10:
        return FR_UNITS[n]
    if n < 20:
        return FR_TEENS[n - 10]
    tens, unit = divmod(n, 10)
    if tens in (7, 9):
        base = "soixante" if tens == 7 else "quatre-vingt"
        return f"{base}-{FR_TEENS[unit]}" if not (tens == 7 and unit == 1) else "soixante et onze"
    if tens == 8:
        return "quatre-vingts" if unit == 0 else f"quatre-vingt-{FR_UNITS[unit]}"
    word = FR_TENS[tens]
    if unit == 0:
        return word
    if unit == 1:
        return f"{word} et un"
    return f"{word}-{FR_UNITS[unit]}"


def en_number(n: int) -> str:
    if n < 10:
        return EN_UNITS[n]
    if n < 20:
        return EN_TEENS[n - 10]
    tens, unit = divmod(n, 10)
    return EN_TENS[tens] if unit == 0 else f"{EN_TENS[tens]} {EN_UNITS[unit]}"


def fr_year(year: int) -> str:
    if year >= 2000:
        return "deux mille" + (f" {fr_number(year - 2000)}" if year > 2000 else "")
    return f"mille neuf cent {fr_number(year - 1900)}"


def en_year(year: int) -> str:
    if year >= 2000:
        return "two thousand" + (f" and {en_number(year - 2000)}" if year > 2000 else "")
    return f"nineteen {en_number(year - 1900)}"


def digit_words(digits: str, language: str, rng: random.Random) -> str:
    units = FR_UNITS if language == "fr" else EN_UNITS
    words = []
    for digit in digits:
        if language == "en" and digit == "0" and rng.random() < 0.5:
            words.append("oh")
        else:
            words.append(units[int(digit)])
    return " ".join(words)


def pair_words(digits: str, language: str) -> str:
    """Digits said in pairs: "06 47" → "zéro six quarante-sept"."""
    words = []
    for i in range(0, len(digits), 2):
        pair = digits[i : i + 2]
        if len(pair) == 2 and pair[0] == "0":
            words.append(FR_UNITS[0] if language == "fr" else "oh")
            words.append((FR_UNITS if language == "fr" else EN_UNITS)[int(pair[1])])
        elif len(pair) == 2:
            words.append(fr_number(int(pair)) if language == "fr" else en_number(int(pair)))
        else:
            words.append((FR_UNITS if language == "fr" else EN_UNITS)[int(pair)])
    return " ".join(words)


def groups(text: str, sizes: Sequence[int], sep: str = " ") -> str:
    parts, position = [], 0
    for size in sizes:
        if position >= len(text):
            break
        parts.append(text[position : position + size])
        position += size
    if position < len(text):
        parts.append(text[position:])
    return sep.join(parts)


def digits(rng: random.Random, count: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(count))


def luhn_complete(body: str) -> str:
    for check in "0123456789":
        candidate = body + check
        total = 0
        for position, char in enumerate(reversed(candidate)):
            value = int(char)
            if position % 2:
                value = value * 2 - 9 if value > 4 else value * 2
            total += value
        if total % 10 == 0:
            return candidate
    raise AssertionError("unreachable")


# --- value makers ---------------------------------------------------------------------

# Deliberately mixed: some of these are in the gazetteer, many are not.
FR_FIRST = [
    "jean",
    "marie",
    "nicolas",
    "sophie",
    "julien",
    "céline",
    "maëlle",
    "gaëtan",
    "soizic",
    "yannick",
    "killian",
    "anaïs",
    "loïc",
    "enzo",
    "maïwenn",
    "ilyes",
    "rémi",
    "solène",
    "bastien",
    "ophélie",
    "kévin",
    "aurore",
    "thibault",
    "nadège",
    "corentin",
    "morgane",
    "amine",
    "fatoumata",
    "youssef",
    "lætitia",
    "gwenaël",
    "héloïse",
]
FR_LAST = [
    "dupont",
    "martin",
    "lefebvre",
    "moreau",
    "kowalski",
    "ferreira",
    "le goff",
    "diallo",
    "traoré",
    "pereira",
    "benali",
    "nguyen",
    "lemaire",
    "quéméner",
    "charpentier",
    "fontaine",
    "le bihan",
    "marchetti",
    "haddad",
    "rousseau",
    "bouvier",
    "tessier",
    "le floch",
    "perrin",
    "vasseur",
    "ollivier",
    "kerbrat",
    "mahé",
    "garnier",
    "boucher",
]
EN_FIRST = [
    "john",
    "mary",
    "james",
    "emma",
    "oliver",
    "siobhan",
    "declan",
    "priya",
    "liam",
    "aoife",
    "connor",
    "megan",
    "rhys",
    "niamh",
    "callum",
    "sarah",
    "gareth",
    "imogen",
    "hamish",
    "zara",
]
EN_LAST = [
    "smith",
    "johnson",
    "o'brien",
    "patel",
    "murphy",
    "mcallister",
    "fitzgerald",
    "okafor",
    "henderson",
    "walsh",
    "kaur",
    "brennan",
    "whitfield",
    "thompson",
    "gallagher",
    "ashworth",
]
FR_STREETS = [
    "des lilas",
    "victor hugo",
    "de la république",
    "jean jaurès",
    "du général de gaulle",
    "pasteur",
    "des écoles",
    "de la gare",
    "du moulin",
    "des acacias",
    "gambetta",
    "de la libération",
    "saint-martin",
    "des tilleuls",
    "du stade",
    "de verdun",
]
FR_STREET_TYPES = [
    "rue",
    "rue",
    "rue",
    "avenue",
    "boulevard",
    "allée",
    "impasse",
    "chemin",
    "place",
    "route",
]
FR_CITIES = [
    ("75011", "paris"),
    ("69003", "lyon"),
    ("13008", "marseille"),
    ("31000", "toulouse"),
    ("44000", "nantes"),
    ("35000", "rennes"),
    ("79000", "niort"),
    ("33000", "bordeaux"),
    ("42000", "saint-étienne"),
    ("67000", "strasbourg"),
    ("21200", "beaune"),
    ("29200", "brest"),
    ("59000", "lille"),
    ("06000", "nice"),
    ("13100", "aix-en-provence"),
]
EN_STREETS = [
    "baker",
    "high",
    "church",
    "station",
    "victoria",
    "mill",
    "park",
    "queens",
    "king edward",
    "green",
]
EN_STREET_TYPES = ["street", "road", "lane", "avenue", "drive", "close"]
EN_CITIES = ["london", "bristol", "manchester", "leeds", "dublin", "glasgow", "cardiff", "york"]
EMAIL_DOMAINS = [("gmail", "com"), ("orange", "fr"), ("free", "fr"), ("hotmail", "fr"),
                 ("yahoo", "fr"), ("laposte", "net"), ("wanadoo", "fr"), ("outlook", "com"),
                 ("sfr", "fr"), ("icloud", "com")]  # fmt: skip
PLACES_FR = ["beaune", "montélimar", "orange", "valence", "mâcon", "chalon", "vienne", "auxerre"]


def make_person(rng: random.Random, language: str, full: bool | None = None) -> str:
    firsts, lasts = (FR_FIRST, FR_LAST) if language == "fr" else (EN_FIRST, EN_LAST)
    full = rng.random() < 0.7 if full is None else full
    first, last = rng.choice(firsts), rng.choice(lasts).replace("'", "")
    return f"{first} {last}" if full else first


def make_last_name(rng: random.Random, language: str) -> str:
    return rng.choice(FR_LAST if language == "fr" else EN_LAST).replace("'", "")


def make_phone(rng: random.Random, language: str) -> str:
    if language == "fr":
        number = rng.choice(["06", "07", "01", "02", "04", "09"]) + digits(rng, 8)
        style = rng.randrange(6)
        if style == 0:
            return groups(number, [2] * 5)
        if style == 1:
            return number
        if style == 2:
            return "+33 " + groups(number[1:], [1, 2, 2, 2, 2])
        if style == 3:
            return pair_words(number, "fr")
        if style == 4:
            return digit_words(number, "fr", rng)
        return groups(number[:4], [2, 2]) + " " + pair_words(number[4:], "fr")
    number = "07" + digits(rng, 9)
    style = rng.randrange(4)
    if style == 0:
        return number[:5] + " " + number[5:]
    if style == 1:
        return "+44 " + number[1:5] + " " + number[5:]
    if style == 2:
        said = digit_words(number, "en", rng)
        return said.replace("seven seven", "double seven", 1)
    return "0" + digits(rng, 3) + " " + digits(rng, 3) + " " + digits(rng, 4)


def make_email(rng: random.Random, language: str) -> str:
    firsts, lasts = (FR_FIRST, FR_LAST) if language == "fr" else (EN_FIRST, EN_LAST)
    first = rng.choice(firsts)
    last = rng.choice(lasts).replace("'", "").replace(" ", "")
    domain, tld = rng.choice(EMAIL_DOMAINS)
    dot, at = ("point", "arobase") if language == "fr" else ("dot", "at")
    style = rng.randrange(5)
    if style == 0:
        local = f"{first} {dot} {last}"
    elif style == 1:
        local = f"{first[0]} {last}"
    elif style == 2:
        local = f"{last} {rng.randrange(10, 99)}"
    elif style == 3:
        local = f"{first} {'tiret' if language == 'fr' else 'underscore'} {last}"
    else:
        return f"{first}.{last}@{domain}.{tld}"
    return f"{local} {at} {domain} {dot} {tld}"


def make_address(rng: random.Random, language: str) -> str:
    if language == "fr":
        number = rng.randrange(1, 120)
        said = str(number) if rng.random() < 0.7 else fr_number(number % 100)
        if rng.random() < 0.15:
            said += " bis"
        street = f"{said} {rng.choice(FR_STREET_TYPES)} {rng.choice(FR_STREETS)}"
        postcode, city = rng.choice(FR_CITIES)
        style = rng.randrange(3)
        if style == 0:
            return f"{street} {postcode} {city}"
        if style == 1:
            return f"{street} à {city}"
        return street
    number = rng.randrange(1, 200)
    street = f"{number} {rng.choice(EN_STREETS)} {rng.choice(EN_STREET_TYPES)}"
    return f"{street} in {rng.choice(EN_CITIES)}" if rng.random() < 0.6 else street


def _iban_fr(rng: random.Random) -> str:
    bban = digits(rng, 23)
    moved = bban + "152700"  # F=15 R=27, check digits 00
    check = 98 - int(moved) % 97
    return f"fr{check:02d}{bban}"


def make_iban(rng: random.Random, language: str) -> str:
    iban = _iban_fr(rng)
    style = rng.randrange(3)
    if style == 0:
        return groups(iban, [4] * 7)
    if style == 1:
        return iban
    return f"{iban[0]} {iban[1]} " + groups(iban[2:], [2] + [4] * 6)


def make_nir(rng: random.Random, language: str) -> str:
    body = (
        rng.choice("12")
        + f"{rng.randrange(40, 99):02d}"
        + f"{rng.randrange(1, 13):02d}"
        + f"{rng.randrange(1, 96):02d}"
        + digits(rng, 3)
        + digits(rng, 3)
    )
    nir = body + f"{97 - int(body) % 97:02d}"
    style = rng.randrange(3)
    if style == 0:
        return groups(nir, [1, 2, 2, 2, 3, 3, 2])
    if style == 1:
        return nir
    return groups(nir[:13], [1, 2, 2, 2, 3, 3]) + " clé " + nir[13:]


def make_card(rng: random.Random, language: str) -> str:
    card = luhn_complete(rng.choice(["4970", "4532", "5132", "5412"]) + digits(rng, 11))
    style = rng.randrange(3)
    if style == 0:
        return groups(card, [4] * 4)
    if style == 1:
        return card
    return digit_words(card, language, rng)


def make_plate(rng: random.Random, language: str) -> str:
    letters = "abcdefghjklmnpqrstvwxyz"
    left = rng.choice(letters) + rng.choice(letters)
    right = rng.choice(letters) + rng.choice(letters)
    middle = f"{rng.randrange(100, 999)}"
    style = rng.randrange(4)
    if style == 0:
        return f"{left}-{middle}-{right}"
    if style == 1:
        return f"{left} {middle} {right}"
    if style == 2:
        return " ".join(left + middle + right)
    return f"{left}{middle}{right}"


def make_policy(rng: random.Random, language: str) -> str:
    style = rng.randrange(5)
    if style == 0:
        return digits(rng, 8)
    if style == 1:
        return groups(digits(rng, 9), [3, 3, 3])
    if style == 2:
        return rng.choice(["ax", "pa", "mx"]) + " " + groups(digits(rng, 6), [3, 3])
    if style == 3:
        return digit_words(digits(rng, 7), language, rng)
    return pair_words(digits(rng, 8), language)


def make_claim(rng: random.Random, language: str) -> str:
    style = rng.randrange(4)
    if style == 0:
        return "2025 " + groups(digits(rng, 6), [3, 3])
    if style == 1:
        return "s " + digits(rng, 7)
    if style == 2:
        return digit_words(digits(rng, 6), language, rng)
    return groups(digits(rng, 8), [2, 2, 2, 2])


def make_dob(rng: random.Random, language: str) -> str:
    day, month, year = rng.randrange(1, 29), rng.randrange(1, 13), rng.randrange(1940, 2005)
    style = rng.randrange(3)
    if language == "fr":
        if style == 0:
            return f"{day} {FR_MONTHS[month - 1]} {year}"
        if style == 1:
            return (
                f"{fr_number(day) if day > 1 else 'premier'} {FR_MONTHS[month - 1]} {fr_year(year)}"
            )
        return f"{day:02d} {month:02d} {year}"
    if style == 0:
        return f"{EN_MONTHS[month - 1]} {day} {year}"
    if style == 1:
        return f"{day}th of {EN_MONTHS[month - 1]} {en_year(year)}"
    return f"{day:02d} {month:02d} {year}"


MAKERS: dict[str, Callable[[random.Random, str], str]] = {
    "PHONE_NUMBER": make_phone,
    "EMAIL_ADDRESS": make_email,
    "ADDRESS": make_address,
    "IBAN_CODE": make_iban,
    "FR_NIR": make_nir,
    "CREDIT_CARD": make_card,
    "LICENSE_PLATE": make_plate,
    "POLICY_NUMBER": make_policy,
    "CLAIM_NUMBER": make_claim,
    "DATE_OF_BIRTH": make_dob,
}

# --- templates ------------------------------------------------------------------------
# "{X}" is a slot for a value of entity type X; "{PERSON}" a full or first name,
# "{LAST}" a surname said after monsieur/madame. Each template is one turn (agent "A"
# or customer "C"); a "|" starts the next turn of the other party.

FR_OPENINGS = [
    "A: bonjour assistance plus {PERSON} à votre écoute",
    "A: assistance plus bonjour {PERSON} j'écoute",
    "A: bonjour vous êtes bien chez assistance plus je m'appelle {PERSON} que puis-je faire pour vous",
]
FR_TURNS = [
    "C: oui bonjour je m'appelle {PERSON} je suis en panne sur l'autoroute",
    "C: bonjour madame c'est monsieur {LAST} j'ai eu un accident",
    "C: oui bonjour mon nom c'est {PERSON} j'appelle pour ma voiture",
    "A: très bien madame {LAST} je note",
    "A: d'accord monsieur {LAST} ne quittez pas",
    "C: je voyage avec ma femme {PERSON} et les deux enfants",
    "C: mon numéro de portable c'est le {PHONE_NUMBER}",
    "C: vous pouvez me rappeler au {PHONE_NUMBER} s'il vous plaît",
    "A: quel est votre numéro de téléphone | C: {PHONE_NUMBER}",
    "C: alors mon adresse mail c'est {EMAIL_ADDRESS}",
    "C: vous pouvez m'envoyer le mail à {EMAIL_ADDRESS}",
    "C: j'habite au {ADDRESS}",
    "C: mon adresse c'est {ADDRESS}",
    "A: vous êtes domicilié où | C: au {ADDRESS}",
    "C: mon numéro de contrat c'est le {POLICY_NUMBER}",
    "C: j'ai le contrat numéro {POLICY_NUMBER} chez vous",
    "A: vous avez votre numéro d'adhérent | C: oui c'est le {POLICY_NUMBER}",
    "A: quel est votre numéro de contrat s'il vous plaît | C: euh attendez {POLICY_NUMBER}",
    "C: j'ai déjà un dossier ouvert c'est le {CLAIM_NUMBER}",
    "A: je vous donne votre numéro de dossier {CLAIM_NUMBER}",
    "C: le numéro de sinistre c'est {CLAIM_NUMBER}",
    "A: vous avez une référence de sinistre | C: oui {CLAIM_NUMBER}",
    "C: pour le remboursement mon iban c'est {IBAN_CODE}",
    "A: il me faut votre rib | C: alors {IBAN_CODE}",
    "C: mon numéro de sécurité sociale c'est le {FR_NIR}",
    "A: votre numéro de sécu | C: {FR_NIR}",
    "C: je vous donne ma carte bancaire {CREDIT_CARD}",
    "C: le numéro de carte c'est {CREDIT_CARD}",
    "C: la voiture est immatriculée {LICENSE_PLATE}",
    "A: quelle est la plaque d'immatriculation | C: {LICENSE_PLATE}",
    "C: c'est une clio grise {LICENSE_PLATE}",
    "C: je suis née le {DATE_OF_BIRTH}",
    "A: votre date de naissance | C: le {DATE_OF_BIRTH}",
]
FR_FILLERS = [
    "C: ma voiture ne démarre plus depuis ce matin",
    "A: la dépanneuse arrive dans 45 minutes",
    "C: on est sur l'a6 au kilomètre 212 direction {PLACE}",
    "C: il y a 2 enfants avec moi et on a froid",
    "A: je vous envoie un taxi pour rejoindre l'hôtel",
    "C: j'ai payé 150 euros au garagiste",
    "A: le véhicule sera remorqué au garage le plus proche",
    "C: oui oui d'accord merci beaucoup",
    "A: est-ce que tout le monde va bien",
    "C: je suis bloqué près de {PLACE} sur une aire de repos",
    "A: je vais vous mettre en attente quelques instants",
    "C: le 12 mars j'avais déjà appelé pour le même problème",
    "A: votre garantie couvre le rapatriement jusqu'à 500 kilomètres",
    "C: on a crevé le pneu arrière vers 14 h 30",
    "C: mon fils a 12 ans et ma fille 8 ans",
    "C: j'ai appelé 3 fois depuis 9 h ce matin",
    "A: le garage ferme à 18 h je vous rappelle dans 10 minutes",
    "C: la facture fait 1250 euros pour le remorquage",
    "C: c'est un contrat tous risques avec l'option véhicule de remplacement",
    "A: vous êtes à combien de kilomètres de chez vous",
    "C: on a roulé 300 kilomètres depuis paris",
    "C: c'est une peugeot 308 de 2019",
]
FR_CLOSINGS = ["A: je vous souhaite une bonne journée au revoir", "C: merci au revoir"]

EN_OPENINGS = [
    "A: good morning assistance plus {PERSON} speaking how can i help",
    "A: hello you're through to assistance plus my name is {PERSON}",
]
EN_TURNS = [
    "C: hi my name is {PERSON} and my car broke down",
    "C: hello this is mr {LAST} i had an accident near {PLACE}",
    "C: yes it's mrs {LAST} calling about my claim",
    "A: thank you mr {LAST} one moment please",
    "C: i'm travelling with my husband {PERSON}",
    "C: my mobile number is {PHONE_NUMBER}",
    "C: you can call me back on {PHONE_NUMBER}",
    "A: what's the best number to reach you | C: {PHONE_NUMBER}",
    "C: my email is {EMAIL_ADDRESS}",
    "C: please send it to {EMAIL_ADDRESS}",
    "C: i live at {ADDRESS}",
    "C: my address is {ADDRESS}",
    "C: my policy number is {POLICY_NUMBER}",
    "A: can i take your membership number | C: sure it's {POLICY_NUMBER}",
    "C: my claim number is {CLAIM_NUMBER}",
    "A: your case reference is {CLAIM_NUMBER}",
    "C: my iban is {IBAN_CODE}",
    "C: the card number is {CREDIT_CARD}",
    "C: the registration is {LICENSE_PLATE}",
    "A: what's the plate on the car | C: {LICENSE_PLATE}",
    "C: my date of birth is {DATE_OF_BIRTH}",
    "C: i was born on {DATE_OF_BIRTH}",
    "C: my french social security number is {FR_NIR}",
]
EN_FILLERS = [
    "C: the car won't start and we're on the motorway",
    "A: the recovery truck will be there in about 40 minutes",
    "C: we have 3 kids in the car",
    "A: i'm going to book you a hotel for tonight",
    "C: i paid 200 euros to the garage",
    "C: yes that's right thank you so much",
    "A: is everybody safe",
    "C: my son is 12 and my daughter is 8",
    "C: we were on the a7 motorway near junction 14",
    "C: our flight is at 6 pm tomorrow",
    "A: i'll call you back in 20 minutes",
    "C: it's a 2018 ford focus",
    "C: we drove about 400 kilometres today",
]
EN_CLOSINGS = ["A: have a good day goodbye", "C: thanks bye"]

# Hand-written lines: harder or unusual phrasings, each with its planted values.
HAND_WRITTEN: list[tuple[str, list[EvalSegment]]] = [
    (
        "fr",
        [
            segment(
                "customer",
                "alors c'est",
                (
                    "PHONE_NUMBER",
                    "zéro six douze trente-quatre cinquante-six soixante-dix-huit quatre-vingt-dix",
                ),
            )
        ],
    ),
    (
        "fr",
        [
            segment(
                "customer",
                "mon portable",
                ("PHONE_NUMBER", "06 12 34 56 78"),
                "et le fixe",
                ("PHONE_NUMBER", "01 45 67 89 12"),
            )
        ],
    ),
    ("fr", [segment("customer", "mon nom c'est", ("PERSON", "dupont"), ("PERSON", "d u p o n t"))]),
    (
        "fr",
        [
            segment(
                "customer",
                "c'est",
                ("PERSON", "le floch"),
                "je vous épelle",
                ("PERSON", "l e f l o c h"),
            )
        ],
    ),
    (
        "fr",
        [
            segment(
                "customer",
                "l'immatriculation c'est",
                ("LICENSE_PLATE", "f g comme gérard 4 5 6 h k"),
            )
        ],
    ),
    (
        "fr",
        [
            segment(
                "customer",
                "mon mail",
                ("EMAIL_ADDRESS", "marie tiret claire point durand arobase gmail point com"),
            )
        ],
    ),
    ("fr", [segment("customer", "envoyez à", ("EMAIL_ADDRESS", "jp.lemaire@free.fr"), "merci")]),
    (
        "fr",
        [
            segment("agent", "quel est votre numéro de contrat"),
            segment("customer", "attendez je cherche"),
            segment("customer", ("POLICY_NUMBER", "4 5 7 8 9 1 2 3")),
        ],
    ),
    (
        "fr",
        [
            segment("customer", "mon numéro de dossier c'est le"),
            segment("customer", ("CLAIM_NUMBER", "2025 004 567")),
        ],
    ),
    (
        "fr",
        [segment("customer", "j'habite", ("ADDRESS", "14 bis rue du général leclerc 79000 niort"))],
    ),
    (
        "fr",
        [
            segment(
                "customer", "au", ("ADDRESS", "trois impasse des rosiers à saint-herblain"), "voilà"
            )
        ],
    ),
    (
        "fr",
        [
            segment(
                "customer",
                "ma date de naissance c'est le",
                ("DATE_OF_BIRTH", "premier avril mille neuf cent soixante-dix-huit"),
            )
        ],
    ),
    ("fr", [segment("customer", "je suis né en", ("DATE_OF_BIRTH", "1962"))]),
    ("fr", [segment("customer", "carte vitale", ("FR_NIR", "2 84 05 2a 004 123 45"))]),
    ("fr", [segment("customer", "le cryptogramme c'est le", ("CREDIT_CARD", "123"))]),
    (
        "fr",
        [
            segment(
                "customer",
                "c'est",
                ("PHONE_NUMBER", "+33 6 47 83 29 15"),
                "ou",
                ("PHONE_NUMBER", "0033 6 12 34 56 78"),
            )
        ],
    ),
    (
        "fr",
        [
            segment(
                "customer",
                "iban",
                (
                    "IBAN_CODE",
                    "f r soixante-seize trente mille six zéro zéro zéro zéro un un deux trois quatre cinq six sept huit neuf zéro un huit neuf",
                ),
            )
        ],
    ),
    (
        "fr",
        [
            segment(
                "agent",
                "madame",
                ("PERSON", "quéméner"),
                "votre dossier",
                ("CLAIM_NUMBER", "s 7841236"),
                "est bien enregistré",
            )
        ],
    ),
    ("fr", [segment("customer", "mon mari", ("PERSON", "gwenaël kerbrat"), "va vous rappeler")]),
    (
        "fr",
        [segment("customer", "ma voiture a une plaque étrangère", ("LICENSE_PLATE", "1234 ab 75"))],
    ),
    (
        "en",
        [
            segment(
                "customer",
                "it's",
                ("PHONE_NUMBER", "oh seven nine double one two three four five six seven"),
            )
        ],
    ),
    (
        "en",
        [
            segment(
                "customer",
                "my email",
                ("EMAIL_ADDRESS", "siobhan underscore walsh at outlook dot com"),
            )
        ],
    ),
    ("en", [segment("customer", "that's", ("PERSON", "mcallister"), "m c a l l i s t e r")]),
    ("en", [segment("customer", "i live at", ("ADDRESS", "221 baker street london"))]),
    (
        "en",
        [
            segment(
                "customer", "date of birth", ("DATE_OF_BIRTH", "third of june nineteen seventy two")
            )
        ],
    ),
    (
        "en",
        [
            segment("agent", "could i have your policy number"),
            segment("customer", ("POLICY_NUMBER", "p a 458 221")),
        ],
    ),
    ("en", [segment("customer", "the plate is", ("LICENSE_PLATE", "ab12 cde"))]),
    (
        "en",
        [
            segment(
                "customer",
                "card",
                ("CREDIT_CARD", "4970 1012 3456 7890"),
                "expiry",
                ("CREDIT_CARD", "12 27"),
            )
        ],
    ),
]

# The spelled names in two hand-written lines are planted as PERSON too: fix the
# English one, whose spelling follows an unplanted word.
HAND_WRITTEN[22] = (
    "en",
    [segment("customer", "that's", ("PERSON", "mcallister"), ("PERSON", "m c a l l i s t e r"))],
)


def _fill(template: str, language: str, rng: random.Random) -> list[EvalSegment]:
    turns = []
    for turn in template.split("|"):
        role, text = turn.strip().split(": ", 1)
        speaker: Speaker = "agent" if role == "A" else "customer"
        parts: list[Part] = []
        for word in text.split():
            if word.startswith("{") and word.endswith("}"):
                slot = word[1:-1]
                parts.append(_slot_value(slot, language, rng))
            else:
                parts.append(word)
        turns.append(segment(speaker, *_join_plain(parts)))
    return turns


def _slot_value(slot: str, language: str, rng: random.Random) -> Part:
    if slot == "PERSON":
        return ("PERSON", make_person(rng, language))
    if slot == "LAST":
        return ("PERSON", make_last_name(rng, language))
    if slot == "PLACE":
        return ("LOCATION", rng.choice(PLACES_FR if language == "fr" else EN_CITIES))
    return (slot, MAKERS[slot](rng, language))


def _join_plain(parts: Iterable[Part]) -> list[Part]:
    joined: list[Part] = []
    for part in parts:
        if isinstance(part, str) and joined and isinstance(joined[-1], str):
            joined[-1] = f"{joined[-1]} {part}"
        else:
            joined.append(part)
    return joined


def generate_calls(seed: int = SEED, calls_per_language: int = 30) -> list[EvalCall]:
    """The evaluation calls: generated ones then hand-written ones."""
    rng = random.Random(seed)
    calls = []
    for language in ("fr", "en"):
        openings, turns, fillers, closings = (
            (FR_OPENINGS, FR_TURNS, FR_FILLERS, FR_CLOSINGS)
            if language == "fr"
            else (EN_OPENINGS, EN_TURNS, EN_FILLERS, EN_CLOSINGS)
        )
        for number in range(calls_per_language):
            templates = [rng.choice(openings)]
            body = rng.sample(turns, 6) + rng.sample(fillers, 3)
            rng.shuffle(body)
            templates += body + closings
            segments = [seg for template in templates for seg in _fill(template, language, rng)]
            calls.append(EvalCall(f"eval-{language}-{number:03d}", language, tuple(segments)))
    for number, (language, segments) in enumerate(HAND_WRITTEN):
        calls.append(EvalCall(f"hand-{language}-{number:03d}", language, tuple(segments)))
    return calls


def planted_counts(calls: Iterable[EvalCall]) -> Counter[str]:
    return Counter(p.entity_type for call in calls for seg in call.segments for p in seg.planted)


@dataclass
class TypeScore:
    planted: int = 0
    redacted: int = 0  # every letter and digit covered by some redacted entity
    typed: int = 0  # ... by entities of the planted type
    predicted: int = 0  # entities predicted with this type
    predicted_true: int = 0  # ... that overlap a planted value

    @property
    def recall(self) -> float:
        return self.redacted / self.planted if self.planted else 1.0

    @property
    def typed_recall(self) -> float:
        return self.typed / self.planted if self.planted else 1.0

    @property
    def precision(self) -> float:
        return self.predicted_true / self.predicted if self.predicted else 1.0


@dataclass
class EvalReport:
    scores: dict[str, TypeScore]
    segments: int
    chars: int
    seconds: float
    misses: list[tuple[str, str]]  # (entity type, segment text) of values left readable

    def total(self) -> TypeScore:
        total = TypeScore()
        for score in self.scores.values():
            total.planted += score.planted
            total.redacted += score.redacted
            total.typed += score.typed
            total.predicted += score.predicted
            total.predicted_true += score.predicted_true
        return total

    def table(self) -> str:
        lines = [
            f"{'type':15} {'planted':>7} {'recall':>7} {'typed':>7} {'pred':>5} {'precision':>9}"
        ]
        for entity, score in [*sorted(self.scores.items()), ("ALL", self.total())]:
            lines.append(
                f"{entity:15} {score.planted:7d} {score.recall:7.3f} {score.typed_recall:7.3f} "
                f"{score.predicted:5d} {score.precision:9.3f}"
            )
        return "\n".join(lines)


def _covered(text: str, start: int, end: int, spans: Iterable[tuple[int, int]]) -> bool:
    needed = {i for i in range(start, end) if text[i].isalnum()}
    for first, last in spans:
        needed -= set(range(first, last))
    return not needed


def evaluate(redactor: Any, calls: Sequence[EvalCall]) -> EvalReport:
    """Recall per planted type and precision per predicted type of ``redactor``.

    A planted value is *redacted* when every letter and digit of it is covered by
    some entity (whatever its type: nothing readable remains); *typed* when covered
    by entities of its own type. A predicted entity is *true* when it overlaps some
    planted value.
    """
    scores: dict[str, TypeScore] = {}
    misses: list[tuple[str, str]] = []
    segments = chars = 0
    began = time.perf_counter()
    found_per_call = [redactor.analyze_transcript(call.transcript()) for call in calls]
    seconds = time.perf_counter() - began
    for call, found in zip(calls, found_per_call, strict=True):
        for seg, entities in zip(call.segments, found, strict=True):
            segments += 1
            chars += len(seg.text)
            all_spans = [(e.start, e.end) for e in entities]
            for value in seg.planted:
                score = scores.setdefault(value.entity_type, TypeScore())
                score.planted += 1
                if _covered(seg.text, value.start, value.end, all_spans):
                    score.redacted += 1
                else:
                    misses.append((value.entity_type, seg.text))
                typed = [(e.start, e.end) for e in entities if e.entity_type == value.entity_type]
                if _covered(seg.text, value.start, value.end, typed):
                    score.typed += 1
            for entity in entities:
                score = scores.setdefault(entity.entity_type, TypeScore())
                score.predicted += 1
                if any(p.start < entity.end and entity.start < p.end for p in seg.planted):
                    score.predicted_true += 1
    return EvalReport(scores, segments, chars, seconds, misses)


if __name__ == "__main__":
    generated = generate_calls()
    counts = planted_counts(generated)
    print(f"{len(generated)} calls, {sum(counts.values())} planted values")
    for entity, count in sorted(counts.items()):
        print(f"  {entity:15} {count}")
    for seg in generated[0].segments:
        print(f"  {seg.speaker:8} {seg.text}")
