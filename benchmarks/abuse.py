"""Recall, precision and throughput of abuse detection, in one run.

Run: ``nice python benchmarks/abuse.py [--quick] [--classifier PATH]``. First the external sets of
``../shared/eval/abuse_*.jsonl`` (development halves of others' labelled data; each
utterance is a one-segment call said by the customer, flagged at the default
``flag_min_severity = medium``): recall, recall on abuse aimed at the listener
(``directed``), precision, per source and per upstream category, for the rules alone, the
rules with the learned model (the product), alt-profanity-check alone (a widely used
English classifier) and a keyword baseline. These files are read in place and never
copied: they measure, nothing is tuned on them. Then the cost: segments per CPU second
of the keyword baseline, the rules, and rules + model with its cache cold and warm (all
measured in the same run, on every call of the own sets and on their civil and neutral
calls alone, everyday traffic), how many segments went to the embeddings, and the
process time and peak memory of loading the model. ``--quick`` stops there. Then, for every set in
tests/data/abuse_eval/ (the
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

import json
import re
import resource
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from abuse_eval import (  # noqa: E402
    DEV,
    Figures,
    LabelledCall,
    asr_noise,
    eval_sets,
    evaluate,
    load_calls,
)

from analytics.abuse import (  # noqa: E402
    DATA_DIR,
    AbuseConfig,
    AbuseModel,
    detect_abuse,
    detect_abuse_many,
    normalise,
)
from analytics.abuse.lexicon import _compiled as compiled_rules  # noqa: E402
from analytics.models import AbuseReport, RedactedSegment, RedactedTranscript  # noqa: E402

SHARED_EVAL = ROOT.parent / "shared" / "eval"
BLIND_DIR = ROOT / "benchmarks" / "data" / "blind"
Detector = Callable[[RedactedTranscript], AbuseReport]
BatchDetector = Callable[[list[RedactedTranscript]], list[AbuseReport]]


def each_call(detect: Detector) -> BatchDetector:
    """A one-call detector run over a list of calls."""
    return lambda transcripts: [detect(t) for t in transcripts]


@dataclass(frozen=True)
class Utterance:
    """One labelled utterance of an external set, as a one-segment call."""

    source: str
    transcript: RedactedTranscript
    abusive: bool
    directed: bool
    categories: tuple[str, ...]


def external_sets(folder: Path = SHARED_EVAL) -> dict[str, list[Utterance]]:
    """``abuse_*.jsonl`` read in place (never copied), by source."""
    by_source: dict[str, list[Utterance]] = {}
    for path in sorted(folder.glob("abuse_*.jsonl")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            row = json.loads(line)
            segment = RedactedSegment(speaker="customer", start=0.0, end=3.0, text=row["text"])
            transcript = RedactedTranscript(
                call_id=f"{path.stem}:{number}",
                language=row["lang"],
                language_probability=1.0,
                duration_s=3.0,
                segments=(segment,),
            )
            kept = ("class:", "type:", "target:")
            categories = tuple(label for label in row["labels"] if label.startswith(kept))
            by_source.setdefault(row["source"], []).append(
                Utterance(
                    row["source"], transcript, row["abusive"], row["directed"] is True, categories
                )
            )
    return by_source


def external_figures(items: list[Utterance], flags: list[bool]) -> str:
    positives = [f for f, u in zip(flags, items, strict=True) if u.abusive]
    directed = [f for f, u in zip(flags, items, strict=True) if u.directed]
    true_pos = sum(positives)
    flagged = sum(flags)
    recall = true_pos / len(positives) if positives else float("nan")
    on_directed = f"{sum(directed) / len(directed):8.3f}" if directed else f"{'-':>8}"
    precision = true_pos / flagged if flagged else float("nan")
    return f"{recall:6.3f} {on_directed} {precision:9.3f}"


def profanity_check_baseline() -> Detector | None:
    """alt-profanity-check alone (probability >= 0.5), English only."""
    try:
        from profanity_check import predict_prob
    except ImportError:
        return None

    def detect(t: RedactedTranscript) -> AbuseReport:
        if t.language != "en":
            return AbuseReport(flagged=False, severity="none")
        hit = any(p >= 0.5 for p in predict_prob([s.text for s in t.segments]))
        return AbuseReport(flagged=hit, severity="medium" if hit else "none")

    return detect


def external(systems: dict[str, BatchDetector]) -> dict[str, list[bool]]:
    """Figures on ../shared/eval, per source and per category; returns the product's flags."""
    sets = external_sets()
    if not sets:
        print(f"no abuse_*.jsonl under {SHARED_EVAL}: external figures skipped")
        return {}
    print(f"external sets ({SHARED_EVAL}), call flagged at flag_min_severity = medium")
    header = (
        f"{'source':10} {'system':17} {'items':>5} {'recall':>6} {'directed':>8} {'precision':>9}"
    )
    print(header)
    print("-" * len(header))
    product_flags: dict[str, list[bool]] = {}
    seconds: dict[str, tuple[float, float]] = {}  # wall, CPU
    for source, items in sets.items():
        for system, detect in systems.items():
            started, cpu = time.perf_counter(), time.process_time()
            flags = [r.flagged for r in detect([u.transcript for u in items])]
            wall_s, cpu_s = seconds.get(system, (0.0, 0.0))
            seconds[system] = (
                wall_s + time.perf_counter() - started,
                cpu_s + time.process_time() - cpu,
            )
            if system == "rules + model":
                product_flags[source] = flags
            print(f"{source:10} {system:17} {len(items):5d} {external_figures(items, flags)}")
    languages = {"en": ["davidson", "convabuse"], "fr": ["mlma_fr"]}
    for language, sources in languages.items():
        items = [u for s in sources for u in sets.get(s, [])]
        flags = [f for s in sources for f in product_flags.get(s, [])]
        if items and flags:
            print(
                f"{language + ' (all)':10} {'rules + model':17} {len(items):5d} "
                f"{external_figures(items, flags)}"
            )
    print()
    print("recall of the product by upstream category (abusive items carrying the label):")
    for source, items in sets.items():
        flags = product_flags.get(source, [])
        counts: dict[str, list[bool]] = {}
        for utterance, flag in zip(items, flags, strict=False):
            for category in utterance.categories if utterance.abusive else ():
                counts.setdefault(category, []).append(flag)
        shown = sorted(counts.items(), key=lambda kv: -len(kv[1]))
        text = ", ".join(
            f"{k} {sum(v)}/{len(v)} ({sum(v) / len(v):.2f})" for k, v in shown if len(v) >= 3
        )
        print(f"  {source}: {text}")
    total = sum(len(items) for items in sets.values())
    print()
    for system, (spent, cpu) in seconds.items():
        print(
            f"  {system:17} {total / spent:8.0f} segments/s wall, {total / cpu:8.0f} per CPU "
            f"second, over {total} one-segment calls"
        )
    return product_flags


def blind_items(
    folder: Path = BLIND_DIR,
) -> dict[str, list[tuple[dict[str, str], RedactedTranscript]]]:
    """The blind utterances (``benchmarks/data/blind``) as one-segment calls, by language."""
    by_language: dict[str, list[tuple[dict[str, str], RedactedTranscript]]] = {}
    for path in sorted(folder.glob("abuse_*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            row = json.loads(line)
            segment = RedactedSegment(speaker=row["speaker"], start=0.0, end=3.0, text=row["text"])
            transcript = RedactedTranscript(
                call_id=row["id"],
                language=row["lang"],
                language_probability=1.0,
                duration_s=3.0,
                segments=(segment,),
            )
            by_language.setdefault(row["lang"], []).append((row, transcript))
    return by_language


def blind(systems: dict[str, BatchDetector]) -> None:
    """Recall and precision on the blind utterances, per language and category (held out:
    written by someone who never saw the code; never trained or tuned on)."""
    sets = blind_items()
    if not sets:
        print(f"no abuse_*.jsonl under {BLIND_DIR}: blind figures skipped")
        return
    print(f"blind utterances ({BLIND_DIR.relative_to(ROOT)}), flagged at medium:")
    for language, items in sets.items():
        rows = [row for row, _ in items]
        positives = [row["label"] == "abusive" for row in rows]
        for system, detect in systems.items():
            flags = [r.flagged for r in detect([t for _, t in items])]
            true_pos = sum(f and p for f, p in zip(flags, positives, strict=True))
            recall = true_pos / max(1, sum(positives))
            precision = true_pos / sum(flags) if any(flags) else float("nan")
            print(
                f"  {language} {system:17} {len(items):4d} items: recall {recall:.3f} "
                f"precision {precision:.3f}"
            )
            if system != "rules + model":
                continue
            by_category: dict[str, list[bool]] = {}
            for row, flag in zip(rows, flags, strict=True):
                by_category.setdefault(f"{row['label']}:{row['category']}", []).append(flag)
            text = ", ".join(f"{k} {sum(v)}/{len(v)}" for k, v in sorted(by_category.items()))
            print(f"     flagged by category: {text}")


def classifier_path() -> Path | None:
    """``--classifier PATH``: another weights file to measure (default: the shipped one)."""
    if "--classifier" in sys.argv:
        return Path(sys.argv[sys.argv.index("--classifier") + 1])
    return None


def model_cost() -> AbuseModel:
    """Load the model, printing its process time and the peak memory it added."""
    before_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    cpu = time.process_time()
    wall = time.perf_counter()
    path = classifier_path()
    model = AbuseModel.load(path) if path else AbuseModel.load()
    model.score(["warm up the engine"], "en")
    cpu_s, wall_s = time.process_time() - cpu, time.perf_counter() - wall
    added = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before_rss) / 1024
    print(
        f"model load: {wall_s:.2f} s wall, {cpu_s:.2f} s CPU, peak memory +{added:.0f} MiB "
        f"({model.version})"
    )
    return model


def throughput(model: AbuseModel, calls: list[RedactedTranscript], baseline: Detector) -> None:
    """Segments per CPU second over the own sets' calls (their languages and speakers): the
    keyword baseline, the rules alone, and rules + model (cache cold, then warm), measured
    in the same run; and how many segments went to the embeddings."""
    config = AbuseConfig.default()
    count = sum(len(c.segments) for c in calls)
    systems: list[tuple[str, Detector]] = [
        ("keyword baseline", baseline),
        ("rules alone", lambda t: detect_abuse(t, config)),
        ("rules + model, cold", lambda t: detect_abuse(t, config, model)),
        ("rules + model, warm", lambda t: detect_abuse(t, config, model)),
    ]
    base_rate = 0.0
    for label, detect in systems:
        if label.endswith("cold"):
            model._cache.clear()
            model._english_cache.clear()
        cpu = time.process_time()
        wall = time.perf_counter()
        for call in calls:
            detect(call)
        wall_s, cpu_s = time.perf_counter() - wall, time.process_time() - cpu
        rate = count / max(cpu_s, 1e-9)
        base_rate = base_rate or rate
        print(
            f"  {label:22} {count / wall_s:8.0f} segments/s wall, "
            f"{rate:8.0f} per CPU second (x{rate / base_rate:.3f} the keyword baseline), "
            f"{1000 * cpu_s / count:6.2f} ms CPU/segment ({count} segments)"
        )
        if label.endswith("cold"):
            print(f"  {'':22} {len(model._cache)} distinct texts of {count} segments embedded")


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
    model = model_cost()
    baseline = keyword_baseline()
    external_systems: dict[str, BatchDetector] = {
        "rules alone": each_call(lambda t: detect_abuse(t, config)),
        "rules + model": lambda ts: detect_abuse_many(ts, config, model),
        "keyword baseline": each_call(baseline),
    }
    if (checker := profanity_check_baseline()) is not None:
        external_systems["profanity-check"] = each_call(checker)
    external(external_systems)
    print(f"  {len(model._cache) - 1} distinct texts of the external sets went to the embeddings")
    print()
    blind(external_systems)
    own = [c for path in eval_sets() for c in load_calls(path)]
    print()
    share = sum(c.abusive for c in own) / len(own)
    print(f"cost per segment (every call of the own sets; {share:.0%} of them abusive):")
    throughput(model, [c.transcript for c in own], baseline)
    print("cost per segment (the own sets' civil and neutral calls: everyday traffic):")
    throughput(model, [c.transcript for c in own if not c.abusive], baseline)
    if "--quick" in sys.argv:
        return
    print()
    systems = {
        "detect_abuse": lambda t: detect_abuse(t, config),
        "with model": lambda t: detect_abuse(t, config, model),
        "keyword baseline": baseline,
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
        ours = results["with model"]
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
    print("with extra ASR noise (10 seeds; the model 3):")
    for set_name, path in sets:
        calls = load_calls(path)
        for system, detect in systems.items():
            seeds = range(3 if system == "with model" else 10)  # the model costs ~30 ms/segment
            runs = [evaluate([asr_noise(c, seed) for c in calls], detect) for seed in seeds]
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
                detect_abuse(call.transcript, config, model).flagged
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
