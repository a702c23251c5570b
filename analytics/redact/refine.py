"""Clean-up of the analyzer's results before they are merged.

- A PERSON span starts after its title ("Mme", "M.", "Dr": the title is not the
  name) and ends at punctuation ("Mme Moreau, CEO" → "Moreau").
- spaCy finds capitalised dictionary words at the start of a line or in capitals
  ("Conforme", "Plan", "COMEX") as names and places: alone, such a word is dropped,
  unless it is a known first name, surname or place.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from presidio_analyzer import RecognizerResult

from analytics.redact.lexicon import Lexicon
from analytics.redact.recognizers.base import (
    ADDRESS,
    CLAIM_NUMBER,
    LOCATION,
    NAME_PARTICLES,
    PERSON,
    POLICY_NUMBER,
    YEAR,
    read,
)
from analytics.redact.spoken import Token, match_phrase

_BREAKS = frozenset(',;:()[]{}|→•✓"“”«»/')
_SHOUTED_TOWN = 6  # letters: shorter words in capitals are acronyms
_ACRONYM = 4  # letters: a short unknown third word is a job's acronym ("cto", "rssi")
_LINE_START = frozenset(".!?:;\n-•*✓→|")


def refine(
    results: Sequence[RecognizerResult],
    text: str,
    lexicon: Lexicon,
    artifacts: object = None,
    language: str = "",
) -> list[RecognizerResult]:
    """The results with titles trimmed, names cut at punctuation, stray words dropped."""
    tokens = read(text, lexicon, artifacts).tokens  # type: ignore[arg-type]
    refined = []
    for result in results:
        if _recognizer(result).startswith("AnswerRecognizer"):
            refined.append(result)  # the answer to a request: recall first
            continue
        if result.entity_type == PERSON:
            parts = _person_parts(result, text, tokens, lexicon, language)
            for start, end in parts:
                refined.append(_with_place_prefix(_copy(result, start, end), text, tokens, lexicon))
            if not parts and _camel_town(result, text, tokens, lexicon):
                refined.append(_relabel(result, LOCATION))
            continue
        if result.entity_type == LOCATION and (
            _stray_word(result, text, tokens, lexicon, language)
            or _titles_only(result, tokens, lexicon)
            or _stop_words_only(result, tokens, lexicon)
            or (
                _is_spacy(result)
                and (language == "fr" or text == text.lower())
                and not _after_place_cue(tokens, result.start, lexicon)
                and _dictionary_words(_inside(tokens, result.start, result.end), lexicon)
                and not _word_town(_inside(tokens, result.start, result.end), lexicon)
            )
            or (
                _is_spacy(result)
                and language == "fr"
                and _unknown_place_without_cue(result, text, tokens, lexicon)
            )
        ):
            continue
        refined.append(_with_place_prefix(result, text, tokens, lexicon))
    return _places_and_codes(_with_postcodes(refined, text), tokens, lexicon, language)


# A postcode right after a town or an address ("in Bjert 6091", "NS\n B0J 2H0"): any
# country's digits (4 to 6, Swedish "840 24") or a Canadian code.
_POSTCODE_AFTER = re.compile(
    r"[ \t,]*\n?[ \t]*(\d{4,6}|\d{3} \d{2}|[A-Za-z]\d[A-Za-z] ?\d[A-Za-z]\d)(?![\w.,:/-]\w)"
)


_PLACE_WORDS = (" in", " at", " à", " near", " from", " de")


def _with_postcodes(results: list[RecognizerResult], text: str) -> list[RecognizerResult]:
    found = []
    for result in results:
        place = result.entity_type in (LOCATION, ADDRESS) or (
            # "in Costamezzana 43015": a town the model took for a name
            result.entity_type == PERSON
            and text[: result.start].rstrip().lower().endswith(_PLACE_WORDS)
        )
        if not place:
            continue
        match = _POSTCODE_AFTER.match(text, result.end)
        if match is None or (len(match.group(1)) == 4 and YEAR.fullmatch(match.group(1))):
            continue  # "in Paris 2024": a year
        found.append(RecognizerResult(ADDRESS, match.start(1), match.end(1), result.score * 0.9))
    return results + found


def _with_place_prefix(
    result: RecognizerResult, text: str, tokens: Sequence[Token], lexicon: Lexicon
) -> RecognizerResult:
    """ "port scott", "West Curtis": the compass or "port" word before a place is part of it."""
    if result.entity_type not in (PERSON, LOCATION):
        return result
    before = [token for token in tokens if token.end <= result.start]
    if not before:
        return result
    previous = before[-1]
    if previous.text not in lexicon.place_prefixes or text[previous.end : result.start] != " ":
        return result
    if text != text.lower() and not text[previous.start].isupper():
        return result
    if text == text.lower() and previous.text in lexicon.stop_words:
        return result  # "est", "new" said as words
    return _copy(result, previous.start, result.end)


def _camel_town(
    result: RecognizerResult, text: str, tokens: Sequence[Token], lexicon: Lexicon
) -> bool:
    """ "à RenardBourg", "after NorthVille": one CamelCase word cut as a brand, said
    where a town is named, is a town."""
    words = [token for token in _inside(tokens, result.start, result.end) if token.is_word]
    if len(words) != 1 or not _camel_word(text[words[0].start : words[0].end]):
        return False
    before = [token for token in tokens if token.end <= words[0].start]
    return bool(before) and (
        before[-1].text in lexicon.town_before
        or before[-1].text in lexicon.city_markers
        or before[-1].text in ("in", "at", "near", "from", "to", "de", "du")
    )


def _relabel(result: RecognizerResult, entity: str) -> RecognizerResult:
    return RecognizerResult(
        entity, result.start, result.end, result.score, result.analysis_explanation,
        result.recognition_metadata,
    )  # fmt: skip


def _copy(result: RecognizerResult, start: int, end: int) -> RecognizerResult:
    if start == result.start and end == result.end:
        return result
    return RecognizerResult(
        result.entity_type, start, end, result.score, result.analysis_explanation,
        result.recognition_metadata,
    )  # fmt: skip


def _inside(tokens: Sequence[Token], start: int, end: int) -> list[Token]:
    return [token for token in tokens if token.start >= start and token.end <= end]


def _person_parts(
    result: RecognizerResult,
    text: str,
    tokens: Sequence[Token],
    lexicon: Lexicon,
    language: str = "",
) -> list[tuple[int, int]]:
    words = _inside(tokens, result.start, result.end)
    parts: list[list[Token]] = [[]]
    for token in words:
        if parts[-1] and (
            set(text[parts[-1][-1].end : token.start]) & _BREAKS
            or (lexicon.is_title(token.text, language) and parts[-1][-1].is_word)
        ):
            parts.append([])  # "julie petit m kevin zhang": a title starts another name
        parts[-1].append(token)
    lower = text == text.lower()
    if lower:
        parts = _before_titles(parts, lexicon, language)
    parts = [piece for part in parts for piece in _cut_name(part, text, lexicon, lower)]
    kept = []
    for number, part in enumerate(parts):
        while part and (lexicon.is_title(part[0].text, language) or not part[0].is_word):
            if part[0].is_word and len(part) == 1:
                break
            part = part[1:]
        if part and lexicon.is_title(part[0].text, language) and len(part) == 1:
            continue  # a title alone: "Mme", "M."
        while part and not part[-1].is_word:
            part = part[:-1]
        while (
            language == "fr"
            and len(part) > 1
            and part[0].text in lexicon.stop_words
            and part[0].text not in NAME_PARTICLES
            and not lexicon.is_title(part[0].text, language)
        ):
            part = part[1:]  # "Pour Deloitte …": a French name starts with no stop word
        if not part:
            continue
        # spaCy's French model reads capitalised nouns as names ("Directeur Juridique");
        # English dictionaries list first names ("frank", "scott"), so there only a
        # dictionary word after punctuation is dropped.
        spacy_noun = _is_spacy(result) and (language == "fr" or lower)
        article = part[0].text in lexicon.determiners
        if (number or spacy_noun or article) and _dictionary_words(part, lexicon):
            continue  # "…, Manager", "(interne", "Directeur Juridique"
        if _is_spacy(result) and _stray_word_tokens(part, text, lexicon, language):
            continue
        if _is_spacy(result) and language == "fr" and _lone_firm_word(part, text, tokens, lexicon):
            continue
        if lower and _before_a_title(part, tokens, lexicon, language):
            continue
        if lower:
            titled = _after_title(part[0], tokens, lexicon, language)
            part = _trim_words(part, lexicon, _is_spacy(result), language, titled=titled)
            if not part:
                continue
        kept.append((part[0].start, part[-1].end))
    return kept


_NAME_PREFIXES = ("mc", "mac", "le", "la", "de", "di", "da", "du", "van", "von", "o", "fitz", "st")
_FIRM_ACRONYM = 4  # letters: "DSI", "CEO", "DRH" after a name are its owner's job


def _camel_word(written: str) -> bool:
    """ "SecNumCloud", "KnowBe4", "BioNTech": a brand, not a name ("McDonald", "LeCun" are)."""
    if not written[:1].isupper():
        return written[:1].islower() and any(ch.isupper() for ch in written[1:])
    inner = [i for i in range(1, len(written)) if written[i].isupper() and written[i - 1].islower()]
    if not inner:
        return False
    return not (len(inner) == 1 and written[: inner[0]].lower() in _NAME_PREFIXES)


def _cut_name(part: list[Token], text: str, lexicon: Lexicon, lower: bool) -> list[list[Token]]:
    """A name ends before a brand ("Ugur Sahin de BioNTech") and before a job's acronym
    ("Karim Benzema DSI"); "de" + a firm stays (surnames take "de" too).
    """
    if not lower:
        for position, token in enumerate(part):
            written = text[token.start : token.end]
            glued = token.end < len(text) and text[token.end].isdigit() and token.is_word
            if token.is_word and (_camel_word(written) or (glued and written[:1].isupper())):
                part = part[:position]
                break
    while not lower and len(part) > 1 and part[-1].is_word:
        written = text[part[-1].start : part[-1].end]
        if not (written.isupper() and 1 < len(written) <= _FIRM_ACRONYM):
            break
        if part[-1].text in lexicon.surnames or part[-1].text in lexicon.first_names:
            break
        part = part[:-1]
    return [part] if part else []


def _before_titles(parts: list[list[Token]], lexicon: Lexicon, language: str) -> list[list[Token]]:
    """ "courtier m jean marc", "le cabinet partner m eric": the words said before a title
    are the title's sentence (a job, a firm), unless a known name is among them.
    """
    kept = []
    for number, part in enumerate(parts):
        follows = number + 1 < len(parts) and lexicon.is_title(parts[number + 1][0].text, language)
        if follows and not any(
            token.text in lexicon.first_names or token.text in lexicon.surnames for token in part
        ):
            continue
        kept.append(part)
    return kept


def _before_a_title(
    part: Sequence[Token], tokens: Sequence[Token], lexicon: Lexicon, language: str
) -> bool:
    """ "hiscox courtier | m jean …": words right before a title, none a known name."""
    after = [token for token in tokens if token.start >= part[-1].end]
    if not after or not lexicon.is_title(after[0].text, language) or len(after) < 2:
        return False
    return not any(
        token.text in lexicon.first_names or token.text in lexicon.surnames for token in part
    )


def _after_title(first: Token, tokens: Sequence[Token], lexicon: Lexicon, language: str) -> bool:
    before = [token for token in tokens if token.end <= first.start]
    return bool(before) and lexicon.is_title(before[-1].text, language)


def _lone_firm_word(
    part: Sequence[Token], text: str, tokens: Sequence[Token], lexicon: Lexicon
) -> bool:
    """French documents name people with a title or a first name: one capitalised word
    nobody knows, with neither ("avec Deloitte", "certifiée par Ecocert"), is a firm.
    """
    words = [token for token in part if token.is_word]
    if len(words) != 1 or text == text.lower():
        return False
    word = words[0].text
    if word in lexicon.first_names or word in lexicon.surnames:
        return False
    line_start = text.rfind("\n", 0, words[0].start) + 1
    line_end = text.find("\n", words[0].end)
    line = text[line_start : len(text) if line_end < 0 else line_end]
    if sum(ch.isalpha() for ch in line) == len(word):
        return False  # a word alone on its turn: an answer ("Leblanc.")
    before = [t for t in tokens if t.end <= words[0].start and (t.is_word or t.text != ".")]
    named = bool(before) and (
        lexicon.is_title(before[-1].text, "fr")
        or before[-1].text in lexicon.lone_name_cues
        or any(
            match_phrase(before, first, lexicon.name_before) == len(before) - first
            and tuple(t.text for t in before[first:]) not in lexicon.name_weak_before
            for first in range(max(0, len(before) - 4), len(before))
        )
    )
    return not named


def _trim_words(
    part: list[Token],
    lexicon: Lexicon,
    spacy: bool,
    language: str = "",
    *,
    titled: bool = False,
) -> list[Token]:
    """Lower-case text: the words a name ran on into are cut.

    A title or particle before the name goes ("docteur cohen", "le directeur"). After a
    known surname or a place no dictionary word follows ("moreau auditeur"); after any
    other first word the second is taken as the surname ("thibaut hardy"). A
    third word stays when it is a known name, follows two first names ("anne sophie
    pastel") or a particle, or is no dictionary word nor a short acronym: "marie
    dubois cto", "claire fontaine directrice" are cut after the surname. A spaCy span of dictionary words alone
    ("commentaire", "director") is dropped.
    """

    def known(token: Token) -> bool:
        return lexicon.is_listed_name(token.text)

    def ordinary(token: Token) -> bool:
        word = token.text
        return (
            token.is_word
            and not known(token)
            and (
                lexicon.is_dictionary_word(word)
                or word in lexicon.titles
                or lexicon.is_elided_word(word)  # "linstitut", "lagence"
            )
        )

    while len(part) > 1 and (
        lexicon.is_title(part[0].text, language)
        or (part[0].text in NAME_PARTICLES and ordinary(part[1]))  # not "le goff"
    ):
        part = part[1:]
    names: list[Token] = []
    for position, token in enumerate(part):
        if not token.is_word or token.text in NAME_PARTICLES or len(token.text) == 1:
            continue  # particles and initials ("kate m begum") are not counted
        after_particle = position > 0 and part[position - 1].text in NAME_PARTICLES
        if names and not after_particle and _common_noun(token, lexicon, language):
            part = part[:position]  # "m weber validation", "mme varza administratrice"
            break
        if not names:
            keep = True
        elif len(names) == 1:
            # "moreau auditeur", "marseille directrice": a word after a surname or a
            # place is not part of the name; after an unknown word it may be the surname.
            first = names[0].text
            ended = (first in lexicon.surnames and first not in lexicon.first_names) or bool(
                lexicon.vocabulary.place_at([first], 0)
            )
            keep = after_particle or not (ended and ordinary(token))
        else:
            # "anne sophie pastel": two first names, then the surname ("sophie laurent
            # drh": the second is a surname too, so the name ends there).
            first_names = all(t.text in lexicon.first_names for t in names[:2]) and (
                names[1].text not in lexicon.surnames
            )
            # "sarah cohen inria": a first name and a known surname make a whole name.
            whole = (
                len(names) == 2
                and names[0].text in lexicon.first_names
                and names[1].text in lexicon.surnames
            ) or len(names) >= 3
            keep = (
                known(token)
                or after_particle
                or (
                    not whole
                    and (first_names or (not ordinary(token) and len(token.text) > _ACRONYM))
                )
            )
        if not keep:
            part = part[:position]
            break
        names.append(token)
    while part and (part[-1].text in NAME_PARTICLES or not part[-1].is_word):
        part = part[:-1]
    if len(part) == 1 and lexicon.is_title(part[0].text, language):
        return []
    words = [t for t in part if t.is_word and len(t.text) > 1]  # not spelled letters
    if spacy and words and all(ordinary(t) for t in words):
        return []  # "commentaire", "director": words of the sentence
    return part


# French endings of nouns and adjectives of the sentence that surnames hardly have
# ("validation", "déploiement", "sécurité", "administratrice", "juridique").
_NOUN_ENDINGS = ("tion", "sion", "ment", "ité", "isme", "ance", "ence", "trice", "ique")


def _common_noun(token: Token, lexicon: Lexicon, language: str) -> bool:
    """French: a dictionary word with a noun's ending, no known name, ends a name."""
    word = token.text
    return (
        language == "fr"
        and word.endswith(_NOUN_ENDINGS)
        and len(word) > 5
        and word not in lexicon.first_names
        and word not in lexicon.surnames
        and lexicon.is_dictionary_word(word)
    )


def _recognizer(result: RecognizerResult) -> str:
    return str((result.recognition_metadata or {}).get("recognizer_name", ""))


def _is_spacy(result: RecognizerResult) -> bool:
    return "Spacy" in _recognizer(result)


def _after_place_cue(tokens: Sequence[Token], start: int, lexicon: Lexicon) -> bool:
    """ "près de orange", "near reading": a place is named after these words."""
    before = [index for index, token in enumerate(tokens) if token.end <= start]
    if not before:
        return False
    last = before[-1]
    for first in range(max(0, last - 3), last + 1):
        size = match_phrase(tokens, first, lexicon.location_before)
        if size and first + size == last + 1:
            return True
    return False


def _dictionary_words(part: Sequence[Token], lexicon: Lexicon) -> bool:
    """Only dictionary words, none a known name or place ("Directeur Juridique")."""
    words = [token.text for token in part if token.is_word]
    while len(words) > 1 and words[0] in lexicon.determiners:
        words = words[1:]  # "the united states"
    if words and lexicon.vocabulary.place_at(words, 0) == len(words):
        return False  # "united states", "new zealand"
    return bool(words) and all(
        lexicon.is_dictionary_word(word)
        and not lexicon.is_listed_name(word)
        and not lexicon.vocabulary.place_at([word], 0)
        for word in words
    )


def _unknown_place_without_cue(
    result: RecognizerResult, text: str, tokens: Sequence[Token], lexicon: Lexicon
) -> bool:
    """French: a model's place of words nobody knows, not where a town is named.

    "avec Splunk", "certifié SecNumCloud", "(Dircom)": firms and products read as
    places. A town the gazetteer lacks is kept after "à", "après", "près de", "la
    mairie de", a postcode or a street.
    """
    part = _inside(tokens, result.start, result.end)
    words = [token.text for token in part if token.is_word]
    if not words or any(
        lexicon.vocabulary.place_at(words, i) or words[i] in lexicon.vocabulary.word_towns
        for i in range(len(words))
    ):
        return False
    if any(lexicon.is_dictionary_word(word) for word in words):
        return False  # dictionary words: the rule above
    before = [token for token in tokens if token.end <= result.start]
    if not before:
        return True
    previous = before[-1]
    if not previous.is_word:
        # "59727 Coste-sur-Gautier", "12, rue ..., Lesage": after a number or a street.
        return not (previous.text.isdigit() and len(previous.text) >= 4)
    if previous.text in lexicon.town_before:
        return False
    if previous.text in lexicon.lone_name_cues or all(map(lexicon.is_listed_name, words)):
        return False  # "chez Kevin", "avec Zhang": a person the model took for a place
    if previous.text in ("de", "d", "du", "des") and len(before) > 1:
        noun = before[-2].text
        if noun in lexicon.town_nouns or noun in lexicon.town_before:
            return False
        if lexicon.street_types.get(noun):
            return False  # "chemin de Delaunay"
    return not lexicon.street_types.get(previous.text)  # "avenue Bazin"


def _word_town(part: Sequence[Token], lexicon: Lexicon) -> bool:
    """ "à Lille", "au CHU de bordeaux": the model's place is a town whose name is a word."""
    words = [token.text for token in part if token.is_word]
    return len(words) == 1 and words[0] in lexicon.vocabulary.word_towns


def _stop_words_only(result: RecognizerResult, tokens: Sequence[Token], lexicon: Lexicon) -> bool:
    """A place of only stop words ("de", "of the"): what is left of a cut span."""
    inside = _inside(tokens, result.start, result.end)
    return bool(inside) and all(token.text.lower() in lexicon.stop_words for token in inside)


def _titles_only(result: RecognizerResult, tokens: Sequence[Token], lexicon: Lexicon) -> bool:
    """ "Dr.", "Pr" taken as a place: a title alone is never personal data."""
    words = [t for t in _inside(tokens, result.start, result.end) if t.is_word]
    return bool(words) and all(t.text in lexicon.titles for t in words)


def _stray_word(
    result: RecognizerResult,
    text: str,
    tokens: Sequence[Token],
    lexicon: Lexicon,
    language: str = "",
) -> bool:
    return _is_spacy(result) and _stray_word_tokens(
        _inside(tokens, result.start, result.end), text, lexicon, language
    )


def _stray_word_tokens(
    part: Sequence[Token], text: str, lexicon: Lexicon, language: str = ""
) -> bool:
    """One capitalised dictionary word at a line start or in capitals, not a known name."""
    words = [token for token in part if token.is_word]
    if len(words) != 1:
        return False
    token = words[0]
    word = token.text
    if word in lexicon.first_names or word in lexicon.surnames:
        return False
    if lexicon.vocabulary.place_at([word], 0):
        return False
    if not lexicon.is_dictionary_word(word) and not text[token.start : token.end].isupper():
        return False
    written = text[token.start : token.end]
    if (
        language != "fr"
        and written.isupper()
        and len(word) >= _SHOUTED_TOWN
        and not lexicon.is_dictionary_word(word)
    ):
        return False  # "KURZENKIRCHEN": an address's town in capitals (French: brands)
    before = text[: token.start].rstrip(" \t\"'“«(")
    at_start = not before or before[-1] in _LINE_START
    shouted = text[token.start : token.end].isupper() and len(word) > 1
    return at_start or shouted


# -- places and codes (wave6-places) -------------------------------------------------
_PARTIAL_DIGITS = 4  # the last four of a reference, as card slips print them


def _places_and_codes(
    results: list[RecognizerResult], tokens: Sequence[Token], lexicon: Lexicon, language: str = ""
) -> list[RecognizerResult]:
    """A place ends before a title ("Microsoft France M. Niccoli": the "M" is the
    name's); the last four digits of a reference ("the reference ends in 4471") name
    no one and stay readable, as card numbers' last four do on receipts."""
    kept = []
    for result in results:
        if result.entity_type == LOCATION:
            words = [t for t in _inside(tokens, result.start, result.end) if t.is_word]
            while len(words) > 1 and lexicon.is_title(words[-1].text, "fr"):
                words.pop()
            if words and words[-1].end < result.end:
                result = _copy(result, result.start, words[-1].end)
        if result.entity_type == PERSON and language == "fr":
            result = _without_french_tail(result, tokens, lexicon)
        if result.entity_type in (CLAIM_NUMBER, POLICY_NUMBER) and _partial_reference(
            result, tokens, lexicon
        ):
            continue
        kept.append(result)
    return kept


def _partial_reference(result: RecognizerResult, tokens: Sequence[Token], lexicon: Lexicon) -> bool:
    inside = _inside(tokens, result.start, result.end)
    digits = sum(
        len(t.text) if t.is_digits else 1
        for t in inside
        if t.is_digits or lexicon.is_number_word(t.text)
    )
    if digits > _PARTIAL_DIGITS:
        return False
    before = [t.text for t in tokens if t.end <= result.start][-4:]
    return any(
        tuple(before[-len(cue) :]) == cue for cue in lexicon.partial_cues if len(cue) <= len(before)
    )


_ARTICLES = frozenset({"le", "la", "les", "l", "du", "des"})


def _without_french_tail(
    result: RecognizerResult, tokens: Sequence[Token], lexicon: Lexicon
) -> RecognizerResult:
    """French: the sentence a name ran on into is cut ("Mme Blanc le DSI", "le Dr
    Pialoux le CHU", "M. Weber présentez"): an article and a French dictionary word
    that is no known name, or a verb in "-ez", after a word that is surely a name
    ("Yves Le Goff" stays whole)."""

    def known(word: str) -> bool:
        return word in lexicon.first_names or word in lexicon.surnames

    def sure(word: str) -> bool:
        return known(word) or not lexicon.is_dictionary_word(word)

    def ordinary(word: str) -> bool:
        return not known(word) and lexicon.vocabulary.in_tables(word)

    words = [t for t in _inside(tokens, result.start, result.end) if t.is_word]
    while len(words) >= 2:
        last = words[-1].text
        if len(words) >= 3 and words[-2].text in _ARTICLES and ordinary(last):
            cut = 2  # "le laboratoire", "du cabinet"
        elif last.endswith("ez") and len(last) > 4 and ordinary(last):
            cut = 1  # "présentez": a verb the speaker said next
        else:
            break
        rest = words[:-cut]
        if not any(sure(t.text) for t in rest) or rest[-1].text in _ARTICLES:
            break
        words = rest
    if words and words[-1].end < result.end:
        return _copy(result, result.start, words[-1].end)
    return result
