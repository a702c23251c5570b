"""Speaker separation of mono calls (analytics.diarize), on real audio and end to end.

The audio tests mix stereo calls down to mono (espeak-ng, a voice per party; the shared
real clip) and score the separation against the speech of each channel.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from diarize_eval import CASES, ONE_VOICE, TRAVEL, MonoCall, MonoCase, der, make_case, real_call
from factories import NOW
from sqlalchemy import create_engine, inspect, text

from analytics import audio
from analytics.config import Settings, load_settings
from analytics.diarize import (
    Diarization,
    DiarizeConfig,
    Diarizer,
    SpeakerTurn,
    VoiceTag,
    agent_side,
    label_speakers,
    split_by_voice,
)
from analytics.errors import ConfigError
from analytics.export import export_calls
from analytics.ingest import ingest
from analytics.models import (
    RawSegment,
    RawTranscript,
    RedactedSegment,
    RedactedTranscript,
    SpeechActivity,
    Word,
)
from analytics.pipeline import Engines, build_engines, process
from analytics.quality import compute_quality
from analytics.store import Store, get_call
from analytics.store.schema import LATEST_VERSION, MIGRATIONS, migrate, schema_version


@pytest.fixture(scope="module")
def diarizer() -> Diarizer:
    return Diarizer()


def _separate(diarizer: Diarizer, samples: np.ndarray, duration_s: float) -> Diarization:
    speech = audio.speech_activity({"unknown": samples}, duration_s=duration_s).of("unknown")
    return diarizer.diarize(samples, speech)


# -- the separation on real audio ----------------------------------------------------------


@pytest.mark.parametrize("case", [CASES[0], CASES[4]], ids=lambda c: c.name)
def test_two_voices_of_a_mono_mix_are_separated(
    case: MonoCase, diarizer: Diarizer, tmp_path: Path
) -> None:
    call = make_case(case, tmp_path)
    result = _separate(diarizer, call.samples, call.truth.duration_s)
    error, _ = der(call.truth.intervals, result.intervals(), call.truth.duration_s)
    baseline, _ = der(
        call.truth.intervals, {0: [(0.0, call.truth.duration_s)]}, call.truth.duration_s
    )
    assert result.speakers == 2
    assert error <= 0.10, f"DER {error:.3f}"
    assert baseline > 0.3  # doing nothing is far worse: the figure can fail
    assert all(0.0 <= t.confidence <= 1.0 for t in result.turns)


def test_a_one_voice_call_keeps_one_voice(diarizer: Diarizer, tmp_path: Path) -> None:
    call = make_case(ONE_VOICE, tmp_path)
    result = _separate(diarizer, call.samples, call.truth.duration_s)
    assert result.speakers == 1
    assert {t.label for t in result.turns} == {0}
    assert result.separation < diarizer.config.min_separation


def test_the_real_stereo_clip_mixed_to_mono(diarizer: Diarizer, tmp_path: Path) -> None:
    """Both talk at once for most of the 5 s clip: the separation must not make it worse
    than calling it one speaker, nor invent turns outside speech."""
    call = real_call(tmp_path)
    result = _separate(diarizer, call.samples, call.truth.duration_s)
    error, parts = der(call.truth.intervals, result.intervals(), call.truth.duration_s)
    speech = audio.speech_activity({"unknown": call.samples}).of("unknown")
    baseline, _ = der(call.truth.intervals, {0: speech}, call.truth.duration_s)
    assert result.speakers >= 1
    assert error <= baseline + 0.01
    assert parts["false alarm"] <= 0.3


def test_silence_gives_no_voice(diarizer: Diarizer) -> None:
    result = diarizer.diarize(np.zeros(16000 * 3, np.float32), [])
    assert result.speakers == 0 and result.turns == ()
    assert result.label_of(0.0, 1.0) == (None, 0.0)


def test_config_rejects_unknown_and_negative_settings() -> None:
    assert DiarizeConfig.from_mapping({"min_confidence": "0.5"}).min_confidence == 0.5
    with pytest.raises(ConfigError, match="unknown setting"):
        DiarizeConfig.from_mapping({"speakers": 2})
    with pytest.raises(ConfigError, match="negative"):
        DiarizeConfig.from_mapping({"switch_penalty": -1})


# -- from voices to agent and customer (fast, constructed records) -------------------------


def _voices(*turns: tuple[float, float, int, float]) -> Diarization:
    duration = max(end for _, end, _, _ in turns) + 1.0
    n = round(duration / 0.01)
    labels = np.full(n, -1, dtype=np.int8)
    confidence = np.zeros(n)
    for start, end, label, conf in turns:
        labels[round(start / 0.01) : round(end / 0.01)] = label
        confidence[round(start / 0.01) : round(end / 0.01)] = conf
    voices = len({t[2] for t in turns})
    return Diarization(
        duration,
        voices,
        tuple(SpeakerTurn(s, e, lab, c) for s, e, lab, c in turns),
        2.0 if voices > 1 else 0.2,  # a clear split; clearly one voice
        labels,
        confidence,
    )


def _transcript(*segments: tuple[float, float, str], language: str = "en") -> RedactedTranscript:
    return RedactedTranscript(
        call_id="m1",
        language=language,
        language_probability=1.0,
        duration_s=max(end for _, end, _ in segments) + 1.0,
        segments=tuple(RedactedSegment("unknown", s, e, t) for s, e, t in segments),
    )


def test_a_segment_is_cut_where_the_voice_changes() -> None:
    voices = _voices((0.0, 2.0, 0, 0.95), (2.0, 4.0, 1, 0.9))
    words = tuple(Word(0.2 + i * 0.5, 0.6 + i * 0.5, f"w{i}") for i in range(7))
    raw = RawTranscript(
        "m1", "en", 1.0, 5.0, (RawSegment("unknown", 0.2, 3.6, "w0 w1 w2 w3 w4 w5 w6", words),)
    )
    split, tags = split_by_voice(raw, voices)
    assert [len(s.words) for s in split.segments] == [4, 3]
    assert [t.label for t in tags] == [0, 1]
    assert split.segments[1].start == pytest.approx(2.2)
    assert tags[0].confidence > 0.85  # a little of the other voice under the last word


def test_the_agent_is_the_voice_that_greets_and_introduces_itself() -> None:
    # The customer (voice 0) speaks first; voice 1 greets and gives a (redacted) name.
    transcript = _transcript(
        (0.0, 1.0, "hello is this the insurance"),
        (1.5, 4.0, "good afternoon you are speaking with <PERSON> how can I help"),
        (4.5, 7.0, "my flight was cancelled"),
    )
    tags = (VoiceTag(0, 0.95), VoiceTag(1, 0.95), VoiceTag(0, 0.95))
    side = agent_side(transcript, tags)
    assert side.label == 1
    assert side.confidence >= 0.8
    assert "agent_identified" in side.cues[1] and "speaks_first" in side.cues[0]


def test_speaking_first_alone_is_a_weak_cue() -> None:
    transcript = _transcript((0.0, 1.0, "yes"), (1.5, 3.0, "okay then"))
    side = agent_side(transcript, (VoiceTag(0, 0.9), VoiceTag(1, 0.9)))
    assert side.confidence < 0.7


def test_a_caller_giving_their_name_is_not_taken_for_the_agent() -> None:
    # Voice 1 says "my name is <PERSON>" but asks for help about their own house.
    transcript = _transcript(
        (0.0, 2.5, "Home insurance, good morning, how may I help you?"),
        (3.0, 7.0, "Good morning, my name is <PERSON>, I am calling about my roof."),
        (7.5, 9.5, "I understand. Can you give me your contract number?"),
        (10.0, 12.0, "Yes, my contract is in my name."),
    )
    tags = tuple(VoiceTag(i % 2, 0.95) for i in range(4))
    side = agent_side(transcript, tags)
    assert side.label == 0 and side.confidence >= 0.9
    assert "customer_request" in side.cues[1] and "agent_offer" in side.cues[0]


def test_an_outbound_call_answered_by_the_customer() -> None:
    # The customer speaks first ("Hello?"); the agent calls from the company.
    transcript = _transcript(
        (0.0, 0.8, "Hello?"),
        (1.2, 5.0, "Hi, this is <PERSON> calling from <ORGANIZATION> about your claim."),
        (5.5, 7.0, "Oh yes, I was waiting for you."),
        (7.5, 10.0, "Your repair is booked for Monday, is that okay?"),
    )
    tags = tuple(VoiceTag(i % 2, 0.95) for i in range(4))
    side = agent_side(transcript, tags)
    assert side.label == 1 and side.confidence >= 0.9
    assert "speaks_first" in side.cues[0]


def test_french_cues_name_the_agent() -> None:
    transcript = _transcript(
        (0.0, 3.0, "Assistance auto bonjour, que puis-je faire pour vous ?"),
        (3.5, 7.0, "Bonjour, je suis <PERSON>, j'appelle pour ma voiture en panne."),
        (7.5, 9.0, "Je comprends, quel est votre numéro de contrat ?"),
        (9.5, 11.0, "C'est le trois deux un."),
        language="fr",
    )
    tags = tuple(VoiceTag(i % 2, 0.95) for i in range(4))
    side = agent_side(transcript, tags)
    assert side.label == 0 and side.confidence >= 0.9


def test_voices_saying_alike_things_leave_the_side_unsure() -> None:
    transcript = _transcript(
        (0.0, 1.0, "okay"),
        (1.5, 3.0, "right, and then?"),
        (3.5, 5.0, "then it was fine"),
        (5.5, 7.0, "okay then"),
    )
    tags = tuple(VoiceTag(i % 2, 0.95) for i in range(4))
    named, _ = label_speakers(transcript, tags, _voices((0.0, 7.0, 0, 0.95)))
    assert agent_side(transcript, tags).confidence < DiarizeConfig().min_confidence
    assert {s.speaker for s in named.segments} == {"unknown"}


def test_a_weak_split_names_nobody() -> None:
    # Clear side cues, but two voices barely told apart: the parties may be mixed.
    transcript = _transcript(
        (0.0, 3.0, "Thank you for calling, my name is <PERSON>, how can I help?"),
        (3.5, 6.0, "I am calling about my car."),
    )
    tags = (VoiceTag(0, 0.95), VoiceTag(1, 0.95))
    voices = _voices((0.0, 3.0, 0, 0.95), (3.5, 6.0, 1, 0.95))
    assert label_speakers(transcript, tags, voices)[0].segments[0].speaker == "agent"
    weak = dataclasses.replace(voices, separation=DiarizeConfig().min_named_separation - 0.1)
    # Named on a weak split only when the side classifier is very sure of the agent.
    strict = DiarizeConfig(weak_split_side_confidence=1.0)
    named, activity = label_speakers(transcript, tags, weak, strict)
    assert {s.speaker for s in named.segments} == {"unknown"}
    assert activity.of("agent") == () and activity.of("customer") == ()
    side = agent_side(transcript, tags)
    lenient = DiarizeConfig(weak_split_side_confidence=side.confidence)
    assert label_speakers(transcript, tags, weak, lenient)[0].segments[0].speaker == "agent"


def test_one_voice_with_both_parties_words_is_not_all_agent() -> None:
    # A two-party call the separation heard as one voice: the agent's greeting and the
    # caller's request in one "voice" must not make every segment the agent's.
    transcript = _transcript(
        (0.0, 3.0, "Good morning, this is <PERSON>, how can I help?"),
        (3.5, 6.0, "I am calling about my flight."),
    )
    tags = (VoiceTag(0, 0.95), VoiceTag(0, 0.95))
    named, _ = label_speakers(transcript, tags, _voices((0.0, 6.0, 0, 0.95)))
    assert {s.speaker for s in named.segments} == {"unknown"}


def test_one_voice_is_named_only_when_clearly_one() -> None:
    transcript = _transcript((0.0, 3.0, "Hello, this is <PERSON> from <ORGANIZATION>."))
    tags = (VoiceTag(0, 1.0),)
    clear = _voices((0.0, 3.0, 0, 1.0))
    assert label_speakers(transcript, tags, clear)[0].segments[0].speaker == "agent"
    # Just under min_separation: maybe two voices the split could not tell apart.
    doubtful = dataclasses.replace(clear, separation=DiarizeConfig().min_separation - 0.1)
    assert label_speakers(transcript, tags, doubtful)[0].segments[0].speaker == "unknown"


def test_confident_segments_are_named_and_doubtful_ones_stay_unknown() -> None:
    transcript = _transcript(
        (0.0, 3.0, "good morning my name is <PERSON> how can I help"),
        (3.5, 6.0, "my car broke down"),
        (6.5, 7.5, "right"),
        (8.0, 10.0, "thank you goodbye"),
    )
    voices = _voices(
        (0.0, 3.0, 0, 0.98), (3.5, 6.0, 1, 0.97), (6.5, 7.5, 1, 0.4), (8.0, 10.0, 0, 0.95)
    )
    tags = (VoiceTag(0, 0.98), VoiceTag(1, 0.97), VoiceTag(1, 0.4), VoiceTag(0, 0.95))
    named, activity = label_speakers(transcript, tags, voices)
    assert [s.speaker for s in named.segments] == ["agent", "customer", "unknown", "agent"]
    assert all(s.speaker_confidence is not None for s in named.segments)
    assert named.segments[2].speaker_confidence < DiarizeConfig().min_confidence
    assert activity.of("agent") == ((0.0, 3.0), (8.0, 10.0))
    assert activity.of("customer") == ((3.5, 6.0),)
    assert activity.of("unknown") == ((6.5, 7.5),)
    # The quality figures now have both parties (a few unknown seconds do not make it mono).
    report = compute_quality(named, activity)
    assert report.talk_time_agent_s == pytest.approx(5.0)
    assert report.talk_time_customer_s == pytest.approx(2.5)
    assert report.agent_identified and report.greeting
    pace = next(i for i in report.breakdown if i.name == "interruptions")
    assert pace.weight > 0


def test_one_voice_without_agent_cues_stays_unknown() -> None:
    transcript = _transcript((0.0, 3.0, "the horizon seems extremely distant"))
    named, activity = label_speakers(transcript, (VoiceTag(0, 1.0),), _voices((0.0, 3.0, 0, 1.0)))
    assert [s.speaker for s in named.segments] == ["unknown"]
    assert activity.of("agent") == ()
    report = compute_quality(named, activity)
    assert next(i for i in report.breakdown if i.name == "pace").weight == 0  # still "mono"


def test_a_mono_call_not_separated_is_still_read_as_mono() -> None:
    transcript = _transcript((0.0, 3.0, "hello my name is <PERSON>"))
    activity = SpeechActivity(4.0, {"unknown": ((0.0, 3.0),)})
    report = compute_quality(transcript, activity)
    assert report.agent_identified  # all speech read on a mono call
    assert report.talk_time_agent_s == 0.0


# -- the store -----------------------------------------------------------------------------


def test_migration_adds_the_confidence_column_to_an_old_workspace(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    version = next(n for n, _, f in MIGRATIONS if f.__name__.endswith("_speaker_confidence"))
    with engine.begin() as conn:
        migrate(conn)
        conn.execute(text("ALTER TABLE segments DROP COLUMN speaker_confidence"))
        # a workspace of the release before: its version in user_version only
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
        conn.execute(text(f"PRAGMA user_version = {version - 1}"))
    with engine.begin() as conn:
        assert migrate(conn) == list(range(version, LATEST_VERSION + 1))
        assert schema_version(conn) == LATEST_VERSION
    columns = {c["name"] for c in inspect(engine).get_columns("segments")}
    assert "speaker_confidence" in columns


# -- the pipeline end to end (real Whisper, Presidio, SQLite) ------------------------------


@pytest.fixture(scope="module")
def engines(tmp_path_factory: pytest.TempPathFactory) -> Engines:
    settings = load_settings(tmp_path_factory.mktemp("engines-home"), env={})
    return build_engines(settings, 1)


@dataclasses.dataclass(frozen=True)
class MonoWorkspace:
    settings: Settings
    call: MonoCall


@pytest.fixture(scope="module")
def mono_workspace(engines: Engines, tmp_path_factory: pytest.TempPathFactory) -> MonoWorkspace:
    """One mono call (the customer speaks first) processed for real into a workspace."""
    folder = tmp_path_factory.mktemp("mono-ws")
    case = MonoCase("mono-travel", TRAVEL, ("en-us+f2", "en+m1"))
    call = make_case(case, folder)
    csv_path = folder / "meta.csv"
    csv_path.write_text(
        "recording,call_id,channel_layout,started_at,language,agent_id,team\n"
        f"{call.path.name},mono-1,mono,2026-11-24T10:00:00+00:00,en,A7,Niort-2\n",
        encoding="utf-8",
    )
    settings = dataclasses.replace(load_settings(folder / "home", env={}), redacted_audio=False)
    with Store.open(settings) as store:
        ingest(store, metadata=csv_path, now=NOW)
        report = process(store, engines=engines, now=NOW)
    assert report.done == ["mono-1"], report.failed
    return MonoWorkspace(settings, call)


@pytest.mark.slow
def test_a_mono_call_end_to_end_has_agent_and_customer(mono_workspace: MonoWorkspace) -> None:
    # The customer speaks first: the agent is found from the greeting and the name.
    call = mono_workspace.call
    with Store.open(mono_workspace.settings) as store:
        record = get_call(store, "mono-1", NOW)
    speakers = [s["speaker"] for s in record["segments"]]
    assert {"agent", "customer"} <= set(speakers)
    assert all(s["speaker_confidence"] is not None for s in record["segments"])
    named = [s for s in record["segments"] if s["speaker"] != "unknown"]
    assert len(named) >= 0.8 * len(speakers)
    # The agent's segments are where the agent (left channel) really spoke.
    agent_truth = call.truth.of("agent")
    for seg in (s for s in named if s["speaker"] == "agent"):
        mid = (seg["start"] + seg["end"]) / 2
        assert any(a - 0.5 <= mid <= b + 0.5 for a, b in agent_truth), seg["start"]
    quality = record["quality"]
    assert quality["talk_time_agent_s"] > 5 and quality["talk_time_customer_s"] > 5
    assert quality["agent_identified"] and quality["greeting"]
    assert quality["agent_wpm"] is not None


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_a_mono_call_exports_agent_and_customer_figures(
    mono_workspace: MonoWorkspace, fmt: str, tmp_path: Path
) -> None:
    out = tmp_path / f"calls.{fmt}"
    with Store.open(mono_workspace.settings) as store:
        assert export_calls(store, fmt, out, now=NOW) == 1
    if fmt == "jsonl":
        exported = json.loads(out.read_text(encoding="utf-8").splitlines()[0])
        assert {"agent", "customer"} <= {s["speaker"] for s in exported["segments"]}
        assert set(exported["segments"][0]) == {"speaker", "start", "end", "text"}
        quality = exported["quality"]
    else:
        import pandas as pd

        row = pd.read_csv(out).iloc[0]
        assert row["channel_layout"] == "mono"
        quality = {k.removeprefix("quality_"): v for k, v in row.items() if "quality_" in k}
    assert quality["talk_time_agent_s"] > 5 and quality["talk_time_customer_s"] > 5
    assert quality["agent_wpm"] > 0 and quality["customer_wpm"] > 0
    assert quality["agent_identified"] in (True, "True", "true")


@pytest.mark.slow
def test_a_mono_call_counts_in_the_dashboard_aggregates(mono_workspace: MonoWorkspace) -> None:
    from analytics.store.aggregates import league_table

    with Store.open(mono_workspace.settings) as store:
        (row,) = league_table(store, NOW, by="agent")
    assert row["agent"] == "A7" and row["calls"] == 1
    assert row["avg_talk_agent_s"] > 5
    assert row["avg_agent_wpm"] > 0
    assert row["identified_rate"] == 1.0 and row["greeting_rate"] == 1.0


@pytest.mark.slow
def test_a_mono_call_in_the_notebook_dataset(mono_workspace: MonoWorkspace) -> None:
    from analytics.dataset import load_calls, load_segments

    calls_frame = load_calls(mono_workspace.settings)
    (row,) = calls_frame.to_dict("records")
    assert row["channel_layout"] == "mono"
    assert row["quality_talk_time_agent_s"] > 5 and row["quality_talk_time_customer_s"] > 5
    assert row["quality_customer_wpm"] > 0
    segments = load_segments(mono_workspace.settings)
    assert {"agent", "customer"} <= set(segments["speaker"].dropna())
    named = segments[segments["speaker"] != "unknown"]
    assert named["speaker_confidence"].notna().all()
    assert (named["speaker_confidence"] >= DiarizeConfig().min_confidence).all()
