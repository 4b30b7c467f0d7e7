"""Shared fixtures: paths to the installed tools, free ports, a fresh key."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, settings

from quickcam.common.cryptofile import SymmetricKey

pytest_plugins = [
    "tests.realtime_group",  # how xdist spreads the suite over its workers
    "tests.own_logs",  # which log records are a test's own
    "tests.worker_group",  # a killed worker's processes die with it
]

# CI runs on 2 busy cores: generation speed and per-example time are not what
# the property tests assert, so neither may fail a run.
settings.register_profile("quickcam", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("quickcam")

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
QUICKCAM = str(BIN / "quickcam")


def run_script(argv: list[str], timeout: float, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """``subprocess.run`` for a script that starts processes of its own (``scripts/run_all.sh``).

    On a timeout ``subprocess.run`` kills only the script: its detector and uploader would run on into
    later tests. Here the script leads its own process group, and the whole group is killed.
    """
    proc = subprocess.Popen(argv, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, **kwargs)
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise
    return subprocess.CompletedProcess(argv, proc.returncode, stdout, stderr)


_held_ports: list[socket.socket] = []


def free_port() -> int:
    """A TCP port on 127.0.0.1 that no other program takes before this test ends.

    A port picked and let go at once could be bound by anyone (another test, another worker) before
    the test's server binds it. It is held instead by a socket that is bound but never listens, so a
    connection is refused as with nothing there; the server the test starts binds it too and listens
    (SO_REUSEADDR, which ZeroMQ, uvicorn, asyncio, mosquitto and sshd set). Let go after the test.
    """
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    _held_ports.append(sock)
    return sock.getsockname()[1]


@pytest.fixture(autouse=True)
def _let_held_ports_go() -> Iterator[None]:
    yield
    while _held_ports:
        _held_ports.pop().close()


@pytest.fixture(autouse=True)
def _seed_the_shared_generators() -> None:
    """Every test starts OpenCV's and numpy's shared generators from the same state.

    Both are shared by every test a worker runs (OpenCV's one per thread, numpy's legacy one per
    process): frames drawn from them (``cv2.randn`` in a test, the demo source's sensor noise) would
    otherwise depend on which tests ran before in the same worker, and a test could pass alone and
    fail in the suite. A test that needs other draws seeds its own generator.
    """
    cv2.setRNGSeed(0)
    np.random.seed(0)  # the legacy generator: the shared one


def end_context(ctx: Any) -> None:
    """End a test peer's ZeroMQ context without ever stalling the suite.

    ``term()`` of a fake uploader's own context once hung 300 s in a full-suite run after every
    assertion had passed (libzmq's teardown, not the code under test): the context is destroyed
    with linger 0 in a daemon thread that is given 10 s.
    """
    import threading

    closing = threading.Thread(target=ctx.destroy, kwargs={"linger": 0}, daemon=True)
    closing.start()
    closing.join(10)


def private_endpoint(root: Path) -> str:
    """The default kind of link endpoint, ipc:// in a 0700 folder, made absolute for test clients.

    A Unix socket path may hold ~100 bytes; a deep temporary folder gets a short one instead.
    """
    folder = root / "link"
    if len(str(folder)) > 80:
        folder = Path(tempfile.mkdtemp(prefix="qc-link-"))
        folder.chmod(0o700)
    return f"ipc://{folder}/uploader.sock"


@pytest.fixture
def as_a_user() -> list[str]:
    """The argv prefix under which file modes hold for a process as for any user (nothing when not root).

    Tests run as root, and root reads and enters anything whatever its mode: ``setpriv`` (util-linux)
    drops CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH from the process it starts.
    """
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is missing: as root, file modes cannot refuse a read without it")
    return ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"]


@pytest.fixture
def key() -> SymmetricKey:
    return SymmetricKey.generate()


@pytest.fixture
def workdir(tmp_path: Path, key: SymmetricKey, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder with tokens.env, its own private link socket and no QUICKCAM_* leaking in."""
    for name in list(os.environ):
        if name.startswith("QUICKCAM_") or name in ("ENCRYPTION_KEY", "ENCRYPTION_RECIPIENT"):
            monkeypatch.delenv(name)
    env_file = tmp_path / "tokens.env"
    env_file.write_text(f"ENCRYPTION_KEY={key.to_hex()}\n")
    env_file.chmod(0o600)
    monkeypatch.setenv("QUICKCAM_LINK__ENDPOINT", private_endpoint(tmp_path))
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(params=["python", "native"])
def detector_command(request: pytest.FixtureRequest) -> list[str] | None:
    """Which detector a scenario runs: None for ``quickcam detector``, else the native binary's argv."""
    if request.param == "python":
        return None
    from tests.native_build import native_detector

    return [str(native_detector())]
