"""callqa: local, privacy-first call quality and analytics.

For notebooks: ``analytics.load_calls()`` and ``analytics.load_segments()`` give
the redacted, governed dataset as pandas DataFrames; ``analytics.load_evaluations()``
the evaluations (one row per call, form version and question).
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["__version__", "load_calls", "load_evaluations", "load_segments"]


def __getattr__(name: str) -> Any:
    # Lazy: importing the CLI must not pull pandas in.
    if name in ("load_calls", "load_segments", "load_evaluations"):
        from analytics import dataset

        return getattr(dataset, name)
    raise AttributeError(f"module 'analytics' has no attribute {name!r}")
