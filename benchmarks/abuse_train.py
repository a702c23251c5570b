"""Retrain the abuse classifier (``analytics/data/abuse/classifier.npz``) reproducibly.

Run: ``python benchmarks/abuse_train.py [--check]``. Reads the sentences in
``analytics/data/abuse/training/`` (``LANG.txt`` and ``LANG_*.txt``: ``label<TAB>sentence``, and
``templates.toml``, expanded with a fixed seed), writes them ASR-style (lower case, no
punctuation, as :func:`analytics.abuse.model.model_text` does at run time), embeds them
with the bundled multilingual-e5-small, and fits a multinomial logistic regression
(scikit-learn, balanced class weights). Prints 5-fold cross-validated figures on the
training sentences, then writes the weights as plain arrays (``coef``, ``intercept``,
``classes``, ``version``): no pickle. ``--check`` fits and prints without writing.

Only sentences written for callqa are used: nothing from ``../shared/eval`` (see
``analytics/data/abuse/training/README.md``).
"""

from __future__ import annotations

import argparse
import hashlib
import random
import re
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analytics.abuse import AbuseConfig  # noqa: E402
from analytics.abuse.gate import GATE_RECALL, gate_vectorizer  # noqa: E402
from analytics.abuse.model import CLASSES, CLASSIFIER_FILE, e5_embedder, model_text  # noqa: E402
from analytics.config import read_toml  # noqa: E402

TRAINING_DIR = ROOT / "analytics" / "data" / "abuse" / "training"
SEED = 13
C = 1.0  # inverse regularisation strength of the logistic regression
ALONE_PRECISION = 0.99  # cross-validated precision that calibrates model_alone_threshold
GATE_C = 10.0  # the same for the pre-filter (many sparse features)
_SLOT = re.compile(r"\{(\w+)\}")


def read_sentences(path: Path) -> list[tuple[str, str, str]]:
    """(language, label, text) from a ``label<TAB>text`` file; ``#`` starts a comment.

    The language is the file name up to its first ``_`` (``fr_groups.txt`` is French).
    """
    lang = path.stem.split("_")[0]
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        label, _, text = line.partition("\t")
        if label not in CLASSES or not text.strip():
            raise SystemExit(f"{path}:{number}: expected 'label<TAB>text', label in {CLASSES}")
        rows.append((lang, label, text.strip()))
    return rows


def expand_templates(path: Path, seed: int = SEED) -> list[tuple[str, str, str]]:
    """``count`` distinct fillings of each template group, drawn with a fixed seed."""
    data = read_toml(path, "abuse training templates")
    rng = random.Random(seed)
    rows = []
    for group in data["template"]:
        lang, label, count = group["lang"], group["label"], int(group["count"])
        slots = data["slots"][group.get("slots_from", lang)]
        seen: set[str] = set()
        for _ in range(count * 20):
            if len(seen) >= count:
                break
            text = rng.choice(group["text"])
            filled = _SLOT.sub(lambda m, slots=slots: rng.choice(slots[m.group(1)]), text)
            seen.add(" ".join(filled.split()))
        rows += [(lang, label, text) for text in sorted(seen)]
    return rows


def training_rows() -> list[tuple[str, str, str]]:
    rows = [row for path in sorted(TRAINING_DIR.glob("*.txt")) for row in read_sentences(path)]
    rows += expand_templates(TRAINING_DIR / "templates.toml")
    unique = {
        (lang, model_text(text)): (lang, label, model_text(text)) for lang, label, text in rows
    }
    return sorted(unique.values())


def fingerprint(rows: list[tuple[str, str, str]]) -> str:
    digest = hashlib.sha256("\n".join("\t".join(r) for r in rows).encode()).hexdigest()
    return digest[:16]


def embed(texts: list[str], cache: Path | None) -> np.ndarray:
    """Embeddings of the texts, reusing those in ``cache`` (keyed by a hash of the text)."""
    keys = [hashlib.sha1(t.encode()).hexdigest() for t in texts]
    known: dict[str, np.ndarray] = {}
    if cache and cache.exists():
        with np.load(cache) as data:
            known = dict(zip(data["keys"].tolist(), data["vectors"], strict=True))
    todo = [t for t, k in zip(texts, keys, strict=True) if k not in known]
    if todo:
        fresh = np.asarray(e5_embedder().query(todo), dtype=np.float32)
        known.update(zip((hashlib.sha1(t.encode()).hexdigest() for t in todo), fresh, strict=True))
        if cache:
            np.savez(cache, keys=np.array(list(known)), vectors=np.stack(list(known.values())))
    return np.stack([known[k] for k in keys])


def print_calibration(scores: np.ndarray, abusive: np.ndarray, languages: np.ndarray) -> None:
    """Per language, the lowest e5 score at which the cross-validated precision reaches
    ``ALONE_PRECISION``: where ``model_alone_threshold`` belongs (the model then fires alone)."""
    for language in sorted(set(languages.tolist())):
        mine = languages == language
        found = 1.0
        for threshold in np.arange(0.50, 1.0, 0.01):
            flagged = mine & (scores >= threshold)
            if flagged.sum() and (flagged & abusive).sum() / flagged.sum() >= ALONE_PRECISION:
                found = float(threshold)
                break
        recall = (mine & abusive & (scores >= found)).sum() / max(1, (mine & abusive).sum())
        print(
            f"{language}: e5 alone reaches precision {ALONE_PRECISION} (5-fold) from "
            f"{found:.2f} (recall {recall:.3f}); model_alone_threshold is "
            f"{AbuseConfig().model_alone_threshold}"
        )


def fit_gate(
    texts: list[str], labels: np.ndarray, strong: np.ndarray, folds: object
) -> dict[str, np.ndarray]:
    """The pre-filter (``analytics.abuse.gate``): abusive or not on hashed character n-grams.

    The gate only has to find the segments the embeddings would flag *by themselves*
    (English text that alt-profanity-check finds offensive, and text a rule hit, skip
    the gate): its threshold lets through ``GATE_RECALL`` of the ``strong`` sentences,
    those whose cross-validated e5 abuse score reaches the default
    ``model_alone_threshold``, judged on cross-validated gate scores (no sentence is
    scored by a gate or a classifier that saw it).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_predict

    features = gate_vectorizer().transform(texts)
    abusive = (labels != 0).astype(int)
    gate = LogisticRegression(C=GATE_C, class_weight="balanced", max_iter=2000)
    scored = cross_val_predict(gate, features, abusive, cv=folds, method="predict_proba")[:, 1]
    threshold = float(np.quantile(scored[strong], 1.0 - GATE_RECALL))
    let_through = scored >= threshold
    print(
        f"gate: threshold {threshold:.3f} lets through {let_through[strong].mean():.3f} of the "
        f"{int(strong.sum())} sentences e5 flags alone, {let_through[abusive == 1].mean():.3f} "
        f"of abusive and {let_through[abusive == 0].mean():.3f} of clean ones (5-fold)"
    )
    gate.fit(features, abusive)
    return {
        "gate_coef": gate.coef_[0].astype(np.float32),
        "gate_intercept": np.array(gate.intercept_[0], dtype=np.float32),
        "gate_threshold": np.array(threshold, dtype=np.float32),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="fit and print, write nothing")
    parser.add_argument("--out", type=Path, default=CLASSIFIER_FILE)
    parser.add_argument("--cache", type=Path, help="an .npz of embeddings to reuse and update")
    args = parser.parse_args()

    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    rows = training_rows()
    labels = np.array([CLASSES.index(label) for _, label, _ in rows])
    counts = {c: int((labels == i).sum()) for i, c in enumerate(CLASSES)}
    print(f"{len(rows)} training sentences: {counts}")
    started = time.perf_counter()
    vectors = embed([text for _, _, text in rows], args.cache)
    print(f"embedded in {time.perf_counter() - started:.1f} s")
    model = LogisticRegression(C=C, class_weight="balanced", max_iter=2000)
    folds = StratifiedKFold(5, shuffle=True, random_state=SEED)
    predicted = cross_val_predict(model, vectors, labels, cv=folds, method="predict_proba")
    abusive = labels != 0
    for threshold in (0.5, 0.7, 0.8, 0.9):
        flagged = 1 - predicted[:, 0] >= threshold
        tp = int((flagged & abusive).sum())
        recall = tp / max(1, int(abusive.sum()))
        precision = tp / max(1, int(flagged.sum()))
        print(f"5-fold, abuse score >= {threshold}: recall {recall:.3f} precision {precision:.3f}")
    model.fit(vectors, labels)
    languages = np.array([lang for lang, _, _ in rows])
    print_calibration(1 - predicted[:, 0], abusive, languages)
    strong = 1 - predicted[:, 0] >= AbuseConfig().model_alone_threshold
    gate_arrays = fit_gate([text for _, _, text in rows], labels, strong, folds)
    if args.check:
        return
    version = f"e5-small-q4+logreg C={C} data={fingerprint(rows)}"
    np.savez_compressed(
        args.out,
        coef=model.coef_.astype(np.float32),
        intercept=model.intercept_.astype(np.float32),
        classes=np.array(CLASSES),
        version=np.array(version),
        **gate_arrays,
    )
    print(f"wrote {args.out} ({args.out.stat().st_size / 1024:.0f} KiB): {version}")


if __name__ == "__main__":
    main()
