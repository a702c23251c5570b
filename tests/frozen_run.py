"""Test-only: run a module (``analytics``, ``streamlit``) with the product's clock frozen.

``python tests/frozen_run.py ISO MODULE args...`` is ``python -m MODULE args...`` with
:mod:`analytics.clock` pinned first, so a CLI or a real dashboard server started as a
subprocess sees the fixtures as of the tests' ``NOW`` whatever the system clock says.
The product has no such switch: the clock is set through the Python API, in the
process itself.
"""

from __future__ import annotations

import runpy
import sys
from datetime import datetime
from pathlib import Path

from analytics import clock


def command(moment: datetime, module_command: list[str]) -> list[str]:
    """Turn ``[python, -m, MODULE, ...]`` into the frozen-clock run of the same command."""
    python, flag, module, *args = module_command
    assert flag == "-m", module_command
    return [python, str(Path(__file__).resolve()), moment.isoformat(), module, *args]


def main() -> None:
    moment = datetime.fromisoformat(sys.argv[1])
    clock.use(lambda: moment)
    module = sys.argv[2]
    sys.argv = [module, *sys.argv[3:]]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
