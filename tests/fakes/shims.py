"""LD_PRELOAD shims (the C files beside this one), compiled for a test into its own folder.

A shim stands in for a failing disk or library inside a real process (the tests run as root, so
permissions cannot make a read fail): each C file says which calls it changes and which
environment variables steer it.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

FAKES = Path(__file__).resolve().parent


def preload_shim(name: str, into: Path) -> Path:
    """``tests/fakes/<name>.c`` built as ``<into>/<name>.so``; the test is skipped without a C compiler."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        pytest.skip(f"no C compiler for the {name} shim (scripts/build_native.sh installs g++)")
    shim = into / f"{name}.so"
    subprocess.run([compiler, "-shared", "-fPIC", "-O1", "-o", str(shim), str(FAKES / f"{name}.c"), "-ldl"],
                   check=True)
    return shim
