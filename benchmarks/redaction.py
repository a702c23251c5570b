"""Redaction benchmark: PII characters hidden, precision and speed, product vs vanilla Presidio.

Sets, each scored by characters per gold type (recall: share of PII characters hidden)
and per predicted type (precision: share of hidden characters that are PII):

1. ``../shared/eval`` (external, read in place, never copied): English synthetic
   sentences and French interview/business documents, each written and ASR-style;
2. the Faker-filled template sets of ``tests/redact_templates.py`` (fr_FR, en_GB,
   en_US values), written and ASR-style, and the blind sets of ``tests/redact_blind.py``
   (templates written by a helper who never saw the code, ``benchmarks/data/blind/``);
3. the project's own ASR-style calls (``tests/redact_eval.py``), by planted value.

For each, the product's Redactor and vanilla Presidio (AnalyzerEngine with its default
recognisers on the same spaCy models, full pipeline) run in the same process; the
throughput ratio and the share of ``callqa process`` time redaction takes (estimated
against Whisper base on 2 cores, 0.1–0.3 x real time per channel, for speech at 15
characters per second per speaker) are printed last.

4. with ``--sets roundtrip``: English template calls spoken with espeak-ng, run
   through the real ``process`` (Whisper base), scored by the planted value words
   Whisper wrote that stay readable, with redaction's measured share of process time
   (``benchmarks/redaction_roundtrip.py``).

    python benchmarks/redaction.py [--quick] [--sets shared templates own roundtrip]
        [--misses 20] [--miss-types] [--calls 12]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
from presidio_analyzer.nlp_engine import SpacyNlpEngine

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import redact_blind
import redact_eval
import redact_external
import redact_templates

from analytics.redact import Redactor
from analytics.redact.config import DEFAULT_MODELS

SPEECH_CHARS_PER_S = 15.0  # ~150 words a minute, one speaker
WHISPER_RT = (0.1, 0.3)  # Whisper base, 2 cores: seconds of compute per second of audio

Entities = list[list[tuple[int, int, str]]]


def vanilla_presidio() -> AnalyzerEngine:
    """Presidio as shipped: default recognisers, stock spaCy engine on the same models."""
    languages = list(DEFAULT_MODELS)
    models = [{"lang_code": lang, "model_name": name} for lang, name in DEFAULT_MODELS.items()]
    engine = SpacyNlpEngine(models=models)
    engine.load()
    registry = RecognizerRegistry(supported_languages=languages)
    registry.load_predefined_recognizers(languages=languages, nlp_engine=engine)
    return AnalyzerEngine(registry=registry, nlp_engine=engine, supported_languages=languages)


def product_finder(redactor: Redactor):  # type: ignore[no-untyped-def]
    def find(texts: Sequence[str], language: str) -> Entities:
        return [
            [(e.start, e.end, e.entity_type) for e in found]
            for found in redactor.find_batch(texts, language)
        ]

    return find


def vanilla_finder(analyzer: AnalyzerEngine):  # type: ignore[no-untyped-def]
    def find(texts: Sequence[str], language: str) -> Entities:
        return [
            [(r.start, r.end, r.entity_type) for r in analyzer.analyze(text, language)]
            for text in texts
        ]

    return find


def show(
    name: str,
    finders: dict,
    records: list[redact_external.Record],
    misses: int,
    types_only: bool = False,
) -> dict[str, redact_external.SetReport]:
    reports = {}
    for label, find in finders.items():
        find([r.text for r in records[:3]], records[0].language)  # warm up
        report = redact_external.evaluate(find, records, keep_examples=misses > 0 or types_only)
        reports[label] = report
        print(f"\n== {name}: {label}")
        print(report.table())
        if types_only and label == "product":
            # Types and counts only: no string of the external sets is printed.
            wrong = Counter(kind for _, kind, _ in report.false)
            print(f"  missed characters by type: {dict(report.misses.most_common())}")
            print(f"  false-positive spans by predicted type: {dict(wrong.most_common())}")
        if misses and label == "product":
            print(f"  missed characters by type: {dict(report.misses.most_common())}")
            for record_id, kind, value in report.missed[:misses]:
                print(f"    miss {record_id} {kind}: {value!r}")
            for record_id, kind, value in report.false[:misses]:
                print(f"    false {record_id} {kind}: {value!r}")
    return reports


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sets", nargs="+", default=["shared", "templates", "blind", "own", "roundtrip"]
    )
    parser.add_argument(
        "--quick", action="store_true", help="shared and template sets, product only (~1 min)"
    )
    parser.add_argument("--misses", type=int, default=0, help="print up to N misses per set")
    parser.add_argument("--only", default="", help="only sets whose name contains this")
    parser.add_argument(
        "--miss-types",
        action="store_true",
        help="print missed characters and false-positive spans by type (counts only)",
    )
    parser.add_argument("--no-vanilla", action="store_true")
    parser.add_argument("--calls", type=int, default=12, help="round-trip calls to speak")
    args = parser.parse_args()
    if args.quick:
        args.sets, args.no_vanilla = ["shared", "templates", "blind"], True

    began = time.perf_counter()
    redactor = Redactor()
    print(f"build Redactor: {time.perf_counter() - began:.1f} s")
    finders = {"product": product_finder(redactor)}
    if not args.no_vanilla:
        finders["vanilla"] = vanilla_finder(vanilla_presidio())

    sets: dict[str, list[redact_external.Record]] = {}
    if "shared" in args.sets:
        sets.update(redact_external.shared_sets())
    if "templates" in args.sets:
        sets.update(redact_templates.template_sets())
    if "blind" in args.sets:
        sets.update(redact_blind.blind_sets())
    summary = []
    speed: dict[str, list[float]] = {label: [0.0, 0.0] for label in finders}  # chars, seconds
    for name, records in sets.items():
        if args.only not in name:
            continue
        reports = show(name, finders, records, args.misses, args.miss_types)
        chars = sum(len(r.text) for r in records)
        for label, report in reports.items():
            total = report.total()
            summary.append(
                (name, label, total.recall, total.precision, report.segments / report.seconds)
            )
            speed[label][0] += chars
            speed[label][1] += report.seconds

    if "roundtrip" in args.sets:
        import redaction_roundtrip

        trip = redaction_roundtrip.run(args.calls)
        print("\n== roundtrip: English template calls spoken (espeak-ng), transcribed (Whisper")
        print("   base), processed; planted value words Whisper wrote that stay readable")
        print(trip.table())
        if args.misses:
            for kind, word in trip.leaks[: args.misses]:
                print(f"    readable {kind}: {word!r}")

    if "own" in args.sets:
        calls = redact_eval.generate_calls()
        report = redact_eval.evaluate(redactor, calls)
        print("\n== own ASR-style calls (tests/redact_eval.py), by planted value")
        print(report.table())

    print("\n== summary (characters)")
    print(f"  {'set':22} {'engine':8} {'hidden':>7} {'precision':>9} {'segments/s':>10}")
    for name, label, recall, precision, rate in summary:
        print(f"  {name:22} {label:8} {recall:7.3f} {precision:9.3f} {rate:10.0f}")
    if speed["product"][1]:
        chars_per_s = speed["product"][0] / speed["product"][1]
        if "vanilla" in speed and speed["vanilla"][1]:
            ratio = chars_per_s / (speed["vanilla"][0] / speed["vanilla"][1])
            print(f"  speed: product x{ratio:.2f} vanilla Presidio (characters/s, all sets)")
        redact_s = 2 * SPEECH_CHARS_PER_S / chars_per_s
        shares = [redact_s / (redact_s + 2 * rt) for rt in WHISPER_RT]
        print(
            f"  share of callqa process time (estimate): {100 * shares[1]:.1f} % with Whisper "
            f"at {WHISPER_RT[1]} x RT, {100 * shares[0]:.1f} % at {WHISPER_RT[0]} x RT (budget 10 %)"
        )


if __name__ == "__main__":
    main()
