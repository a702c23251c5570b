"""A real PostgreSQL server for the tests, from the Debian ``postgresql`` package.

``initdb`` in a temporary folder, listening on 127.0.0.1 only (and a socket in that
folder), durability off (a test server). PostgreSQL refuses to run as root: as root,
the server runs as the ``postgres`` user the Debian package creates.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

USER = "callqa"


def _binaries() -> Path:
    found = shutil.which("initdb")
    if found:
        return Path(os.path.realpath(found)).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not candidates:
        raise RuntimeError("PostgreSQL is not installed: run `make system-deps` (postgresql)")
    return Path(candidates[-1]).parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _as_server_user(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "postgres", "--", *command]


@dataclass
class PostgresServer:
    folder: Path
    port: int
    _names: itertools.count = field(default_factory=itertools.count)

    @property
    def admin_url(self) -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/postgres"

    def url(self, name: str) -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{name}"

    def new_database(self, template: str | None = None) -> str:
        """A fresh database, empty or a copy of ``template``; returns its URL.

        A copy is a file-level clone (``CREATE DATABASE … TEMPLATE``): about 0.1 s,
        where running every migration on an empty database takes 0.6 s.
        """
        name = f"t{next(self._names)}_{os.getpid()}"
        copy = f' TEMPLATE "{template}"' if template else ""
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"{copy}')
        return self.url(name)

    def stop(self) -> None:
        subprocess.run(
            _as_server_user(
                [str(_binaries() / "pg_ctl"), "-D", str(self.folder / "data"), "-m", "fast", "stop"]
            ),
            capture_output=True,
            check=False,
        )


def start(folder: Path, extra: tuple[str, ...] = ()) -> PostgresServer:
    """Start a server in ``folder``; ``extra``: more ``-c name=value`` settings."""
    bin_dir = _binaries()
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        server = pwd.getpwnam("postgres")
        os.chown(folder, server.pw_uid, server.pw_gid)
    data = folder / "data"
    subprocess.run(
        _as_server_user(
            [
                str(bin_dir / "initdb"),
                "-D", str(data),
                "-A", "trust",
                "-U", USER,
                "-E", "UTF8",
                "--locale=C",  # ISO timestamps stored as text sort as time does
                "--no-sync",
            ]
        ),
        check=True,
        capture_output=True,
    )  # fmt: skip
    port = _free_port()
    options = " ".join(
        [
            "-c listen_addresses=127.0.0.1",
            f"-p {port}",
            f"-k {folder}",
            "-c fsync=off",
            "-c synchronous_commit=off",
            "-c full_page_writes=off",
            "-c max_connections=200",
            *(f"-c {setting}" for setting in extra),
        ]
    )
    subprocess.run(
        _as_server_user(
            [
                str(bin_dir / "pg_ctl"),
                "-D", str(data),
                "-l", str(folder / "server.log"),
                "-o", options,
                "-w", "start",
            ]
        ),
        check=True,
        capture_output=True,
    )  # fmt: skip
    return PostgresServer(folder, port)
