"""Search across redacted transcripts (FTS5 on SQLite, full text on PostgreSQL):
stemming, phrases, prefixes, exclusions, filters, snippets, governance."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from analytics import governance
from analytics.config import Settings
from analytics.errors import UsageError
from analytics.insights.text import parse_query
from analytics.store import Store, schema
from analytics.store.reads import CallFilter
from analytics.store.search import fts5_query, search, tsquery
from analytics.store.search import shards as search_shards
from tests.factories import NOW, add_call


def _fill(store: Store) -> None:
    add_call(
        store,
        "fr1",
        team="Niort-1",
        agent_id="A1",
        started_at=NOW - timedelta(days=2),
        texts=(
            ("agent", "Bonjour, <PERSON> à votre écoute"),
            ("customer", "Je voudrais résilier mon contrat d'assurance"),
            ("agent", "Je vais vous passer un conseiller"),
        ),
    )
    add_call(
        store,
        "fr2",
        team="Lyon-2",
        agent_id="B7",
        started_at=NOW - timedelta(days=20),
        texts=(
            ("agent", "Bonjour, que puis-je faire pour vous"),
            ("customer", "Ma voiture est en panne sur l'autoroute"),
            ("agent", "Une dépanneuse arrive, je vous rappelle dans une heure"),
        ),
    )
    add_call(
        store,
        "en1",
        language="en",
        team="Niort-1",
        agent_id="A1",
        started_at=NOW - timedelta(days=5),
        texts=(
            ("agent", "Hello, how can I help"),
            ("customer", "I am cancelling my policy, the towing was late"),
            ("agent", "I will call you back with the claim number"),
        ),
    )


@pytest.fixture
def filled(store: Store) -> Store:
    _fill(store)
    return store


def hits(store: Store, query: str, **kwargs: object) -> list[tuple[str, int]]:
    return sorted((h.call_id, h.idx) for h in search(store, query, NOW, **kwargs))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # stems: another form of the word finds it (French and English)
        ("résiliation", [("fr1", 1)]),
        ("resilier", [("fr1", 1)]),
        ("contrats", [("fr1", 1)]),
        ("conseillers", [("fr1", 2)]),
        ("rappeler", [("fr2", 2)]),
        ("cancel", [("en1", 1)]),
        ("cancelled", [("en1", 1)]),
        ("policies", [("en1", 1)]),
        # accents aside
        ("DEPANNEUSE", [("fr2", 2)]),
        ("écoute", [("fr1", 0)]),
        # several words: all of them, anywhere in the segment
        ("voiture autoroute", [("fr2", 1)]),
        ("voiture conseiller", []),
        # phrases: the words in a row
        ('"en panne"', [("fr2", 1)]),
        ('"panne en"', []),
        ('"call you back"', [("en1", 2)]),
        # prefixes
        ("dépan*", [("fr2", 2)]),
        ("tow*", [("en1", 1)]),
        # exclusions
        ("bonjour", [("fr1", 0), ("fr2", 0)]),
        ("bonjour -panne", [("fr1", 0), ("fr2", 0)]),
        ("bonjour -ecoute", [("fr2", 0)]),
        # placeholders are words of the redacted text
        ("<PERSON>", [("fr1", 0)]),
        ("zzzunknownword", []),
        # OR: either term; the other terms are still required
        ("voiture OR conseiller", [("fr1", 2), ("fr2", 1)]),
        ("zzzunknownword OR cancelled", [("en1", 1)]),
        ('"en panne" OR tow*', [("en1", 1), ("fr2", 1)]),
        ("bonjour ecoute OR panne", [("fr1", 0)]),
        ("bonjour OR hello -ecoute", [("en1", 0), ("fr2", 0)]),
        ("voiture OR conseiller OR policy", [("en1", 1), ("fr1", 2), ("fr2", 1)]),
        # lower case "or" is a word; a dangling OR is dropped
        ("voiture or conseiller", []),
        ("OR voiture OR", [("fr2", 1)]),
    ],
)
def test_queries(filled: Store, query: str, expected: list[tuple[str, int]]) -> None:
    assert hits(filled, query) == expected


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"speaker": "agent"}, [("en1", 2), ("fr2", 2)]),
        ({"speaker": "customer"}, []),
        ({"flt": CallFilter(team="Lyon-2")}, [("fr2", 2)]),
        ({"flt": CallFilter(agent="A1")}, [("en1", 2)]),
        ({"flt": CallFilter(since=NOW - timedelta(days=10))}, [("en1", 2)]),
        ({"flt": CallFilter(until=NOW - timedelta(days=10))}, [("fr2", 2)]),
        ({"language": "en"}, [("en1", 2)]),
    ],
)
def test_filters(filled: Store, kwargs: dict[str, object], expected: list[tuple[str, int]]) -> None:
    # both agents' closing lines ("je vous rappelle", "call you back")
    got = sorted(
        (h.call_id, h.idx)
        for q in ("rappel*", "back")
        for h in search(filled, q, NOW, **kwargs)  # type: ignore[arg-type]
    )
    assert got == expected


def test_snippets_mark_the_matching_words_and_keep_the_text(filled: Store) -> None:
    (hit,) = search(filled, "résiliation contrat", NOW)
    assert hit.text == "Je voudrais résilier mon contrat d'assurance"
    assert [piece for piece, marked in hit.fragments if marked] == ["résilier", "contrat"]
    assert (hit.speaker, hit.team, hit.agent_id, hit.start) == ("customer", "Niort-1", "A1", 4.0)


def test_a_query_is_never_engine_syntax(filled: Store) -> None:
    # FTS5 / tsquery operators in the query are only words (or dropped), never syntax
    for query in ('NEAR(" a', "x) OR (y", "a & !b | c:*", "'; DROP TABLE calls; --", "^bonjour"):
        search(filled, query + " bonjour", NOW)
    terms = parse_query('NEAR(" a')
    assert all(ch.isalnum() or ch in ' "()*' for ch in fts5_query(terms, ("fr",)))
    assert all(ch.isalnum() or ch in " ()|&!<->:*" for ch in tsquery(terms, ("fr",)))


@pytest.mark.parametrize("query", ["", "   ", "-panne", '""', "!!"])
def test_a_query_without_a_word_to_find_is_a_usage_error(filled: Store, query: str) -> None:
    with pytest.raises(UsageError):
        search(filled, query, NOW)


def test_objected_erased_and_expired_calls_are_never_found(
    filled: Store, settings: Settings
) -> None:
    governance.object_calls(filled, call_id="fr1", now=NOW)
    assert hits(filled, "bonjour") == [("fr2", 0)]
    # past retention even before purge runs
    later = NOW + timedelta(days=settings.retention_days - 10)
    assert [h.call_id for h in search(filled, "bonjour", later)] == []
    assert [h.call_id for h in search(filled, "hello", later)] == ["en1"]
    add_call(filled, "c9", caller_id="+33612345678", texts=(("agent", "bonjour madame"),))
    governance.subject_erase(filled, "+33612345678", now=NOW)
    assert hits(filled, "madame") == []


def test_a_reprocessed_call_is_indexed_once(store: Store) -> None:
    add_call(store, "c1", texts=(("agent", "bonjour tout le monde"),))
    from analytics.store.writes import save_analysis
    from tests.factories import make_analysis

    with store.write() as conn:
        save_analysis(
            conn,
            "c1",
            make_analysis("c1", texts=(("agent", "bonsoir"),)),
            now=NOW,
            redacted_audio_path=None,
        )
    assert hits(store, "bonjour") == []
    assert hits(store, "bonsoir") == [("c1", 0)]


def _db_bytes(settings: Settings) -> bytes:
    files = [settings.db_path, Path(f"{settings.db_path}-wal"), Path(f"{settings.db_path}-shm")]
    return b"".join(p.read_bytes() for p in files if p.exists())


@pytest.mark.sqlite_only
def test_an_objected_calls_words_leave_the_index_and_the_file(store: Store) -> None:
    planted = ("quokkazanzibar", "frumplewitz")
    for i in range(30):  # other calls, so the index has several segments to merge
        add_call(store, f"other{i}", texts=(("agent", f"bonjour numero {i} votre contrat"),))
    add_call(store, "victim", texts=(("customer", f"je suis {planted[0]} et {planted[1]} voilà"),))
    for i in range(30, 40):
        add_call(store, f"other{i}", texts=(("agent", f"bonjour numero {i} au revoir"),))
    store.checkpoint()
    content = _db_bytes(store.settings)
    assert all(word.encode() in content for word in planted)
    assert hits(store, planted[0]) == [("victim", 0)]

    governance.object_calls(store, call_id="victim", now=NOW)

    assert hits(store, planted[0]) == [] and hits(store, planted[1]) == []
    content = _db_bytes(store.settings)
    for word in planted:
        # neither the word nor a stem of it (the index holds stems), anywhere in the files
        assert word.encode() not in content
        assert word[:-2].encode() not in content
    assert len(hits(store, "bonjour", limit=1000)) == 40  # the others are still found


def _postgres_relation_bytes(store: Store, data_dir: Path, tables: tuple[str, ...]) -> bytes:
    """Every file of these tables, their TOAST tables and all their indexes (each
    segment file of each fork: main, free space map, visibility map)."""
    with store.read() as conn:
        paths = conn.exec_driver_sql(
            "SELECT pg_relation_filepath(c.oid) FROM pg_class c WHERE c.oid IN ("
            " SELECT t.oid FROM pg_class t WHERE t.relname = ANY(%(t)s)"
            " UNION SELECT t.reltoastrelid FROM pg_class t WHERE t.relname = ANY(%(t)s)"
            " UNION SELECT i.indexrelid FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid"
            "  WHERE t.relname = ANY(%(t)s)"
            " UNION SELECT i.indexrelid FROM pg_index i JOIN pg_class t ON t.reltoastrelid ="
            "  i.indrelid WHERE t.relname = ANY(%(t)s))",
            {"t": list(tables)},
        ).scalars()
        files = [p for p in paths if p]
        conn.exec_driver_sql("CHECKPOINT")  # the shared buffers written to the files
    assert len(files) >= 4  # search_docs, its TOAST table and index, and its own indexes
    found = b""
    for relative in files:
        for path in sorted(data_dir.glob(f"{relative}*")):  # 123, 123.1, 123_fsm, 123_vm
            found += path.read_bytes()
    return found


def _search_tables(store: Store) -> tuple[str, ...]:
    with store.read() as conn:
        names = [schema.search_partition_table(shard) for shard in search_shards(conn)]
    return ("search_docs", "search_terms", *names)


@pytest.mark.postgresql_only
def test_an_objected_calls_words_leave_the_postgresql_search_files(
    store: Store, postgres: object
) -> None:
    planted = ("quokkazanzibar", "frumplewitz")
    data_dir = postgres.folder / "data"  # type: ignore[attr-defined]
    for i in range(30):
        add_call(store, f"other{i}", texts=(("agent", f"bonjour numero {i} votre contrat"),))
    add_call(store, "victim", texts=(("customer", f"je suis {planted[0]} et {planted[1]} voilà"),))
    for i in range(30, 40):
        add_call(store, f"other{i}", texts=(("agent", f"bonjour numero {i} au revoir"),))
    store.checkpoint()
    tables = _search_tables(store)
    content = _postgres_relation_bytes(store, data_dir, tables)
    assert all(word[:-2].encode() in content for word in planted)  # the stems are there
    assert hits(store, planted[0]) == [("victim", 0)]

    governance.object_calls(store, call_id="victim", now=NOW)

    assert hits(store, planted[0]) == [] and hits(store, planted[1]) == []
    content = _postgres_relation_bytes(store, data_dir, tables)
    for word in planted:
        assert word[:-2].encode() not in content
    assert len(hits(store, "bonjour", limit=1000)) == 40


def test_cli_search(filled: Store) -> None:
    import json as _json

    from click.testing import CliRunner

    from analytics import clock
    from analytics.cli import cli

    home = ["--home", str(filled.settings.home)]
    with clock.frozen(NOW):
        result = CliRunner().invoke(cli, [*home, "search", "résiliation", "--team", "Niort-1"])
        assert result.exit_code == 0, result.output
        assert "fr1#1\t" in result.output and "[résilier]" in result.output
        result = CliRunner().invoke(cli, [*home, "search", '"call you back"', "--json"])
        (line,) = result.output.splitlines()
        hit = _json.loads(line)
        assert (hit["call_id"], hit["segment"], hit["matched"]) == (
            "en1",
            2,
            ["call", "you", "back"],
        )
        result = CliRunner().invoke(cli, [*home, "search", "voiture OR conseiller", "--json"])
        assert sorted(_json.loads(line)["call_id"] for line in result.output.splitlines()) == [
            "fr1",
            "fr2",
        ]
        result = CliRunner().invoke(cli, [*home, "search", "--help"])
        assert "a OR b" in result.output
        result = CliRunner().invoke(cli, [*home, "search", "--", "-panne"])
        assert result.exit_code == 2 and "at least one word" in result.output


def test_a_rectified_language_reindexes_the_call(store: Store) -> None:
    # English said, French detected: the French stemmer leaves "cancelling" as it is
    add_call(store, "c1", language="fr", texts=(("customer", "I am cancelling my policy"),))
    assert hits(store, "cancel") == []
    governance.rectify(store, "c1", {"language": "en"}, now=NOW)
    assert hits(store, "cancel") == [("c1", 0)]


def _shard_data(store: Store) -> dict[str, list[bytes]]:
    """The stored b-tree of each FTS5 shard (its ``_data`` shadow table)."""
    with store.read() as conn:
        out = {}
        for shard in search_shards(conn):
            name = schema.search_shard_table(shard)
            rows = conn.exec_driver_sql(f"SELECT block FROM {name}_data ORDER BY id").all()
            out[name] = [bytes(r[0]) if r[0] is not None else b"" for r in rows]
    return out


@pytest.fixture
def small_shards(monkeypatch: pytest.MonkeyPatch) -> None:
    # four documents a shard: a few calls spread over several FTS5 tables
    monkeypatch.setattr(schema, "SEARCH_SHARD_BITS", 2)
    monkeypatch.setattr(schema, "SEARCH_SHARD_DOCS", 4)


@pytest.mark.sqlite_only
@pytest.mark.usefixtures("small_shards")
def test_an_objection_merges_only_the_shard_of_the_calls_words(store: Store) -> None:
    planted = ("quokkazanzibar", "frumplewitz")
    for i in range(6):
        add_call(store, f"before{i}", texts=(("agent", f"bonjour numero {i}"),) * 2)
    add_call(store, "victim", texts=(("customer", f"je suis {planted[0]} et {planted[1]}"),))
    for i in range(6):
        add_call(store, f"after{i}", texts=(("agent", f"bonjour numero {i}"),) * 2)
    store.checkpoint()
    before = _shard_data(store)
    assert len(before) >= 6  # 25 documents, four a shard
    with store.read() as conn:
        (doc_id,) = conn.exec_driver_sql(
            "SELECT doc_id FROM search_docs WHERE call_id = 'victim'"
        ).scalars()
    victim_shard = schema.search_shard_table(schema.search_shard(doc_id))

    governance.object_calls(store, call_id="victim", now=NOW)

    after = _shard_data(store)
    assert after[victim_shard] != before[victim_shard]  # merged
    # every other shard is left as it was: the objection did not rewrite the index
    assert {k: v for k, v in after.items() if k != victim_shard} == {
        k: v for k, v in before.items() if k != victim_shard
    }
    content = _db_bytes(store.settings)
    for word in planted:
        assert word.encode() not in content and word[:-2].encode() not in content
    assert len(hits(store, "bonjour", limit=1000)) == 24


def _many_calls(store: Store) -> None:
    """Calls of three agents over 60 days, a common word in most segments."""
    for i in range(40):
        add_call(
            store,
            f"c{i:02d}",
            agent_id=("A1", "B2", "C3")[i % 3],
            team=("Niort-1", "Lyon-2")[i % 2],
            started_at=NOW - timedelta(days=60 - i * 1.5),
            texts=(
                ("agent", f"bonjour votre contrat numero {i}"),
                ("customer", "ma voiture est en panne" if i % 4 else "je veux résilier"),
                ("agent", "je vous rappelle pour le contrat"),
            ),
        )
    governance.object_calls(store, call_id="c07", now=NOW)


@pytest.mark.usefixtures("small_shards")
@pytest.mark.parametrize(
    ("query", "kwargs"),
    [
        ("contrat", {"flt": CallFilter(agent="A1", since=NOW - timedelta(days=20))}),
        ("contrat", {"flt": CallFilter(agent="B2"), "limit": 5}),
        ("contrat", {"flt": CallFilter(team="Lyon-2"), "speaker": "agent"}),
        ("panne OR résilier", {"flt": CallFilter(agent="C3", until=NOW - timedelta(days=30))}),
        ('"votre contrat" -panne', {"flt": CallFilter(since=NOW - timedelta(days=40))}),
        ("rappel*", {"flt": CallFilter(call_ids=["c01", "c07", "c30"])}),
        ("numero", {"flt": CallFilter(agent="A1"), "language": "fr", "limit": 3}),
        ("contrat", {}),
    ],
)
def test_both_plans_find_the_same_hits(store: Store, query: str, kwargs: dict[str, object]) -> None:
    # both backends: four documents a shard (an FTS5 table, a PostgreSQL partition)
    _many_calls(store)
    results = {
        plan: [(h.call_id, h.idx) for h in search(store, query, NOW, plan=plan, **kwargs)]  # type: ignore[arg-type]
        for plan in ("index", "filter", "auto")
    }
    assert results["index"], "the query finds something"
    assert results["index"] == results["filter"] == results["auto"]
    assert all(call_id != "c07" for call_id, _ in results["index"])  # objected
    # the newest hits: those of one query over every match, sorted, cut at the limit
    unlimited = {k: v for k, v in kwargs.items() if k != "limit"}
    every = search(store, query, NOW, plan="filter", limit=1000, **unlimited)  # type: ignore[arg-type]
    with store.read() as conn:
        order = dict(
            conn.exec_driver_sql("SELECT call_id || '#' || idx, doc_id FROM search_docs").all()
        )
    newest = sorted(every, key=lambda h: order[f"{h.call_id}#{h.idx}"], reverse=True)
    limit = int(kwargs.get("limit", 50))  # type: ignore[call-overload]
    assert results["index"] == [(h.call_id, h.idx) for h in newest[:limit]]


@pytest.mark.postgresql_only
@pytest.mark.usefixtures("small_shards")
def test_the_postgresql_walk_grows_its_batches_past_a_selective_filter(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    from analytics.store import search as search_module

    _many_calls(store)
    # one match a batch at first: the filter keeps one segment in six, so the walk needs
    # more batches in a partition than the first one
    monkeypatch.setattr(search_module, "FIRST_BATCH_FACTOR", 0)
    monkeypatch.setattr(search_module, "MAX_BATCH", 2)
    kwargs = {"flt": CallFilter(agent="B2"), "speaker": "agent", "limit": 4}
    walked = [(h.call_id, h.idx) for h in search(store, "contrat", NOW, plan="index", **kwargs)]  # type: ignore[arg-type]
    probed = [(h.call_id, h.idx) for h in search(store, "contrat", NOW, plan="filter", **kwargs)]  # type: ignore[arg-type]
    assert len(walked) == 4 and walked == probed


@pytest.mark.sqlite_only
def test_a_v11_index_is_split_into_shards(store: Store) -> None:
    (shards_v,) = (n for n, _, step in schema.MIGRATIONS if step is schema._v12_search_shards)
    add_call(store, "c1", texts=(("agent", "bonjour madame"), ("customer", "ma voiture")))
    with store.write() as conn:
        # the v11 layout: one FTS5 table, no shards
        conn.exec_driver_sql(
            "CREATE VIRTUAL TABLE search_fts USING fts5(terms, "
            "tokenize = 'unicode61 remove_diacritics 2')"
        )
        for shard in search_shards(conn):
            name = schema.search_shard_table(shard)
            conn.exec_driver_sql(
                f"INSERT INTO search_fts (rowid, terms) SELECT rowid, terms FROM {name}"
            )
            conn.exec_driver_sql(f"DROP TABLE {name}")
        conn.exec_driver_sql(f"UPDATE alembic_version SET version_num = '{shards_v - 1:04d}'")
    assert hits(store, "voiture") == []
    with store.write() as conn:
        assert schema.migrate(conn) == list(range(shards_v, schema.LATEST_VERSION + 1))
        assert search_shards(conn) == [0]
        assert (
            conn.exec_driver_sql(
                "SELECT count(*) FROM sqlite_master WHERE name = 'search_fts'"
            ).scalar_one()
            == 0
        )
    assert hits(store, "voiture") == [("c1", 1)]


def _partition_files(store: Store) -> dict[str, tuple[str, ...]]:
    """Each search_terms partition: the files of its heap and of its indexes."""
    with store.read() as conn:
        rows = conn.exec_driver_sql(
            "SELECT c.relname, pg_relation_filepath(c.oid),"
            " array(SELECT pg_relation_filepath(i.indexrelid) FROM pg_index i"
            "  WHERE i.indrelid = c.oid ORDER BY i.indexrelid)"
            " FROM pg_inherits h JOIN pg_class c ON c.oid = h.inhrelid"
            " WHERE h.inhparent = 'search_terms'::regclass"
        ).all()
    return {name: (heap, *indexes) for name, heap, indexes in rows}


@pytest.mark.postgresql_only
@pytest.mark.usefixtures("small_shards")
def test_an_objection_rewrites_only_the_partition_of_the_calls_words(
    store: Store, postgres: object
) -> None:
    planted = ("quokkazanzibar", "frumplewitz")
    data_dir = postgres.folder / "data"  # type: ignore[attr-defined]
    for i in range(6):
        add_call(store, f"before{i}", texts=(("agent", f"bonjour numero {i}"),) * 2)
    add_call(store, "victim", texts=(("customer", f"je suis {planted[0]} et {planted[1]}"),))
    for i in range(6):
        add_call(store, f"after{i}", texts=(("agent", f"bonjour numero {i}"),) * 2)
    store.checkpoint()
    before = _partition_files(store)
    assert len(before) >= 6  # 25 documents, four a partition
    with store.read() as conn:
        (doc_id,) = conn.exec_driver_sql(
            "SELECT doc_id FROM search_docs WHERE call_id = 'victim'"
        ).scalars()
    victim = schema.search_partition_table(schema.search_shard(doc_id))

    governance.object_calls(store, call_id="victim", now=NOW)

    after = _partition_files(store)
    # the victim's partition has new heap and index files; every other one the same files
    assert set(after[victim]).isdisjoint(before[victim])
    assert {k: v for k, v in after.items() if k != victim} == {
        k: v for k, v in before.items() if k != victim
    }
    content = _postgres_relation_bytes(store, data_dir, _search_tables(store))
    for word in planted:
        assert word[:-2].encode() not in content
    assert len(hits(store, "bonjour", limit=1000)) == 24


@pytest.mark.postgresql_only
def test_a_v13_search_table_is_moved_into_partitions(store: Store, postgres: object) -> None:
    (moved_v,) = (n for n, _, step in schema.MIGRATIONS if step is schema._v15_search_partitions)
    data_dir = postgres.folder / "data"  # type: ignore[attr-defined]
    add_call(store, "c1", texts=(("agent", "bonjour madame"), ("customer", "ma quokkazanzibar")))
    add_call(store, "c2", texts=(("agent", "bonjour monsieur"),))
    with store.write() as conn:
        # the v13 layout: the stems in a column of search_docs, one GIN index
        conn.exec_driver_sql("ALTER TABLE search_docs ADD COLUMN tsv tsvector")
        conn.exec_driver_sql(
            "UPDATE search_docs d SET tsv = t.tsv FROM search_terms t WHERE t.doc_id = d.doc_id"
        )
        conn.exec_driver_sql("DROP TABLE search_terms")
        conn.exec_driver_sql("CREATE INDEX ix_search_docs_tsv ON search_docs USING GIN (tsv)")
        conn.exec_driver_sql(f"UPDATE alembic_version SET version_num = '{moved_v - 1:04d}'")
    store.checkpoint()
    assert b"quokkazanzib" in _postgres_relation_bytes(store, data_dir, ("search_docs",))
    with store.write() as conn:
        assert schema.migrate(conn) == list(range(moved_v, schema.LATEST_VERSION + 1))
        assert search_shards(conn) == [0]
        columns = conn.exec_driver_sql(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'search_docs'"
        ).scalars()
        assert "tsv" not in set(columns)
    store.checkpoint()
    assert hits(store, "quokkazanzibar") == [("c1", 1)]
    assert hits(store, "bonjour") == [("c1", 0), ("c2", 0)]
    # search_docs was rewritten without the column: no stem left in its files
    assert b"quokkazanzib" not in _postgres_relation_bytes(store, data_dir, ("search_docs",))
    add_call(store, "c3", texts=(("agent", "bonjour encore"),))  # new documents indexed
    assert hits(store, "encore") == [("c3", 0)]
