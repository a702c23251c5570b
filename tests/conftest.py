"""Shared fixtures: a temporary workspace, a fixed clock, and real audio files.

``make_audio`` writes a genuine encoded recording (tone, noise, then silence) with
PyAV, in the format its suffix names: .wav, .flac, .mp3, .ogg/.opus (Opus), .m4a (AAC).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

import av
import numpy as np
import postgres_server
import pytest
from factories import NOW, stamp_at
from hypothesis import settings as hypothesis_settings

from analytics import clock
from analytics.config import Settings, load_settings
from analytics.store import Store

if TYPE_CHECKING:
    from analytics.abuse import AbuseModel

# No per-example deadline: the suite shares two cores with servers and models, and a
# parser example taking 600 ms under load is not a failure of the parser. Speed is
# measured by the benchmarks, not by property tests.
hypothesis_settings.register_profile("callqa", deadline=None)
hypothesis_settings.load_profile("callqa")

# suffix -> (container format, codec, sample format the encoder takes)
AUDIO_FORMATS: dict[str, tuple[str, str, str]] = {
    ".wav": ("wav", "pcm_s16le", "s16"),
    ".flac": ("flac", "flac", "s16"),
    ".mp3": ("mp3", "libmp3lame", "s16p"),
    ".ogg": ("ogg", "libopus", "s16"),
    ".opus": ("ogg", "libopus", "s16"),
    ".m4a": ("ipod", "aac", "fltp"),
}
OPUS_RATES = (8000, 12000, 16000, 24000, 48000)


def tone_noise_silence(seconds: float, rate: int, channels: int, seed: int = 0) -> np.ndarray:
    """(channels, samples) float32 in [-1, 1]: 40 % tone, 20 % noise, 40 % silence."""
    n = max(1, round(seconds * rate))
    t = np.arange(n) / rate
    rng = np.random.default_rng(seed)
    out = np.zeros((channels, n), dtype=np.float32)
    tone_end, noise_end = int(n * 0.4), int(n * 0.6)
    for ch in range(channels):
        freq = 440.0 * (1.5**ch)  # a different pitch per channel
        out[ch, :tone_end] = 0.4 * np.sin(2 * np.pi * freq * t[:tone_end])
        out[ch, tone_end:noise_end] = 0.2 * rng.standard_normal(noise_end - tone_end)
    return np.clip(out, -1.0, 1.0)


def _as_format(samples: np.ndarray, sample_fmt: str) -> np.ndarray:
    if sample_fmt.startswith("s16"):
        ints = (samples * 32767).astype(np.int16)
        # packed formats are one interleaved row; planar ones one row per channel
        return ints if sample_fmt.endswith("p") else ints.T.reshape(1, -1)
    return samples if sample_fmt.endswith("p") else samples.T.reshape(1, -1)


def make_audio(
    path: Path, seconds: float = 1.0, rate: int = 16000, channels: int = 1, seed: int = 0
) -> Path:
    """Write a real recording at ``path``; the suffix picks the format."""
    container_fmt, codec, sample_fmt = AUDIO_FORMATS[path.suffix.lower()]
    if codec == "libopus" and rate not in OPUS_RATES:
        raise ValueError(f"Opus cannot encode {rate} Hz")
    path.parent.mkdir(parents=True, exist_ok=True)
    layout = "mono" if channels == 1 else "stereo"
    samples = _as_format(tone_noise_silence(seconds, rate, channels, seed), sample_fmt)
    with av.open(str(path), "w", format=container_fmt) as out:
        stream = out.add_stream(codec, rate=rate, layout=layout)
        stream.format = sample_fmt  # type: ignore[union-attr,assignment]
        frame = av.AudioFrame.from_ndarray(samples, format=sample_fmt, layout=layout)
        frame.sample_rate = rate
        frame.pts = 0
        frame.time_base = Fraction(1, rate)
        for packet in stream.encode(frame):  # type: ignore[union-attr,arg-type]
            out.mux(packet)
        for packet in stream.encode(None):  # type: ignore[union-attr]
            out.mux(packet)
    stamp_at(path, NOW - timedelta(hours=1))
    return path


@pytest.fixture(scope="session", autouse=True)
def frozen_clock() -> Iterator[datetime]:
    """The product's clock reads NOW for the whole run: no test depends on the wall clock.

    A test that needs another moment wraps it in ``clock.frozen(moment)``.
    """
    clock.use(lambda: NOW)
    yield NOW
    clock.use(None)


@pytest.fixture
def now() -> datetime:
    return NOW


# `make test` runs the store, governance, pipeline and aggregate tests a second time
# with CALLQA_TEST_BACKEND=postgresql: their `settings` then name a fresh database on
# a real PostgreSQL server started for the session (tests/postgres_server.py).
TEST_BACKEND = os.environ.get("CALLQA_TEST_BACKEND", "sqlite")


@pytest.fixture(scope="session")
def postgres() -> Iterator[postgres_server.PostgresServer]:
    # Not under pytest's temporary root: that one is private to root, and the server
    # runs as the postgres user.
    folder = Path(tempfile.mkdtemp(prefix="callqa-pg-"))
    server = postgres_server.start(folder)
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if TEST_BACKEND != "postgresql":
        only_pg = pytest.mark.skip(reason="checks PostgreSQL's files; run by the PostgreSQL pass")
        for item in items:
            if item.get_closest_marker("postgresql_only"):
                item.add_marker(only_pg)
        return
    reason = pytest.mark.skip(reason="checks the SQLite file itself; run by the SQLite pass")
    for item in items:
        if item.get_closest_marker("sqlite_only"):
            item.add_marker(reason)


@pytest.fixture(scope="session")
def migrated_database(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> str:
    """A database the real migrations brought to the latest version, once per session.

    Each test's workspace starts from a copy of it (a file copy on SQLite, a template
    clone on PostgreSQL) rather than migrating an empty database again: the chain
    costs 0.25–0.7 s and ran ~2,000 times a run. The migrations themselves are tested
    from empty databases (tests/test_backends.py, the ``fresh_database`` tests).
    Returns the SQLite file's path, or the PostgreSQL template's name.
    """
    home = tmp_path_factory.mktemp("migrated") / "home"
    template = load_settings(home, env={})
    if TEST_BACKEND == "postgresql":
        url = request.getfixturevalue("postgres").new_database()
        with Store.open(replace(template, database_url=url)):
            pass  # closing disposes the pool: a template must have no sessions
        return url.rsplit("/", 1)[1]
    with Store.open(template):
        pass
    return str(template.db_path)


def _copy_migrated(settings: Settings, migrated: str) -> None:
    settings.home.mkdir(mode=0o700, parents=True, exist_ok=True)
    shutil.copyfile(migrated, settings.db_path)
    settings.db_path.chmod(0o600)


@pytest.fixture
def settings(tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    # env={} so that a CALLQA_* variable of the developer never leaks into a test
    settings = load_settings(tmp_path / "home", env={})
    fresh = request.node.get_closest_marker("fresh_database") is not None
    if TEST_BACKEND == "postgresql":
        server = request.getfixturevalue("postgres")
        template = None if fresh else request.getfixturevalue("migrated_database")
        url = server.new_database(template)
        settings = replace(settings, database_url=url)
        # the CLI and notebook entry points read it from the environment, as deployed
        request.getfixturevalue("monkeypatch").setenv("CALLQA_DATABASE_URL", url)
    elif not fresh:
        _copy_migrated(settings, request.getfixturevalue("migrated_database"))
    return settings


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    with Store.open(settings) as opened:
        yield opened


@pytest.fixture(scope="session")
def abuse_model() -> AbuseModel:
    """The real abuse model (bundled multilingual-e5-small + the shipped classifier)."""
    from analytics.abuse import AbuseModel

    return AbuseModel.load()
