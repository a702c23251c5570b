"""The learned side classifier of mono calls (analytics/diarize_side.py)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from analytics.diarize import VoiceTag, agent_side
from analytics.diarize_side import FEATURES, MODEL_FILE, SideModel, side_model, voice_features
from analytics.errors import ConfigError
from analytics.models import RedactedSegment, RedactedTranscript

ROOT = Path(__file__).resolve().parents[1]


def _train_module():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("side_train", ROOT / "benchmarks/side_train.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("side_train", module)  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _call(*turns: str, language: str = "en") -> tuple[RedactedTranscript, tuple[VoiceTag, ...]]:
    """Alternating voices 0, 1, 0, ... one segment per turn, 3 s each."""
    segments = tuple(
        RedactedSegment("unknown", 4.0 * i, 4.0 * i + 3.0, text) for i, text in enumerate(turns)
    )
    transcript = RedactedTranscript("s1", language, 1.0, 4.0 * len(turns), segments)
    return transcript, tuple(VoiceTag(i % 2, 0.95) for i in range(len(turns)))


def test_the_stored_model_is_what_the_training_scripts_give() -> None:
    # side_model.json is reproducible from analytics/data/diarize/training/ (no hand edits).
    train = _train_module()
    stored = json.loads(MODEL_FILE.read_text(encoding="utf-8"))
    assert tuple(stored["features"]) == FEATURES
    x, y, _ = train.dataset(train.read_scripts())
    assert len(y) > 500 and set(y) == {0, 1}
    refit = train.fit(x, y, stored["C"])
    assert np.allclose(refit, stored["coef"], atol=2e-3)


def test_no_training_script_is_a_benchmark_script() -> None:
    from diarize_eval import CASES, HELD_OUT, HELD_OUT_2, MORE_CASES

    train = _train_module()

    def long(texts):  # type: ignore[no-untyped-def]
        return {t.lower() for t in texts if len(t.split()) >= 4}  # not "Thank you."

    trained = long(text for script in train.read_scripts() for _, text in script.turns)
    for case in (*CASES, *MORE_CASES, *HELD_OUT, *HELD_OUT_2):
        assert not trained & long(turn.text for turn in case.turns), case.name


def test_swapping_the_voices_swaps_the_probabilities() -> None:
    transcript, tags = _call(
        "Hello?",
        "Hi, it's <PERSON> from the surgery, we've got your test results.",
        "Oh, thanks for calling. Is everything okay?",
        "Yes, all normal. I'll send you a letter with the details.",
    )
    side = agent_side(transcript, tags)
    swapped = agent_side(transcript, tuple(VoiceTag(1 - t.label, t.confidence) for t in tags))  # type: ignore[operator]
    assert side.label == 1 and swapped.label == 0
    assert side.scores[1] == pytest.approx(swapped.scores[0])
    assert side.scores[0] + side.scores[1] == pytest.approx(1.0)


def test_the_agent_found_without_any_pick_up_formula() -> None:
    # No greeting, no name, no "how can I help": the agent still speaks for the company
    # ("we"), of the caller's things ("your"), commits to act; the caller of their own.
    transcript, tags = _call(
        "My heating stopped working last night and my kids are freezing.",
        "Right. We can send someone today. What is your address?",
        "Twenty Mill Lane. I had the same problem last winter.",
        "Okay, I will book the visit for this afternoon and we will call you before.",
        "Thanks.",
    )
    side = agent_side(transcript, tags)
    assert side.label == 1 and side.confidence >= 0.85


def test_french_agent_without_pick_up_formula() -> None:
    transcript, tags = _call(
        "Oui, bonjour, mon chauffe-eau fuit depuis ce matin et j'ai de l'eau partout.",
        "D'accord madame. Nous allons envoyer un plombier. Quelle est votre adresse ?",
        "Douze rue des Lilas. J'ai coupé l'eau.",
        "Très bien, je vous confirme le passage cet après-midi.",
        language="fr",
    )
    side = agent_side(transcript, tags)
    assert side.label == 1 and side.confidence >= 0.85


def test_little_said_leaves_the_side_unsure() -> None:
    transcript, tags = _call("yes", "okay then")
    assert agent_side(transcript, tags).confidence < 0.7


def test_features_read_each_voice_apart() -> None:
    transcript, _ = _call(
        "Thank you for calling, how can I help?", "I'm calling about my claim, thanks."
    )
    by_voice = {0: [transcript.segments[0]], 1: [transcript.segments[1]]}
    features = voice_features(by_voice, transcript)
    get = {name: i for i, name in enumerate(FEATURES)}
    assert features[0][get["agent_company"]] == 1 and features[1][get["agent_company"]] == 0
    assert features[1][get["customer_request"]] >= 1
    assert features[0][get["speaks_first"]] == 1 and features[1][get["speaks_last"]] == 1
    assert features[0][get["question_share"]] > features[1][get["question_share"]]


def test_a_model_file_of_other_features_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "side_model.json"
    path.write_text(json.dumps({"features": ["greeting_opening"], "coef": [1.0]}))
    with pytest.raises(ConfigError, match="do not match"):
        SideModel.load(path)
    assert side_model().features == FEATURES
