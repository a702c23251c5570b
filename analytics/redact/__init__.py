"""Redaction: no personal data reaches analysis, disk or a screen unredacted.

Presidio's AnalyzerEngine (on the packaged spaCy models, offline) with recognisers
for what callers of an assistance insurer say as ASR writes it, and its
AnonymizerEngine writing ``<TYPE>`` placeholders. Entity types:

==================  =====================================================
PERSON              names (callers, agents, relatives), spelled names too
PHONE_NUMBER        French and international numbers, in digits or words
EMAIL_ADDRESS       written or said aloud ("jean point dupont arobase…")
ADDRESS             postal address: number, street, postcode, city
LOCATION            places spaCy finds (towns, regions)
IBAN_CODE           IBAN (mod-97 checked or "fr76…" shaped)
FR_NIR              French social security number
CREDIT_CARD         card numbers (Luhn or card context), expiry, CVV
LICENSE_PLATE       AB-123-CD, older French and UK plates
POLICY_NUMBER       contract, policy, member (adhérent) numbers
CLAIM_NUMBER        claim (sinistre), file (dossier), reference numbers
DATE_OF_BIRTH       a date said after "né le", "date of birth"…
SECRET_CODE         PIN, password, one-time code said aloud
ID_NUMBER           any other long dictated number or code
==================  =====================================================

Settings may add types through ``[redact]`` deny-lists and patterns.
"""

from analytics.redact.config import PatternSpec, RedactConfig
from analytics.redact.engine import (
    SUPPORTED_LANGUAGES,
    Entity,
    Redactor,
    build_analyzer,
    default_redactor,
    supported_language,
)
from analytics.redact.recognizers import RUN_ENTITIES
from analytics.redact.recognizers import base as types

# What callqa redacts (the README's list), from the type names declared once in
# analytics.redact.recognizers.base.
ENTITY_TYPES: tuple[str, ...] = (
    types.PERSON,
    types.PHONE_NUMBER,
    types.EMAIL_ADDRESS,
    types.ADDRESS,
    types.LOCATION,
    types.IBAN_CODE,
    types.FR_NIR,
    types.CREDIT_CARD,
    types.LICENSE_PLATE,
    types.POLICY_NUMBER,
    types.CLAIM_NUMBER,
    types.DATE_OF_BIRTH,
    types.SECRET_CODE,
    types.ID_NUMBER,
)

__all__ = [
    "ENTITY_TYPES",
    "RUN_ENTITIES",
    "SUPPORTED_LANGUAGES",
    "Entity",
    "PatternSpec",
    "RedactConfig",
    "Redactor",
    "build_analyzer",
    "default_redactor",
    "supported_language",
]
