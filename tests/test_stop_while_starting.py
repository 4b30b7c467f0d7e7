"""A SIGTERM that comes while a process is still starting is an orderly stop (common/stop_signals.py).

A service manager, ``docker compose stop`` or a test may stop a process the moment it started. Until its
main loop's handler is in place, Python's own disposition for SIGTERM applies: the kernel ends the
process (exit -15), in the middle of whatever it was doing. The entry point now notes stop signals before
its first slow import (``hold``) and the process stops at its first look, with one line in its log.

The moment a slow import is under way is seen from outside: pydantic's compiled core (the config
models, the first thing the CLI imported) appears in the process's memory map. The SIGTERM is sent
then and a little later, so that it falls in the imports, the config loading and the set-up after them.
Before the very first Python code runs (the interpreter's own start, some 30 ms) no program can catch
a signal; that moment is not tried.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from quickcam.common.cryptofile import SymmetricKey
from tests.conftest import QUICKCAM, private_endpoint

SLOW_IMPORT_MARK = "pydantic_core"  # a compiled module the config models load


def _wait_for_mapping(proc: subprocess.Popen, name: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if name in Path(f"/proc/{proc.pid}/maps").read_text():
                return
        except (FileNotFoundError, ProcessLookupError):  # it ended already: the assertions below say how
            return
        assert proc.poll() is None, f"quickcam ended before loading {name}"
        time.sleep(0.001)
    pytest.fail(f"quickcam did not load {name} in {timeout} s")


@pytest.mark.parametrize(("command", "delay"), [
    ("uploader", 0.0), ("uploader", 0.05), ("uploader", 0.25),
    ("detector", 0.0), ("detector", 0.15),
])
def test_a_sigterm_while_the_process_starts_stops_it_cleanly_with_one_line(
        tmp_path: Path, command: str, delay: float) -> None:
    (tmp_path / "tokens.env").write_text(f"ENCRYPTION_KEY={SymmetricKey.generate().to_hex()}\n")
    (tmp_path / "tokens.env").chmod(0o600)
    env = {name: value for name, value in os.environ.items()
           if not name.startswith("QUICKCAM_") and name not in ("ENCRYPTION_KEY", "ENCRYPTION_RECIPIENT")}
    env["QUICKCAM_LINK__ENDPOINT"] = private_endpoint(tmp_path)
    with open(tmp_path / "out.log", "wb") as out:
        proc = subprocess.Popen([QUICKCAM, command, "--seconds", "30"], cwd=tmp_path, env=env,
                                stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_for_mapping(proc, SLOW_IMPORT_MARK)
        time.sleep(delay)
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    output = (tmp_path / "out.log").read_text(errors="replace")
    assert code == 0, f"exit {code}:\n{output[-3000:]}"
    assert "Traceback" not in output, output[-3000:]
    if "during start-up" in output:  # stopped before it took anything on: that one line, and nothing after it
        lines = [line for line in output.splitlines() if "SIGTERM" in line or "stopp" in line]
        assert len(lines) == 1, output[-3000:]
        assert "listening" not in output and "watching" not in output, output[-3000:]
    else:  # the main loop's handler was in place already: its ordinary stop
        assert f"{command}: stopping" in output, output[-3000:]
