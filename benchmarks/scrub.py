"""An objection while another process holds a read transaction.

Run: ``python benchmarks/scrub.py``. In a fresh workspace with one processed call,
another connection opens a read transaction; then ``object_calls`` runs while a
second process tries to write one audit row (a sign-in, a view). Prints how long the
objection took, how long that writer waited, and whether the deleted text is still in
the database files, while the reader is open and after it closed (and the next
command ran). Works against older releases too (for the before/after comparison).
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from factories import NOW, add_call  # noqa: E402

from analytics.config import load_settings  # noqa: E402
from analytics.governance import object_calls  # noqa: E402
from analytics.store import Store  # noqa: E402

SECRET = b"zanzibar-okapi-marker"
WRITER = """
import sys, time
from datetime import datetime
from analytics import audit
from analytics.config import load_settings
from analytics.store import Store
with Store.open(load_settings(sys.argv[1], env={})) as store:
    time.sleep(0.3)  # the objection is under way
    started = time.monotonic()
    audit.log_event(store, "alice", "login", now=datetime.fromisoformat(sys.argv[2]))
    print(time.monotonic() - started)
"""


def _db_bytes(db: Path) -> bytes:
    parts = (db, Path(f"{db}-wal"), Path(f"{db}-shm"))
    return b"".join(p.read_bytes() for p in parts if p.exists())


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(Path(tmp) / "home", env={})
        store = Store.open(settings)
        add_call(store, "c1", texts=(("agent", f"bonjour {SECRET.decode()}"),))
        store.checkpoint()
        reader = sqlite3.connect(settings.db_path, isolation_level=None)
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM segments").fetchone()
        writer = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(settings.home), NOW.isoformat()],
            stdout=subprocess.PIPE,
            text=True,
        )
        started = time.monotonic()
        object_calls(store, call_id="c1", now=NOW)
        took = time.monotonic() - started
        waited = float(writer.communicate(timeout=120)[0].strip())
        left_open = SECRET in _db_bytes(settings.db_path)
        scrub = getattr(store, "last_scrub", None)
        reader.execute("ROLLBACK")
        reader.close()
        store.close()
        with Store.open(settings) as again:
            finish = getattr(again, "finish_pending_scrub", None)
            if finish is not None:
                finish()
        left_after = SECRET in _db_bytes(settings.db_path)
    print(f"object_calls with a reader open: {took:.2f} s")
    print(f"a concurrent writer waited:      {waited:.2f} s")
    print(f"deleted text in the files while the reader is open: {left_open}")
    if scrub is not None:
        print(f"  reported: {scrub.summary()}")
    print(f"deleted text in the files after the next command:   {left_after}")


if __name__ == "__main__":
    main()
