"""Evaluation forms: parsing, validation errors naming file and field, the default form."""

from __future__ import annotations

from pathlib import Path

import pytest

from analytics.errors import CallqaError, FormError, InputError
from analytics.evaluations import forms
from analytics.evaluations.forms import parse_form
from analytics.quality import RUBRIC_ITEMS, QualityConfig

GOOD = """
name = "travel"
version = 2
title = "Travel assistance calls"

[[sections]]
id = "opening"
title = "Opening"

[[sections.questions]]
id = "greeting"
text = "Greeted?"
weight = 2
type = "yes_no_na"
auto = "rubric:greeting"

[[sections.questions]]
id = "few_interruptions"
text = "At most one interruption?"
weight = 1
type = "yes_no_na"
auto = "figure:interruptions"
yes_max = 1

[[sections]]
id = "resolution"

[[sections.questions]]
id = "solved"
text = "Was the problem solved?"
weight = 3
type = "scale"
min = 1
max = 5
"""


def test_a_form_parses_with_sections_questions_weights_and_bindings() -> None:
    form = parse_form(GOOD, "travel.toml")
    assert form.ref == "travel@2"
    assert [s.id for s in form.sections] == ["opening", "resolution"]
    assert [q.id for q in form.questions] == ["greeting", "few_interruptions", "solved"]
    greeting, figure, solved = form.questions
    assert greeting.binding == ("rubric", "greeting") and not greeting.manual
    assert figure.binding == ("figure", "interruptions") and figure.yes_max == 1.0
    assert solved.manual and solved.choices() == ("1", "2", "3", "4", "5", "na")
    assert solved.share("3") == 0.5 and solved.share("na") is None
    assert form.sections[1].title == "resolution"  # the title defaults to the id


def test_a_form_survives_its_json_round_trip() -> None:
    form = parse_form(GOOD, "travel.toml")
    assert forms.Form.from_json(form.to_json()) == form


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (("version = 2", "version = 0"), "version"),
        (('name = "travel"', 'name = "Travel Form"'), "name"),
        (("weight = 2", "weight = -1"), "sections[0].questions[0].weight"),
        (
            ('type = "yes_no_na"\nauto = "rubric:greeting"', 'type = "stars"'),
            "sections[0].questions[0].type",
        ),
        (('auto = "rubric:greeting"', 'auto = "rubric:charm"'), "sections[0].questions[0].auto"),
        (
            ('auto = "figure:interruptions"', 'auto = "figure:mood"'),
            "sections[0].questions[1].auto",
        ),
        (("yes_max = 1", "yes_mox = 1"), "sections[0].questions[1].yes_mox"),
        (("min = 1\nmax = 5", "min = 5\nmax = 1"), "sections[1].questions[0].max"),
        (('id = "solved"', 'id = "greeting"'), "sections[1].questions[0].id"),
    ],
)
def test_a_bad_form_names_the_file_and_the_field(change: tuple[str, str], field: str) -> None:
    old, new = change
    assert old in GOOD
    with pytest.raises(FormError) as caught:
        parse_form(GOOD.replace(old, new, 1), "bad.toml")
    assert caught.value.field == field
    assert str(caught.value).startswith(f"bad.toml: {field}: ")
    assert isinstance(caught.value, InputError) and isinstance(caught.value, CallqaError)


def test_not_toml_and_an_unreadable_file_are_form_errors(tmp_path: Path) -> None:
    with pytest.raises(FormError, match=r"^x\.toml: not valid TOML"):
        parse_form("name = ", "x.toml")
    with pytest.raises(FormError, match=r"missing\.toml: cannot read"):
        forms.load_form(tmp_path / "missing.toml")
    with pytest.raises(FormError, match="sections: a form needs"):
        parse_form('name = "a"\nversion = 1\n', "y.toml")


def test_the_default_form_is_todays_rubric_version_1() -> None:
    form = forms.default_form()
    assert form.ref == "default@1"
    bound = {q.binding[1]: q.weight for q in form.questions if q.binding[0] == "rubric"}
    assert set(bound) == set(RUBRIC_ITEMS)
    assert bound == dict(QualityConfig.default().weights)


@pytest.mark.parametrize(
    ("ref", "expected"), [("default", ("default", None)), ("travel@3", ("travel", 3))]
)
def test_form_references(ref: str, expected: tuple[str, int | None]) -> None:
    assert forms.parse_ref(ref) == expected


@pytest.mark.parametrize("ref", ["", "Default", "a@0", "a@x"])
def test_bad_form_references(ref: str) -> None:
    with pytest.raises(ValueError):
        forms.parse_ref(ref)
