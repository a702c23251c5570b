"""Categories in the store: versioned definitions, matches with evidence on past calls,
re-categorisation when a rule changes, new calls as they arrive, governed reads,
deletion with the call, the export's and load_calls' categories."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from pipeline_fakes import fake_engines, write_call

from analytics import governance, load_calls
from analytics.cli import cli
from analytics.export import EXTENSION_KEYS, export_calls
from analytics.ingest import ingest
from analytics.insights import service
from analytics.insights.categories import CategoryError, examples, parse_toml
from analytics.pipeline import process
from analytics.store import CallFilter, Store, call_rows, get_call
from analytics.store import categories as cat_store
from tests.factories import NOW, add_call

CALLBACK_V1 = """
[[categories]]
name = "callback"
rule = { phrases = ["je vous rappelle"], speaker = "agent" }
"""
# The same category, changed: any speaker, and "rappeler" as well.
CALLBACK_V2 = """
[[categories]]
name = "callback"
rule = { phrases = ["je vous rappelle", "me rappeler"] }
"""


def _calls(store: Store) -> None:
    add_call(
        store,
        "a",
        texts=(
            ("agent", "bonjour <PERSON> à votre écoute"),
            ("customer", "pouvez-vous me rappeler demain"),
            ("agent", "oui je vous rappelle demain matin"),
        ),
    )
    add_call(
        store,
        "b",
        texts=(
            ("agent", "bonjour"),
            ("customer", "merci de me rappeler ce soir"),
            ("agent", "au revoir"),
        ),
    )
    add_call(store, "c", texts=(("agent", "bonjour"), ("customer", "au revoir")))


def matched(store: Store, name: str) -> dict[str, list[int]]:
    out = {}
    for row in call_rows(store, NOW, CallFilter(category=name)):
        record = get_call(store, row["call_id"], NOW)
        out[row["call_id"]] = next(m["evidence"] for m in record["categories"] if m["name"] == name)
    return out


def test_imported_categories_tag_past_calls_with_evidence(store: Store) -> None:
    _calls(store)
    report = service.import_text(store, CALLBACK_V1, now=NOW)
    assert report.changed == ("callback",) and report.calls == 3
    assert matched(store, "callback") == {"a": [2]}


def test_a_changed_rule_recategorises_past_calls(store: Store) -> None:
    _calls(store)
    service.import_text(store, CALLBACK_V1, now=NOW)
    again = service.import_text(store, CALLBACK_V1, now=NOW)
    assert again.changed == () and again.unchanged == ("callback",) and again.calls == 0

    report = service.import_text(store, CALLBACK_V2, now=NOW + timedelta(hours=1))
    assert report.changed == ("callback",)
    assert matched(store, "callback") == {"a": [1, 2], "b": [1]}
    (definition,) = cat_store.definitions(store)
    assert (definition.name, definition.version) == ("callback", 2)
    # back to the first rule: a third version, and "b" is no longer tagged
    service.import_text(store, CALLBACK_V1, now=NOW + timedelta(hours=2))
    assert matched(store, "callback") == {"a": [2]}
    assert cat_store.definitions(store)[0].version == 3


def test_matches_of_an_older_version_are_never_shown(store: Store) -> None:
    _calls(store)
    service.import_text(store, CALLBACK_V1, now=NOW)
    # a new version stored without re-categorising yet (as a crash between the two would)
    with store.write() as conn:
        cat_store.save_definition(
            conn, "callback", parse_toml(CALLBACK_V2, "x")[0].source, actor="t", now=NOW
        )
    assert matched(store, "callback") == {}
    service.categorize(store, now=NOW)
    assert matched(store, "callback") == {"a": [1, 2], "b": [1]}


def test_removing_a_category_deletes_its_matches(store: Store) -> None:
    _calls(store)
    service.import_text(store, CALLBACK_V1, now=NOW)
    assert service.remove_category(store, "callback", now=NOW)
    assert not service.remove_category(store, "callback", now=NOW)
    assert cat_store.definitions(store) == []
    assert get_call(store, "a", NOW)["categories"] == []


def test_categorize_skips_calls_past_retention_and_objected(store: Store) -> None:
    _calls(store)
    add_call(
        store,
        "old",
        started_at=NOW - timedelta(days=store.settings.retention_days + 1),
        texts=(("agent", "je vous rappelle"),),
    )
    service.import_text(store, CALLBACK_V1, now=NOW)
    governance.object_calls(store, call_id="a", now=NOW)
    assert service.categorize(store, now=NOW) == 2  # b and c
    assert matched(store, "callback") == {}
    assert cat_store.counts(store, NOW) == {}


def test_deleting_a_call_deletes_its_matches(store: Store) -> None:
    _calls(store)
    add_call(store, "d", caller_id="+33612345678", texts=(("agent", "je vous rappelle"),))
    service.import_text(store, CALLBACK_V1, now=NOW)
    assert set(matched(store, "callback")) == {"a", "d"}
    governance.object_calls(store, call_id="a", now=NOW)
    governance.subject_erase(store, "+33612345678", now=NOW)
    governance.purge(store, now=NOW + timedelta(days=400))
    from analytics.store.schema import category_matches

    with store.read() as conn:
        assert conn.execute(category_matches.select()).all() == []


def test_new_calls_are_categorised_as_they_are_processed(store: Store, tmp_path: Path) -> None:
    # the fake transcriber hears "... my number is ... thank you goodbye" on each channel
    service.import_text(
        store,
        '[[categories]]\nname = "thanks"\nrule = { phrases = "thank you", speaker = "customer" }\n',
        now=NOW,
    )
    for i in range(2):
        write_call(tmp_path / "in" / f"call-{i}.wav", seed=i)
    ingest(store, [tmp_path / "in"], now=NOW)
    report = process(store, engines=fake_engines(), now=NOW)
    assert len(report.done) == 2
    assert set(matched(store, "thanks")) == set(report.done)
    assert all(ev == [1] for ev in matched(store, "thanks").values())


def test_the_example_set_imports_and_the_export_carries_categories(
    store: Store, tmp_path: Path
) -> None:
    _calls(store)
    service.import_categories(store, examples(), now=NOW)
    out = tmp_path / "calls.jsonl"
    export_calls(store, "jsonl", out, now=NOW)
    records = {r["call_id"]: r for r in map(json.loads, out.read_text().splitlines())}
    # the calls last 12 s: too short for "customer not identified" (30 s)
    assert records["a"]["categories"] == [{"name": "callback promised", "evidence": [2]}]
    assert records["c"]["categories"] == []
    # an extension: after the DESIGN.md keys (abuse is their last), before evaluation
    keys = list(records["a"])
    assert keys[keys.index("abuse") + 1 :] == list(EXTENSION_KEYS)


def test_load_calls_has_a_categories_column(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    from analytics import clock

    _calls(store)
    service.import_text(store, CALLBACK_V2, now=NOW)
    with clock.frozen(NOW):
        frame = load_calls(store.settings)
    got = dict(zip(frame["call_id"], frame["categories"], strict=True))
    assert got == {"a": ["callback"], "b": ["callback"], "c": []}


def test_weekly_counts(store: Store) -> None:
    _calls(store)
    add_call(store, "e", started_at=NOW - timedelta(days=14), texts=(("customer", "me rappeler"),))
    service.import_text(store, CALLBACK_V2, now=NOW)
    weeks = cat_store.weekly(store, NOW)
    assert [(w["name"], w["calls"]) for w in weeks] == [("callback", 1), ("callback", 2)]
    assert weeks[0]["week"] < weeks[1]["week"]
    assert cat_store.weekly(store, NOW, CallFilter(team="nobody")) == []


def test_cli_import_list_categorize(store: Store, tmp_path: Path) -> None:
    from analytics import clock

    _calls(store)
    rules = tmp_path / "rules.toml"
    rules.write_text(CALLBACK_V2, encoding="utf-8")
    home = ["--home", str(store.settings.home)]
    runner = CliRunner()
    with clock.frozen(NOW):
        result = runner.invoke(cli, [*home, "category", "import", str(rules)])
        assert result.exit_code == 0, result.output
        assert "1 new or changed" in result.output and "3 calls" in result.output
        listed = runner.invoke(cli, [*home, "category", "list"])
        assert listed.output.strip() == "callback\tv1\t2 calls"
        (store.settings.home / "config.toml").write_text(CALLBACK_V1, encoding="utf-8")
        result = runner.invoke(cli, [*home, "categorize"])
        assert result.exit_code == 0, result.output
        assert "1 categories from config.toml changed" in result.output
        listed = runner.invoke(cli, [*home, "category", "list"])
        assert listed.output.strip() == "callback\tv2\t1 calls"
        bad = tmp_path / "bad.toml"
        bad.write_text('[[categories]]\nname = "x"\nrule = { phrases = "a", speaker = "boss" }\n')
        result = runner.invoke(cli, [*home, "category", "import", str(bad)])
        assert result.exit_code == 2
        assert f"{bad}: categories[0].rule.speaker" in result.output


def test_a_bad_file_changes_nothing(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(CALLBACK_V1 + '\n[[categories]]\nname = "y"\nrule = { figure = "x" }\n')
    with pytest.raises(CategoryError):
        service.import_file(store, path, now=NOW)
    assert cat_store.definitions(store) == []


def test_categorize_in_small_batches_reads_every_call_once(store: Store) -> None:
    _calls(store)
    service.import_text(store, CALLBACK_V1, now=NOW)
    seen: list[int] = []
    assert service.categorize(store, now=NOW, batch=1, progress=seen.append) == 3
    assert seen == [1, 1, 1]
    with store.write() as conn:  # as if the rule changed without re-running it yet
        cat_store.save_definition(
            conn, "callback", parse_toml(CALLBACK_V2, "x")[0].source, actor="t", now=NOW
        )
    assert service.categorize(store, now=NOW, batch=2) == 3
    assert matched(store, "callback") == {"a": [1, 2], "b": [1]}


def test_the_subject_access_archive_holds_the_calls_categories(
    store: Store, tmp_path: Path
) -> None:
    import zipfile

    caller = "+33 6 12 34 56 78"
    add_call(
        store,
        "mine",
        caller_id=caller,
        texts=(("agent", "bonjour"), ("agent", "oui je vous rappelle demain matin")),
    )
    add_call(store, "other", texts=(("agent", "je vous rappelle"),))
    service.import_text(store, CALLBACK_V1, now=NOW)
    out = tmp_path / "access.zip"
    assert governance.subject_access(store, caller, out, now=NOW) == 1
    with zipfile.ZipFile(out) as archive:
        (entry,) = json.loads(archive.read("calls.json"))
    assert entry["call_id"] == "mine"
    (match,) = entry["analysis"]["categories"]
    assert (match["name"], match["evidence"]) == ("callback", [1])
