"""Evaluations in a real store (both backends): automatic answers with evidence, review
and overrides with history, agent acknowledgement and disputes, private calls, coaching,
rescoring under another form version, and deletion with the call."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from evaluation_fixtures import TEXTS, analysis_of, processed
from factories import NOW, add_call

from analytics import audit, governance
from analytics.errors import FormError, NotFoundError, UsageError
from analytics.evaluations import automatic, workflow
from analytics.evaluations.forms import default_form
from analytics.evaluations.scoring import CallFigures, evaluate
from analytics.models import RedactedSegment, RedactedTranscript
from analytics.quality import QualityConfig
from analytics.store import Store
from analytics.store import evaluations as rows


def test_the_default_form_gives_back_the_rubric_score() -> None:
    for texts, gap in ((TEXTS, 4.0), (TEXTS[:2], 4.0), (TEXTS, 40.0)):
        analysis = analysis_of("c", texts=texts, gap=gap)
        items = tuple(
            {"name": i.name, "weight": i.weight, "earned": i.earned, "reason": i.reason}
            for i in analysis.quality.breakdown
        )
        figures = CallFigures("c", items, {"agent_wpm": analysis.quality.agent_wpm})
        result = evaluate(default_form(), figures)
        assert result.score is not None
        assert round(result.score) == analysis.quality.score


def test_a_processed_call_gets_automatic_answers_with_segment_evidence(store: Store) -> None:
    _, evaluation = processed(store, "c1")
    view = workflow.call_evaluation(store, "c1", now=NOW)
    assert view is not None and view.form.ref == "default@1" and view.status == "automatic"
    answers = {a.question.id: a for a in view.answers}
    assert answers["greeting"].final == "yes" and answers["greeting"].evidence["segments"] == [0]
    assert answers["closing"].evidence["segments"] == [3]
    assert 2 in answers["empathy"].evidence["segments"]
    assert "agent_wpm" in answers["pace"].evidence["figures"]
    assert view.automatic_score == view.final_score == evaluation.score


def test_an_override_needs_a_reason_and_shows_who_and_the_automatic_answer(store: Store) -> None:
    processed(store, "c1")
    view = workflow.call_evaluation(store, "c1", now=NOW)
    assert view is not None
    with pytest.raises(UsageError, match="reason"):
        workflow.answer(store, view.evaluation_id, "greeting", "no", evaluator="tina", now=NOW)
    with pytest.raises(UsageError, match="answer one of"):
        workflow.answer(store, view.evaluation_id, "greeting", "maybe", evaluator="tina", now=NOW)
    after = workflow.answer(
        store,
        view.evaluation_id,
        "greeting",
        "no",
        evaluator="tina",
        reason="said hi only",
        now=NOW,
    )
    greeting = next(a for a in after.answers if a.question.id == "greeting")
    assert greeting.label() == "no — overridden by tina (automatic: yes)"
    assert after.status == "reviewed" and after.final_score is not None
    assert view.final_score is not None and after.final_score < view.final_score
    assert after.automatic_score == view.automatic_score
    assert [
        (h["kind"], h["previous_value"], h["value"], h["evaluator"]) for h in after.history
    ] == [("override", "yes", "no", "tina")]
    confirmed = workflow.answer(
        store, view.evaluation_id, "closing", "yes", evaluator="tina", now=NOW
    )
    assert confirmed.history[-1]["kind"] == "confirm"
    entries = [e for e in audit.entries(store, limit=10) if e["action"] == "evaluation_answer"]
    assert len(entries) == 2 and "said hi" not in json.dumps(entries)


def test_an_agent_sees_acknowledges_and_disputes_only_their_own(store: Store) -> None:
    processed(store, "c1", agent_id="A101")
    processed(store, "c2", agent_id="B202")
    mine = workflow.call_evaluation(store, "c1", now=NOW, agent_id="A101")
    assert mine is not None
    with pytest.raises(NotFoundError):
        workflow.call_evaluation(store, "c2", now=NOW, agent_id="A101")
    other = workflow.call_evaluation(store, "c2", now=NOW)
    assert other is not None
    with pytest.raises(NotFoundError):
        workflow.dispute(store, other.evaluation_id, "no", user="ann", agent_id="A101", now=NOW)
    workflow.acknowledge(store, mine.evaluation_id, user="ann", agent_id="A101", now=NOW)
    dispute_id = workflow.dispute(
        store, mine.evaluation_id, "I did greet", user="ann", agent_id="A101", now=NOW
    )
    with pytest.raises(UsageError, match="already open"):
        workflow.dispute(store, mine.evaluation_id, "again", user="ann", agent_id="A101", now=NOW)
    queue = workflow.dispute_queue(store, now=NOW)
    assert [d["id"] for d in queue] == [dispute_id] and queue[0]["agent_id"] == "A101"
    resolved = workflow.resolve(
        store, dispute_id, "revise", "agreed", manager="quinn", revisions={"pace": "yes"}, now=NOW
    )
    assert resolved.status == "resolved" and resolved.acknowledged_by == "ann"
    assert resolved.disputes[0]["status"] == "revised"
    assert resolved.disputes[0]["resolved_by"] == "quinn"
    assert [(h["kind"], h["evaluator"], h["reason"]) for h in resolved.history] == [
        ("revise", "quinn", "agreed")
    ]
    assert workflow.dispute_queue(store, now=NOW) == []
    actions = [e["action"] for e in audit.entries(store, limit=20)]
    for action in ("evaluation_acknowledge", "evaluation_dispute", "dispute_resolve"):
        assert action in actions


def test_rescore_applies_a_new_form_version_to_past_calls_and_keeps_history(
    store: Store, tmp_path: Path
) -> None:
    processed(store, "c1")
    processed(store, "c2")
    first = workflow.call_evaluation(store, "c1", now=NOW)
    assert first is not None
    workflow.answer(
        store, first.evaluation_id, "greeting", "no", evaluator="t", reason="r", now=NOW
    )
    text = (Path(automatic.formdefs.DEFAULT_FORM_PATH)).read_text(encoding="utf-8")
    v2 = text.replace("version = 1", "version = 2").replace("weight = 15", "weight = 30", 1)
    path = tmp_path / "v2.toml"
    path.write_text(v2, encoding="utf-8")
    automatic.import_form(store, path, activate=False, now=NOW)
    automatic.import_form(store, path, activate=False, now=NOW)  # the same file: a no-op
    path.write_text(v2.replace("weight = 30", "weight = 31"), encoding="utf-8")
    with pytest.raises(FormError, match="raise the version"):
        automatic.import_form(store, path, now=NOW)
    assert [(f.name, f.version, f.active) for f in automatic.list_forms(store, NOW)] == [
        ("default", 1, True),
        ("default", 2, False),
    ]
    seen: list[int] = []
    report = automatic.rescore(store, "default@2", now=NOW, progress=seen.append)
    assert report.calls == 2 and sum(seen) == 2
    history = workflow.evaluation_history(store, "c1", now=NOW)
    assert [h.form.version for h in history] == [2, 1]
    # the human answer to an unchanged question is carried into version 2
    assert history[0].status == "reviewed" and history[1].status == "reviewed"
    assert history[1].history[0]["kind"] == "override"
    assert [(h["kind"], h["value"], h["evaluator"]) for h in history[0].history] == [
        ("carry", "no", "t")
    ]
    with pytest.raises(NotFoundError):
        automatic.rescore(store, "default@9", now=NOW)


def test_rescore_carries_human_answers_to_unchanged_questions_and_flags_changed_ones(
    store: Store, tmp_path: Path
) -> None:
    processed(store, "c1")
    processed(store, "c2")
    first = workflow.call_evaluation(store, "c1", now=NOW)
    assert first is not None
    later = NOW + timedelta(minutes=5)
    workflow.answer(
        store, first.evaluation_id, "greeting", "no", evaluator="tina", reason="late", now=NOW
    )
    workflow.answer(
        store, first.evaluation_id, "agent_identified", "no", evaluator="tom", reason="x", now=NOW
    )
    reviewed = workflow.call_evaluation(store, "c1", now=NOW)
    assert reviewed is not None
    text = Path(automatic.formdefs.DEFAULT_FORM_PATH).read_text(encoding="utf-8")
    changed = 'type = "scale"\nmin = 0\nmax = 15\nauto = "rubric:agent_identified"'
    v2 = text.replace("version = 1", "version = 2").replace(
        'type = "yes_no_na"\nauto = "rubric:agent_identified"', changed
    )
    assert changed in v2
    path = tmp_path / "v2.toml"
    path.write_text(v2, encoding="utf-8")
    automatic.import_form(store, path, activate=False, now=NOW)
    report = automatic.rescore(store, "default@2", now=later, actor="qm")
    assert (report.calls, report.carried, report.to_review) == (2, 1, 1)
    now_view = workflow.call_evaluation(store, "c1", now=later)
    assert now_view is not None and now_view.form.version == 2
    assert now_view.status == "to_review"
    answers = {a.question.id: a for a in now_view.answers}
    assert (answers["greeting"].final, answers["greeting"].answered_by) == ("no", "tina")
    assert answers["agent_identified"].answered_by is None  # answered again automatically
    with store.read() as conn:
        stored = {a["question_id"]: a for a in rows.answer_rows(conn, now_view.evaluation_id)}
    assert stored["greeting"]["carried_from"] == "default@1"
    assert stored["greeting"]["answered_at"] == NOW.isoformat()
    assert stored["agent_identified"]["carried_from"] is None
    kinds = {h["question_id"]: h for h in now_view.history}
    assert (kinds["greeting"]["kind"], kinds["greeting"]["reason"]) == ("carry", "late")
    assert kinds["greeting"]["at"] == NOW.isoformat()
    assert kinds["agent_identified"]["kind"] == "to_review"
    assert "default@1" in kinds["agent_identified"]["reason"]
    # the final score follows the carried "no", like the reviewed version 1 did
    assert now_view.final_score is not None and now_view.automatic_score is not None
    assert now_view.final_score < now_view.automatic_score
    untouched = workflow.call_evaluation(store, "c2", now=later)
    assert untouched is not None and untouched.status == "automatic"
    (entry,) = [e for e in audit.entries(store, limit=20) if e["action"] == "rescore"]
    detail = json.loads(entry["detail"]) if isinstance(entry["detail"], str) else entry["detail"]
    assert detail["carried"] == 1 and detail["to_review"] == 1
    # shown as carried while it stands; answered again, the history still says from where
    assert (
        answers["greeting"].label()
        == "no — overridden by tina (automatic: yes), carried from default@1"
    )
    assert kinds["greeting"]["carried_from"] == "default@1"
    workflow.answer(
        store, now_view.evaluation_id, "greeting", "yes", evaluator="tom", reason="", now=later
    )
    again = workflow.call_evaluation(store, "c1", now=later)
    assert again is not None
    greeting = next(a for a in again.answers if a.question.id == "greeting")
    assert (greeting.label(), greeting.carried_from) == ("yes — by tom", None)
    carry = next(h for h in again.history if h["kind"] == "carry")
    assert carry["carried_from"] == "default@1"


def test_deleting_a_call_deletes_its_evaluations_disputes_and_coaching(store: Store) -> None:
    processed(store, "c1", agent_id="A101")
    processed(store, "c2", agent_id="A101")
    view = workflow.call_evaluation(store, "c1", now=NOW)
    assert view is not None
    workflow.answer(store, view.evaluation_id, "greeting", "no", evaluator="t", reason="r", now=NOW)
    workflow.dispute(store, view.evaluation_id, "no", user="ann", agent_id="A101", now=NOW)
    workflow.add_note(store, "A101", "work on greetings", author="t", links=[("c1", 0)], now=NOW)
    kept = workflow.add_note(store, "A101", "good call", author="t", links=[("c2", None)], now=NOW)
    governance.object_calls(store, call_id="c1", now=NOW)
    assert workflow.call_evaluation(store, "c1", now=NOW) is None
    with store.read() as conn:
        for table in ("evaluations", "disputes", "coaching_links", "call_evidence"):
            assert rows_in(conn, table, "c1") == 0, table
        assert rows_in(conn, "answer_history", "") == 0  # only c1 had history
        assert rows_in(conn, "evaluation_answers", "") == len(default_form().questions)  # c2's
    assert [n["id"] for n in workflow.notes(store, agent_id="A101", now=NOW)] == [kept]
    assert workflow.call_evaluation(store, "c2", now=NOW) is not None


def rows_in(conn: Any, table: str, call_id: str) -> int:
    """Rows of a table naming ``call_id`` (every row when it is empty)."""
    from sqlalchemy import func, select

    from analytics.store import schema

    t = schema.metadata.tables[table]
    if call_id and "call_id" in t.c:
        return int(conn.execute(select(func.count()).where(t.c.call_id == call_id)).scalar_one())
    return int(conn.execute(select(func.count()).select_from(t)).scalar_one())


def test_an_agent_marks_their_call_private_like_an_objection(store: Store) -> None:
    processed(store, "c1", agent_id="A101")
    with pytest.raises(NotFoundError):
        workflow.mark_private(store, "c1", user="bob", agent_id="B202", now=NOW)
    report = workflow.mark_private(store, "c1", user="ann", agent_id="A101", now=NOW)
    assert report.calls == ["c1"]
    assert workflow.call_evaluation(store, "c1", now=NOW) is None
    assert "mark_private" in [e["action"] for e in audit.entries(store, limit=5)]
    with store.read() as conn:
        assert rows.call_owner(conn, "c1")["state"] == "objected"  # type: ignore[index]


def test_find_calls_filters_sorts_and_pages(store: Store) -> None:
    for i in range(7):
        add_call(store, f"c{i}", agent_id="A101" if i % 2 else "B202", score=50 + 5 * i)
    add_call(store, "flag", abuse_severity="high", score=10)
    page, total = rows.find_calls(store, NOW, rows.CallQuery(sort="score", limit=3))
    assert total == 8 and [r["call_id"] for r in page] == ["c6", "c5", "c4"]
    page, _ = rows.find_calls(store, NOW, rows.CallQuery(sort="score", limit=3, offset=6))
    assert [r["call_id"] for r in page] == ["c0", "flag"]
    page, total = rows.find_calls(store, NOW, rows.CallQuery(agent="A101", min_score=60))
    assert total == 2 and {r["call_id"] for r in page} == {"c3", "c5"}
    page, total = rows.find_calls(store, NOW, rows.CallQuery(flagged=True))
    assert [r["call_id"] for r in page] == ["flag"]
    _, total = rows.find_calls(store, NOW, rows.CallQuery(status="none"))
    assert total == 8
    _, total = rows.find_calls(store, NOW, rows.CallQuery(disputed=True))
    assert total == 0


@pytest.mark.parametrize("sort", ["score", "final_score", "started_at"])
def test_sorts_walk_the_index_to_the_same_pages(
    store: Store, sort: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Walking the sort's index in small chunks gives the plain sorted query's pages
    and counts, with every filter, ties, objected calls and calls without an
    evaluation included."""
    for i in range(14):
        add_call(
            store,
            f"w{i:02d}",
            agent_id="A1",
            team="T" if i % 3 else "U",
            score=40 + 5 * (i % 5),
            started_at=NOW - timedelta(hours=1 + i % 4),  # ties on the start too
            abuse_severity="high" if i % 4 == 1 else "none",
        )
    governance.object_calls(store, call_id="w03", now=NOW)
    evaluated = [
        {
            "evaluation_id": f"e{i:02d}",
            "call_id": f"w{i:02d}",
            "form_name": "default",
            "form_version": 1,
            "current": True,
            "created_at": NOW.isoformat(),
            "created_by": "test",
            "automatic_score": 70.0,
            "final_score": float(60 + 10 * (i % 3)),
            "status": "disputed" if i % 3 == 1 else "automatic",
        }
        for i in range(14)
        if i != 5  # never evaluated: last under final score
    ]
    with store.write() as conn:
        conn.exec_driver_sql("DELETE FROM evaluations")
        rows.insert_evaluations(conn, evaluated, [])
        for i in (1, 4, 7):
            rows.insert_dispute(
                conn,
                {"evaluation_id": f"e{i:02d}", "call_id": f"w{i:02d}", "agent_user": "a",
                 "comment": "no", "status": "open", "filed_at": NOW.isoformat()},
            )  # fmt: skip
    filters: list[dict[str, Any]] = [
        {},
        {"team": "T"},
        {"flagged": True},
        {"flagged": False, "team": "T"},
        {"status": "disputed"},
        {"status": "none", "team": "T"},
        {"disputed": True},
        {"min_score": 65, "max_score": 75, "team": "T"},
        {"min_score": 45, "since": NOW - timedelta(hours=3, minutes=30)},
    ]
    queries = [
        rows.CallQuery(sort=sort, limit=limit, offset=offset, descending=descending, **extra)
        for limit, offset in ((3, 0), (2, 7))
        for descending in (True, False)
        for extra in filters
    ]
    monkeypatch.setattr(rows, "WALK_MAX", 0)  # the plain sorted query
    plain = [rows.find_calls(store, NOW, q) for q in queries]
    monkeypatch.setattr(rows, "WALK_MAX", 10_000)
    monkeypatch.setattr(rows, "WALK_FIRST", 2)
    monkeypatch.setattr(rows, "WALK_CHUNK_MAX", 3)
    walked = [rows.find_calls(store, NOW, q) for q in queries]
    assert [[r["call_id"] for r in page] for page, _ in walked] == [
        [r["call_id"] for r in page] for page, _ in plain
    ]
    assert [total for _, total in walked] == [total for _, total in plain]
    empty = [q for (page, _), q in zip(plain, queries, strict=True) if q.offset == 0 and not page]
    assert not empty
    everything = rows.find_calls(store, NOW, rows.CallQuery(sort=sort, limit=50))[0]
    assert "w03" not in {r["call_id"] for r in everything} and len(everything) == 13
    if sort == "final_score":
        assert everything[-1]["call_id"] == "w05"
    flagged = rows.find_calls(store, NOW, rows.CallQuery(sort=sort, flagged=True))
    assert {r["call_id"] for r in flagged[0]} == {"w01", "w05", "w09", "w13"}
    disputed = rows.find_calls(store, NOW, rows.CallQuery(sort=sort, disputed=True))
    assert {r["call_id"] for r in disputed[0]} == {"w01", "w04", "w07"}


def test_phrase_evidence_reads_the_agent_only() -> None:
    from analytics.evaluations.scoring import phrase_evidence

    transcript = RedactedTranscript(
        call_id="x",
        language="fr",
        language_probability=1.0,
        duration_s=8,
        segments=(
            RedactedSegment("customer", 0, 1, "bonjour"),
            RedactedSegment("agent", 1, 2, "bonjour madame"),
        ),
        pii_counts={},
    )
    assert phrase_evidence(transcript, QualityConfig.default())["greeting"] == [1]


def test_load_evaluations_gives_one_row_per_call_version_and_question(
    store: Store, tmp_path: Path
) -> None:
    import analytics
    from analytics.dataset import EVALUATION_COLUMNS

    processed(store, "c1")
    processed(store, "c2", agent_id="B202")
    view = workflow.call_evaluation(store, "c1", now=NOW)
    assert view is not None
    workflow.answer(
        store, view.evaluation_id, "pace", "no", evaluator="tina", reason="fast", now=NOW
    )
    governance.object_calls(store, call_id="c2", now=NOW)
    frame = analytics.load_evaluations(store.settings)
    n_questions = len(default_form().questions)
    assert list(frame.columns) == list(EVALUATION_COLUMNS)
    assert set(frame["call_id"]) == {"c1"} and len(frame) == n_questions
    pace = frame[frame["question"] == "pace"].iloc[0]
    assert (pace["automatic_answer"], pace["human_answer"], pace["final_answer"]) == (
        "yes",
        "no",
        "no",
    )
    assert pace["evaluator"] == "tina" and str(pace["form_version"]) == "1"
    greeting = frame[frame["question"] == "greeting"].iloc[0]
    assert pd.isna(greeting["human_answer"]) and greeting["final_answer"] == "yes"
    assert analytics.load_evaluations(store.settings, agent="B202").empty


def test_subject_access_includes_evaluations_and_erasure_deletes_them(
    store: Store, tmp_path: Path
) -> None:
    import zipfile

    caller = "+33 6 12 34 56 78"
    processed(store, "c1", caller_id=caller)
    view = workflow.call_evaluation(store, "c1", now=NOW)
    assert view is not None
    workflow.answer(store, view.evaluation_id, "pace", "no", evaluator="t", reason="fast", now=NOW)
    workflow.dispute(store, view.evaluation_id, "I was fine", user="ann", agent_id="A101", now=NOW)
    workflow.add_note(store, "A101", "slow down", author="t", links=[("c1", 2)], now=NOW)
    out = tmp_path / "access.zip"
    governance.subject_access(store, caller, out, now=NOW)
    with zipfile.ZipFile(out) as archive:
        (entry,) = json.loads(archive.read("calls.json"))
    evaluation = entry["evaluation"]
    assert evaluation["evaluations"][0]["history"][0]["reason"] == "fast"
    assert evaluation["evaluations"][0]["disputes"][0]["comment"] == "I was fine"
    assert evaluation["coaching"][0]["note"] == "slow down"
    governance.subject_erase(store, caller, now=NOW)
    with store.read() as conn:
        for table in ("evaluations", "answer_history", "disputes", "coaching_notes"):
            assert rows_in(conn, table, "") == 0, table


def test_purge_deletes_the_evaluations_of_expired_calls(store: Store) -> None:
    from datetime import timedelta

    processed(store, "old", started_at=NOW - timedelta(days=150))
    processed(store, "new")
    later = NOW + timedelta(days=40)  # "old" is now past the 183 days
    governance.purge(store, now=later)
    with store.read() as conn:
        assert rows_in(conn, "evaluations", "") == 1
        assert rows_in(conn, "evaluation_answers", "") == len(default_form().questions)
    assert workflow.call_evaluation(store, "new", now=later) is not None


def test_the_evaluation_commands(tmp_path: Path, settings: Any) -> None:
    from click.testing import CliRunner

    from analytics.cli import cli

    home = settings.home

    def run(*args: str, stdin: str | None = None) -> Any:
        return CliRunner().invoke(cli, ["--home", str(home), *args], input=stdin)

    with Store.open(settings) as store:
        processed(store, "c1")
        processed(store, "c2")
    listed = run("form", "list")
    assert listed.exit_code == 0 and listed.output.startswith("default@1\t8 questions\tactive")
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\nversion = "two"\n', encoding="utf-8")
    result = run("form", "import", str(bad))
    assert result.exit_code == 1 and f"{bad}: version: must be a whole number" in result.output
    good = tmp_path / "v2.toml"
    good.write_text(
        automatic.formdefs.DEFAULT_FORM_PATH.read_text(encoding="utf-8").replace(
            "version = 1", "version = 2"
        ),
        encoding="utf-8",
    )
    result = run("form", "import", str(good))
    assert result.exit_code == 0 and "form default@2 imported and active" in result.output
    result = run("rescore", "--form", "default@2")
    assert result.exit_code == 0 and "2 calls evaluated under default@2" in result.output
    assert run("rescore", "--form", "nope@1").exit_code == 2
    assert run("calibration", "report").exit_code == 2  # no session yet
    result = run("user", "add", "ann", "--role", "agent", "--password-stdin", stdin="x\n")
    assert result.exit_code == 2 and "needs --agent-id" in result.output
    result = run(
        "user", "add", "ann", "--role", "agent", "--agent-id", "A101", "--password-stdin",
        stdin="a-long-agent-passphrase-9\n",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert run("user", "list").output.strip().endswith("\tA101")


def test_a_version_9_workspace_gains_the_evaluation_tables(store: Store) -> None:
    """Schema v10 on a workspace made before it: the tables, the index and users.agent_id."""
    from sqlalchemy import inspect, text

    from analytics.store import schema

    processed(store, "c1")
    with store.write() as conn:  # what version 9 of the schema looked like
        for table in reversed(schema.EVALUATION_TABLES):
            conn.execute(text(f"DROP TABLE {table.name}"))
        conn.execute(text("DROP INDEX ix_calls_agent_started"))
        conn.execute(text("ALTER TABLE users DROP COLUMN agent_id"))
        conn.execute(text("UPDATE alembic_version SET version_num = '0009'"))
    with Store.open(store.settings) as again, again.read() as conn:
        assert schema.schema_version(conn) == schema.LATEST_VERSION >= 10
        found = inspect(conn)
        assert {t.name for t in schema.EVALUATION_TABLES} <= set(found.get_table_names())
        assert "agent_id" in {c["name"] for c in found.get_columns("users")}
        assert "ix_calls_agent_started" in {i["name"] for i in found.get_indexes("calls")}
    with Store.open(store.settings) as again:
        # the call processed before v10 is evaluated once rescored
        assert workflow.call_evaluation(again, "c1", now=NOW) is None
        assert automatic.rescore(again, "default", now=NOW).calls == 1
        assert workflow.call_evaluation(again, "c1", now=NOW) is not None


def test_processing_evaluates_each_call_under_the_active_form(store: Store, tmp_path: Path) -> None:
    from pipeline_fakes import fake_engines, write_call

    from analytics.ingest import ingest
    from analytics.pipeline import process

    for i in range(2):
        write_call(tmp_path / "in" / f"call-{i}.wav", seed=i)
    imported = sorted(ingest(store, [tmp_path / "in"], now=NOW).imported)
    report = process(store, engines=fake_engines(), now=NOW)
    assert sorted(report.done) == imported
    for call_id in imported:
        view = workflow.call_evaluation(store, call_id, now=NOW)
        assert view is not None and view.form.ref == "default@1"
        assert view.created_at and view.status == "automatic"
        record_score = next(
            r["score"] for r in rows.find_calls(store, NOW, rows.CallQuery())[0]
            if r["call_id"] == call_id
        )  # fmt: skip
        assert view.automatic_score is not None
        assert round(view.automatic_score) == record_score
        closing = next(a for a in view.answers if a.question.id == "closing")
        assert closing.final == "yes" and closing.evidence["segments"]  # "thank you goodbye"
