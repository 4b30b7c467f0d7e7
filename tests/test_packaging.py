"""`pip install .` must put everything under one quickcam namespace."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from tests.conftest import REPO


def test_wheel_installs_only_under_the_quickcam_namespace(tmp_path: Path) -> None:
    # Built the way `pip install .` builds it: in an isolated build environment.
    run = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(REPO)],
        capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stderr
    # Every folder it ships is declared: a first `run_all.sh` printed setuptools' 30-line "Package would be ignored"
    # warning for each of the three data folders.
    assert "BuildBackendWarning" not in run.stderr, run.stderr
    wheel = next(tmp_path.glob("quickcam-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert top == {"quickcam"}
    for folder in ("detector", "uploader", "common"):
        for source in (REPO / folder).rglob("*.py"):
            assert f"quickcam/{source.relative_to(REPO).as_posix()}" in names, f"{source} not packaged"
    # quickcam view's pages, the console's page, script and style
    for data in ("uploader/viewer/templates", "uploader/viewer/static", "detector/console/static"):
        for source in (REPO / data).iterdir():
            assert f"quickcam/{source.relative_to(REPO).as_posix()}" in names, f"{source} not packaged"
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "quickcam = quickcam.common.cli:main" in text
    assert "[quickcam.backends]" in text
