"""Synthetic calls: placement, layout, formats, sample rates, loudness, bleed."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from analytics import synth
from analytics.audio import decode
from analytics.errors import CallqaError
from analytics.synth import PlacedTurn, Turn, synthesize_call

SCRIPT = [
    Turn("agent", "Good morning, how can I help you?"),
    Turn("customer", "My car will not start.", gap=1.0),
    Turn("agent", "I will send a tow truck.", at=6.0),
]


def _rms_db(x: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(np.square(x, dtype=np.float64)) + 1e-12))


def _native_rate(path: Path) -> int:
    with av.open(str(path)) as container:
        return int(container.streams.audio[0].rate)


@pytest.fixture(scope="module")
def call_16k(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[PlacedTurn]]:
    path = tmp_path_factory.mktemp("synth") / "call.wav"
    return path, synthesize_call(SCRIPT, path)


def test_placement_follows_gaps_and_explicit_times(call_16k):
    _, placed = call_16k
    assert [p.speaker for p in placed] == ["agent", "customer", "agent"]
    assert placed[0].start == 0.0
    assert placed[1].start == pytest.approx(placed[0].end + 1.0, abs=0.002)
    assert placed[2].start == pytest.approx(6.0, abs=0.002)
    for turn in placed:
        # espeak at 140 wpm: a few words take 1-4 s
        assert 0.8 < turn.end - turn.start < 4.0


def test_placement_is_the_voiced_audio(call_16k):
    path, placed = call_16k
    audio = decode(path)
    left = audio.samples[0]
    sr = audio.sample_rate
    agent = placed[2]
    inside = left[int(agent.start * sr) : int(agent.end * sr)]
    before = left[int((agent.start - 0.3) * sr) : int((agent.start - 0.02) * sr)]
    after = left[int((agent.end + 0.02) * sr) : int((agent.end + 0.3) * sr)]
    assert _rms_db(inside) > -40
    assert _rms_db(before) < -80
    assert _rms_db(after) < -80
    # the speech starts right at the placed start, not later
    assert np.abs(left[int(agent.start * sr) : int((agent.start + 0.05) * sr)]).max() > 1e-3


@pytest.mark.parametrize(
    ("layout", "agent_channel"), [("agent_left", 0), ("agent_right", 1), ("mono", 0)]
)
def test_layout_puts_each_party_on_its_channel(tmp_path, layout, agent_channel):
    path = tmp_path / f"{layout}.flac"
    placed = synthesize_call(SCRIPT[:2], path, layout=layout)
    samples = decode(path).samples
    assert samples.shape[0] == (1 if layout == "mono" else 2)
    agent, customer = placed
    sr = 16000

    def level(channel: int, turn: PlacedTurn) -> float:
        return _rms_db(samples[channel, int(turn.start * sr) : int(turn.end * sr)])

    assert level(agent_channel, agent) > -40
    if layout == "mono":
        assert level(0, customer) > -40
    else:
        other = 1 - agent_channel
        assert level(other, agent) < -80
        assert level(other, customer) > -40
        assert level(agent_channel, customer) < -80


@pytest.mark.parametrize("suffix", [".wav", ".flac", ".ogg", ".mp3"])
@pytest.mark.parametrize("sample_rate", [8000, 16000])
def test_formats_and_sample_rates(tmp_path, suffix, sample_rate):
    path = tmp_path / f"call{suffix}"
    placed = synthesize_call(SCRIPT[:2], path, sample_rate=sample_rate)
    # Opus always decodes at 48 kHz, whatever rate it was encoded from
    assert _native_rate(path) == (48000 if suffix == ".ogg" else sample_rate)
    duration = decode(path).duration_s
    # the call ends 0.5 s after the last voiced sample (codecs may pad a few ms)
    assert duration == pytest.approx(placed[-1].end + 0.5, abs=0.08)


def test_turns_may_overlap(tmp_path):
    script = [
        Turn("agent", "Let me explain the procedure to you."),
        Turn("customer", "No!", at=1.0),
    ]
    placed = synthesize_call(script, tmp_path / "overlap.wav")
    assert placed[1].start == pytest.approx(1.0, abs=0.002)
    assert placed[1].start < placed[0].end


def test_shouted_turn_is_at_least_12_db_louder(tmp_path):
    script = [
        Turn("customer", "I want my car back today."),
        Turn("customer", "I want my car back today.", shout=True),
    ]
    path = tmp_path / "shout.wav"
    placed = synthesize_call(script, path)
    right = decode(path).samples[1]
    normal, shout = (right[int(p.start * 16000) : int(p.end * 16000)] for p in placed)
    assert _rms_db(shout) - _rms_db(normal) >= 12.0
    assert np.abs(shout).max() <= 1.0


def test_bleed_puts_a_quiet_copy_on_the_other_channel(tmp_path):
    path = tmp_path / "bleed.wav"
    placed = synthesize_call(SCRIPT[:1], path, bleed_db=-30.0)
    samples = decode(path).samples
    turn = slice(int(placed[0].start * 16000), int(placed[0].end * 16000))
    difference = _rms_db(samples[0, turn]) - _rms_db(samples[1, turn])
    assert difference == pytest.approx(30.0, abs=1.0)


def test_french_voices(tmp_path):
    placed = synthesize_call(
        [Turn("agent", "Bonjour, je vous écoute.")], tmp_path / "fr.wav", language="fr"
    )
    assert placed[0].end - placed[0].start > 0.5


def test_missing_espeak_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(synth.shutil, "which", lambda name: None)
    with pytest.raises(CallqaError, match="espeak-ng is not installed"):
        synthesize_call(SCRIPT, tmp_path / "x.wav")
    assert not (tmp_path / "x.wav").exists()
