"""Which inputs are recordings: files and folders walked, the rest rejected with the reason."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

from analytics.ingest.probe import AUDIO_SUFFIXES
from analytics.models import (
    Reject,
)

log = logging.getLogger(__name__)


def discover(paths: Iterable[Path]) -> tuple[list[Path], list[Reject], int]:
    """Files named directly, and audio files found in folders (recursively).

    Returns (files, rejects for paths that cannot be read as files, count of
    non-audio files skipped). A broken link or a special file (FIFO, socket) with an
    audio suffix in a folder is a reject, not silently skipped: it was meant as a
    recording.
    """
    files: list[Path] = []
    unusable: list[Reject] = []
    skipped = 0
    for path in paths:
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.name.startswith(".") or child.is_dir():
                    continue
                if child.suffix.lower() not in AUDIO_SUFFIXES:
                    skipped += child.is_file()
                elif child.is_file():
                    files.append(child)
                else:
                    unusable.append(Reject(str(child), _not_a_file_reason(child)))
        elif path.is_file():
            files.append(path)
        else:
            unusable.append(Reject(str(path), _not_a_file_reason(path)))
    return files, unusable, skipped


def _not_a_file_reason(path: Path) -> str:
    if path.is_symlink() and not path.exists():
        return "cannot read the file (broken link)"
    if path.exists():
        return "cannot read the file (not a regular file)"
    return "no such file or folder"
