"""Calibration: 20 calls scored blind by 3 evaluators with known answers; agreement and
kappa per question checked against a hand computation (independent of statsmodels)."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
from evaluation_fixtures import processed
from factories import NOW

from analytics import audit
from analytics.errors import NotFoundError, UsageError
from analytics.evaluations import calibration, workflow
from analytics.store import Store

EVALUATORS = ("eve", "fay", "gus")
N_CALLS = 20


def _answers(call: int, evaluator: int) -> dict[str, str]:
    """Known answers: everyone agrees on greeting for calls 0-14; on 15-19 one dissents;
    closing alternates by call with gus disagreeing on every third call."""
    greeting = "yes" if call % 4 else "no"
    if call >= 15 and evaluator == 2:
        greeting = "no" if greeting == "yes" else "yes"
    closing = "yes" if call % 2 else "no"
    if evaluator == 2 and call % 3 == 0:
        closing = "na"
    return {"greeting": greeting, "closing": closing}


def hand_fleiss(ratings: list[list[str]]) -> tuple[float, float]:
    """Fleiss' kappa by its textbook formula: (P̄ − P̄e) / (1 − P̄e)."""
    n_raters = len(ratings[0])
    categories = sorted({v for r in ratings for v in r})
    counts = [Counter(r) for r in ratings]
    p_i = [
        (sum(c[k] ** 2 for k in categories) - n_raters) / (n_raters * (n_raters - 1))
        for c in counts
    ]
    p_bar = sum(p_i) / len(p_i)
    p_j = [sum(c[k] for c in counts) / (len(ratings) * n_raters) for k in categories]
    p_e = sum(p**2 for p in p_j)
    return p_bar, (p_bar - p_e) / (1 - p_e)


def test_a_calibration_of_20_calls_and_3_evaluators_matches_the_hand_computation(
    store: Store,
) -> None:
    call_ids = [f"k{i:02d}" for i in range(N_CALLS)]
    for call_id in call_ids:
        processed(store, call_id)
    session_id = calibration.create_session(
        store, "November", call_ids, EVALUATORS, actor="quinn", now=NOW
    )
    for i, call_id in enumerate(call_ids):
        for j, evaluator in enumerate(EVALUATORS):
            calibration.submit(store, session_id, call_id, evaluator, _answers(i, j), now=NOW)
    report = calibration.report(store, session_id, now=NOW)
    assert report.calls == N_CALLS and report.evaluators == EVALUATORS
    by_question = {q.question_id: q for q in report.questions}
    for question in ("greeting", "closing"):
        ratings = [[_answers(i, j)[question] for j in range(3)] for i in range(N_CALLS)]
        p_bar, kappa = hand_fleiss(ratings)
        got = by_question[question]
        assert got.calls == N_CALLS
        assert got.percent_agreement == pytest.approx(p_bar, abs=1e-4)
        assert got.fleiss_kappa == pytest.approx(kappa, abs=1e-4)
        assert got.cohen_kappa is None  # three evaluators
    # greeting: 15 calls unanimous, 5 with one dissent (1 of 3 pairs agree)
    assert by_question["greeting"].percent_agreement == pytest.approx((15 + 5 / 3) / 20, abs=1e-4)
    assert by_question["empathy"].calls == 0 and by_question["empathy"].fleiss_kappa is None
    # everyone's automatic answers are 'yes'; mean |automatic − human| is over 20 calls
    assert report.compared_calls == N_CALLS and report.mean_abs_difference is not None
    assert report.mean_abs_difference > 0
    assert "calibration_answer" in [e["action"] for e in audit.entries(store, limit=5)]
    assert "greeting" in report.summary()


def test_two_evaluators_get_cohens_kappa_by_hand() -> None:
    a = ["yes", "yes", "no", "no", "yes", "no", "yes", "yes"]
    b = ["yes", "no", "no", "no", "yes", "yes", "yes", "yes"]
    got = calibration.agreement("q", [list(p) for p in zip(a, b, strict=True)])
    p_o = sum(x == y for x, y in zip(a, b, strict=True)) / len(a)
    p_e = sum((a.count(k) / len(a)) * (b.count(k) / len(b)) for k in ("yes", "no"))
    assert got.cohen_kappa == pytest.approx((p_o - p_e) / (1 - p_e), abs=1e-4)
    assert got.percent_agreement == pytest.approx(p_o)


def test_unanimous_single_category_has_no_kappa() -> None:
    got = calibration.agreement("q", [["yes", "yes", "yes"]] * 4)
    assert got.percent_agreement == 1.0 and got.fleiss_kappa is None


def test_scoring_is_blind_and_limited_to_the_session(store: Store) -> None:
    for call_id in ("k1", "k2"):
        processed(store, call_id)
    with pytest.raises(UsageError):
        calibration.create_session(store, "s", ["k1"], ["eve"], actor="q", now=NOW)
    session_id = calibration.create_session(
        store, "s", ["k1", "k2"], ["eve", "fay"], actor="q", now=NOW
    )
    calibration.submit(store, session_id, "k1", "eve", {"greeting": "yes"}, now=NOW)
    calibration.submit(store, session_id, "k1", "fay", {"greeting": "no"}, now=NOW)
    assert calibration.my_answers(store, session_id, "eve", now=NOW) == {"k1": {"greeting": "yes"}}
    with pytest.raises(NotFoundError):
        calibration.submit(store, session_id, "k1", "zed", {"greeting": "yes"}, now=NOW)
    with pytest.raises(UsageError):
        calibration.submit(store, session_id, "k2", "eve", {"greeting": "7"}, now=NOW)
    # a call objected meanwhile leaves the session and its answers with it
    view = workflow.call_evaluation(store, "k1", now=NOW)
    assert view is not None
    from analytics import governance

    governance.object_calls(store, call_id="k1", now=NOW)
    assert calibration.session(store, session_id, now=NOW).call_ids == ("k2",)
    assert calibration.report(store, session_id, now=NOW).questions[0].calls == 0


def test_calibration_create_and_list_from_the_command_line(settings: Any) -> None:
    from click.testing import CliRunner

    from analytics.cli import cli

    def run(*args: str) -> Any:
        return CliRunner().invoke(cli, ["--home", str(settings.home), *args])

    with Store.open(settings) as store:
        for i in range(6):
            processed(store, f"k{i}")
    result = run(
        "calibration", "create", "--name", "June", "--calls", "k1,k2", "--evaluators", "eve,fay"
    )
    assert result.exit_code == 0, result.output
    assert "2 calls, evaluators eve, fay" in result.output
    sampled = [
        run(
            "calibration", "create", "--name", f"S{n}", "--sample", "3", "--seed", "4",
            "--evaluators", "eve,fay,gus", "--form", "default@1",
        )
        for n in (1, 2)
    ]  # fmt: skip
    assert all(r.exit_code == 0 for r in sampled), [r.output for r in sampled]
    listed = run("calibration", "list")
    assert listed.exit_code == 0
    lines = listed.output.strip().splitlines()
    assert [line.split("\t")[1] for line in lines] == ["S2", "S1", "June"]
    assert lines[0].split("\t")[2:4] == ["default@1", "eve,fay,gus"]
    as_json = json.loads(run("calibration", "list", "--json").output)
    assert as_json[2]["evaluators"] == ["eve", "fay"]
    with Store.open(settings) as store:
        first, second = (calibration.session(store, s["id"]) for s in as_json[:2])
        assert first.call_ids == second.call_ids and len(first.call_ids) == 3  # same seed
        actions = [e["action"] for e in audit.entries(store, limit=10)]
    assert actions.count("calibration_create") == 3
    usage = [
        ("--name", "x", "--evaluators", "eve,fay"),  # neither --calls nor --sample
        ("--name", "x", "--calls", "k1", "--sample", "2", "--evaluators", "eve,fay"),
        ("--name", "x", "--calls", "k1", "--seed", "3", "--evaluators", "eve,fay"),
        ("--name", "x", "--calls", "k1", "--evaluators", "eve"),  # one evaluator
        ("--name", "x", "--sample", "99", "--evaluators", "eve,fay"),  # too few calls
        ("--name", "x", "--calls", "k1", "--evaluators", "eve,fay", "--form", "nope@3"),
        ("--calls", "k1", "--evaluators", "eve,fay"),  # no name
    ]
    for args in usage:
        result = run("calibration", "create", *args)
        assert result.exit_code == 2, (args, result.output)
    missing = run("calibration", "create", "--name", "x", "--calls", "zz", "--evaluators", "a,b")
    assert missing.exit_code == 2 and "zz" in missing.output


def test_a_sample_is_reproducible_and_draws_only_visible_calls(store: Store) -> None:
    from analytics import governance

    for i in range(12):
        processed(store, f"v{i:02d}")
    governance.object_calls(store, call_id="v03", now=NOW)
    one = calibration.sample_calls(store, 5, seed=9, now=NOW)
    assert one == calibration.sample_calls(store, 5, seed=9, now=NOW)
    assert len(set(one)) == 5 and "v03" not in one
    assert sorted(calibration.sample_calls(store, 11, seed=1, now=NOW)) == sorted(
        f"v{i:02d}" for i in range(12) if i != 3
    )
    with pytest.raises(UsageError, match="only 11 calls"):
        calibration.sample_calls(store, 12, now=NOW)
    with pytest.raises(UsageError):
        calibration.sample_calls(store, 0, now=NOW)
