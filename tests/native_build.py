"""The native detector's binary for the tests: built once per session by scripts/build_native.sh.

The build installs nothing here (``--no-install``): scripts/install_test_tools.sh (run by
scripts/test.sh, so by CI) installs the Debian packages and builds first. Where the
toolchain is missing the native tests skip with the build script's one-line reason.
"""

from __future__ import annotations

import fcntl
import functools
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO

BUILD_SCRIPT = REPO / "scripts" / "build_native.sh"


@functools.cache
def _build() -> tuple[Path | None, str]:
    lock_path = REPO / "build" / ".native-build.lock"
    lock_path.parent.mkdir(exist_ok=True)
    try:
        # Under xdist each worker calls the build; one at a time, the second finds it up to date.
        with open(lock_path, "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            run = subprocess.run([str(BUILD_SCRIPT), "--no-install"], capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"native detector not built: {exc}"
    lines = run.stdout.strip().splitlines()
    if run.returncode != 0 or not lines or not Path(lines[-1]).is_file():
        reason = (run.stderr.strip().splitlines() or ["scripts/build_native.sh failed"])[-1]
        return None, f"native detector not built: {reason}"
    return Path(lines[-1]), ""


def native_detector() -> Path:
    """The path of the built binary; skips the calling test with the reason when it cannot be built."""
    binary, reason = _build()
    if binary is None:
        pytest.skip(reason)
    return binary
