"""Call-level recall and precision of abuse detection on the labelled sets.

Run: ``python benchmarks/abuse.py``. Prints, for every set in tests/data/abuse_eval/ (the
dev set used while writing the lexicons, the held-out set, and the blind sets, none of
them tuned on; see tests/abuse_eval.py for how each was made), the figures of
``detect_abuse`` next to a
baseline measured in the same run: the same lexicon words as bare keywords (lower-cased
whole words, no normalisation, patterns, address frames or near-miss matching). Then
the same sets made noisier (``abuse_eval.asr_noise``: dropped apostrophes and accents,
fillers, a letter dropped or doubled in some long words), averaged over 10 seeds. Last,
the matching cost per segment (normalising and matching, the per-segment work of the
pipeline) on every segment of the sets, with the lexicons' token cache cold and warm.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from abuse_eval import (  # noqa: E402
    DEV,
    Figures,
    LabelledCall,
    asr_noise,
    eval_sets,
    evaluate,
    load_calls,
)

from analytics.abuse import DATA_DIR, AbuseConfig, detect_abuse, normalise  # noqa: E402
from analytics.abuse import _compiled as compiled_rules  # noqa: E402
from analytics.models import AbuseReport, RedactedTranscript  # noqa: E402


def keyword_baseline() -> Callable[[RedactedTranscript], AbuseReport]:
    """Flag a call when a medium/high lexicon spelling appears as a plain word."""
    words: set[str] = set()
    for path in DATA_DIR.glob("*/lexicon.txt"):
        for line in path.read_text(encoding="utf-8").splitlines():
            parts = [p.strip() for p in line.split("#", 1)[0].split(" | ")]
            if len(parts) >= 3 and parts[2] != "low":
                words |= {w.rstrip("*") for w in parts[0].split("|")}
    pattern = re.compile(r"\b(?:" + "|".join(sorted(map(re.escape, words))) + r")\b")

    def detect(t: RedactedTranscript) -> AbuseReport:
        hit = any(pattern.search(s.text.lower()) for s in t.segments)
        return AbuseReport(flagged=hit, severity="medium" if hit else "none")

    return detect


def run(
    name: str, calls: list[LabelledCall], detect: Callable[[RedactedTranscript], AbuseReport]
) -> tuple[Figures, float]:
    started = time.perf_counter()
    figures = evaluate(calls, detect)
    return figures, time.perf_counter() - started


def main() -> None:
    config = AbuseConfig.default()
    detect_abuse(load_calls(DEV)[0].transcript, config)  # compile the lexicons once
    systems = {
        "detect_abuse": lambda t: detect_abuse(t, config),
        "keyword baseline": keyword_baseline(),
    }
    header = f"{'set':9} {'system':17} {'calls':>5} {'recall':>7} {'precision':>9} {'ms/call':>8}"
    print(header)
    print("-" * len(header))
    sets = [(path.stem, path) for path in eval_sets()]
    for set_name, path in sets:
        calls = load_calls(path)
        results = {}
        for system, detect in systems.items():
            figures, seconds = run(system, calls, detect)
            results[system] = figures
            per_call = 1000 * seconds / len(calls)
            print(
                f"{set_name:9} {system:17} {figures.calls:5d} {figures.recall:7.3f} "
                f"{figures.precision:9.3f} {per_call:8.2f}"
            )
        ours = results["detect_abuse"]
        if ours.missed or ours.false_alarms:
            print(
                f"{'':9} missed: {', '.join(ours.missed) or '-'}; "
                f"false alarms: {', '.join(ours.false_alarms) or '-'}"
            )
        base = results["keyword baseline"]
        print(
            f"{'':9} recall ×{ours.recall / base.recall if base.recall else float('inf'):.2f}, "
            f"precision ×{ours.precision / base.precision if base.precision else float('inf'):.2f}"
            " vs the baseline"
        )
    print()
    print("with extra ASR noise (10 seeds):")
    for set_name, path in sets:
        calls = load_calls(path)
        for system, detect in systems.items():
            runs = [evaluate([asr_noise(c, seed) for c in calls], detect) for seed in range(10)]
            recall = sum(f.recall for f in runs) / len(runs)
            precision = sum(f.precision for f in runs) / len(runs)
            worst = min(f.recall for f in runs)
            print(
                f"{set_name:9} {system:17} recall {recall:.3f} (worst seed {worst:.3f}) "
                f"precision {precision:.3f}"
            )
    print()
    for set_name, path in sets:
        calls = load_calls(path)
        by_label: dict[str, list[bool]] = {}
        for call in calls:
            by_label.setdefault(f"{call.transcript.language}/{call.label}", []).append(
                detect_abuse(call.transcript, config).flagged
            )
        rates = ", ".join(f"{k} {sum(v)}/{len(v)}" for k, v in sorted(by_label.items()))
        print(f"flagged by language/label ({set_name}): {rates}")
    print()
    segment_cost([path for _, path in sets])


def segment_cost(paths: list[Path]) -> None:
    """Microseconds per segment to normalise and match, token cache cold then warm."""
    texts = [s.text for path in paths for c in load_calls(path) for s in c.transcript.segments]
    for language in ("fr", "en"):
        compiled_rules.cache_clear()  # a fresh token cache: the first call of a run
        rules = compiled_rules(AbuseConfig.default()).for_language(language)
        timings = []
        for _ in range(4):
            started = time.perf_counter()
            for text in texts:
                rules.match(normalise(text, rules.fillers))
            timings.append(time.perf_counter() - started)
        cold, warm = timings[0], min(timings[1:])
        print(
            f"matching ({language} rules, {len(texts)} segments): "
            f"{1e6 * cold / len(texts):.0f} µs/segment cold, {1e6 * warm / len(texts):.0f} warm"
        )


if __name__ == "__main__":
    main()
