"""The example notebooks: committed without outputs, and they run on real workspaces.

The slow tests execute every notebook with nbclient in a kernel of this virtualenv
(checked, not assumed) against a workspace built by ``dataset_fixtures``: a realistic
one, a sparse one (one visible call among hidden ones) and an empty one.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import nbformat
import pytest
from dataset_fixtures import BuiltWorkspace, build_workspace
from jupyter_client import KernelManager
from nbclient import NotebookClient

from analytics.config import load_settings
from analytics.store import Store

NOTEBOOKS_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NAMES = ("quality_overview", "abuse_patterns", "agent_coaching", "call_drivers")
NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))
PREFIX_MARK = "KERNEL-PREFIX="


def _read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def _code_cells(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [cell for cell in nb.cells if cell.cell_type == "code"]


# --- committed form (fast) -----------------------------------------------------------


def test_the_three_notebooks_are_there() -> None:
    assert {path.stem for path in NOTEBOOKS} >= set(NAMES)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_notebooks_have_no_outputs(path: Path) -> None:
    nb = _read(path)
    nbformat.validate(nb)
    for index, cell in enumerate(_code_cells(nb)):
        assert cell.outputs == [], f"{path.name} cell {index} has outputs: clear them before commit"
        assert cell.execution_count is None, f"{path.name} cell {index} has an execution count"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebooks_read_callqa_home_first_and_tell_a_story(path: Path) -> None:
    nb = _read(path)
    first_code = _code_cells(nb)[0].source
    assert 'os.environ.get("CALLQA_HOME"' in first_code
    assert "from analytics.dataset import" in first_code
    markdown = [cell for cell in nb.cells if cell.cell_type == "markdown"]
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")
    assert len(markdown) >= 4
    assert nb.metadata["kernelspec"]["name"] == "python3"


def test_the_python3_kernel_is_this_virtualenv() -> None:
    command = KernelManager(kernel_name="python3").format_kernel_cmd()
    assert Path(command[0]).resolve() == Path(sys.executable).resolve()


# --- execution (slow) ----------------------------------------------------------------


@pytest.fixture(scope="module")
def workspaces(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("notebooks")
    realistic: BuiltWorkspace = build_workspace(root / "realistic")
    sparse = build_workspace(root / "sparse", calls=0)
    assert len(realistic.visible) > 40 and len(sparse.visible) == 1
    Store.open(load_settings(root / "empty", env={})).close()
    return {"realistic": realistic.home, "sparse": sparse.home, "empty": root / "empty"}


HIDDEN_IDS = (
    "x-objected-later",
    "x-caller-1",
    "x-caller-2",
    "x-objected-at-ingest",
    "x-expired",
    "x-pending",
    "x-failed",
)


def _execute(
    path: Path, home: Path, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> nbformat.NotebookNode:
    for var in [v for v in os.environ if v.startswith("CALLQA_")]:
        monkeypatch.delenv(var)
    monkeypatch.setenv("CALLQA_HOME", str(home))  # the kernel inherits this environment
    # Streamlit (imported by the dashboard tests in this process) sets MPLBACKEND=Agg;
    # the kernel must draw inline as in Jupyter.
    monkeypatch.delenv("MPLBACKEND", raising=False)
    nb = _read(path)
    nb.cells.append(nbformat.v4.new_code_cell(f"import sys\nprint('{PREFIX_MARK}' + sys.prefix)"))
    km = KernelManager(kernel_name="python3")
    assert Path(km.format_kernel_cmd()[0]).resolve() == Path(sys.executable).resolve()
    NotebookClient(nb, km=km, timeout=180, resources={"metadata": {"path": str(workdir)}}).execute()
    return nb


def _texts(nb: nbformat.NotebookNode) -> list[str]:
    found = []
    for cell in _code_cells(nb):
        for output in cell.outputs:
            if output.output_type == "stream":
                found.append(output.text)
            elif output.output_type in ("display_data", "execute_result"):
                found += [v for k, v in output.data.items() if k.startswith("text/")]
    return found


def _images(nb: nbformat.NotebookNode) -> int:
    return sum(
        "image/png" in output.get("data", {}) for cell in _code_cells(nb) for output in cell.outputs
    )


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["realistic", "sparse", "empty"])
@pytest.mark.parametrize("name", NAMES)
def test_notebook_executes(
    name: str,
    kind: str,
    workspaces: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    nb = _execute(NOTEBOOKS_DIR / f"{name}.ipynb", workspaces[kind], tmp_path, monkeypatch)
    text = "\n".join(_texts(nb))
    # The kernel that ran it is this virtualenv's Python.
    prefix = re.search(rf"{PREFIX_MARK}(\S+)", text)
    assert prefix and Path(prefix.group(1)).resolve() == Path(sys.prefix).resolve()
    assert f"workspace: {workspaces[kind]}" in text
    for hidden in HIDDEN_IDS:
        assert hidden not in text, f"{name} shows hidden call {hidden}"
    if kind == "realistic":
        assert _images(nb) >= 2, f"{name} drew no plots"
        assert "Traceback" not in text
    elif kind == "empty":
        assert _images(nb) == 0
        assert re.search(r"\bNo (calls|scored|rubric|abuse|agent)", text), text
