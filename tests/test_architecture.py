"""The layers hold: only analytics.store speaks SQL, stages never touch the store,
the store depends on nothing above it (import-linter, configured in pyproject.toml)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _contracts() -> list[dict[str, object]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return config["tool"]["importlinter"]["contracts"]  # type: ignore[no-any-return]


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _modules(package: str) -> set[str]:
    """Every module of a package, dotted (packages by their own name)."""
    found = set()
    for path in (ROOT / package).rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        found.add(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return found


def _covered(module: str, listed: list[str]) -> bool:
    return any(module == entry or module.startswith(entry + ".") for entry in listed)


def test_the_contracts_are_kept() -> None:
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Contracts: {len(_contracts())} kept, 0 broken." in result.stdout


def test_every_module_outside_the_store_is_under_the_sql_contract() -> None:
    sql_contract = _contracts()[0]
    listed = list(sql_contract["source_modules"])  # type: ignore[call-overload]
    modules = _modules("analytics") | _modules("dashboard")
    outside = {
        m
        for m in modules
        if m not in ("analytics", "analytics.__main__") and not _covered(m, ["analytics.store"])
    }
    missing = sorted(m for m in outside if not _covered(m, listed))
    assert missing == [], f"add them to the first import-linter contract: {missing}"


@pytest.fixture(scope="module")
def copy_of_the_code(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("code")
    for package in ("analytics", "dashboard"):
        shutil.copytree(
            ROOT / package, root / package, ignore=shutil.ignore_patterns("__pycache__", "data")
        )
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    return root


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("analytics/governance.py", "from sqlalchemy import select", "Only the store speaks SQL"),
        (
            "dashboard/views/overview.py",
            "from analytics.store.schema import calls",
            "Only the store speaks SQL",
        ),
        ("analytics/quality.py", "import analytics.store", "Stages"),
        ("analytics/store/reads.py", "import analytics.governance", "The store depends on nothing"),
        ("analytics/governance.py", "import analytics.ingest", "Governance does not reach back"),
    ],
)
def test_a_forbidden_import_breaks_a_contract(
    copy_of_the_code: Path, module: str, line: str, contract: str
) -> None:
    target = copy_of_the_code / module
    original = target.read_text(encoding="utf-8")
    # after the module docstring and __future__ import, as real code would put it
    head, sep, tail = original.partition("from __future__ import annotations\n")
    target.write_text(head + sep + line + "  # noqa\n" + tail, encoding="utf-8")
    try:
        result = _lint(copy_of_the_code)
    finally:
        target.write_text(original, encoding="utf-8")
    assert result.returncode != 0
    broken = [ln for ln in result.stdout.splitlines() if ln.endswith("BROKEN")]
    report = result.stdout.replace("\n", " ")
    assert broken and contract in report, result.stdout


def test_the_quality_figures_are_declared_once_by_quality_report() -> None:
    """Forms, category rules, the store and the notebooks read QualityReport's own lists."""
    from dataclasses import fields

    from analytics import dataset
    from analytics.evaluations import forms
    from analytics.insights import categories as rules
    from analytics.models import QUALITY_CHECKS, QUALITY_MEASURES, QualityReport
    from analytics.store import categories as category_rows
    from analytics.store import evaluations as evaluation_rows

    declared = {f.name for f in fields(QualityReport)} - {"score", "breakdown"}
    assert set(QUALITY_MEASURES) | set(QUALITY_CHECKS) == declared
    assert not set(QUALITY_MEASURES) & set(QUALITY_CHECKS)
    assert evaluation_rows.FIGURE_COLUMNS == QUALITY_MEASURES
    assert set(forms.FIGURES) == {*QUALITY_MEASURES, "abuse_flagged"}
    assert set(category_rows.FIGURE_COLUMNS) == {*QUALITY_MEASURES, *QUALITY_CHECKS, "score"}
    assert set(QUALITY_MEASURES) | set(QUALITY_CHECKS) <= set(rules.FIGURES)
    assert dataset._QUALITY_BOOLS == QUALITY_CHECKS
