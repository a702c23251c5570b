"""Evaluation forms as versioned data: sections of weighted questions, in TOML.

A question is answered ``yes_no_na`` (yes / no / not applicable) or on a ``scale``
(integers ``min`` .. ``max``). It is either automatic — bound to a rubric item of
:mod:`analytics.quality` (``auto = "rubric:greeting"``) or to a computed figure
(``auto = "figure:interruptions"``, yes when within ``yes_min`` .. ``yes_max``) — or
``manual``, answered by an evaluator. A form is identified by name and version; a
version once imported never changes (a new version is a new file).
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from analytics.errors import FormError
from analytics.models import QUALITY_MEASURES
from analytics.quality import RUBRIC_ITEMS

DEFAULT_FORM_PATH = Path(__file__).resolve().parents[1] / "data" / "forms" / "default.toml"
ANSWER_TYPES = ("yes_no_na", "scale")
# Computed figures a question may rest on: the quality figures and the abuse flag.
FIGURES = (*QUALITY_MEASURES, "abuse_flagged")
YES_NO_NA = ("yes", "no", "na")
_ID = re.compile(r"[a-z][a-z0-9_]{0,63}")
MAX_QUESTIONS = 200


@dataclass(frozen=True)
class Question:
    id: str
    section: str
    text: str
    weight: float
    type: str  # yes_no_na | scale
    auto: str = "manual"  # manual | rubric:<item> | figure:<name>
    min: int = 0
    max: int = 0
    yes_min: float | None = None
    yes_max: float | None = None

    @property
    def manual(self) -> bool:
        return self.auto == "manual"

    @property
    def binding(self) -> tuple[str, str]:
        """(kind, name): ("rubric", "greeting"), ("figure", "agent_wpm"), ("manual", "")."""
        kind, _, name = self.auto.partition(":")
        return kind, name

    def choices(self) -> tuple[str, ...]:
        """The answers an evaluator may give."""
        if self.type == "yes_no_na":
            return YES_NO_NA
        return (*(str(v) for v in range(self.min, self.max + 1)), "na")

    def share(self, value: str | None) -> float | None:
        """The share of the weight an answer earns; None: not applicable / not answered."""
        if value is None or value == "na":
            return None
        if self.type == "yes_no_na":
            return 1.0 if value == "yes" else 0.0
        span = self.max - self.min
        return (float(value) - self.min) / span if span else 1.0

    def check_value(self, value: str) -> str:
        """A human answer, normalised; ValueError naming the allowed ones."""
        value = value.strip().lower()
        if value not in self.choices():
            raise ValueError(f"question {self.id}: answer one of {', '.join(self.choices())}")
        return value


@dataclass(frozen=True)
class Section:
    id: str
    title: str
    questions: tuple[Question, ...]


@dataclass(frozen=True)
class Form:
    name: str
    version: int
    title: str
    sections: tuple[Section, ...]

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def questions(self) -> tuple[Question, ...]:
        return tuple(q for s in self.sections for q in s.questions)

    def question(self, question_id: str) -> Question:
        for q in self.questions:
            if q.id == question_id:
                return q
        raise KeyError(question_id)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Form:
        data = json.loads(text)
        sections = tuple(
            Section(s["id"], s["title"], tuple(Question(**q) for q in s["questions"]))
            for s in data["sections"]
        )
        return cls(data["name"], int(data["version"]), data["title"], sections)


def parse_form(text: str, source: str) -> Form:
    """A form from TOML text.

    Raises:
        FormError: naming ``source`` and the field at fault.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise FormError(source, "", f"not valid TOML ({exc})") from None
    name = _id(data, "name", source, "name")
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise FormError(source, "version", "must be a whole number from 1")
    title = _text(data, "title", source, "title", default=name)
    raw_sections = data.get("sections")
    if not isinstance(raw_sections, list) or not raw_sections:
        raise FormError(source, "sections", "a form needs at least one [[sections]]")
    sections = tuple(_section(raw, source, f"sections[{i}]") for i, raw in enumerate(raw_sections))
    _check_unique(sections, source)
    return Form(name=name, version=version, title=title, sections=sections)


def load_form(path: Path) -> Form:
    """A form file. Raises: FormError (unreadable or invalid), naming the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FormError(str(path), "", f"cannot read the file ({exc})") from None
    return parse_form(text, str(path))


def default_form() -> Form:
    """Today's rubric as a form: ``default`` version 1."""
    return load_form(DEFAULT_FORM_PATH)


def source_digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def parse_ref(ref: str) -> tuple[str, int | None]:
    """``NAME`` or ``NAME@VERSION`` → (name, version or None)."""
    name, at, version = ref.strip().partition("@")
    if not _ID.fullmatch(name):
        raise ValueError(f"form {ref!r}: a form is NAME or NAME@VERSION")
    if not at:
        return name, None
    if not version.isdigit() or int(version) < 1:
        raise ValueError(f"form {ref!r}: the version is a whole number from 1")
    return name, int(version)


# --- validation -----------------------------------------------------------------------


def _id(data: Mapping[str, Any], key: str, source: str, where: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise FormError(source, where, "lower-case letters, digits and '_', starting with a letter")
    return value


def _text(data: Mapping[str, Any], key: str, source: str, where: str, default: str = "") -> str:
    value = data.get(key, default)
    if not isinstance(value, str) or not value.strip():
        raise FormError(source, where, "must be a non-empty string")
    return value.strip()


def _number(data: Mapping[str, Any], key: str, source: str, where: str) -> float | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FormError(source, where, "must be a number")
    return float(value)


def _section(raw: Any, source: str, where: str) -> Section:
    if not isinstance(raw, Mapping):
        raise FormError(source, where, "must be a table")
    section_id = _id(raw, "id", source, f"{where}.id")
    title = _text(raw, "title", source, f"{where}.title", default=section_id)
    questions = raw.get("questions")
    if not isinstance(questions, list) or not questions:
        raise FormError(source, f"{where}.questions", "a section needs at least one question")
    return Section(
        section_id,
        title,
        tuple(
            _question(q, section_id, source, f"{where}.questions[{i}]")
            for i, q in enumerate(questions)
        ),
    )


_QUESTION_KEYS = {"id", "text", "weight", "type", "auto", "min", "max", "yes_min", "yes_max"}


def _question(raw: Any, section: str, source: str, where: str) -> Question:
    if not isinstance(raw, Mapping):
        raise FormError(source, where, "must be a table")
    unknown = sorted(set(raw) - _QUESTION_KEYS)
    if unknown:
        raise FormError(source, f"{where}.{unknown[0]}", "unknown field")
    question_id = _id(raw, "id", source, f"{where}.id")
    weight = _number(raw, "weight", source, f"{where}.weight")
    if weight is None or weight <= 0:
        raise FormError(source, f"{where}.weight", "must be a positive number")
    kind = raw.get("type")
    if kind not in ANSWER_TYPES:
        raise FormError(source, f"{where}.type", f"must be one of {', '.join(ANSWER_TYPES)}")
    low, high = raw.get("min", 0), raw.get("max", 0)
    if kind == "scale":
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (low, high)):
            raise FormError(source, f"{where}.min", "a scale needs whole numbers min and max")
        if not 0 <= low < high <= 100:
            raise FormError(source, f"{where}.max", "a scale needs 0 <= min < max <= 100")
    auto = raw.get("auto", "manual")
    _check_auto(auto, kind, raw, source, where)
    return Question(
        id=question_id,
        section=section,
        text=_text(raw, "text", source, f"{where}.text"),
        weight=weight,
        type=kind,
        auto=auto,
        min=int(low) if kind == "scale" else 0,
        max=int(high) if kind == "scale" else 0,
        yes_min=_number(raw, "yes_min", source, f"{where}.yes_min"),
        yes_max=_number(raw, "yes_max", source, f"{where}.yes_max"),
    )


def _check_auto(auto: Any, kind: str, raw: Mapping[str, Any], source: str, where: str) -> None:
    field = f"{where}.auto"
    if not isinstance(auto, str):
        raise FormError(source, field, "must be a string")
    binding, _, name = auto.partition(":")
    if binding == "manual" and not name:
        return
    if binding == "rubric":
        if name not in RUBRIC_ITEMS:
            raise FormError(
                source, field, f"unknown rubric item (one of {', '.join(RUBRIC_ITEMS)})"
            )
        return
    if binding == "figure":
        if name not in FIGURES:
            raise FormError(source, field, f"unknown figure (one of {', '.join(FIGURES)})")
        if kind != "yes_no_na":
            raise FormError(source, f"{where}.type", "a figure answers a yes_no_na question")
        if raw.get("yes_min") is None and raw.get("yes_max") is None:
            raise FormError(source, f"{where}.yes_min", "a figure needs yes_min and/or yes_max")
        return
    raise FormError(source, field, 'must be "manual", "rubric:<item>" or "figure:<name>"')


def _check_unique(sections: tuple[Section, ...], source: str) -> None:
    seen: set[str] = set()
    count = 0
    for i, section in enumerate(sections):
        for j, q in enumerate(section.questions):
            if q.id in seen:
                raise FormError(
                    source, f"sections[{i}].questions[{j}].id", f"duplicate question id {q.id!r}"
                )
            seen.add(q.id)
            count += 1
    if count > MAX_QUESTIONS:
        raise FormError(source, "sections", f"at most {MAX_QUESTIONS} questions")
