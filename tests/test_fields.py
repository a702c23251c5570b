"""The field parsers shared by ingest, rectification and settings (analytics.fields)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from factories import NOW
from hypothesis import given
from hypothesis import strategies as st

from analytics import fields
from analytics.fields import (
    check_not_future,
    check_region,
    many_digits,
    parse_bool,
    parse_call_id,
    parse_caller_id,
    parse_language,
    parse_started_at,
)

# --- caller ids -------------------------------------------------------------------------

SAME_NUMBER = [
    "33611223344",  # E.164 without "+", as call-detail exports hold it
    "+33 (0)6 11 22 33 44",
    "06 11 22 33 44",
    "0033611223344",
    "+33611223344",
    "06.11.22.33.44",
    "06-11-22-33-44",
]


@pytest.mark.parametrize("spelling", SAME_NUMBER)
def test_every_usual_spelling_of_a_number_reads_as_one_e164(spelling: str) -> None:
    assert parse_caller_id(spelling) == "+33611223344"


def test_the_default_region_reads_national_numbers() -> None:
    assert parse_caller_id("020 7946 0958", "GB") == "+442079460958"
    assert parse_caller_id("+44 20 7946 0958") == "+442079460958"  # international wins
    assert parse_caller_id("442079460958") == "+442079460958"  # E.164 without "+"


@pytest.mark.parametrize("bad", ["", "   ", "anonymous", "123", "0", "+", "06 11"])
def test_a_caller_id_that_is_no_phone_number_is_refused_without_repeating_it(bad: str) -> None:
    with pytest.raises(ValueError, match="caller_id") as caught:
        parse_caller_id(bad)
    if bad.strip():
        assert bad.strip() not in str(caught.value)


_digits8 = st.integers(min_value=0, max_value=99_999_999).map(lambda n: f"{n:08d}")
_mobile_spellings = st.sampled_from(
    ["06{}", "06 {}", "+336{}", "00336{}", "336{}", "+33 (0)6{}", "+33 6 {}"]
)


@given(digits=_digits8, spelling=_mobile_spellings, spaced=st.booleans())
def test_caller_id_spellings_agree(digits: str, spelling: str, spaced: bool) -> None:
    body = " ".join(digits[i : i + 2] for i in range(0, 8, 2)) if spaced else digits
    assert parse_caller_id(spelling.format(body)) == f"+336{digits}"


@given(text=st.text(max_size=30))
def test_caller_id_parser_returns_e164_or_a_value_error(text: str) -> None:
    try:
        parsed = parse_caller_id(text)
    except ValueError as exc:
        assert "caller_id" in str(exc)
        return
    assert parsed.startswith("+") and parsed[1:].isdigit()
    assert parse_caller_id(parsed) == parsed  # idempotent


# --- call ids ---------------------------------------------------------------------------


@pytest.mark.parametrize("good", ["c1", "0611223344_20261120", "a.b:c@d-e_f", "x" * 128])
def test_valid_call_ids(good: str) -> None:
    assert parse_call_id(f"  {good} ") == good


@pytest.mark.parametrize(
    "bad",
    ["", "a b", "x" * 129, "c1\nfake line", "\x1b[31mred", "![img](http://x)", "é", "a/b"],
)
def test_call_ids_with_spaces_breaks_escapes_or_markup_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="not a valid call id") as caught:
        parse_call_id(bad)
    assert "\n" not in str(caught.value) and "\x1b" not in str(caught.value)


@given(text=st.text(max_size=140))
def test_call_id_parser_accepts_exactly_the_pattern(text: str) -> None:
    stripped = text.strip()
    ok = fields.CALL_ID.fullmatch(stripped) is not None
    if ok:
        assert parse_call_id(text) == stripped
    else:
        with pytest.raises(ValueError):
            parse_call_id(text)


def test_ids_with_six_digits_may_be_phone_numbers() -> None:
    assert many_digits("0611223344_20261120") and many_digits("c123456")
    assert not many_digits("call-12345") and not many_digits("abc")


# --- dates ------------------------------------------------------------------------------


def test_started_at_forms() -> None:
    assert parse_started_at("2026-11-20T09:14:00") == datetime(2026, 11, 20, 9, 14, tzinfo=UTC)
    assert parse_started_at("2026-11-20 10:14:00+01:00") == datetime(
        2026, 11, 20, 9, 14, tzinfo=UTC
    )
    for bad in ("", "soon", "20/11/2026"):
        with pytest.raises(ValueError, match="started_at"):
            parse_started_at(bad)


@given(
    moment=st.datetimes(
        min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
    )
)
def test_started_at_round_trips_iso(moment: datetime) -> None:
    assert parse_started_at(moment.isoformat()) == moment


def test_a_start_beyond_a_day_of_clock_skew_is_in_the_future() -> None:
    check_not_future(NOW + timedelta(hours=23), NOW)  # clock skew: accepted
    check_not_future(NOW - timedelta(days=400), NOW)
    with pytest.raises(ValueError, match="in the future"):
        check_not_future(NOW + timedelta(days=1, seconds=1), NOW)
    with pytest.raises(ValueError, match=r"2099-01-01T00:00:00\+00:00 is in the future"):
        check_not_future(datetime(2099, 1, 1, tzinfo=UTC), NOW)


# --- booleans, languages, regions ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [("true", True), ("Oui", True), ("1", True), ("on", True), ("non", False), ("OFF", False)],
)
def test_booleans(text: str, value: bool) -> None:
    assert parse_bool(text, "objection") is value


def test_an_empty_boolean_takes_its_default_or_is_refused() -> None:
    assert parse_bool(" ", "objection", empty=False) is False
    with pytest.raises(ValueError, match="redacted_audio must be true or false"):
        parse_bool("", "redacted_audio")
    with pytest.raises(ValueError, match="must be true or false, not 'maybe'"):
        parse_bool("maybe", "objection", empty=False)


@given(text=st.text(max_size=8))
def test_boolean_parser_never_guesses(text: str) -> None:
    lowered = text.strip().lower()
    try:
        value = parse_bool(text, "x")
    except ValueError:
        assert lowered not in fields.TRUE_WORDS | fields.FALSE_WORDS
        return
    assert value is (lowered in fields.TRUE_WORDS)


def test_languages() -> None:
    assert parse_language(" FR ") == "fr" and parse_language("spa") == "spa"
    assert parse_language("") is None
    for bad in ("french", "f", "fr-FR", "12"):
        with pytest.raises(ValueError, match="not a language code"):
            parse_language(bad)


def test_regions() -> None:
    assert check_region("fr") == "FR" and check_region("BE") == "BE"
    with pytest.raises(ValueError, match="region code"):
        check_region("XX")
