"""A pytest worker killed while its test's pipeline runs leaves no detector or uploader behind (tests/worker_group.py).

Before, they ran on (a detector recording the demo, an uploader holding its socket) into later runs, until the
machine was restarted or someone killed them by hand.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.waiting import wait_until


def alive(pid: int) -> bool:
    """Running (a zombie nobody reaped is not: a container's first process may never reap it)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


@pytest.mark.slow
@pytest.mark.beside_others  # every wait polled: a busy machine only waits longer
def test_the_processes_a_test_started_die_with_its_killed_worker(tmp_path: Path) -> None:
    said = tmp_path / "pids.json"
    run = subprocess.Popen([sys.executable, "-m", "pytest", "-n", "1", "-p", "no:randomly", "-p", "no:cacheprovider",
                            "-q", str(REPO / "tests" / "fakes" / "worker_children.py"),
                            "--basetemp", str(tmp_path / "inner")],
                           cwd=REPO, env=_inner_env(said), start_new_session=True,
                           stdout=(tmp_path / "inner.out").open("wb"), stderr=subprocess.STDOUT)
    children: list[int] = []
    try:
        assert wait_until(said.exists, 120), (tmp_path / "inner.out").read_text()
        pids = json.loads(said.read_text())
        children = pids["children"]
        assert len(children) == 2 and all(alive(pid) for pid in children), pids
        os.kill(pids["worker"], signal.SIGKILL)  # as CI's timeout or the out-of-memory killer does
        gone = wait_until(lambda: not any(alive(pid) for pid in children), 20)
        left = [pid for pid in children if alive(pid)]
    finally:
        for pid in children:  # what the old suite left: not into later tests
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(run.pid, signal.SIGKILL)
        run.wait(timeout=30)
    assert gone, f"still running after their worker was killed: {left}"


def _inner_env(said: Path) -> dict[str, str]:
    """This environment without what xdist set for this worker (the inner run has its own)."""
    return {**{k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}, "QC_WORKER_PIDS": str(said)}
