"""Issue 12, item 5: on one machine, no other program can pose as the uploader or a detector.

Real processes throughout. The impostors run as another user (``nobody``), which
is what the private link socket keeps out, so those tests need root to switch
user and skip with that reason otherwise. A busy endpoint is one line.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from quickcam.common import protocol
from tests.conftest import QUICKCAM, free_port
from tests.pipeline import QUICK_DEMO
from tests.test_curve import Client, running_uploader, snapshot, stored_ids
from tests.waiting import wait_until

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="running an impostor as another user needs root")

# An impostor speaking the protocol: it imports what it needs, becomes user nobody (this
# interpreter may live where nobody cannot read), then binds (uploader) or connects
# (detector) and reports on stdout what it got.
IMPOSTOR = r"""
import os, pwd, sys, time, zmq
from quickcam.common import protocol
nobody = pwd.getpwnam("nobody")
os.setgroups([])
os.setgid(nobody.pw_gid)
os.setuid(nobody.pw_uid)
role, endpoint = sys.argv[1], sys.argv[2]
ctx = zmq.Context()
if role == "uploader":
    import os
    os.makedirs(os.path.dirname(endpoint[len("ipc://"):]), mode=0o700, exist_ok=True)
    sock = ctx.socket(zmq.ROUTER)
    try:
        sock.bind(endpoint)
    except zmq.ZMQError as exc:
        print("bind failed:", exc, flush=True)
        sys.exit(0)
    print("bound", flush=True)
    got = 0
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if sock.poll(100):
            frames = sock.recv_multipart()
            got += 1
            print("received", len(frames[-1]), "bytes", flush=True)
    print("total", got, flush=True)
else:
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(endpoint)
    hello = protocol.make_header("hello", detector="impostor", detector_version="0", cameras=["cam0"])
    payload = b"\xff\xd8fake footage\xff\xd9"
    item = protocol.make_header("snapshot", camera="cam0", event=protocol.new_message_id(), width=1,
                                height=1, content_type="image/jpeg", **protocol.payload_fields(payload))
    for _ in range(10):
        try:
            sock.send_multipart(protocol.encode(protocol.Message(hello)), flags=zmq.NOBLOCK)
            sock.send_multipart(protocol.encode(protocol.Message(item, payload)), flags=zmq.NOBLOCK)
        except zmq.Again:
            pass
        if sock.poll(300):
            print("answered:", protocol.decode(sock.recv_multipart()).type, flush=True)
            sys.exit(0)
    print("no answer", flush=True)
"""


def _impostor(role: str, endpoint: str, cwd: Path) -> subprocess.Popen:
    """Start the impostor; it runs as user nobody once its imports are done."""
    return subprocess.Popen([sys.executable, "-c", IMPOSTOR, role, endpoint], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.fixture
def open_folder() -> Iterator[Path]:
    """A scratch folder every user may enter (the socket folder inside must do the protecting)."""
    folder = Path(tempfile.mkdtemp(prefix="qc-sec-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _scene(root: Path, key_hex: str) -> dict[str, str]:
    (root / "tokens.env").write_text(f"ENCRYPTION_KEY={key_hex}\n")
    (root / "tokens.env").chmod(0o600)
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUICKCAM_")}
    env["QUICKCAM_LINK__HEARTBEAT_S"] = "0.5"
    return env


def _one_line_error(run: subprocess.CompletedProcess) -> str:
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert run.returncode == 2, (run.returncode, run.stderr)
    assert len(lines) == 1 and "Traceback" not in run.stderr, run.stderr
    return lines[0]


@needs_root
def test_an_impostor_detector_of_another_user_gets_nothing_stored(open_folder: Path, key) -> None:
    env = _scene(open_folder, key.to_hex())
    endpoint = f"ipc://{open_folder}/link/uploader.sock"
    with running_uploader(open_folder, env) as up:
        assert (open_folder / "link").stat().st_mode & 0o777 == 0o700
        impostor = _impostor("detector", endpoint, open_folder)
        out, _ = impostor.communicate(timeout=60)
        assert "no answer" in out, out
        # The instrument works: with the folder and socket opened up, the same impostor is answered.
        (open_folder / "link").chmod(0o777)
        (open_folder / "link" / "uploader.sock").chmod(0o777)
        control = _impostor("detector", endpoint, open_folder)
        out, _ = control.communicate(timeout=60)
        assert "answered: credit" in out, out
        assert wait_until(lambda: up.status()["counters"].get("snapshot", 0) == 1, 30)  # status.json: ~1 s
    # Only the control run's snapshot (let in on purpose above) was stored.
    assert len(stored_ids(open_folder)) <= 1


@needs_root
def test_an_impostor_uploader_that_made_the_socket_folder_first_gets_no_footage(open_folder: Path, key) -> None:
    open_folder.chmod(0o1777)  # like /tmp: anyone may create the folder first
    env = _scene(open_folder, key.to_hex())
    impostor = _impostor("uploader", "ipc://link/uploader.sock", open_folder)
    try:
        assert impostor.stdout is not None and impostor.stdout.readline().strip() == "bound"
        run = subprocess.run([QUICKCAM, "detector", "--seconds", "8"], cwd=open_folder, env=env,
                             capture_output=True, text=True, timeout=60)
        line = _one_line_error(run)
        assert "belongs to uid" in line and "could pose as the uploader" in line, line
        refused = subprocess.run([QUICKCAM, "uploader", "--seconds", "1"], cwd=open_folder, env=env,
                                 capture_output=True, text=True, timeout=60)
        assert "belongs to uid" in _one_line_error(refused)
    finally:
        impostor.terminate()
        out, _ = impostor.communicate(timeout=30)
    assert "received" not in out, out


def test_an_impostor_on_the_old_tcp_port_gets_no_footage_from_a_detector_with_defaults(
    tmp_path: Path, key,
) -> None:
    env = _scene(tmp_path, key.to_hex())
    port = free_port()
    with socket.socket() as impostor:  # bound first, on the port a plain-TCP detector would use
        impostor.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # beside free_port's holder
        impostor.bind(("127.0.0.1", port))
        impostor.listen()
        impostor.settimeout(0.1)
        old_config = subprocess.run([QUICKCAM, "detector", "--seconds", "3"], cwd=tmp_path, capture_output=True,
                                    text=True, timeout=60,
                                    env={**env, "QUICKCAM_LINK__ENDPOINT": f"tcp://127.0.0.1:{port}"})
        line = _one_line_error(old_config)
        assert "without CURVE lets any program on this machine pose as the uploader" in line
        with running_uploader(tmp_path, env) as up:  # the demo started 3 s in: a walk at 1-7 s, segments by 6 s
            run = subprocess.run([QUICKCAM, "detector", "--seconds", "6"], cwd=tmp_path, env=env | QUICK_DEMO,
                                 capture_output=True, text=True, timeout=90)
            assert run.returncode == 0, run.stderr
            assert wait_until(lambda: up.status()["counters"].get("segment", 0) >= 1, 20), up.output()
        with pytest.raises(TimeoutError):
            impostor.accept()
    assert not list((tmp_path / "outbox").glob("*.bin"))  # all of it went to the real uploader


def test_a_port_in_use_is_one_line_naming_the_pid(tmp_path: Path, key) -> None:
    env = _scene(tmp_path, key.to_hex())
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        run = subprocess.run([QUICKCAM, "uploader", "--seconds", "1"], cwd=tmp_path, capture_output=True,
                             text=True, timeout=60,
                             env={**env, "QUICKCAM_LINK__ENDPOINT": f"tcp://127.0.0.1:{port}",
                                  "QUICKCAM_LINK__ALLOW_PLAIN_TCP": "true"})
    line = _one_line_error(run)
    assert f"port {port} is in use by another program (pid {os.getpid()})" in line, line
    assert "set [link] endpoint" in line


def test_a_second_uploader_on_the_same_socket_is_one_line_and_the_first_keeps_serving(
    tmp_path: Path, key,
) -> None:
    env = _scene(tmp_path, key.to_hex())
    with running_uploader(tmp_path, env) as first:
        # its own state folder: one shared with the first is refused first (uploader/test_app_folders.py)
        second = subprocess.run([QUICKCAM, "uploader", "--seconds", "1"], cwd=tmp_path, capture_output=True, text=True,
                                env={**env, "QUICKCAM_UPLOADER__STATE_DIR": "state2",
                                     "QUICKCAM_UPLOADER__SPOOL_DIR": "spool2"}, timeout=60)
        line = _one_line_error(second)
        assert (f"another uploader (pid {first.proc.pid}, state folder {tmp_path / 'state'}) already serves "
                "ipc://link/uploader.sock") in line
        client = Client(f"ipc://{tmp_path}/link/uploader.sock")
        try:
            assert client.hello(["cam0"]).type == "credit"
            header, payload = snapshot()
            assert client.request(protocol.encode(protocol.Message(header, payload))).type == "ack"
        finally:
            client.close()
