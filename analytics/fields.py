"""Parsing of the fields people type: dates, booleans, language codes, caller ids, call ids.

One place for the rules, used by ingest (the metadata CSV), rectification (``calls
edit``) and settings. Every parser raises :class:`ValueError` with a reason fit
for a one-line message; a reason never repeats a caller id (personal data).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import phonenumbers

TRUE_WORDS = frozenset({"true", "1", "yes", "y", "oui", "vrai", "t", "on"})
FALSE_WORDS = frozenset({"false", "0", "no", "n", "non", "faux", "f", "off"})
LANGUAGE = re.compile(r"[a-z]{2,3}")
CALL_ID = re.compile(r"[A-Za-z0-9._:@-]{1,128}")
CALL_ID_RULE = "1-128 of the characters A-Z a-z 0-9 . _ : @ -"
# A start this far ahead of the clock is a clock skew at most; beyond it, a mistake.
CLOCK_SKEW = timedelta(days=1)
# An id with this many digits may well be a phone number (personal data).
MANY_DIGITS = 6


def parse_bool(value: str, name: str, *, empty: bool | None = None) -> bool:
    """``true``/``false`` and their usual spellings (yes/no, oui/non, 1/0, on/off).

    Args:
        empty: the value of an empty field; ``None``: an empty field is an error.
    """
    lowered = value.strip().lower()
    if lowered in TRUE_WORDS:
        return True
    if lowered in FALSE_WORDS:
        return False
    if not lowered and empty is not None:
        return empty
    raise ValueError(f"{name} must be true or false, not {value.strip()!r}")


def parse_started_at(value: str) -> datetime:
    """ISO 8601 date-time (a space may stand for the ``T``); without a zone, UTC."""
    text = value.strip()
    if not text:
        raise ValueError("started_at is empty")
    try:
        moment = datetime.fromisoformat(text.replace(" ", "T", 1) if "T" not in text else text)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)
    except (ValueError, OverflowError):
        # OverflowError: year 1 or 9999 with an offset falls off the calendar in UTC
        raise ValueError(f"started_at {text!r} is not an ISO 8601 date-time") from None


def check_not_future(started_at: datetime, now: datetime, what: str = "started_at") -> None:
    """A call cannot start after now (plus one day of clock skew): such a date would
    never expire."""
    if started_at > now + CLOCK_SKEW:
        raise ValueError(
            f"{what} {started_at.astimezone(UTC).replace(microsecond=0).isoformat()} is in "
            f"the future (later than now plus {CLOCK_SKEW.days} day of clock skew)"
        )


def parse_language(value: str) -> str | None:
    """A language code such as ``fr`` or ``en`` (lower-cased); empty: ``None`` (detect)."""
    code = value.strip().lower()
    if not code:
        return None
    if not LANGUAGE.fullmatch(code):
        raise ValueError(f"language {code!r} is not a language code such as fr or en")
    return code


def parse_call_id(value: str, what: str = "call_id") -> str:
    """A call id: 1-128 letters, digits and ``._:@-`` — no spaces, line breaks, escapes
    or markup, so an id is safe in a terminal line, a URL and the audit log."""
    text = value.strip()
    if not CALL_ID.fullmatch(text):
        shown = repr(text if len(text) <= 60 else text[:57] + "...")  # escapes breaks and ESC
        raise ValueError(f"{what} {shown} is not a valid call id ({CALL_ID_RULE})")
    return text


def many_digits(call_id: str) -> bool:
    """Whether an id holds enough digits to be a phone number."""
    return sum(ch.isdigit() for ch in call_id) >= MANY_DIGITS


def check_region(region: str) -> str:
    """A region code phonenumbers knows (``FR``, ``BE``, ...), upper-cased."""
    code = region.strip().upper()
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"{region!r} is not a region code such as FR, BE or GB")
    return code


_SEPARATORS = re.compile(r"[\s.\-()/]")


def parse_caller_id(value: str, region: str = "FR") -> str:
    """A phone number in any usual spelling, as E.164 (``+33611223344``).

    A national number (``06 11 22 33 44``) is read in ``region``; an international
    one may be written ``+33…``, ``0033…`` or, as call-detail exports often do, with
    neither (``33611223344``). The error never repeats the number.
    """
    text = value.strip()
    if not text:
        raise ValueError("caller_id is empty")
    attempts = [text]
    digits = _SEPARATORS.sub("", text)
    if digits.isdigit() and not digits.startswith("0"):
        attempts.append("+" + digits)  # E.164 without its "+"
    numbers = []
    for attempt in attempts:
        try:
            numbers.append(phonenumbers.parse(attempt, region))
        except phonenumbers.NumberParseException:
            continue
    if not numbers:
        raise ValueError("caller_id is not a phone number")
    best = next(
        (n for n in numbers if phonenumbers.is_valid_number(n)),
        next((n for n in numbers if phonenumbers.is_possible_number(n)), None),
    )
    if best is None:
        raise ValueError(f"caller_id is not a possible phone number (read in region {region})")
    return phonenumbers.format_number(best, phonenumbers.PhoneNumberFormat.E164)


def national_form(e164: str) -> str:
    """The national spelling of an E.164 number (``06 11 22 33 44``)."""
    number = phonenumbers.parse(e164, None)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
