"""Placeholder: Faker-filled template sets (filled in below)."""
from __future__ import annotations

import redact_external


def template_sets() -> dict[str, list[redact_external.Record]]:
    return {}
