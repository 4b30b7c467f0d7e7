"""The boundary is the design: detector and uploader meet only on the wire.

Checked on the source with ``ast`` (every import statement, including those
inside functions), so the rule holds whatever way the package is installed.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

FORBIDDEN = {
    "detector": ("quickcam.uploader",),
    "uploader": ("quickcam.detector",),
    "common": ("quickcam.detector", "quickcam.uploader"),
}


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "import_module" and node.args:
            arg = node.args[0]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                found.append(arg.value)
    return found


def violations(folder: str) -> list[str]:
    bad = []
    for path in sorted((REPO / folder).rglob("*.py")):
        for name in _imports(path):
            if name.startswith(FORBIDDEN[folder]) or name.split(".")[0] in ("detector", "uploader", "common"):
                bad.append(f"{path.relative_to(REPO)} imports {name}")
    return bad


@pytest.mark.parametrize("folder", sorted(FORBIDDEN))
def test_folder_does_not_import_across_the_process_boundary(folder: str) -> None:
    assert violations(folder) == []


def test_the_check_catches_a_violation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "detector"
    fake.mkdir()
    (fake / "sneaky.py").write_text("def f():\n    from quickcam.uploader import ledger\n")
    monkeypatch.setattr(sys.modules[__name__], "REPO", tmp_path)
    assert violations("detector") == ["detector/sneaky.py imports quickcam.uploader"]


def test_code_is_ruff_clean() -> None:
    ruff = Path(sys.executable).parent / "ruff"
    run = subprocess.run([str(ruff), "check", "."], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
