"""The one owner of files at rest: keys, atomic checked copies, confinement, sweeps."""

from __future__ import annotations

import hashlib
import os
import time
from datetime import timedelta
from pathlib import Path

import pytest

from analytics.config import Settings
from analytics.errors import InputError
from analytics.store.blobs import TEMP_PREFIX, LocalBlobStore


@pytest.fixture
def blobs(tmp_path: Path) -> LocalBlobStore:
    return LocalBlobStore(Settings(home=tmp_path / "home"))


def _source(tmp_path: Path, content: bytes) -> tuple[Path, str]:
    path = tmp_path / "call.wav"
    path.write_bytes(content)
    return path, hashlib.sha256(content).hexdigest()


def test_a_put_blob_is_named_by_its_key_and_read_back(
    blobs: LocalBlobStore, tmp_path: Path
) -> None:
    source, sha = _source(tmp_path, b"RIFF audio")
    key = blobs.put("recordings", f"{sha[:2]}/{sha}.wav", source, sha)
    assert key == blobs.key("recordings", f"{sha[:2]}/{sha}.wav")
    assert blobs.read(key, "recordings") == b"RIFF audio"
    blobs.flush([key])  # durable; must not fail on a real file system
    assert blobs.put("recordings", f"{sha[:2]}/{sha}.wav", source, sha) == key  # idempotent


def test_a_file_that_changed_since_it_was_hashed_is_refused_and_leaves_nothing(
    blobs: LocalBlobStore, tmp_path: Path
) -> None:
    source, _ = _source(tmp_path, b"RIFF audio")
    with pytest.raises(InputError, match="changed while it was being imported"):
        blobs.put("recordings", "ab/x.wav", source, "0" * 64)
    assert [p for p in blobs.folder("recordings").rglob("*") if p.is_file()] == []


@pytest.mark.parametrize(
    ("key", "kind", "found"),
    [
        ("redacted-audio/a.ogg", "redacted-audio", True),
        ("recordings/a.ogg", "redacted-audio", False),  # another kind: never
        ("redacted-audio/../recordings/a.ogg", "redacted-audio", False),
        ("/etc/passwd", None, False),
        ("../outside.ogg", None, False),
        ("redacted-audio/missing.ogg", "redacted-audio", False),
        (None, None, False),
    ],
)
def test_a_key_never_leads_outside_its_kind(
    blobs: LocalBlobStore, tmp_path: Path, key: str | None, kind: str | None, found: bool
) -> None:
    for folder in ("redacted-audio", "recordings"):
        (blobs.home / folder).mkdir(parents=True, exist_ok=True)
        (blobs.home / folder / "a.ogg").write_bytes(b"x")
    (tmp_path / "outside.ogg").write_bytes(b"x")
    assert (blobs.local_path(key, kind) is not None) == found  # type: ignore[arg-type]


def test_sweep_keeps_referenced_and_young_blobs(blobs: LocalBlobStore) -> None:
    folder = blobs.folder("recordings") / "ab"
    folder.mkdir(parents=True)
    old = time.time() - 3600
    for name in ("kept.wav", "orphan.wav", "young.wav"):
        (folder / name).write_bytes(b"x")
    for name in ("kept.wav", "orphan.wav"):
        os.utime(folder / name, (old, old))
    removed = blobs.sweep("recordings", {"recordings/ab/kept.wav"}, older_than_s=600)
    assert removed == 1
    assert sorted(p.name for p in folder.iterdir()) == ["kept.wav", "young.wav"]


def test_sweep_before_removes_archives_older_than_the_moment(blobs: LocalBlobStore) -> None:
    folder = blobs.folder("subject-requests")
    folder.mkdir(parents=True)
    (folder / "old.zip").write_bytes(b"x")
    (folder / "new.zip").write_bytes(b"x")
    now = blobs.file_system_now()
    blobs.set_time("subject-requests/old.zip", now - timedelta(days=31))
    assert blobs.sweep_before("subject-requests", now - timedelta(days=30)) == 1
    assert [p.name for p in folder.iterdir()] == ["new.zip"]


def test_temp_copies_of_dead_writers_are_swept_and_live_ones_kept(
    blobs: LocalBlobStore,
) -> None:
    folder = blobs.folder("recordings") / "ab"
    folder.mkdir(parents=True)
    dead = folder / f"{TEMP_PREFIX}999999999-x"  # no such pid
    live = folder / f"{TEMP_PREFIX}{os.getpid()}-y"
    dead.write_bytes(b"x")
    live.write_bytes(b"x")
    assert blobs.sweep_stale_temps() == 1
    assert not dead.exists() and live.exists()


def test_delete_says_whether_the_blob_existed(blobs: LocalBlobStore) -> None:
    with blobs.writing("redacted-audio", "c.ogg") as target:
        target.write_bytes(b"ogg")
    key = blobs.key_of(target)
    assert blobs.delete(key) is True and blobs.delete(key) is False and blobs.delete(None) is False
