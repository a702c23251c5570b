"""Agent voiceprints: the combination with the side classifier (fake voices), the voice
stats of real espeak-ng speech, and governance (stored voices deleted with their calls,
never pooled from an objected, erased, private or expired call) on both backends."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import timedelta

import numpy as np
import pytest
from factories import NOW, add_call, make_analysis

from analytics import governance
from analytics.models import VoiceStats
from analytics.store import voiceprints
from analytics.store.writes import save_analysis
from analytics.voiceprint import (
    VoiceprintConfig,
    combine,
    contrast,
    pool,
    stats_of,
    voice_logits,
)

DIMS = 21


def _voice(centre: float, frames: int = 500, seed: int = 0) -> VoiceStats:
    rng = np.random.default_rng(seed)
    stats = stats_of(rng.normal(centre, 1.0, size=(frames, DIMS)))
    assert stats is not None
    return stats


# -- the combination (fake voices) ------------------------------------------------------------


def test_the_voice_closer_to_the_print_gets_the_positive_log_odds() -> None:
    agent, other = _voice(0.0, seed=1), _voice(3.0, seed=2)
    print_ = _voice(0.0, frames=2000, seed=3)
    c = contrast({0: other, 1: agent}, print_)
    assert c[1] > 0.9 and c[0] == -c[1]
    logits = voice_logits({0: other, 1: agent}, print_, VoiceprintConfig(weight=3.0))
    assert 2.7 < logits[1] <= 3.0 and logits[0] == -logits[1]  # at most 20:1
    # Two voices equally far from the print: no evidence either way.
    alike = contrast({0: _voice(1.0, seed=4), 1: _voice(-1.0, seed=5)}, print_)
    assert abs(alike[0]) < 0.1


def test_combined_log_odds_add_and_only_weak_words_are_overturned() -> None:
    weak = combine({0: 0.6, 1: 0.4}, {0: -3.0, 1: 3.0})
    assert weak[1] > 0.9 and math.isclose(weak[0] + weak[1], 1.0)
    sure = combine({0: 0.999, 1: 0.001}, {0: -3.0, 1: 3.0})
    assert sure[0] > 0.95  # a capped voice does not overturn words that are sure
    assert combine({0: 0.7, 1: 0.3}, {}) == pytest.approx({0: 0.7, 1: 0.3})


def test_no_print_or_one_voice_gives_no_voice_evidence() -> None:
    config = VoiceprintConfig()
    assert voice_logits({0: _voice(0.0), 1: _voice(1.0)}, None, config) == {}
    assert voice_logits({0: _voice(0.0)}, _voice(0.0), config) == {}


def test_pool_weights_frames_and_keeps_the_spread_between_calls() -> None:
    a = VoiceStats(100, (0.0,) * DIMS, (1.0,) * DIMS)
    b = VoiceStats(300, (2.0,) * DIMS, (1.0,) * DIMS)
    pooled = pool([a, b])
    assert pooled is not None and pooled.frames == 400 and pooled.calls == 2
    assert pooled.mean[0] == pytest.approx(1.5)
    assert pooled.var[0] == pytest.approx(1.0 + 0.25 * 2.25 + 0.75 * 0.25)
    assert pool([]) is None
    assert "mean" not in repr(pooled)  # biometric vectors stay out of logs


def test_config_reads_booleans_and_refuses_unknown_keys() -> None:
    from analytics.errors import ConfigError

    assert VoiceprintConfig().enabled is False  # off by default (README)
    assert VoiceprintConfig.from_mapping({"enabled": "true"}).enabled is True
    with pytest.raises(ConfigError, match="unknown setting"):
        VoiceprintConfig.from_mapping({"enable": True})


def test_agent_side_adds_the_voice_log_odds_to_the_words() -> None:
    from analytics.diarize import VoiceTag, agent_side
    from analytics.models import RedactedSegment, RedactedTranscript

    # Two voices whose words say little either way.
    segments = tuple(
        RedactedSegment(speaker="unknown", start=2.0 * i, end=2.0 * i + 1.5, text="okay")
        for i in range(6)
    )
    transcript = RedactedTranscript("c1", "en", 0.9, 12.0, segments, {})
    tags = tuple(VoiceTag(i % 2, 0.9) for i in range(6))
    words = agent_side(transcript, tags)
    assert not words.voiceprint_used
    with_voice = agent_side(transcript, tags, voice_logits={0: -3.0, 1: 3.0})
    assert with_voice.voiceprint_used and with_voice.label == 1
    assert with_voice.text_scores == words.scores  # the words' own probabilities are kept


def test_two_voices_with_words_on_one_only_are_named_by_the_voice_and_never_enrol() -> None:
    from analytics.diarize import VoiceTag, agent_side
    from analytics.models import RedactedSegment, RedactedTranscript

    segments = tuple(
        RedactedSegment(speaker="unknown", start=2.0 * i, end=2.0 * i + 1.5, text="okay")
        for i in range(3)
    )
    transcript = RedactedTranscript("c1", "en", 0.9, 6.0, segments, {})
    tags = tuple(VoiceTag(1, 0.9) for _ in range(3))  # voice 0 has no words
    assert agent_side(transcript, tags).label is None
    side = agent_side(transcript, tags, voice_logits={0: 2.9, 1: -2.9})
    assert side.label == 0 and side.confidence > 0.9 and side.voiceprint_used
    assert side.text_scores == {}  # chosen by the voice: the pipeline does not enrol it


# -- real speech -------------------------------------------------------------------------------


@pytest.mark.slow
def test_an_agent_voice_is_nearer_its_own_print_than_another_voice(tmp_path) -> None:
    """espeak-ng: the print of one voice from a stereo call, then the same voice against
    another one in a second call's channels."""
    from analytics import audio
    from analytics.synth import Turn, synthesize_call
    from analytics.voiceprint import channel_stats

    config = VoiceprintConfig(enabled=True, min_frames=100)
    lines = ("Good morning, how can I help you today?", "I will check that for you now.")
    turns = [Turn("agent", lines[0]), Turn("customer", "Hello, my car broke down.")]
    turns += [Turn("agent", lines[1]), Turn("customer", "Thank you very much.")]
    enrol, scored = tmp_path / "enrol.wav", tmp_path / "scored.wav"
    synthesize_call(turns, enrol, voices=("en+f3", "en+m3"))
    synthesize_call(turns[::-1], scored, voices=("en+f3", "en+m1"))
    heard = audio.listen(enrol, "agent_left")
    print_ = channel_stats(heard.speech, "agent", config)
    heard.close()
    heard = audio.listen(scored, "agent_left")
    agent = channel_stats(heard.speech, "agent", config)
    customer = channel_stats(heard.speech, "customer", config)
    heard.close()
    assert print_ is not None and agent is not None and customer is not None
    assert contrast({0: customer, 1: agent}, print_)[1] > 0.1


# -- governance (both backends) ----------------------------------------------------------------


def _call_with_voice(store, call_id: str, agent_id: str = "A101", **kwargs) -> None:  # type: ignore[no-untyped-def]
    add_call(store, call_id, agent_id=agent_id, **kwargs)
    analysis = replace(
        make_analysis(call_id),
        agent_voice=_voice(0.0, seed=len(call_id)),
        agent_voice_source="stereo",
    )
    with store.write() as conn:
        save_analysis(conn, call_id, analysis, now=NOW, redacted_audio_path=None)


def _pooled_calls(store, agent_id: str = "A101") -> int:  # type: ignore[no-untyped-def]
    rows = voiceprints.agent_voice_rows(store, NOW, [agent_id])
    return len(rows.get(agent_id, []))


def _stored(store) -> int:  # type: ignore[no-untyped-def]
    return sum(r["calls"] for r in voiceprints.voice_counts(store, NOW + timedelta(days=-400)))


def test_a_voiceprint_pools_visible_calls_and_forgets_objected_ones(store) -> None:
    _call_with_voice(store, "c1", caller_id="+33612345678")
    _call_with_voice(store, "c2")
    _call_with_voice(store, "c3", agent_id="B202")
    assert _pooled_calls(store) == 2 and _pooled_calls(store, "B202") == 1
    governance.object_calls(store, call_id="c2", now=NOW, actor="dpo")
    assert _pooled_calls(store) == 1
    governance.subject_erase(store, "+33612345678", now=NOW)
    assert _pooled_calls(store) == 0
    assert _pooled_calls(store, "B202") == 1
    with store.read() as conn:  # the rows themselves are gone, not only hidden
        from sqlalchemy import func, select

        from analytics.store.schema import agent_voices

        left = conn.execute(select(agent_voices.c.call_id).order_by(agent_voices.c.call_id))
        assert [r[0] for r in left] == ["c3"]
        assert conn.execute(select(func.count()).select_from(agent_voices)).scalar_one() == 1


def test_expired_calls_stop_counting_before_purge_and_purge_deletes_them(store) -> None:
    _call_with_voice(store, "old", started_at=NOW - timedelta(days=200))
    _call_with_voice(store, "new")
    assert _pooled_calls(store) == 1  # past retention: not pooled, even before purge
    governance.purge(store, now=NOW)
    with store.read() as conn:
        from sqlalchemy import select

        from analytics.store.schema import agent_voices

        assert [r[0] for r in conn.execute(select(agent_voices.c.call_id))] == ["new"]


def test_an_objected_call_never_enrols_and_private_calls_are_forgotten(store) -> None:
    from analytics.evaluations.workflow import mark_private

    _call_with_voice(store, "c1")
    _call_with_voice(store, "c2")
    mark_private(store, "c1", user="agent1", agent_id="A101", now=NOW)
    assert _pooled_calls(store) == 1
    # An objection filed while the call still looks done (a read racing the objection):
    # the objections table alone keeps its voice out of the pool.
    from analytics.store.rights import add_objection

    with store.write() as conn:
        add_objection(conn, "c2", None, actor="dpo", now=NOW)
    assert _pooled_calls(store) == 0


def test_voiceprint_delete_removes_one_agents_voices(store) -> None:
    _call_with_voice(store, "c1")
    _call_with_voice(store, "c2", agent_id="B202")
    with store.write() as conn:
        assert voiceprints.delete_voices(conn, "A101") == 1
    assert _pooled_calls(store) == 0 and _pooled_calls(store, "B202") == 1
    assert _stored(store) == 1


# -- the pipeline ------------------------------------------------------------------------------


def test_process_stores_a_stereo_agents_voice_audits_it_and_hands_mono_calls_the_print(
    store, tmp_path, now
) -> None:  # type: ignore[no-untyped-def]
    from pipeline_fakes import fake_engines, write_call

    from analytics.audit import verify
    from analytics.ingest import ingest
    from analytics.pipeline import pending_calls, process

    folder = tmp_path / "in"
    for i in range(2):
        write_call(folder / f"s{i}.wav", seed=i)
    write_call(folder / "m.wav", channels=1, seed=5)
    csv = folder / "calls.csv"
    csv.write_text(
        "recording,call_id,agent_id,channel_layout,started_at\n"
        "s0.wav,s0,A7,agent_left,2026-11-24T10:00:00+00:00\n"
        "s1.wav,s1,A7,agent_left,2026-11-24T11:00:00+00:00\n"
        "m.wav,m1,A7,mono,2026-11-24T12:00:00+00:00\n",
        encoding="utf-8",
    )
    assert not ingest(store, [], csv, now=now).rejects
    engines = replace(fake_engines(), voiceprint_config=VoiceprintConfig(True, min_frames=20))
    on = replace(store.settings, sections={"voiceprint": {"enabled": True}})
    # Off (the default): the mono call is handed no print.
    assert all(c.voiceprint is None for c in pending_calls(store, now))
    store.settings = on  # type: ignore[misc]
    with store.write() as conn:  # only the stereo calls now: the mono one waits
        from analytics.store.writes import set_state

        set_state(conn, "m1", "failed", now)
    report = process(store, engines=engines, now=now)
    assert sorted(report.done) == ["s0", "s1"]
    assert [(r["agent_id"], r["calls"]) for r in voiceprints.voice_counts(store, now)] == [
        ("A7", 2)
    ]
    with store.write() as conn:
        set_state(conn, "m1", "pending", now)
    (mono,) = pending_calls(store, now)
    assert mono.voiceprint is not None and mono.voiceprint.calls == 2
    governance.object_calls(store, call_id="s0", now=now, actor="dpo")
    (mono,) = pending_calls(store, now)
    assert mono.voiceprint is not None and mono.voiceprint.calls == 1
    with store.read() as conn:
        from sqlalchemy import select

        from analytics.store.schema import audit

        actions = [r[0] for r in conn.execute(select(audit.c.action).order_by(audit.c.id))]
    assert actions.count("voiceprint") == 2
    assert not verify(store)


def test_cli_lists_and_deletes_voices_and_audits_the_deletion(store) -> None:  # type: ignore[no-untyped-def]
    from click.testing import CliRunner

    from analytics.cli import cli

    _call_with_voice(store, "c1")
    _call_with_voice(store, "c2", agent_id="B202")
    home = ["--home", str(store.settings.home)]
    listed = CliRunner().invoke(cli, [*home, "voiceprint", "list"])
    assert listed.exit_code == 0, listed.output
    assert "A101\tstereo\t1 calls\t5 s" in listed.output and "B202" in listed.output
    deleted = CliRunner().invoke(cli, [*home, "voiceprint", "delete", "--agent", "A101"])
    assert deleted.exit_code == 0 and "1 call(s)" in deleted.output
    assert _pooled_calls(store) == 0 and _pooled_calls(store, "B202") == 1
    with store.read() as conn:
        from sqlalchemy import select

        from analytics.store.schema import audit

        assert "voiceprint_delete" in [r[0] for r in conn.execute(select(audit.c.action))]
