"""Categories engine: known answers for each condition kind, combinations, windows,
fuzzy phrases on ASR spellings, and errors that name the file and the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from analytics.errors import CallqaError, UsageError
from analytics.insights.categories import (
    CallFacts,
    CategoryError,
    categorize,
    evaluate,
    examples,
    from_source,
    load_file,
    parse_category,
    parse_toml,
)
from analytics.models import RedactedSegment

FIGURES: dict[str, Any] = {
    "non_talk_time_s": 20.0,
    "longest_silence_s": 16.0,
    "overtalk_s": 1.0,
    "interruptions": 3,
    "talk_time_agent_s": 30.0,
    "talk_time_customer_s": 10.0,
    "sentiment_start": 0.2,
    "sentiment_end": -0.5,
    "abuse_severity": "medium",
    "flagged": True,
    "greeting": True,
    "hold_etiquette": False,
    "score": 64,
    "duration_s": 60.0,
}

# (speaker, start, end, text): a French call, 60 s
FR_CALL = (
    ("agent", 0.0, 4.0, "Bonjour, <PERSON> à votre écoute"),
    ("customer", 5.0, 9.0, "Je veux parler à votre responsable tout de suite"),
    ("agent", 10.0, 14.0, "Je vais vous mettre en attente un instant"),
    ("customer", 30.0, 35.0, "Sinon je vais résilier mon contrat"),
    ("agent", 50.0, 58.0, "Je vous rappelle demain matin, au revoir"),
)


def facts(
    segments: tuple[tuple[str, float, float, str], ...] = FR_CALL,
    language: str = "fr",
    figures: dict[str, Any] | None = None,
) -> CallFacts:
    return CallFacts(
        call_id="c1",
        language=language,
        duration_s=60.0,
        segments=tuple(
            RedactedSegment(speaker=spk, start=s, end=e, text=t)  # type: ignore[arg-type]
            for spk, s, e, t in segments
        ),
        figures=FIGURES if figures is None else figures,
    )


def rule(spec: dict[str, Any]) -> Any:
    return parse_category({"name": "t", "rule": spec}, "test.toml")


def outcome(spec: dict[str, Any], call: CallFacts | None = None) -> tuple[int, ...] | None:
    match = evaluate(rule(spec), call or facts())
    return None if match is None else match.evidence


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        # exact phrases, case and accents aside
        ({"phrases": "votre responsable"}, (1,)),
        ({"phrases": "VOTRE RESPONSABLE"}, (1,)),
        ({"phrases": "resilier mon contrat"}, (3,)),
        ({"phrases": "résilier mon contrat"}, (3,)),
        ({"phrases": "responsable votre"}, None),  # word order counts
        ({"phrases": "respons"}, None),  # whole words only
        # any-of lists
        ({"phrases": ["nothing here", "je vous rappelle"]}, (4,)),
        ({"phrases": ["resilier", "responsable"]}, (1, 3)),
        # placeholders are words
        ({"phrases": "bonjour <PERSON>"}, (0,)),
        # per language
        ({"phrases": {"en": ["call you back"], "fr": ["je vous rappelle"]}}, (4,)),
        ({"phrases": {"en": ["responsable"]}}, None),
        ({"phrases": {"*": ["responsable"]}}, (1,)),
    ],
)
def test_phrases(spec: dict[str, Any], expected: tuple[int, ...] | None) -> None:
    assert outcome(spec) == expected


@pytest.mark.parametrize(
    ("speaker", "phrase", "expected"),
    [
        ("customer", "responsable", (1,)),
        ("agent", "responsable", None),
        ("any", "responsable", (1,)),
        ("agent", "je vais", (2,)),
        ("customer", "je vais", (3,)),
        ("any", "je vais", (2, 3)),
    ],
)
def test_speaker(speaker: str, phrase: str, expected: tuple[int, ...] | None) -> None:
    assert outcome({"phrases": phrase, "speaker": speaker}) == expected


@pytest.mark.parametrize(
    ("window", "phrase", "expected"),
    [
        ({"first_s": 10}, "responsable", (1,)),  # starts at 5 s
        ({"first_s": 5}, "responsable", None),  # must start before 5 s
        ({"last_s": 15}, "je vous rappelle", (4,)),  # ends at 58 s > 45 s
        ({"last_s": 15}, "responsable", None),
        ({"after": "en attente"}, "resilier", (3,)),  # after segment 2
        ({"after": "resilier"}, "responsable", None),  # it came before
        ({"after": "en attente", "after_within_s": 20}, "resilier", (3,)),  # 16 s later
        ({"after": "en attente", "after_within_s": 10}, "resilier", None),
        ({"after": {"phrases": "responsable", "speaker": "agent"}}, "resilier", None),
        ({"after": {"phrases": "responsable", "speaker": "customer"}}, "resilier", (3,)),
    ],
)
def test_time_windows(
    window: dict[str, Any], phrase: str, expected: tuple[int, ...] | None
) -> None:
    assert outcome({"phrases": phrase, **window}) == expected


@pytest.mark.parametrize(
    ("heard", "phrase", "fuzzy", "expected"),
    [
        # ASR spellings of what was said
        ("je vais résillier mon contra", "resilier mon contrat", True, True),
        ("je vais resiller mon contrat", "resilier mon contrat", True, True),
        ("i want to speek to a manger", "speak to a manager", True, True),
        ("can you cal me bak", "call me back", True, True),
        ("i want to speek to a manger", "speak to a manager", False, False),
        # too far from the phrase
        ("je vais regarder mon compte", "resilier mon contrat", True, False),
        ("the weather is nice", "speak to a manager", True, False),
        # a strict threshold refuses a looser spelling
        ("je vais resiller mon contrat", "resilier mon contrat", 99, False),
    ],
)
def test_fuzzy_phrases(heard: str, phrase: str, fuzzy: Any, expected: bool) -> None:
    call = facts((("customer", 0.0, 3.0, heard),), language="en")
    assert (outcome({"phrases": phrase, "fuzzy": fuzzy}, call) is not None) is expected


@pytest.mark.parametrize(
    ("figure", "op", "value", "expected"),
    [
        ("non_talk_time_s", ">=", 20, True),
        ("non_talk_time_s", ">", 20, False),
        ("longest_silence_s", ">=", 15, True),
        ("interruptions", "<", 3, False),
        ("interruptions", "==", 3, True),
        ("talk_ratio", ">", 0.7, True),  # 30 / 40
        ("talk_ratio", ">", 0.8, False),
        ("sentiment_start", ">", 0, True),
        ("sentiment_end", "<", -0.4, True),
        ("abuse_severity", ">=", "medium", True),
        ("abuse_severity", ">=", "high", False),
        ("abuse_severity", "==", "medium", True),
        ("hold_etiquette", "==", False, True),
        ("greeting", "==", False, False),
        ("flagged", "!=", False, True),
        ("empathy", "==", True, False),  # unknown for this call: no match
        ("score", "<", 70, True),
    ],
)
def test_figures(figure: str, op: str, value: Any, expected: bool) -> None:
    spec = {"figure": figure, "op": op, "value": value}
    assert (outcome(spec) is not None) is expected
    assert outcome(spec) in (None, ())  # figures carry no segment evidence


def test_talk_ratio_without_talk_is_unknown() -> None:
    call = facts(figures={"talk_time_agent_s": 0.0, "talk_time_customer_s": 0.0})
    assert outcome({"figure": "talk_ratio", "op": "<", "value": 1}, call) is None


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"all": [{"phrases": "responsable"}, {"phrases": "resilier"}]}, (1, 3)),
        ({"all": [{"phrases": "responsable"}, {"phrases": "absent"}]}, None),
        ({"any": [{"phrases": "absent"}, {"phrases": "resilier"}]}, (3,)),
        ({"any": [{"phrases": "absent"}, {"phrases": "missing"}]}, None),
        ({"not": {"phrases": "absent"}}, ()),
        ({"not": {"phrases": "resilier"}}, None),
        (
            {
                "all": [
                    {"figure": "longest_silence_s", "op": ">=", "value": 15},
                    {"not": {"phrases": "en attente", "speaker": "agent"}},
                ]
            },
            None,  # the hold was announced
        ),
        (
            {
                "all": [
                    {"figure": "longest_silence_s", "op": ">=", "value": 15},
                    {"not": {"phrases": "ne quittez pas", "speaker": "agent"}},
                    {"any": [{"phrases": "rappelle", "last_s": 20}, {"phrases": "absent"}]},
                ]
            },
            (4,),
        ),
    ],
)
def test_combinations(spec: dict[str, Any], expected: tuple[int, ...] | None) -> None:
    assert outcome(spec) == expected


def test_the_example_set_on_known_calls() -> None:
    cats = examples()
    assert [c.name for c in cats] == [
        "escalation request",
        "cancellation threat",
        "hold without announcement",
        "customer not identified",
        "callback promised",
    ]
    fr = {m.category: m.evidence for m in categorize(cats, facts())}
    # announced hold ("mettre en attente"); no identification asked in 60 s
    assert fr == {
        "escalation request": (1,),
        "cancellation threat": (3,),
        "customer not identified": (),
        "callback promised": (4,),
    }
    en = facts(
        (
            ("agent", 0.0, 4.0, "Hello, can I have your policy number please"),
            ("customer", 5.0, 9.0, "I want to speek to a manger now"),
            ("agent", 40.0, 45.0, "Sorry for the wait, I will call you back tomorrow"),
        ),
        language="en",
    )
    assert {m.category: m.evidence for m in categorize(cats, en)} == {
        "escalation request": (1,),
        "hold without announcement": (),
        "callback promised": (2,),
    }


def test_a_definition_round_trips_through_its_source() -> None:
    for category in examples():
        again = from_source(category.source)
        assert again == category
        assert again.source == category.source


@pytest.mark.parametrize(
    ("toml", "field"),
    [
        ('[[categories]]\nrule = { phrases = "x" }', "categories[0].name"),
        ('[[categories]]\nname = "a"', "categories[0].rule"),
        ('[[categories]]\nname = "a"\nrule = { phrases = [] }', "categories[0].rule.phrases"),
        (
            '[[categories]]\nname = "a"\nrule = { phrases = "x", speaker = "boss" }',
            "categories[0].rule.speaker",
        ),
        (
            '[[categories]]\nname = "a"\nrule = { figure = "mood", value = 1 }',
            "categories[0].rule.figure",
        ),
        (
            '[[categories]]\nname = "a"\nrule = { figure = "greeting", op = ">", value = 1 }',
            "categories[0].rule.value",
        ),
        (
            '[[categories]]\nname = "a"\nrule = { all = [{ phrases = "x" }, { nope = 1 }] }',
            "categories[0].rule.all[1]",
        ),
        (
            '[[categories]]\nname = "a"\nrule = { phrases = "x", first_s = -3 }',
            "categories[0].rule.first_s",
        ),
        (
            '[[categories]]\nname = "a"\nrule = { phrases = "x", fuzzy = 20 }',
            "categories[0].rule.fuzzy",
        ),
        (
            '[[categories]]\nname = "a"\nrule = { phrases = "x", after_within_s = 3 }',
            "categories[0].rule.after_within_s",
        ),
        (
            '[[categories]]\nname = "a"\nrule = { phrases = "x" }\n'
            '[[categories]]\nname = "a"\nrule = { phrases = "y" }',
            "categories[1].name",
        ),
        ("[[categories]\n", "not valid TOML"),
    ],
)
def test_bad_rules_name_the_file_and_the_field(tmp_path: Path, toml: str, field: str) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(toml, encoding="utf-8")
    with pytest.raises(CategoryError) as caught:
        load_file(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert field in str(caught.value)
    assert isinstance(caught.value, UsageError) and isinstance(caught.value, CallqaError)


def test_an_unreadable_file_is_a_category_error(tmp_path: Path) -> None:
    with pytest.raises(CategoryError, match="cannot read"):
        load_file(tmp_path / "missing.toml")


def test_parse_toml_keeps_every_category() -> None:
    cats = parse_toml(
        '[[categories]]\nname = "a"\nrule = { phrases = "x" }\n'
        '[[categories]]\nname = "b"\ndescription = "d"\nrule = { not = { phrases = "y" } }\n',
        "inline",
    )
    assert [(c.name, c.description) for c in cats] == [("a", ""), ("b", "d")]
