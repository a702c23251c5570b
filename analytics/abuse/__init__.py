"""Verbal-abuse detection: lexicon rules (``lexicon``), a learned model (``model``) and the
severity rules that turn both into events (``detect``)."""

from analytics.abuse.detect import detect_abuse, detect_abuse_many
from analytics.abuse.lexicon import DATA_DIR, AbuseConfig, normalise
from analytics.abuse.model import AbuseModel, ModelScore

__all__ = [
    "DATA_DIR",
    "AbuseConfig",
    "AbuseModel",
    "ModelScore",
    "detect_abuse",
    "detect_abuse_many",
    "normalise",
]
