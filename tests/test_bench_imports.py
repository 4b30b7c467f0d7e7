"""Every benchmark still imports against today's code.

The benches are not run by the tests (minutes each), so an API they use can
change under them unnoticed: bench/low_power_recall.py imported ``REPO`` from
bench/detection_quality.py for months after it moved, and docs/console.md kept
quoting figures nobody could reproduce. Importing each module (without running
its ``main``) is cheap and catches a name that moved or went away.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
IMPORT_EACH = """
import importlib, sys
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
    except BaseException as exc:  # SystemExit too: a bench that runs or exits at import is broken as well
        print(f"{name}: {type(exc).__name__}: {exc}")
"""


def test_every_bench_module_imports_without_running() -> None:
    modules = [f"bench.{path.stem}" for path in sorted((REPO / "bench").glob("*.py"))]
    assert "bench.low_power_recall" in modules
    # one fresh interpreter for all: the benches put their own folder on sys.path, the test process stays clean
    done = subprocess.run([sys.executable, "-c", IMPORT_EACH, *modules], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "", f"bench modules that do not import:\n{done.stdout}"
