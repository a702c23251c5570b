"""Presidio recognisers for what callers of an assistance insurer say, as ASR writes it.

Each works on lower-case unpunctuated text and on the forms people dictate in
(digits, digit groups, number words, spelled letters). They share the token and
run reading of :mod:`analytics.redact.spoken` and the word lists of
:mod:`analytics.redact.lexicon`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import tldextract
from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts
from presidio_analyzer.predefined_recognizers import EmailRecognizer

from analytics.redact.lexicon import Lexicon
from analytics.redact.spoken import (
    ContextHit,
    Run,
    Token,
    context_types,
    find_context,
    find_runs,
    iban_valid,
    luhn_valid,
    match_phrase,
    nearest_context,
    nir_valid,
    parse_number,
    tokenize,
)

# The entity types our recognisers emit (settings may add more).
PERSON = "PERSON"
PHONE_NUMBER = "PHONE_NUMBER"
EMAIL_ADDRESS = "EMAIL_ADDRESS"
ADDRESS = "ADDRESS"
LOCATION = "LOCATION"
IBAN_CODE = "IBAN_CODE"
FR_NIR = "FR_NIR"
CREDIT_CARD = "CREDIT_CARD"
LICENSE_PLATE = "LICENSE_PLATE"
POLICY_NUMBER = "POLICY_NUMBER"
CLAIM_NUMBER = "CLAIM_NUMBER"
DATE_OF_BIRTH = "DATE_OF_BIRTH"
ID_NUMBER = "ID_NUMBER"
CARD_CODE = "CARD_CODE"  # a context type only: security code / expiry → CREDIT_CARD

RUN_ENTITIES = (
    PHONE_NUMBER,
    IBAN_CODE,
    FR_NIR,
    CREDIT_CARD,
    LICENSE_PLATE,
    POLICY_NUMBER,
    CLAIM_NUMBER,
    DATE_OF_BIRTH,
    ADDRESS,
    PERSON,
    ID_NUMBER,
)

_SIV_PLATE = re.compile(r"[a-z]{2}\d{3}[a-z]{2}")
_OLD_FR_PLATE = re.compile(r"\d{1,4}[a-z]{1,3}\d{2}")
_UK_PLATE = re.compile(r"[a-z]{2}\d{2}[a-z]{3}")
_IBAN_SHAPE = re.compile(r"[a-z]{2}\d{2}[a-z0-9]{10,30}")
_YEAR = re.compile(r"(19|20)\d\d")
_NAME_PARTICLES = frozenset(
    {"le", "la", "de", "du", "des", "van", "von", "da", "di", "del", "mac", "ben", "el", "al"}
)
_ANSWERS = frozenset(
    {
        "oui",
        "non",
        "ouais",
        "ok",
        "okay",
        "voilà",
        "voila",
        "merci",
        "yes",
        "yeah",
        "no",
        "thanks",
        "bonjour",
        "hello",
    }
)
_WRITTEN_JOINERS = frozenset(".-_")
_UK_POSTCODE = re.compile(r"[a-z]{1,2}\d[a-z\d]?\d[a-z]{2}")
_CLOCK_TIME = re.compile(r"\d{1,2}h(\d{2})?")


def _result(entity: str, start: int, end: int, score: float) -> RecognizerResult:
    # The analyzer adds the recognizer's name and id to the metadata.
    return RecognizerResult(entity, start, end, score)


class _TokenRecognizer(EntityRecognizer):
    """Base of our recognisers: tokenises the text once per call and filters entities."""

    def __init__(self, lexicon: Lexicon, entities: Sequence[str], language: str) -> None:
        self.lexicon = lexicon
        super().__init__(
            supported_entities=list(entities),
            supported_language=language,
            name=f"{type(self).__name__}_{language}",
        )

    def load(self) -> None:  # the lexicon is loaded already
        pass

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        wanted = set(entities) if entities else set(self.supported_entities)
        tokens = tokenize(text)
        found = self.find(tokens, find_context(tokens, self.lexicon))
        return [result for result in found if result.entity_type in wanted]

    def find(self, tokens: Sequence[Token], hits: Sequence[ContextHit]) -> list[RecognizerResult]:
        raise NotImplementedError


class SpokenNumberRecognizer(_TokenRecognizer):
    """Dictated numbers and codes: phones, IBAN, NIR, cards, plates, policy/claim numbers.

    A run's type comes from the nearest context word when its length fits that type
    ("numéro de contrat" → POLICY_NUMBER), else from its shape (10 digits starting
    with 0 → PHONE_NUMBER, Luhn-valid 16 digits → CREDIT_CARD…). A long run that
    fits nothing is still redacted as ID_NUMBER: recall beats precision here.
    """

    def __init__(self, lexicon: Lexicon, language: str = "fr") -> None:
        super().__init__(lexicon, RUN_ENTITIES, language)

    def find(self, tokens: Sequence[Token], hits: Sequence[ContextHit]) -> list[RecognizerResult]:
        results = []
        for run in find_runs(tokens, self.lexicon):
            # A short value ("123", "2019") takes its type only from words right next to it.
            short = len(run.symbols) <= 5
            contexts = context_types(
                hits, run.first, run.last, before=5 if short else 10, after=0 if short else 4
            )
            typed = classify_run(run, contexts)
            if typed:
                entity, score = typed
                results.append(_result(entity, run.start, run.end, score))
        return results


def classify_run(run: Run, contexts: Sequence[str] = ()) -> tuple[str, float] | None:
    """The entity type and score of a run of dictated symbols, or None.

    ``contexts`` are the entity types of the context words around the run, nearest
    first: the nearest one the run's length fits wins ("the membership number on
    the card is …" is a member number, too short for a card).
    """
    symbols, digits = run.symbols, run.digits
    if _CLOCK_TIME.fullmatch(symbols):
        return None  # "14 h 30"
    if _IBAN_SHAPE.fullmatch(symbols):
        return IBAN_CODE, 1.0 if iban_valid(symbols) else 0.85
    if _SIV_PLATE.fullmatch(symbols):
        return LICENSE_PLATE, 0.9
    for context in contexts:
        if _fits_context(run, context):
            return (CREDIT_CARD if context == CARD_CODE else context), 0.85
    return _classify_by_shape(run, symbols, digits)


def _fits_context(run: Run, context: str) -> bool:
    symbols, digits, letters = run.symbols, run.digits, run.letters
    size = len(symbols.lstrip("+"))
    if context == PHONE_NUMBER:
        return 8 <= len(digits) <= 15 and len(letters) == 0
    if context == IBAN_CODE:
        return size >= 10
    if context == FR_NIR:
        return 12 <= size <= 15 and len(digits) >= 11
    if context == CREDIT_CARD:
        return 12 <= len(digits) <= 19 and len(letters) == 0
    if context == CARD_CODE:
        return 3 <= len(digits) <= 4 and len(letters) == 0
    if context == LICENSE_PLATE:
        return 4 <= size <= 10 and len(digits) >= 1
    if context in (POLICY_NUMBER, CLAIM_NUMBER):
        return size >= 5 or (size == 4 and len(digits) >= 1 and not _YEAR.fullmatch(symbols))
    if context == DATE_OF_BIRTH:
        return 4 <= len(digits) <= 8 and len(letters) == 0
    if context == ADDRESS:
        return len(digits) == 5 and len(letters) == 0
    if context == PERSON:
        return len(letters) >= 2 and len(digits) == 0 and run.single_letters >= 2
    # An entity type added by settings: any code of some length.
    return size >= 4


def _classify_by_shape(run: Run, symbols: str, digits: str) -> tuple[str, float] | None:
    letters = run.letters
    if not letters:
        if symbols.startswith("+") and 10 <= len(digits) <= 15:
            return PHONE_NUMBER, 0.9
        if digits.startswith("00") and 12 <= len(digits) <= 15:
            return PHONE_NUMBER, 0.85
        if digits.startswith("0") and len(digits) in (10, 11):
            return PHONE_NUMBER, 0.85
        if digits.startswith("33") and len(digits) == 11:
            return PHONE_NUMBER, 0.7
        if len(digits) in (13, 15) and digits[0] in "12":
            return FR_NIR, 0.95 if nir_valid(digits) else 0.7
        if 13 <= len(digits) <= 19 and luhn_valid(digits):
            return CREDIT_CARD, 0.9
    elif len(symbols) == 15 and symbols[:1] in "12" and nir_valid(symbols):
        return FR_NIR, 0.95  # Corsica: 2A / 2B
    if _UK_POSTCODE.fullmatch(symbols) and len(symbols) >= 5:
        return ADDRESS, 0.6
    if _UK_PLATE.fullmatch(symbols) or (_OLD_FR_PLATE.fullmatch(symbols) and len(symbols) >= 6):
        return LICENSE_PLATE, 0.6
    if not digits and run.single_letters >= 3:
        return PERSON, 0.6  # a spelled word is most often a name
    if len(digits) >= 7 or (len(symbols) >= 8 and len(digits) >= 4):
        return ID_NUMBER, 0.6
    return None


class SpokenEmailRecognizer(_TokenRecognizer):
    """E-mail addresses said aloud: "jean point dupont arobase orange point fr",
    "john dot smith at gmail dot com", or half written "jean.dupont arobase free.fr".
    """

    def __init__(self, lexicon: Lexicon, language: str = "fr") -> None:
        super().__init__(lexicon, (EMAIL_ADDRESS,), language)

    def find(self, tokens: Sequence[Token], hits: Sequence[ContextHit]) -> list[RecognizerResult]:
        results = []
        for index, token in enumerate(tokens):
            if token.text not in self.lexicon.email_at or index == 0:
                continue
            strong = token.text != "at"
            domain_end = self._domain_end(tokens, index + 1, strong)
            local_start = self._local_start(tokens, index - 1) if domain_end else None
            if domain_end is not None and local_start is not None:
                start, end = tokens[local_start].start, tokens[domain_end - 1].end
                results.append(_result(EMAIL_ADDRESS, start, end, 0.9 if strong else 0.8))
        return results

    def _is_part(self, token: Token) -> bool:
        return (
            (token.is_word or token.is_digits)
            and not (token.elided and len(token.text) == 1)  # the "j" of "j'habite"
            and token.text not in self.lexicon.fillers
        )

    def _is_dot(self, tokens: Sequence[Token], position: int) -> bool:
        """A spoken dot, or a written one inside an address (not a full stop)."""
        if position <= 0 or position >= len(tokens) - 1:
            return False
        token = tokens[position]
        if token.text in _WRITTEN_JOINERS:
            return (
                tokens[position - 1].end == token.start and token.end == tokens[position + 1].start
            )
        return token.text in self.lexicon.email_dot

    def _dot_length(self, tokens: Sequence[Token], position: int) -> int:
        return 1 if self._is_dot(tokens, position) else 0

    def _domain_end(self, tokens: Sequence[Token], position: int, strong: bool) -> int | None:
        """Index after the domain ("orange point fr"), which must have a dot."""
        if position >= len(tokens) or not self._is_part(tokens[position]):
            return None
        end, dots, last_label = position + 1, 0, tokens[position].text
        while True:
            dot = self._dot_length(tokens, end) or match_phrase(
                tokens, end, self.lexicon.email_joiners
            )
            if not dot or end + dot >= len(tokens) or not self._is_part(tokens[end + dot]):
                break
            dots += 1 if self._dot_length(tokens, end) else 0
            last_label = tokens[end + dot].text
            end += dot + 1
        if dots == 0:
            return None
        if not strong and last_label not in self.lexicon.tlds:
            return None
        return end

    def _local_start(self, tokens: Sequence[Token], position: int) -> int | None:
        """Index of the first token of the local part ending at ``position``."""
        if position < 0 or not self._is_part(tokens[position]):
            return None
        if self.lexicon.is_plain_word(tokens[position].text) and len(tokens[position].text) > 1:
            return None
        # One bare word may join a one-word local part said without its dot ("jean
        # dupont arobase …"), never one already dotted ("mail jean.dupont@…").
        start, bare_words = position, 0
        while start > 0 and position - start < 30:
            joiner = self._joiner_before(tokens, start)
            if joiner and start - joiner - 1 >= 0 and self._is_part(tokens[start - joiner - 1]):
                start -= joiner + 1
                bare_words = 1
                continue
            previous = tokens[start - 1]
            spelled = len(previous.text) == 1 and previous.is_word and not previous.elided
            single = len(tokens[start].text) == 1
            initial = spelled and bare_words < 1  # "j dupont arobase …"
            if (
                (spelled and single)
                or initial
                or (
                    bare_words < 1
                    and self._is_part(previous)
                    and not self.lexicon.is_plain_word(previous.text)
                    and not previous.elided
                )
            ):
                bare_words += 0 if spelled and single else 1
                start -= 1
                continue
            break
        return start

    def _joiner_before(self, tokens: Sequence[Token], position: int) -> int:
        """Length of a dot or joiner phrase ending just before ``position``."""
        for size in (3, 2, 1):
            first = position - size
            if first < 0:
                continue
            if size == 1 and self._is_dot(tokens, first):
                return 1
            if size == 1 and tokens[first].text in _WRITTEN_JOINERS:
                continue  # "-" or "_" with spaces around: not part of an address
            if match_phrase(tokens, first, self.lexicon.email_joiners) == size:
                return size
        return 0


class StreetAddressRecognizer(_TokenRecognizer):
    """Postal addresses: number + street type + name [+ postcode] [+ city].

    "12 rue des lilas 75011 paris", "au cinq bis avenue jean jaurès à lyon",
    "22 baker street in london".
    """

    _STRONG = frozenset(
        {
            "rue",
            "avenue",
            "boulevard",
            "bd",
            "allée",
            "allee",
            "impasse",
            "chemin",
            "quai",
            "lotissement",
            "faubourg",
            "street",
            "road",
            "lane",
            "drive",
        }
    )

    def __init__(self, lexicon: Lexicon, language: str = "fr") -> None:
        super().__init__(lexicon, (ADDRESS,), language)

    def find(self, tokens: Sequence[Token], hits: Sequence[ContextHit]) -> list[RecognizerResult]:
        results = []
        index = 0
        while index < len(tokens):
            found = self._address_at(tokens, index, hits)
            if found is None:
                index += 1
                continue
            first, last, score = found
            results.append(_result(ADDRESS, tokens[first].start, tokens[last - 1].end, score))
            index = last
        return results

    def _address_at(
        self, tokens: Sequence[Token], index: int, hits: Sequence[ContextHit]
    ) -> tuple[int, int, float] | None:
        size = match_phrase(tokens, index, self.lexicon.street_types)
        if not size:
            return None
        street_word = tokens[index].text
        candidates = []
        if street_word in self.lexicon.street_types_after:
            english = self._english_street(tokens, index)  # "22 baker street"
            if english is not None:
                candidates.append((english, self._city_after(tokens, index + size), 0.85))
        number_start = self._number_before(tokens, index)
        name_end = self._name_after(tokens, index + size, limit=5)
        in_context = nearest_context(hits, index, index + 1, before=8, types=frozenset({ADDRESS}))
        if name_end > index + size and (
            number_start is not None or street_word in self._STRONG or in_context
        ):
            first = number_start if number_start is not None else index
            score = 0.85 if number_start is not None else 0.7
            candidates.append((first, self._city_after(tokens, name_end), score))
        if not candidates:
            return None
        return max(candidates, key=lambda found: (found[1] - found[0], found[2]))

    def _number_before(self, tokens: Sequence[Token], index: int) -> int | None:
        """Start of a house number ("12", "douze", "5 bis") ending right before ``index``."""
        end = index
        if end > 0 and tokens[end - 1].text in self.lexicon.number_suffixes:
            end -= 1
        for start in range(max(0, end - 6), end):
            token = tokens[start]
            if token.is_digits and start == end - 1 and len(token.text) <= 4:
                return start
            if not token.is_digits:
                parsed = parse_number(tokens, start, self.lexicon)
                if parsed and parsed[1] == end and parsed[0] != "0":
                    return start
        return None

    def _english_street(self, tokens: Sequence[Token], index: int) -> int | None:
        """Start of "22 baker street": a number, one to three name words, the street type."""
        for words in (1, 2, 3):
            name_first = index - words
            if name_first < 1:
                return None
            if not self._is_name_word(tokens[name_first]):
                return None
            number_start = self._number_before(tokens, name_first)
            if number_start is not None:
                return number_start
        return None

    def _is_name_word(self, token: Token) -> bool:
        """A word of a street or town name: not a stop word ("station" and "moulin" are)."""
        word = token.text
        return (
            token.is_word
            and len(word) > 1
            and not token.elided
            and word not in self.lexicon.stop_words
            and word not in self.lexicon.fillers
            and word not in _ANSWERS
        )

    def _name_after(self, tokens: Sequence[Token], position: int, limit: int) -> int:
        """End of a street or city name (words, particles inside, hyphens)."""
        end, words = position, 0
        while end < len(tokens) and words < limit:
            token = tokens[end]
            if self._is_name_word(token) and token.text not in self.lexicon.fillers:
                words += 1
                end += 1
            elif (token.text in self.lexicon.name_particles or token.text == "-") and (
                end + 1 < len(tokens) and self._joins_name(tokens, end + 1)
            ):
                end += 1
            else:
                break
        return end

    def _joins_name(self, tokens: Sequence[Token], position: int) -> bool:
        """A particle is inside a name only when a name word follows (maybe after more particles)."""
        for token in tokens[position : position + 3]:
            if self._is_name_word(token):
                return True
            if token.text not in self.lexicon.name_particles and token.text != "-":
                return False
        return False

    def _city_after(self, tokens: Sequence[Token], position: int) -> int:
        """Extend over "75011 paris", "à lyon", "in london", "cedex"."""
        end = position
        if end < len(tokens) and tokens[end].is_digits and len(tokens[end].text) in (4, 5):
            end += 1
            city_end = self._name_after(tokens, end, limit=4)
            return city_end
        if end < len(tokens) and tokens[end].text in self.lexicon.city_markers:
            city_end = self._name_after(tokens, end + 1, limit=4)
            if city_end > end + 1:
                end = city_end
                if end < len(tokens) and tokens[end].is_digits and len(tokens[end].text) == 5:
                    end += 1
        return end


class NameRecognizer(_TokenRecognizer):
    """Person names in lower-case ASR text.

    After a trigger ("je m'appelle", "monsieur", "my name is") any non-common word is
    taken as a name; after a weak trigger ("c'est", "this is") only a known first name
    or surname; anywhere, a known first name (with the surname after it) that is not
    also a common word; before "à votre écoute" / "speaking", the agent's name.
    """

    def __init__(self, lexicon: Lexicon, language: str = "fr") -> None:
        super().__init__(lexicon, (PERSON,), language)

    def find(self, tokens: Sequence[Token], hits: Sequence[ContextHit]) -> list[RecognizerResult]:
        spans: list[tuple[int, int, float]] = list(self._spelled_out(tokens))
        for index in range(len(tokens)):
            spans.extend(self._after_trigger(tokens, index))
            spans.extend(self._before_closing(tokens, index))
            spans.extend(self._known_name(tokens, index))
        return [
            _result(PERSON, tokens[first].start, tokens[last - 1].end, score)
            for first, last, score in _union(spans)
        ]

    def _spelled_out(self, tokens: Sequence[Token]) -> list[tuple[int, int, float]]:
        """A word followed by its spelling ("le floch … l e f l o c h") is a name."""
        spans = []
        for run in find_runs(tokens, self.lexicon):
            if run.digits or run.single_letters < 3:
                continue
            for end in range(run.first, max(0, run.first - 8), -1):
                for size in (1, 2, 3):
                    words = tokens[max(0, end - size) : end]
                    if len(words) == size and "".join(w.text for w in words) == run.letters:
                        spans.append((end - size, end, 0.85))
        return spans

    def _is_known(self, word: str) -> bool:
        return word in self.lexicon.first_names or word in self.lexicon.surnames

    def _name_word(self, token: Token, *, known_only: bool) -> bool:
        word = token.text
        if not token.is_word or len(word) < 2 or token.elided:
            return False
        if self._is_known(word):
            return True
        if known_only:
            return False
        lexicon = self.lexicon
        return not (
            lexicon.is_plain_word(word)
            or lexicon.is_number_word(word)
            or word in lexicon.fillers
            or match_phrase([token], 0, lexicon.street_types)
        )

    def _name_end(self, tokens: Sequence[Token], position: int, known_only: bool) -> int:
        """End of up to three name words from ``position`` (hyphenated names count as one)."""
        end, words = position, 0
        while end < len(tokens) and words < 3:
            if self._name_word(tokens[end], known_only=known_only and words == 0):
                end += 1
                words += 1
                hyphenated = end + 1 < len(tokens) and tokens[end].text == "-"
                if hyphenated and self._name_word(tokens[end + 1], known_only=False):
                    end += 2
                continue
            particle = tokens[end].text in _NAME_PARTICLES and not known_only
            if (
                particle
                and end + 1 < len(tokens)
                and self._name_word(tokens[end + 1], known_only=False)
            ):
                end += 1  # "le goff", "de la fontaine": the next word is taken next turn
                continue
            break
        if known_only and end > position:
            # "c'est pierre" alone is not enough when the first name is also a word.
            first = tokens[position].text
            ambiguous = self.lexicon.is_plain_word(first)
            if ambiguous and (end - position < 2 or not self._is_known(tokens[position + 1].text)):
                return position
            end = self._known_tail(tokens, position + 1, end)
        return end

    def _known_tail(self, tokens: Sequence[Token], position: int, end: int) -> int:
        """After a weak trigger keep further words only while they are known names."""
        stop = position
        while stop < end and self._is_known(tokens[stop].text):
            stop += 1
        return stop

    def _after_trigger(self, tokens: Sequence[Token], index: int) -> list[tuple[int, int, float]]:
        size = match_phrase(tokens, index, self.lexicon.name_before)
        if not size:
            return []
        trigger = tuple(token.text for token in tokens[index : index + size])
        weak = trigger in self.lexicon.name_weak_before
        position = index + size
        while position < len(tokens) and tokens[position].text in self.lexicon.fillers:
            position += 1
        # "c'est monsieur dupont": the stronger trigger after a weak one takes over.
        if match_phrase(tokens, position, self.lexicon.name_before):
            return []
        end = self._name_end(tokens, position, known_only=weak)
        if end == position:
            return []
        return [(position, end, 0.8 if weak else 0.85)]

    def _before_closing(self, tokens: Sequence[Token], index: int) -> list[tuple[int, int, float]]:
        """The agent's name before "à votre écoute": "héloïse le goff à votre écoute"."""
        if index == 0 or not match_phrase(tokens, index, self.lexicon.name_after):
            return []
        first = index
        while first > 0 and index - first < 4:
            previous = tokens[first - 1]
            if self._name_word(previous, known_only=False) or (
                previous.text in _NAME_PARTICLES and first < index
            ):
                first -= 1
            else:
                break
        while first < index and tokens[first].text in _NAME_PARTICLES:
            first += 1
        return [(first, index, 0.75)] if first < index else []

    def _known_name(self, tokens: Sequence[Token], index: int) -> list[tuple[int, int, float]]:
        token = tokens[index]
        word = token.text
        if word not in self.lexicon.first_names or token.elided:
            return []
        following = index + 1 < len(tokens) and tokens[index + 1].text in self.lexicon.surnames
        if following:
            end = index + 2
            if (
                end + 1 < len(tokens)
                and tokens[end].text == "-"
                and self._is_known(tokens[end + 1].text)
            ):
                end += 2
            return [(index, end, 0.8)]
        if self.lexicon.is_plain_word(word):
            return []
        return [(index, index + 1, 0.65)]


def _union(spans: Sequence[tuple[int, int, float]]) -> list[tuple[int, int, float]]:
    """Overlapping token spans merged (best score kept): one name, one result."""
    merged: list[tuple[int, int, float]] = []
    for first, last, score in sorted(spans):
        if merged and first < merged[-1][1]:
            previous = merged[-1]
            merged[-1] = (previous[0], max(previous[1], last), max(previous[2], score))
        else:
            merged.append((first, last, score))
    return merged


class DateOfBirthRecognizer(_TokenRecognizer):
    """A date said after a birth context word: "née le douze mars quatre-vingt-cinq"."""

    def __init__(self, lexicon: Lexicon, language: str = "fr") -> None:
        super().__init__(lexicon, (DATE_OF_BIRTH,), language)

    def find(self, tokens: Sequence[Token], hits: Sequence[ContextHit]) -> list[RecognizerResult]:
        results = []
        for hit in hits:
            if hit.entity_type != DATE_OF_BIRTH:
                continue
            span = self._date_after(tokens, hit.last)
            if span:
                first, last = span
                results.append(
                    _result(DATE_OF_BIRTH, tokens[first].start, tokens[last - 1].end, 0.85)
                )
        return results

    def _is_date_word(self, token: Token) -> bool:
        word = token.text
        lexicon = self.lexicon
        return (
            (token.is_digits and len(word) <= 4)
            or lexicon.is_number_word(word)
            or word in lexicon.units
            or word in lexicon.months
            or word in lexicon.ordinals
        )

    def _date_after(self, tokens: Sequence[Token], position: int) -> tuple[int, int] | None:
        first = next(
            (
                i
                for i in range(position, min(position + 6, len(tokens)))
                if self._is_date_word(tokens[i])
            ),
            None,
        )
        if first is None:
            return None
        last, numbers = first, 0
        while last < len(tokens) and last - first < 14:
            token = tokens[last]
            if self._is_date_word(token):
                numbers += 1
                last += 1
            elif (token.text in self.lexicon.date_joiners or token.text in "/-.") and (
                last + 1 < len(tokens) and self._is_date_word(tokens[last + 1])
            ):
                last += 1
            else:
                break
        while last > first and tokens[last - 1].text in self.lexicon.date_joiners:
            last -= 1
        return (first, last) if numbers else None


class PlaceRecognizer(_TokenRecognizer):
    """The place a caller is at, named after "près de", "direction", "near"...

    spaCy rarely finds lower-case town names; where a caller broke down is personal
    data too.
    """

    def __init__(self, lexicon: Lexicon, language: str = "fr") -> None:
        super().__init__(lexicon, (LOCATION,), language)

    def find(self, tokens: Sequence[Token], hits: Sequence[ContextHit]) -> list[RecognizerResult]:
        results = []
        for index in range(len(tokens)):
            size = match_phrase(tokens, index, self.lexicon.location_before)
            if not size:
                continue
            first = end = index + size
            while end < len(tokens) and end - first < 4:
                token = tokens[end]
                if (
                    token.is_word
                    and len(token.text) > 1
                    and not self.lexicon.is_plain_word(token.text)
                ):
                    end += 1
                elif token.text == "-" or token.text in ("sur", "en", "saint", "le", "la"):
                    following = tokens[end + 1] if end + 1 < len(tokens) else None
                    if end == first or following is None or not following.is_word:
                        break
                    if self.lexicon.is_plain_word(following.text):
                        break  # "chalon sur une aire": the town ends before "sur"
                    end += 1
                else:
                    break
            while end > first and not tokens[end - 1].is_word:
                end -= 1
            if end > first:
                results.append(_result(LOCATION, tokens[first].start, tokens[end - 1].end, 0.6))
        return results


class OfflineEmailRecognizer(EmailRecognizer):
    """Presidio's written e-mail recogniser, validating domains with tldextract's
    bundled public-suffix snapshot: no download, no cache written to disk.
    """

    _extract = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, fallback_to_snapshot=True)

    def validate_result(self, pattern_text: str) -> bool:
        return self._extract(pattern_text).fqdn != ""
