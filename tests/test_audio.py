"""Audio stage: decoding, channels, speech activity, loudness, bleeping."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from analytics.audio import (
    DecodedAudio,
    bleep,
    decode,
    decode_blocks,
    encode,
    encode_blocks,
    listen,
    segment_loudness,
    speaker_channels,
    speech_activity,
    speech_clips,
    suppress_bleed,
)
from analytics.errors import AudioError
from analytics.models import Interval
from analytics.synth import PlacedTurn, Turn, synthesize_call

SHARED_AUDIO = Path(__file__).parents[1].parent / "shared" / "audio"

# A call with known timing: a long silence (3 s), an interruption (the customer starts
# while the agent is speaking and both go on), and a shouted turn.
CALL_SCRIPT = [
    Turn("agent", "Good morning, roadside assistance, my name is Paul, how can I help you?"),
    Turn("customer", "Hello, my car has broken down on the motorway near Lyon."),
    Turn("agent", "I am sorry to hear that. Let me check your contract.", gap=0.8),
    Turn(
        "agent", "Thank you for waiting, I found your contract and everything is in order.", gap=3.0
    ),
    Turn("customer", "So when will the tow truck arrive?", gap=-1.2),
    Turn("customer", "This is ridiculous, I have been waiting for an hour!", shout=True, gap=0.7),
    Turn("agent", "I understand, the truck will be there in twenty minutes.", gap=0.8),
]


def _tones(channels: int, seconds: float, sample_rate: int) -> np.ndarray:
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    freqs = [440.0, 880.0][:channels]
    return np.stack([0.3 * np.sin(2 * np.pi * f * t) for f in freqs]).astype(np.float32)


def _peak_hz(x: np.ndarray, sample_rate: int = 16000) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / sample_rate)[np.argmax(spectrum)])


def _total(intervals: tuple[Interval, ...] | list[Interval]) -> float:
    return sum(end - start for start, end in intervals)


def _union(turns: list[PlacedTurn]) -> list[Interval]:
    merged: list[Interval] = []
    for turn in sorted(turns, key=lambda t: t.start):
        if merged and turn.start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], turn.end))
        else:
            merged.append((turn.start, turn.end))
    return merged


def _gaps(intervals: list[Interval]) -> list[float]:
    """Silences between the union of everyone's speech."""
    merged = _union([PlacedTurn("agent", "", s, e) for s, e in intervals])
    return [b[0] - a[1] for a, b in itertools.pairwise(merged)]


@pytest.fixture(scope="module")
def call(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[PlacedTurn]]:
    path = tmp_path_factory.mktemp("audio") / "call.flac"
    return path, synthesize_call(CALL_SCRIPT, path, bleed_db=-28.0)


# --- decode ------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".wav", ".flac", ".mp3", ".ogg"])
@pytest.mark.parametrize("sample_rate", [8000, 16000])
@pytest.mark.parametrize("channels", [1, 2])
def test_decode_formats_rates_and_channels(tmp_path, suffix, sample_rate, channels):
    path = encode(_tones(channels, 2.0, sample_rate), tmp_path / f"t{suffix}", sample_rate)
    audio = decode(path)
    assert isinstance(audio, DecodedAudio)
    assert audio.sample_rate == 16000
    assert audio.samples.dtype == np.float32
    assert audio.samples.shape[0] == channels
    assert audio.duration_s == pytest.approx(2.0, abs=0.08)
    middle = audio.samples[:, 8000:24000]
    assert _peak_hz(middle[0]) == pytest.approx(440, abs=5)
    if channels == 2:
        assert _peak_hz(middle[1]) == pytest.approx(880, abs=5)


def test_decode_real_clips():
    stereo = decode(SHARED_AUDIO / "stereo_diarization.wav")
    assert stereo.samples.shape[0] == 2
    assert stereo.duration_s == pytest.approx(5.0, abs=0.1)
    jfk = decode(SHARED_AUDIO / "jfk.flac")  # 44.1 kHz, the same voice on both channels
    assert jfk.samples.shape[0] == 2
    assert jfk.duration_s == pytest.approx(11.0, abs=0.1)
    assert set(speaker_channels(jfk, "agent_left")) == {"unknown"}
    assert set(speaker_channels(stereo, "agent_left")) == {"agent", "customer"}


@pytest.mark.parametrize(
    "content", [b"", b"this is not audio at all" * 100, b"RIFF\x00\x00\x00\x00WAVEfmt "]
)
def test_corrupt_file_raises_audio_error_naming_it(tmp_path, content):
    path = tmp_path / "broken.wav"
    path.write_bytes(content)
    with pytest.raises(AudioError, match=r"broken\.wav"):
        decode(path)


def test_missing_file_raises_audio_error(tmp_path):
    with pytest.raises(AudioError, match=r"nothere\.flac"):
        decode(tmp_path / "nothere.flac")


# --- channels ------------------------------------------------------------------------------


def test_speaker_channels_per_layout():
    left, right = np.full(10, 0.1, np.float32), np.full(10, 0.2, np.float32)
    stereo = DecodedAudio(np.stack([left, right]))
    by_left = speaker_channels(stereo, "agent_left")
    assert set(by_left) == {"agent", "customer"}
    assert np.array_equal(by_left["agent"], left)
    assert np.array_equal(by_left["customer"], right)
    by_right = speaker_channels(stereo, "agent_right")
    assert np.array_equal(by_right["agent"], right)
    assert np.array_equal(by_right["customer"], left)
    mixed = speaker_channels(stereo, "mono")
    assert set(mixed) == {"unknown"}
    assert np.allclose(mixed["unknown"], 0.15)


def test_dual_mono_file_is_unknown():
    rng = np.random.default_rng(1)
    voice = rng.standard_normal(16000).astype(np.float32) * 0.1
    dual = DecodedAudio(np.stack([voice, voice + 0.001 * rng.standard_normal(16000)]))
    assert set(speaker_channels(dual, "agent_left")) == {"unknown"}
    silent_right = DecodedAudio(np.stack([voice, np.zeros_like(voice)]))
    assert set(speaker_channels(silent_right, "agent_left")) == {"agent", "customer"}


@pytest.mark.parametrize("layout", ["agent_left", "agent_right", "mono"])
def test_mono_file_is_unknown_whatever_the_layout(layout):
    mono = DecodedAudio(np.full((1, 10), 0.1, np.float32))
    channels = speaker_channels(mono, layout)
    assert set(channels) == {"unknown"}
    assert channels["unknown"].shape == (10,)


# --- speech activity -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def activity(call):
    path, _ = call
    audio = decode(path)
    return speech_activity(speaker_channels(audio, "agent_left"), duration_s=audio.duration_s)


@pytest.mark.parametrize("speaker", ["agent", "customer"])
def test_talk_time_per_speaker_within_10_percent(call, activity, speaker):
    _, placed = call
    truth = _total(_union([t for t in placed if t.speaker == speaker]))
    assert _total(activity.of(speaker)) == pytest.approx(truth, rel=0.10)


def test_intervals_start_and_end_with_the_turns(call, activity):
    _, placed = call
    for turn in placed:
        intervals = activity.of(turn.speaker)
        starts = [s for s, _ in intervals]
        ends = [e for _, e in intervals]
        assert min(abs(s - turn.start) for s in starts) < 0.2
        assert min(abs(e - turn.end) for e in ends) < 0.2


def test_silences_between_turns_within_half_a_second(call, activity):
    _, placed = call
    true_gaps = [g for g in _gaps([(t.start, t.end) for t in placed]) if g >= 1.0]
    found = [g for g in _gaps([*activity.of("agent"), *activity.of("customer")]) if g >= 1.0]
    assert len(found) == len(true_gaps) == 1  # the 3 s hold
    assert found[0] == pytest.approx(true_gaps[0], abs=0.5)
    assert max(found) == pytest.approx(3.0, abs=0.5)


def test_interruption_is_visible_as_overlap(call, activity):
    _, placed = call
    interrupter = placed[4]  # the customer starts 1.2 s before the agent finishes
    agent = activity.of("agent")
    customer = activity.of("customer")
    start = min((s for s, _ in customer), key=lambda s: abs(s - interrupter.start))
    assert any(s < start < e - 0.5 for s, e in agent)


def test_bleed_is_not_counted_as_the_other_speaker(call, activity):
    _, placed = call
    agent_turns = [t for t in placed if t.speaker == "agent"]
    # the customer channel carries the agent at -28 dB: it must not show as customer speech
    for turn in agent_turns[:1]:
        overlap = sum(
            max(0.0, min(e, turn.end) - max(s, turn.start)) for s, e in activity.of("customer")
        )
        assert overlap < 0.2


def test_speech_activity_of_an_8k_call(tmp_path):
    path = tmp_path / "narrow.wav"
    placed = synthesize_call(CALL_SCRIPT[:2], path, sample_rate=8000)
    audio = decode(path)
    activity = speech_activity(speaker_channels(audio, "agent_left"))
    for turn in placed:
        assert _total(activity.of(turn.speaker)) == pytest.approx(turn.end - turn.start, rel=0.1)
    assert activity.duration_s == pytest.approx(audio.duration_s)


def test_speech_activity_of_silence_is_empty():
    silent = {"agent": np.zeros(32000, np.float32), "customer": np.zeros(32000, np.float32)}
    activity = speech_activity(silent)
    assert activity.of("agent") == ()
    assert activity.of("customer") == ()
    assert activity.duration_s == 2.0


def test_suppress_bleed_silences_only_the_quiet_copy():
    rng = np.random.default_rng(0)
    loud = (0.3 * rng.standard_normal(16000)).astype(np.float32)
    own = (0.05 * rng.standard_normal(16000)).astype(np.float32)
    agent = np.concatenate([loud, np.zeros(16000, np.float32)])
    customer = np.concatenate([0.02 * loud, own])  # -34 dB copy, then its own voice
    cleaned = suppress_bleed({"agent": agent, "customer": customer})
    assert not np.any(cleaned["customer"][:16000])
    assert np.array_equal(cleaned["customer"][16000:], own)
    assert np.array_equal(cleaned["agent"], agent)


# --- loudness ------------------------------------------------------------------------------


def test_shouted_turn_is_loudest(call):
    path, placed = call
    channels = speaker_channels(decode(path), "agent_left")
    levels = segment_loudness(channels, [(t.speaker, t.start, t.end) for t in placed])
    assert all(level is not None for level in levels)
    shouted = levels[5]
    others = [lv for i, lv in enumerate(levels) if i != 5 and lv is not None]
    assert shouted is not None
    assert shouted - max(others) >= 10.0
    assert all(-40 < lv < -10 for lv in others)


def test_loudness_ignores_pauses_inside_a_segment(call):
    path, placed = call
    channels = speaker_channels(decode(path), "agent_left")
    turn = placed[0]
    tight, padded = segment_loudness(
        channels, [("agent", turn.start, turn.end), ("agent", turn.start - 0.5, turn.end + 0.5)]
    )
    assert tight is not None and padded is not None
    assert padded == pytest.approx(tight, abs=0.5)


def test_loudness_is_none_without_channel_or_sound():
    channels = {"agent": np.zeros(16000, np.float32)}
    assert segment_loudness(
        channels, [("customer", 0.0, 1.0), ("agent", 0.0, 1.0), ("agent", 2.0, 3.0)]
    ) == [
        None,
        None,
        None,
    ]


# --- bleeping ------------------------------------------------------------------------------


def _band_energy(x: np.ndarray, low: float, high: float) -> float:
    spectrum = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(len(x), 1 / 16000)
    return float(spectrum[(freqs >= low) & (freqs <= high)].sum())


@pytest.mark.parametrize("suffix", [".ogg", ".flac"])
def test_bleep_replaces_the_padded_span_with_a_tone(call, tmp_path, suffix):
    path, placed = call
    source = decode(path)
    turn = placed[1]  # the customer
    span = (turn.start + 1.0, turn.start + 2.0)
    out = bleep(path, [span], tmp_path / f"out{suffix}", pad_s=0.25)
    assert out == tmp_path / f"out{suffix}"
    bleeped = decode(out)
    assert bleeped.samples.shape[0] == 2
    assert bleeped.duration_s == pytest.approx(source.duration_s, abs=0.03)

    inside = slice(int((span[0] - 0.2) * 16000), int((span[1] + 0.2) * 16000))
    for channel in (0, 1):
        x = bleeped.samples[channel, inside]
        tone = _band_energy(x, 950, 1050)
        assert tone > 0.9 * _band_energy(x, 0, 8000)
        assert _peak_hz(x) == pytest.approx(1000, abs=5)
    # the original speech is gone from the span: nothing correlates with it any more
    original = source.samples[1, inside]
    residue = bleeped.samples[1, inside] - _project(bleeped.samples[1, inside], original)
    assert np.corrcoef(residue, original)[0, 1] < 0.1


def _project(x: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """The 1 kHz tone part of x (least squares on sin/cos), to compare what is left."""
    t = np.arange(len(x)) / 16000
    basis = np.stack([np.sin(2 * np.pi * 1000 * t), np.cos(2 * np.pi * 1000 * t)], axis=1)
    coef, *_ = np.linalg.lstsq(basis, x, rcond=None)
    return (basis @ coef).astype(np.float32)


def test_bleep_leaves_the_rest_unchanged(call, tmp_path):
    path, placed = call
    source = decode(path)
    span = (placed[1].start + 1.0, placed[1].start + 2.0)
    bleeped = decode(bleep(path, [span], tmp_path / "out.flac", pad_s=0.25))
    before = slice(0, int((span[0] - 0.25) * 16000) - 1)
    after = slice(int((span[1] + 0.25) * 16000) + 1, source.samples.shape[1])
    for part in (before, after):
        assert np.allclose(bleeped.samples[:, part], source.samples[:, part], atol=2e-4)


def test_bleep_opus_keeps_speech_outside_the_spans(call, tmp_path):
    path, placed = call
    source = decode(path)
    bleeped = decode(bleep(path, [(placed[2].start, placed[2].end)], tmp_path / "out.ogg"))
    turn = placed[0]
    part = slice(int(turn.start * 16000), int(turn.end * 16000))
    correlation = np.corrcoef(bleeped.samples[0, part], source.samples[0, part])[0, 1]
    assert correlation > 0.95


def test_bleep_clips_spans_to_the_file_and_handles_none(call, tmp_path):
    path, _ = call
    source = decode(path)
    out = decode(
        bleep(
            path,
            [(-1.0, 0.5), (source.duration_s - 0.3, source.duration_s + 5)],
            tmp_path / "c.flac",
        )
    )
    assert out.duration_s == pytest.approx(source.duration_s, abs=0.01)
    assert _peak_hz(out.samples[0, :8000]) == pytest.approx(1000, abs=5)
    unchanged = decode(bleep(path, [], tmp_path / "none.flac"))
    assert np.allclose(unchanged.samples, source.samples, atol=2e-4)


def test_bleep_writes_atomically(call, tmp_path):
    path, _ = call
    target = tmp_path / "redacted" / "call.ogg"
    bleep(path, [(1.0, 2.0)], target)
    assert sorted(p.name for p in target.parent.iterdir()) == ["call.ogg"]


def test_bleep_of_a_broken_source_leaves_nothing(tmp_path):
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"garbage" * 50)
    with pytest.raises(AudioError, match=r"broken\.wav"):
        bleep(broken, [(0.0, 1.0)], tmp_path / "out.ogg")
    assert not (tmp_path / "out.ogg").exists()


def test_encode_opus_at_a_rate_opus_lacks_and_bad_suffix(tmp_path):
    path = encode(_tones(2, 1.0, 22050), tmp_path / "odd.ogg", 22050)
    audio = decode(path)
    assert audio.duration_s == pytest.approx(1.0, abs=0.03)
    assert _peak_hz(audio.samples[1, 2000:14000]) == pytest.approx(880, abs=5)
    with pytest.raises(AudioError, match="unsupported output format"):
        encode(_tones(1, 0.1, 16000), tmp_path / "x.aiff")


# --- a call of any length, block by block -------------------------------------------------


def test_decode_blocks_are_whole_blocks_that_add_up_to_the_call(tmp_path):
    path = encode(_tones(2, 5.0, 16000), tmp_path / "t.flac")
    blocks = list(decode_blocks(path, block_s=1.3))
    assert [b.shape[1] for b in blocks[:-1]] == [20800] * 3
    assert 0 < blocks[-1].shape[1] <= 20800
    assert np.array_equal(np.concatenate(blocks, axis=1), decode(path).samples)


def test_a_recording_past_max_duration_is_refused_while_decoding(tmp_path):
    path = encode(_tones(1, 3.0, 16000), tmp_path / "t.wav")
    with pytest.raises(AudioError, match=r"longer than max_duration_s = 2 s"):
        decode(path, max_duration_s=2)
    with pytest.raises(AudioError, match=r"t\.wav: longer than max_duration_s"):
        listen(path, "mono", max_duration_s=2)
    assert decode(path, max_duration_s=3.5).duration_s == pytest.approx(3.0, abs=0.01)


def test_listening_in_small_blocks_hears_what_the_whole_call_shows(call, activity):
    """Block boundaries (every 4 s here, inside turns) change nothing that matters."""
    path, placed = call
    whole = decode(path)
    heard = listen(path, "agent_left", block_s=4.0)
    assert heard.duration_s == pytest.approx(whole.duration_s, abs=1e-3)
    for speaker in ("agent", "customer"):
        assert _total(heard.activity.of(speaker)) == pytest.approx(
            _total(activity.of(speaker)), rel=0.05
        )
    # The speech handed to Whisper covers every turn, on its own speaker's channel.
    for turn in placed:
        covered = sum(
            max(
                0.0,
                min(turn.end, (c.start + len(c.samples)) / 16000)
                - max(turn.start, c.start / 16000),
            )
            for c in heard.speech
            if c.speaker == turn.speaker
        )
        assert covered >= 0.95 * (turn.end - turn.start), turn
    # No piece of speech is cut at a block boundary into two.
    whole_clips = speech_clips(speaker_channels(whole, "agent_left"))
    assert abs(len(heard.speech) - len(whole_clips)) <= 1
    # Loudness from the kept frame levels matches the one measured on the samples.
    segments = [(t.speaker, t.start, t.end) for t in placed]
    channels = speaker_channels(whole, "agent_left")
    for mine, reference in zip(
        heard.loudness(segments), segment_loudness(channels, segments), strict=True
    ):
        assert mine == pytest.approx(reference, abs=0.5)


def test_a_mono_call_longer_than_one_block_is_heard_to_its_end(tmp_path):
    # A one-channel stream once stopped the dual-mono check at its first block, and
    # listen() kept only that block (mono calls were cut to 64 s).
    voice = _tones(1, 3.0, 16000)
    path = encode(voice, tmp_path / "mono.flac")
    heard = listen(path, "mono", block_s=1.0)
    assert heard.duration_s == pytest.approx(3.0, abs=0.01)
    assert (
        listen(path, "mono", block_s=1.0).levels["unknown"].size
        == listen(path, "mono", block_s=10.0).levels["unknown"].size
    )


def test_listen_tells_dual_mono_from_two_parties_over_the_stream(tmp_path):
    voice = _tones(1, 3.0, 16000)[0]
    same = encode(np.stack([voice, voice]), tmp_path / "same.flac")
    assert set(listen(same, "agent_left", block_s=1.0).levels) == {"unknown"}
    two = encode(_tones(2, 3.0, 16000), tmp_path / "two.flac")
    assert set(listen(two, "agent_left", block_s=1.0).levels) == {"agent", "customer"}


def test_bleeping_block_by_block_equals_bleeping_whole(call, tmp_path):
    path, placed = call
    span = (placed[1].start + 0.6, placed[1].start + 2.2)  # straddles a 1 s block edge
    small = decode(bleep(path, [span], tmp_path / "small.flac", block_s=1.0)).samples
    large = decode(bleep(path, [span], tmp_path / "large.flac", block_s=600)).samples
    assert np.array_equal(small, large)


def _traced_peak(fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    import tracemalloc

    tracemalloc.start()
    try:
        result = fn(*args, **kwargs)
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.slow
def test_a_long_silent_call_is_heard_in_memory_that_does_not_grow_with_it(tmp_path):
    """Silent stereo FLACs, small on disk as in the incident: three times longer, the
    same peak of numpy memory, below the size of the call (a whole-call decode would
    hold all of it, and triple with the length)."""
    block = np.zeros((2, 16000 * 60), np.float32)
    peaks = {}
    for minutes in (3, 9):
        path = encode_blocks((block for _ in range(minutes)), tmp_path / f"s{minutes}.flac")
        assert path.stat().st_size < 500_000
        heard, peaks[minutes, "listen"] = _traced_peak(listen, path, "agent_left")
        assert heard.duration_s == pytest.approx(60 * minutes, abs=0.1)
        assert heard.speech == () and not any(heard.activity.intervals.values())
        out = tmp_path / f"b{minutes}.ogg"
        _, peaks[minutes, "bleep"] = _traced_peak(bleep, path, [(10.0, 11.0)], out)
    for stage in ("listen", "bleep"):
        assert peaks[9, stage] < 1.25 * peaks[3, stage], peaks
        assert peaks[9, stage] < 2 * 16000 * 60 * 9 * 4, peaks  # the call as float32
