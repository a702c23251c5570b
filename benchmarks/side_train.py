"""Refit the side classifier (``analytics/data/diarize/side_model.json``) reproducibly.

Run: ``PYTHONPATH=$PWD python benchmarks/side_train.py [--check]``. Reads the call scripts
in ``analytics/data/diarize/training/`` (``en.txt``, ``fr.txt``: ``A:``/``C:`` turns, a
blank line between calls), none of them the benchmark's (``tests/diarize_eval.py``) and
nothing from ``../shared/eval``. Each call is laid out as a redacted transcript (a
segment per turn, timed at 2.5 words a second) and also varied the way a mono call's
transcript goes wrong, with a fixed seed: question marks lost, a turn lost (the first
one too: a missed "Hello?" changes who speaks first), two turns of a voice run together.
For every version, the features of the agent minus the customer's are a positive
example and their negation a negative one; a logistic regression without intercept
(scikit-learn) is fitted, its regularisation chosen by cross-validation grouped by call
(no call in both folds). Prints the cross-validated figures, then writes the weights as
plain numbers. ``--check`` prints without writing.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analytics.diarize_side import FEATURES, MODEL_FILE, voice_features  # noqa: E402
from analytics.models import RedactedSegment, RedactedTranscript  # noqa: E402

TRAINING_DIR = ROOT / "analytics" / "data" / "diarize" / "training"
SEED = 7
VARIANTS = 10  # varied copies of each call, besides the call as written
C_GRID = (0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
FOLDS = 5
WORDS_PER_S = 2.5
GAP_S = 0.4


@dataclass(frozen=True)
class Script:
    name: str
    language: str
    turns: tuple[tuple[str, str], ...]  # ("A" | "C", text)


def read_scripts(folder: Path = TRAINING_DIR) -> list[Script]:
    """Every call of ``folder/<lang>.txt``."""
    scripts: list[Script] = []
    for path in sorted(folder.glob("*.txt")):
        blocks = path.read_text(encoding="utf-8").split("\n\n")
        for i, block in enumerate(blocks):
            turns = []
            for line in block.splitlines():
                side, sep, text = line.partition(":")
                if sep and side.strip() in ("A", "C"):
                    turns.append((side.strip(), text.strip()))
            if turns:
                scripts.append(Script(f"{path.stem}-{i}", path.stem, tuple(turns)))
    return scripts


def vary(turns: tuple[tuple[str, str], ...], rng: random.Random) -> tuple[tuple[str, str], ...]:
    """A copy of the turns damaged the way a mono transcript can be."""
    out = list(turns)
    if len(out) > 3 and rng.random() < 0.3:
        # An excerpt: a short call, or a transcript that kept only a few turns.
        size = rng.randint(2, 3)
        first = rng.randrange(len(out) - size + 1)
        out = out[first : first + size]
    if rng.random() < 0.5:
        out = [(side, text.replace("?", ".")) for side, text in out]
    if len(out) > 4 and rng.random() < 0.6:
        del out[rng.randrange(len(out))]
    if len(out) > 4 and rng.random() < 0.3:
        # Two turns heard as one voice's segment: the second goes to the first's side.
        i = rng.randrange(len(out) - 1)
        out[i : i + 2] = [(out[i][0], f"{out[i][1]} {out[i + 1][1]}")]
    return tuple(out)


def features_of(script: Script, turns: tuple[tuple[str, str], ...]) -> np.ndarray | None:
    """Agent features minus customer features (None when a side says nothing)."""
    t = 0.0
    segments: list[RedactedSegment] = []
    sides: list[str] = []
    for side, text in turns:
        length = max(0.5, len(text.split()) / WORDS_PER_S)
        segments.append(RedactedSegment("unknown", round(t, 2), round(t + length, 2), text))
        sides.append(side)
        t += length + GAP_S
    transcript = RedactedTranscript(script.name, script.language, 1.0, t, tuple(segments))
    by_voice = {
        label: [s for s, side in zip(segments, sides, strict=True) if side == name]
        for label, name in ((0, "A"), (1, "C"))
    }
    if not by_voice[0] or not by_voice[1]:
        return None
    feats = voice_features(by_voice, transcript)
    return feats[0] - feats[1]


def dataset(scripts: list[Script]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = random.Random(SEED)
    rows, labels, groups = [], [], []
    for g, script in enumerate(scripts):
        versions = [script.turns] + [vary(script.turns, rng) for _ in range(VARIANTS)]
        for turns in versions:
            diff = features_of(script, turns)
            if diff is None:
                continue
            rows += [diff, -diff]
            labels += [1, 0]
            groups += [g, g]
    return np.array(rows), np.array(labels), np.array(groups)


def fit(x: np.ndarray, y: np.ndarray, c: float) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=c, fit_intercept=False, max_iter=5000)
    return np.asarray(model.fit(x, y).coef_[0])


def cross_validate(x: np.ndarray, y: np.ndarray, groups: np.ndarray, c: float) -> dict[str, float]:
    from sklearn.model_selection import GroupKFold

    p = np.zeros(len(y))
    for train, test in GroupKFold(FOLDS).split(x, y, groups):
        coef = fit(x[train], y[train], c)
        p[test] = 1 / (1 + np.exp(-(x[test] @ coef)))
    chosen = np.maximum(p, 1 - p)
    right = (p > 0.5) == (y == 1)
    sure = chosen >= 0.85
    eps = 1e-9
    return {
        "log_loss": float(-np.mean(y * np.log(p + eps) + (1 - y) * np.log(1 - p + eps))),
        "accuracy": float(right.mean()),
        "sure_share": float(sure.mean()),
        "sure_accuracy": float(right[sure].mean()) if sure.any() else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fit and print, do not write")
    args = parser.parse_args()
    scripts = read_scripts()
    x, y, groups = dataset(scripts)
    langs = sorted({s.language for s in scripts})
    print(f"{len(scripts)} calls ({', '.join(langs)}), {len(y)} examples, {x.shape[1]} features")
    best_c, best = C_GRID[0], None
    for c in C_GRID:
        figures = cross_validate(x, y, groups, c)
        print(
            f"C={c:<5g} cross-validated log loss {figures['log_loss']:.3f}, accuracy "
            f"{100 * figures['accuracy']:.1f}%, P>=0.85 on {100 * figures['sure_share']:.0f}% "
            f"of versions with accuracy {100 * figures['sure_accuracy']:.1f}%"
        )
        if best is None or figures["log_loss"] < best:
            best_c, best = c, figures["log_loss"]
    coef = fit(x, y, best_c)
    print(f"chosen C={best_c}; weights:")
    for name, w in sorted(zip(FEATURES, coef, strict=True), key=lambda p: -abs(p[1])):
        print(f"  {name:20s} {w:+.3f}")
    if args.check:
        return
    MODEL_FILE.write_text(
        json.dumps(
            {
                "version": 1,
                "about": "benchmarks/side_train.py on analytics/data/diarize/training/",
                "C": best_c,
                "calls": len(scripts),
                "features": list(FEATURES),
                "coef": [round(float(w), 5) for w in coef],
            },
            indent=1,
        )
        + "\n",
        encoding="utf-8",
    )
    print(f"wrote {MODEL_FILE.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
