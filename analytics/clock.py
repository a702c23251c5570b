"""The product's one clock.

The product always reads the system clock. Tests hand in another one through the
Python API (:func:`frozen`), never through a command-line flag, a setting or an
environment variable: a user who could set the time could export calls past
retention, purge young calls or back-date audit rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


_clock: Clock = system_clock


def now() -> datetime:
    """The current moment, timezone-aware (UTC)."""
    moment = _clock()
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def use(clock: Clock | None) -> None:
    """Replace the clock (``None`` restores the system clock). For tests and benchmarks."""
    global _clock
    _clock = clock or system_clock


@contextmanager
def frozen(moment: datetime) -> Iterator[None]:
    """Within the block, :func:`now` answers ``moment``."""
    previous = _clock
    use(lambda: moment)
    try:
        yield
    finally:
        use(previous)
