"""One decode and one speech-detection pass per channel per call (issue 16).

A spy counts FFmpeg decodes and Silero VAD runs while a real clip goes through
``analyse_call``: transcription, quality, loudness and the redacted copy share them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from factories import NOW
from pipeline_fakes import fake_engines

from analytics import audio
from analytics.config import Settings
from analytics.models import Call
from analytics.pipeline import analyse_call

SHARED_AUDIO = Path(__file__).resolve().parents[1].parent / "shared" / "audio"


def _call(path: Path, layout: str = "agent_left") -> Call:
    return Call(
        call_id="spy",
        started_at=NOW,
        audio_path=path,
        audio_sha256="0" * 64,
        duration_s=5.0,
        channels=2,
        sample_rate=16000,
        channel_layout=layout,  # type: ignore[arg-type]
        language="en",
        agent_id=None,
        team=None,
    )


@pytest.fixture
def spies(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[int]]:
    counts: dict[str, list[int]] = {"decode": [], "vad": []}
    decode_frames, probabilities = audio._decode_frames, audio.speech_probabilities

    def spy_decode(*args, **kwargs):  # type: ignore[no-untyped-def]
        counts["decode"].append(1)
        return decode_frames(*args, **kwargs)

    def spy_vad(samples: np.ndarray) -> np.ndarray:
        counts["vad"].append(len(samples))
        return probabilities(samples)

    monkeypatch.setattr(audio, "_decode_frames", spy_decode)
    monkeypatch.setattr(audio, "speech_probabilities", spy_vad)
    return counts


@pytest.mark.parametrize(
    "clip, layout, channels",
    [
        ("stereo_diarization.wav", "agent_left", 2),
        ("jfk.flac", "mono", 1),
    ],
)
def test_a_call_is_decoded_once_and_each_channel_heard_once(
    spies: dict[str, list[int]], settings: Settings, clip: str, layout: str, channels: int
) -> None:
    analysis = analyse_call(_call(SHARED_AUDIO / clip, layout), fake_engines(), settings)
    assert len(spies["decode"]) == 1  # not again for the dual-mono check, nor to bleep
    # One Silero pass per channel over the whole call (one block: these clips are short).
    duration = audio.decode(SHARED_AUDIO / clip).duration_s
    assert len(spies["vad"]) == channels
    assert all(n == round(duration * 16000) for n in spies["vad"])
    # ...and what it found feeds every stage.
    assert analysis.transcript.segments and analysis.activity is not None
    assert any(analysis.activity.intervals.values())
    assert analysis.quality.score is not None
    assert analysis.redacted_audio_path is not None and analysis.redacted_audio_path.is_file()
    bleeped = audio.decode(analysis.redacted_audio_path)
    assert bleeped.duration_s == pytest.approx(duration, abs=0.05)


def test_long_calls_are_heard_block_by_block_with_one_vad_run_per_block(
    spies: dict[str, list[int]], tmp_path: Path
) -> None:
    heard = audio.listen(SHARED_AUDIO / "stereo_diarization.wav", "agent_left", block_s=1.0)
    assert len(spies["decode"]) == 1
    # Several blocks, each channel's samples given to Silero exactly once.
    assert len(spies["vad"]) >= 8
    assert sum(spies["vad"]) == 2 * round(heard.duration_s * 16000)


def test_from_bytes_the_redacted_audio_comes_back_as_bytes(settings: Settings) -> None:
    """A Ray actor gets the recording's bytes and returns the redacted copy's bytes."""
    path = SHARED_AUDIO / "stereo_diarization.wav"
    analysis = analyse_call(_call(path), fake_engines(), settings, recording=path.read_bytes())
    assert analysis.redacted_audio_path is None
    assert analysis.redacted_audio is not None and analysis.redacted_audio[:4] == b"OggS"
    assert not (settings.home / "redacted-audio").exists()  # nothing written by the worker
    assert "redacted_audio=" not in repr(analysis)  # bytes stay out of repr


def test_broken_bytes_are_named_by_the_call(settings: Settings) -> None:
    from analytics.errors import AudioError

    with pytest.raises(AudioError, match=r"^spy: cannot decode"):
        analyse_call(_call(Path("x.wav")), fake_engines(), settings, recording=b"not audio")


def test_vad_reading_matches_faster_whisper_on_the_same_probabilities() -> None:
    """Reading pieces from the probabilities once computed equals faster-whisper's own."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    samples = audio.decode(SHARED_AUDIO / "jfk.flac").samples[0]
    for reading in (audio._ACTIVITY_VAD, audio._TRANSCRIBE_READING):
        ours = audio.timestamps_from_probabilities(
            audio.speech_probabilities(samples), len(samples), reading
        )
        options = VadOptions(
            threshold=reading.threshold,
            min_speech_duration_ms=reading.min_speech_duration_ms,
            max_speech_duration_s=reading.max_speech_duration_s,
            min_silence_duration_ms=reading.min_silence_duration_ms,
            speech_pad_ms=reading.speech_pad_ms,
        )
        theirs = get_speech_timestamps(samples, options)
        assert ours and len(ours) == len(theirs)
        for a, b in zip(ours, theirs, strict=True):
            # faster-whisper pads one window more at the end: the last piece may differ
            assert abs(a["start"] - b["start"]) <= 512 and abs(a["end"] - b["end"]) <= 512
