"""The work queue under concurrent claimers: each call is claimed by exactly one.

On PostgreSQL the claims lock with ``FOR UPDATE SKIP LOCKED`` (several runs on
several machines); on SQLite the write lock serialises them. Both backends.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta

from factories import NOW, add_call

from analytics.config import Settings
from analytics.store import Store, queue

CALLS = 60
CLAIMERS = 6


def _give_recordings(store: Store) -> None:
    """A claim needs a recording on record (the factory writes none)."""
    with store.write() as conn:
        conn.exec_driver_sql("UPDATE calls SET audio_path = 'recordings/' || call_id || '.wav'")


def test_concurrent_claimers_never_get_the_same_call(settings: Settings) -> None:
    with Store.open(settings) as store:
        for i in range(CALLS):
            add_call(store, f"q{i:03d}", started_at=NOW - timedelta(hours=i), state="pending")
        # objected and past-retention calls are never handed out
        add_call(store, "q-old", started_at=NOW - timedelta(days=400), state="pending")
        _give_recordings(store)
    stores = [Store.open(settings) for _ in range(CLAIMERS)]
    got: list[list[str]] = [[] for _ in stores]
    start = threading.Barrier(CLAIMERS)
    errors: list[BaseException] = []

    def claimer(index: int) -> None:
        mine = stores[index]
        try:
            start.wait()
            while True:
                with mine.write() as conn:
                    claimed = queue.claim_batch(conn, mine, NOW, f"run-{index}", limit=3)
                    # hold the claim open a moment: the others meet its locked rows
                    time.sleep(0.01)
                if not claimed:
                    return
                got[index] += claimed
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=claimer, args=(i,)) for i in range(CLAIMERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for opened in stores:
        opened.close()
    assert not errors, errors
    claimed = [call_id for run in got for call_id in run]
    assert len(claimed) == len(set(claimed)), "a call was claimed twice"
    assert set(claimed) == {f"q{i:03d}" for i in range(CALLS)}
    if settings.database_url:  # SQLite's busy handler lets one writer win again and again
        assert sum(1 for run in got if run) >= 2, "one claimer took everything"
    with Store.open(settings) as store, store.read() as conn:
        owners = dict(
            conn.exec_driver_sql(
                "SELECT call_id, claimed_by FROM calls WHERE state = 'processing'"
            ).all()
        )
    for index, run in enumerate(got):
        assert all(owners[call_id] == f"run-{index}" for call_id in run)


def test_a_claim_of_one_call_succeeds_once(store: Store) -> None:
    add_call(store, "one", started_at=NOW - timedelta(hours=1), state="pending")
    _give_recordings(store)
    with store.write() as conn:
        assert queue.claim(conn, store, "one", NOW, "run-a")
    with store.write() as conn:
        assert not queue.claim(conn, store, "one", NOW, "run-b")
        assert queue.claim_batch(conn, store, NOW, "run-b", limit=5) == []
