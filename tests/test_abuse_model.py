"""The learned abuse signal, the severity rules and what each event explains.

Unit tests use a scripted model (fixed scores per text); the ``slow`` tests load the real
one (bundled multilingual-e5-small, the shipped classifier, alt-profanity-check) once per
session. Every sentence here was written for these tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pytest
from factories import NOW, add_call, make_analysis
from sqlalchemy import text

from analytics.abuse import AbuseConfig, AbuseModel, ModelScore, detect_abuse, detect_abuse_many
from analytics.abuse.detect import Policy, model_severity, rule_severity
from analytics.abuse.gate import GATE_FEATURES, Gate
from analytics.abuse.lexicon import Hit
from analytics.abuse.model import CLASSES, CLASSIFIER_FILE, model_text
from analytics.config import Settings
from analytics.errors import ConfigError
from analytics.models import AbuseCategory, RedactedSegment, RedactedTranscript, Severity
from analytics.store import Store
from analytics.store import aggregates as agg
from analytics.store.schema import LATEST_VERSION, MIGRATIONS, migrate, schema_version
from analytics.store.writes import save_analysis


def call(*texts: str, language: str = "en", speaker: str = "customer") -> RedactedTranscript:
    segments = tuple(
        RedactedSegment(speaker=speaker, start=4.0 * i, end=4.0 * i + 3.0, text=t)  # type: ignore[arg-type]
        for i, t in enumerate(texts)
    )
    return RedactedTranscript("t", language, 1.0, 4.0 * len(texts), segments)


@dataclass
class ScriptedModel:
    """Stands in for AbuseModel: a fixed score per text, 0 for any other text."""

    scores: dict[str, ModelScore]
    english: object | None = "profanity-check"
    seen: list[tuple[str | None, tuple[str, ...]]] = field(default_factory=list)

    def score(
        self,
        texts: Sequence[str],
        language: str | None = None,
        force: Sequence[bool] | None = None,
        profanity_floor: float = 0.0,
    ) -> list[ModelScore | None]:
        self.seen.append((language, tuple(texts)))
        none = ModelScore(0.0, 0.0, "insult")
        return [self.scores.get(t, none) for t in texts]


def scripted(scores: dict[str, ModelScore], english: bool = True) -> AbuseModel:
    return ScriptedModel(scores, "profanity-check" if english else None)  # type: ignore[return-value]


# -- severity rules -------------------------------------------------------------------------

_INSULT = ModelScore(0.95, 0.95, "insult")
_PROFANE = ModelScore(0.95, 0.95, "profanity")


@pytest.mark.parametrize(
    ("category", "hits", "score", "expected"),
    [
        # any threat toward the listener is at least medium
        ("threat", [Hit("threat", "low", "watch yourself")], None, "medium"),
        ("threat", [Hit("threat", "high", "kill you")], None, "high"),
        # an insult said to the listener (a directed word) is at least medium
        ("insult", [Hit("insult", "low", "useless", directed=True)], None, "medium"),
        # a mild put-down at nobody in particular stays low...
        ("insult", [Hit("insult", "low", "rubbish")], None, "low"),
        # ...unless the embeddings read it as abuse aimed at someone
        ("insult", [Hit("insult", "low", "rubbish")], _INSULT, "medium"),
        ("insult", [Hit("insult", "low", "rubbish")], ModelScore(0.8, 0.85, "insult"), "low"),
        ("insult", [Hit("insult", "low", "rubbish")], _PROFANE, "low"),
        # swearing that targets nobody stays low, whatever the model says
        ("profanity", [Hit("profanity", "low", "damn")], _INSULT, "low"),
        ("profanity", [Hit("profanity", "low", "damn")], None, "low"),
        ("harassment", [Hit("harassment", "high", "slur")], None, "high"),
        ("insult", [Hit("insult", "medium", "a"), Hit("insult", "high", "b")], None, "high"),
    ],
)
def test_rule_severity_table(
    category: AbuseCategory, hits: list[Hit], score: ModelScore | None, expected: Severity
) -> None:
    assert rule_severity(category, hits, score, confirm=0.9) == expected


@pytest.mark.parametrize(
    ("category", "expected"),
    [("profanity", "low"), ("insult", "medium"), ("threat", "medium"), ("harassment", "medium")],
)
def test_model_only_severity(category: AbuseCategory, expected: Severity) -> None:
    assert model_severity(category) == expected


@pytest.mark.parametrize(
    ("sentence", "flagged", "severity"),
    [
        ("You're bloody useless, all of you, pathetic.", True, "medium"),
        ("you are useless", True, "medium"),
        ("this bloody printer is useless", False, "low"),  # swearing at a thing
        ("oh damn the car won't start", False, "low"),
        ("what the fuck is wrong with this line", False, "low"),
        ("I am such a loser, I forgot my number", False, "none"),  # self-deprecation
        ("call me stupid but I never checked the oil", False, "none"),
        ("I'll hurt you, watch yourself", True, "high"),  # violence: high
    ],
)
def test_rules_alone_table(sentence: str, flagged: bool, severity: Severity) -> None:
    report = detect_abuse(call(sentence))
    assert (report.flagged, report.severity) == (flagged, severity)


@pytest.mark.parametrize(
    ("sentence", "flagged"),
    [
        ("je suis trop bête j'ai oublié mon numéro", False),
        ("putain la voiture ne démarre plus", False),
        ("vous êtes nuls", True),
    ],
)
def test_rules_alone_table_fr(sentence: str, flagged: bool) -> None:
    assert detect_abuse(call(sentence, language="fr")).flagged is flagged


def test_shouting_raises_a_step() -> None:
    quiet = [
        RedactedSegment("customer", 4.0 * i, 4.0 * i + 3, "ok", loudness_db=-30.0) for i in range(4)
    ]
    loud = RedactedSegment("customer", 20.0, 23.0, "damn this line", loudness_db=-10.0)
    transcript = RedactedTranscript("t", "en", 1.0, 24.0, (*quiet, loud))
    (event,) = detect_abuse(transcript).events
    assert (event.category, event.severity, event.shouted) == ("profanity", "medium", True)


# -- the model beside the rules (scripted scores) -------------------------------------------


def test_model_event_is_explained() -> None:
    sentence = "you make every call a misery"
    model = scripted({sentence: ModelScore(0.91, 0.86, "insult", profanity=0.96)})
    report = detect_abuse(call("hello", sentence), model=model)
    (event,) = report.events
    assert report.flagged and report.severity == "medium"
    assert (event.speaker, event.start, event.end, event.text) == ("customer", 4.0, 7.0, sentence)
    assert (event.category, event.matched, event.score) == ("insult", "model", 0.91)
    assert event.model == "e5 0.86, profanity-check 0.96"


def test_rule_event_carries_the_model_score_and_no_duplicate() -> None:
    sentence = "you are useless"
    model = scripted({sentence: ModelScore(0.99, 0.99, "insult", profanity=0.99)})
    (event,) = detect_abuse(call(sentence), model=model).events
    assert (event.matched, event.score) == ("useless, model", 0.99)
    assert event.model == "e5 0.99, profanity-check 0.99"


@pytest.mark.parametrize(
    ("model_category", "score", "severity", "matched"),
    [
        ("insult", 0.7, "medium", "rubbish, model"),  # they agree: lifted to medium
        ("insult", 0.6, "low", "rubbish"),  # the model is under its threshold
        ("profanity", 0.9, "low", "rubbish"),  # the model reads swearing: no lift
    ],
)
def test_model_agreeing_with_a_mild_rule_lifts_it(
    model_category: AbuseCategory, score: float, severity: Severity, matched: str
) -> None:
    segment = RedactedSegment("customer", 0.0, 3.0, "that is rubbish")
    policy = Policy(confirm=0.95, threshold=0.65)
    found = policy.events(
        segment, [Hit("insult", "low", "rubbish")], ModelScore(score, 0.5, model_category), False
    )
    assert next((e.category, e.severity, e.matched) for e in found) == ("insult", severity, matched)


@pytest.mark.parametrize(
    ("language", "has_english", "score", "flagged"),
    [
        ("en", True, 0.7, True),  # English: mean of two classifiers, 0.65 suffices
        ("en", True, 0.6, False),
        ("en", False, 0.9, False),  # no second opinion: the higher threshold
        ("en", True, 0.98, True),
        ("fr", True, 0.9, False),
        ("fr", True, 0.98, True),
    ],
)
def test_threshold_depends_on_the_signals(
    language: str, has_english: bool, score: float, flagged: bool
) -> None:
    sentence = "une phrase quelconque"
    model = scripted({sentence: ModelScore(score, score, "threat")}, english=has_english)
    assert detect_abuse(call(sentence, language=language), model=model).flagged is flagged


@pytest.mark.parametrize(("embedding", "fires"), [(0.3, False), (0.45, True)])
def test_a_swear_word_alone_does_not_carry_the_mean(embedding: float, fires: bool) -> None:
    sentence = "you have been ever so brilliant"
    score = ModelScore((embedding + 1.0) / 2, embedding, "insult", profanity=1.0)
    report = detect_abuse(call(sentence), model=scripted({sentence: score}))
    assert report.flagged is fires


def test_english_threat_without_swearing_fires_on_the_embeddings_alone() -> None:
    sentence = "i will wait by your car tonight"
    model = scripted({sentence: ModelScore(0.5, 0.99, "threat", profanity=0.01)})
    (event,) = detect_abuse(call(sentence), model=model).events
    assert (event.category, event.severity, event.matched) == ("threat", "medium", "model")


def test_model_profanity_stays_low_and_model_off_is_rules_alone() -> None:
    sentence = "blimey what a day"
    model = scripted({sentence: ModelScore(0.99, 0.99, "profanity", profanity=0.99)})
    report = detect_abuse(call(sentence), model=model)
    assert [(e.category, e.severity) for e in report.events] == [("profanity", "low")]
    assert not report.flagged
    off = AbuseConfig(model=False)
    threat = "the pen is mightier"
    model = scripted({threat: ModelScore(0.99, 0.99, "threat", profanity=0.99)})
    assert detect_abuse(call(threat), off, model).events == ()
    assert model.seen == []  # type: ignore[attr-defined]


def test_agent_abuse_is_attributed_to_the_agent() -> None:
    sentence = "calm down you silly old fool"
    model = scripted({sentence: ModelScore(0.9, 0.9, "insult", profanity=0.9)})
    (event,) = [e for e in detect_abuse(call(sentence, speaker="agent"), model=model).events]
    assert event.speaker == "agent"


# -- configuration and the weights file ------------------------------------------------------


def test_model_settings(tmp_path: Path) -> None:
    settings = Settings(
        home=tmp_path, sections={"abuse": {"model": "false", "model_threshold": 0.7}}
    )
    config = AbuseConfig.from_settings(settings)
    assert (config.model, config.model_threshold) == (False, 0.7)
    bad = Settings(home=tmp_path, sections={"abuse": {"model_confirm": 1.5}})
    with pytest.raises(ConfigError, match="model_confirm"):
        AbuseConfig.from_settings(bad)


def test_weights_are_plain_arrays_and_small() -> None:
    assert CLASSIFIER_FILE.stat().st_size < 5 * 1024 * 1024
    with np.load(CLASSIFIER_FILE, allow_pickle=False) as data:
        assert tuple(data["classes"]) == CLASSES
        assert data["coef"].shape == (len(CLASSES), 384)


def test_a_wrong_weights_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "w.npz"
    np.savez(path, coef=np.zeros((2, 4)), intercept=np.zeros(2), classes=np.array(["a", "b"]))
    with pytest.raises(ConfigError, match=r"w\.npz"):
        AbuseModel.load(path, embedder=object(), with_profanity_check=False)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"missing\.npz"):
        AbuseModel.load(tmp_path / "missing.npz", embedder=object())  # type: ignore[arg-type]


def test_model_text_is_asr_like_and_keeps_accents() -> None:
    assert model_text("Vous êtes <PERSON>, NON ?!") == "vous êtes name non"
    assert model_text("It’s   fine.") == "it's fine"


class CountingEmbedder:
    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def query(self, texts: list[str]) -> np.ndarray:
        self.calls.append(list(texts))
        return np.ones((len(texts), 384), dtype=np.float32) / np.sqrt(384)


def test_scores_are_cached_by_text_and_empty_texts_skipped() -> None:
    embedder = CountingEmbedder()
    model = replace(AbuseModel.load(embedder=embedder, with_profanity_check=False), gate=Gate())
    first = model.score(["Hello there", "hello there!", "", "other"], "en")
    assert first[2] is None and first[0] == first[1]
    assert embedder.calls == [["hello there", "other"]]
    model.score(["other", "hello there"], "en")
    assert len(embedder.calls) == 1


def closed_gate() -> Gate:
    """A gate that lets nothing through by itself (P(abusive) about 0.007 for any text)."""
    return Gate(coef=np.zeros(GATE_FEATURES, dtype=np.float32), intercept=-5.0, threshold=0.5)


def test_the_gate_holds_back_texts_unless_a_rule_forces_them() -> None:
    embedder = CountingEmbedder()
    model = AbuseModel.load(embedder=embedder, with_profanity_check=False)
    model = replace(model, gate=closed_gate())
    scores = model.score(["one moment please", "you utter muppet", ""], "en", [False, True, True])
    assert scores[0] is None and scores[1] is not None and scores[2] is None
    assert embedder.calls == [["you utter muppet"]]
    # a text already scored is not gated again: its score is known
    assert model.score(["you utter muppet"], "en")[0] == scores[1]


def test_detect_forces_segments_with_a_rule_hit_past_the_gate() -> None:
    embedder = CountingEmbedder()
    model = replace(
        AbuseModel.load(embedder=embedder, with_profanity_check=False), gate=closed_gate()
    )
    report = detect_abuse(call("my car broke down", "you stupid idiot"), model=model)
    assert embedder.calls == [["you stupid idiot"]]
    assert all(e.score is not None for e in report.events) and report.events


def test_an_open_gate_lets_everything_through() -> None:
    gate = Gate.from_arrays({})
    assert gate.passes(["a", "b"]) == [True, True]
    assert closed_gate().passes(["a", "b"]) == [False, False]


def test_the_shipped_gate_is_plain_arrays() -> None:
    with np.load(CLASSIFIER_FILE, allow_pickle=False) as data:
        gate = Gate.from_arrays(data)
    assert gate.coef.shape == (GATE_FEATURES,) and 0.0 < gate.threshold < 1.0


# -- the store keeps the score and the alert list shows it -----------------------------------


def test_event_score_is_stored_and_shown_in_alerts(store: Store) -> None:
    add_call(store, "c-rule", abuse_severity="medium")
    add_call(store, "c-model", language="en", state="pending")
    sentence = "you make every call a misery"
    model = scripted({sentence: ModelScore(0.91, 0.86, "insult", profanity=0.96)})
    report = detect_abuse(call(sentence), model=model)
    analysis = replace(make_analysis("c-model", language="en"), abuse=report)
    with store.write() as conn:
        save_analysis(conn, "c-model", analysis, now=NOW, redacted_audio_path=None)
    alerts = {a["call_id"]: a for a in agg.alerts(store, NOW)}
    assert alerts["c-model"]["model_score"] == pytest.approx(0.91)
    assert alerts["c-model"]["fired"] == ["model"]
    assert alerts["c-rule"]["model_score"] is None and alerts["c-rule"]["fired"] == ["test"]


def test_migration_adds_the_score_column(store: Store) -> None:
    version = next(n for n, _, f in MIGRATIONS if f.__name__.endswith("_abuse_event_score"))
    with store.write() as conn:
        conn.execute(text("ALTER TABLE abuse_events DROP COLUMN score"))
        # a workspace of the release before: its version in user_version only
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
        conn.execute(text(f"PRAGMA user_version = {version - 1}"))
    with store.write() as conn:
        assert migrate(conn) == list(range(version, LATEST_VERSION + 1))
        columns = [row[1] for row in conn.execute(text("PRAGMA table_info(abuse_events)"))]
        assert "score" in columns and schema_version(conn) == LATEST_VERSION


# -- the real model --------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    ("sentence", "language"),
    [
        ("I am going to wait outside your office and break your arms", "en"),
        ("you brainless little clown, you should be ashamed", "en"),
        ("je vais venir à votre agence et vous briser les os", "fr"),
        ("espèce de larve incapable, tu ne sers strictement à rien", "fr"),
    ],
)
def test_real_model_flags_abuse_without_listed_words(
    abuse_model: AbuseModel, sentence: str, language: str
) -> None:
    report = detect_abuse(call("hello", sentence, language=language), model=abuse_model)
    assert report.flagged
    assert all(e.score is not None and e.model.startswith("e5") for e in report.events)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("sentence", "language"),
    [
        ("hello my car has broken down on the ring road near the bridge", "en"),
        ("thank you so much you have been fucking brilliant today", "en"),
        ("I am such an idiot, I left the keys in the ignition", "en"),
        ("my neighbour shouted that he would kill me so I called the police", "en"),
        ("bonjour ma voiture est en panne sur la rocade vers le pont", "fr"),
        ("je suis vraiment trop bête j'ai oublié les papiers", "fr"),
        ("merci beaucoup vous êtes génial", "fr"),
    ],
)
def test_real_model_leaves_clean_talk_alone(
    abuse_model: AbuseModel, sentence: str, language: str
) -> None:
    assert not detect_abuse(call(sentence, language=language), model=abuse_model).flagged


@pytest.mark.slow
def test_real_model_directed_insult_flags_the_call(abuse_model: AbuseModel) -> None:
    report = detect_abuse(call("You're bloody useless, all of you, pathetic."), model=abuse_model)
    assert report.flagged and report.severity == "medium"
    insult = next(e for e in report.events if e.category == "insult")
    assert insult.matched == "useless, model" and insult.score is not None and insult.score > 0.65
    assert "e5" in insult.model and "profanity-check" in insult.model


@pytest.mark.slow
@pytest.mark.slow
def test_real_gate_lets_abuse_through_and_holds_back_routine_talk(
    abuse_model: AbuseModel,
) -> None:
    abusive = [
        "you are a brainless waste of space",
        "je vais te retrouver et tu vas le regretter",
        "t'es qu'une larve incapable",
    ]
    routine = [
        "can i have your policy number please",
        "the tow truck will be there in forty minutes",
        "bonjour je vous écoute",
        "merci bonne journée au revoir",
    ]
    passed = abuse_model.gate.passes([model_text(t) for t in abusive + routine])
    assert passed[: len(abusive)] == [True] * len(abusive)
    assert sum(passed[len(abusive) :]) <= 1


@pytest.mark.slow
def test_real_model_loads_offline_from_the_package(abuse_model: AbuseModel) -> None:
    assert abuse_model.version.startswith("e5-small-q4+logreg")
    (score,) = abuse_model.score(["you are a disgrace"], "en")
    assert score is not None and 0.0 <= score.embedding <= 1.0 and score.profanity is not None


@pytest.mark.parametrize(
    ("sentence", "category", "flagged"),
    [
        ("blimey what a day", "profanity", False),  # swearing at nobody: low
        ("blimey you and your forms", "insult", True),  # swearing said to "you"
        ("va chier toi", "insult", True),
        ("t'as vu ce bordel", "insult", True),
    ],
)
def test_model_profanity_said_to_the_listener_is_an_insult(
    sentence: str, category: AbuseCategory, flagged: bool
) -> None:
    model = scripted({sentence: ModelScore(0.99, 0.99, "profanity", profanity=0.99)})
    report = detect_abuse(call(sentence), model=model)
    assert [e.category for e in report.events if e.matched == "model"] == [category]
    assert report.flagged is flagged


# -- many calls at once ----------------------------------------------------------------------

_BATCH = [
    ("en", ("hello", "you worthless little gremlin")),
    ("fr", ("bonjour", "espèce de limace décérébrée")),
    ("en", ("one moment please",)),
    ("fr", ("je reviens vers vous", "t'es qu'un gland", "merci")),
    ("en", ()),
]


def test_many_calls_give_the_reports_of_one_at_a_time_with_one_batch_per_language() -> None:
    scores = {
        "you worthless little gremlin": _INSULT,
        "espèce de limace décérébrée": _INSULT,
        "t'es qu'un gland": ModelScore(0.5, 0.5, "insult"),
    }
    calls = [call(*texts, language=language) for language, texts in _BATCH]
    one_by_one = [detect_abuse(c, model=scripted(scores)) for c in calls]
    model = scripted(scores)
    together = detect_abuse_many(calls, model=model)
    assert together == one_by_one
    assert [r.flagged for r in together] == [True, True, False, True, False]
    seen = model.seen  # type: ignore[attr-defined]
    assert sorted(language for language, _ in seen) == ["en", "fr"]
    assert sum(len(texts) for _, texts in seen) == sum(len(t) for _, t in _BATCH)


def test_many_calls_without_a_model_are_the_rules_alone() -> None:
    calls = [call(*texts, language=language) for language, texts in _BATCH]
    assert detect_abuse_many(calls) == [detect_abuse(c) for c in calls]
    assert detect_abuse_many([]) == []


@pytest.mark.slow
def test_real_model_batches_many_one_segment_calls_like_one_at_a_time(
    abuse_model: AbuseModel,
) -> None:
    sentences = [
        ("you are a pathetic worthless idiot and i hope you get sacked", "en"),
        ("the tow truck is on its way to the motorway", "en"),
        ("vous êtes une incapable doublée d'une menteuse", "fr"),
        ("le dépanneur arrive dans vingt minutes", "fr"),
    ]
    calls = [call(text, language=language) for text, language in sentences]
    together = detect_abuse_many(calls, model=abuse_model)
    assert together == [detect_abuse(c, model=abuse_model) for c in calls]
    assert [r.flagged for r in together] == [True, False, True, False]
