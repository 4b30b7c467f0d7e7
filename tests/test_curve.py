"""CurveZMQ between detector and uploader: keys, the allow-list, cameras bound to keys, plain-TCP rule."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import zmq
import zmq.auth

from quickcam.common import protocol
from quickcam.common.config import LinkConfig
from quickcam.common.curve import CurveKeys, load_public_key, load_secret_key, write_keypair
from quickcam.detector.link import UploaderLink
from quickcam.detector.outbox import Outbox
from tests.conftest import QUICKCAM, REPO, end_context, free_port
from tests.waiting import wait_until

if TYPE_CHECKING:
    from tests.pipeline import Pipeline

VECTORS = REPO / "tests" / "vectors" / "protocol"


# -- helpers shared with test_protocol_fuzz.py and test_two_hosts.py ---------------------------


def keygen(folder: Path, name: str, cli: bool = False) -> tuple[Path, Path]:
    """A key pair ``folder/name.key`` and ``.key_secret``; returns (public, secret) paths.

    Written by the function behind ``quickcam curve-keygen`` (a process start per key cost the suite
    seconds); ``cli``: by the command itself, as a person runs it.
    """
    folder.mkdir(parents=True, exist_ok=True)
    if cli:
        run = subprocess.run([QUICKCAM, "curve-keygen", str(folder / name)], capture_output=True, text=True,
                             timeout=30)
        assert run.returncode == 0, run.stderr
    else:
        write_keypair(folder / name)
    return folder / f"{name}.key", folder / f"{name}.key_secret"


def allow(folder: Path, detectors: dict[str, list[str]], keys_from: Path) -> Path:
    """An allow-list folder: NAME.key copied from ``keys_from`` and allow.toml with the cameras."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for name, cameras in detectors.items():
        (folder / f"{name}.key").write_bytes((keys_from / f"{name}.key").read_bytes())
        lines += [f"[detectors.{name}]", f"cameras = {json.dumps(cameras)}", ""]
    (folder / "allow.toml").write_text("\n".join(lines))
    return folder


def curve_env(server_secret: Path, allow_dir: Path) -> dict[str, str]:
    return {"QUICKCAM_LINK__CURVE_SECRET_KEY_FILE": str(server_secret),
            "QUICKCAM_LINK__CURVE_ALLOW_DIR": str(allow_dir)}


class Uploader:
    """A real ``quickcam uploader`` process in ``root``; output in root/uploader.out."""

    endpoint = ""

    def __init__(self, root: Path, env: dict[str, str], prefix: list[str] | None = None) -> None:
        self.root, self.out = root, root / "uploader.out"
        self.proc = subprocess.Popen([*(prefix or []), QUICKCAM, "uploader"], cwd=root, env=env,
                                     stdout=self.out.open("ab"), stderr=subprocess.STDOUT)

    def output(self) -> str:
        return self.out.read_text(errors="replace") if self.out.exists() else ""

    def wait_for(self, text: str, timeout: float = 20) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.output():
                return self.output()
            assert self.proc.poll() is None, f"uploader exited: {self.output()}"
            time.sleep(0.05)
        raise AssertionError(f"{text!r} not in the uploader's output:\n{self.output()}")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:  # killed, not left running into later tests
            self.proc.kill()
            self.proc.wait(timeout=10)
            output = self.output()[-3000:]
            raise AssertionError(f"the uploader did not stop within 30 s of SIGTERM:\n{output}") from None

    def status(self) -> dict[str, Any]:
        """The receiver's status file; {} before its first write ("listening" is said before it: a polling test on
        a loaded machine read it first, and failed on FileNotFoundError)."""
        try:
            return json.loads((self.root / "state" / "status.json").read_text())
        except FileNotFoundError:
            return {}


@contextmanager
def running_uploader(root: Path, extra: dict[str, str] | None = None,
                     prefix: list[str] | None = None) -> Iterator[Uploader]:
    uploader = Uploader(root, {**os.environ, **(extra or {})}, prefix)
    try:
        uploader.wait_for("receiver: listening")
        yield uploader
    finally:
        uploader.stop()


def snapshot(camera: str = "cam0") -> tuple[dict[str, Any], bytes]:
    payload = b"\xff\xd8\xff\xe0" + os.urandom(200) + b"\xff\xd9"
    header = protocol.make_header("snapshot", camera=camera, event=protocol.new_message_id(), width=64,
                                  height=48, content_type="image/jpeg", **protocol.payload_fields(payload))
    return header, payload


def client_keys(secret: Path, server_public: Path) -> CurveKeys:
    public, secret_key = load_secret_key(secret)
    return CurveKeys(public, secret_key, load_public_key(server_public))


class Client:
    """A bare DEALER speaking the protocol, for precise requests and replies."""

    def __init__(self, endpoint: str, keys: CurveKeys | None = None) -> None:
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        if keys:
            self.sock.curve_secretkey, self.sock.curve_publickey = keys.secret, keys.public
            self.sock.curve_serverkey = keys.server
        self.sock.connect(endpoint)

    def send(self, frames: list[bytes]) -> None:
        self.sock.send_multipart(frames)

    def request(self, frames: list[bytes], timeout: float = 10) -> protocol.Message:
        self.send(frames)
        return self.reply(timeout)

    def reply(self, timeout: float = 10) -> protocol.Message:
        assert self.sock.poll(int(timeout * 1000)), "no reply from the uploader"
        return protocol.decode(self.sock.recv_multipart(), accept=protocol.UPLOADER_TYPES)

    def hello(self, cameras: list[str]) -> protocol.Message:
        header = protocol.make_header("hello", detector="test", detector_version="0", cameras=cameras)
        return self.request(protocol.encode(protocol.Message(header)))

    def close(self) -> None:
        self.sock.close()
        end_context(self.ctx)


def stored_ids(root: Path) -> set[str]:
    """Ids of the snapshots and segments in local storage (the uploader's own log files aside)."""
    return {p.stem.rsplit("-", 1)[-1] for p in (root / "storage").rglob("*.qsc")
            if p.name.startswith(("snapshot-", "segment-"))}


def snapshots_to_uploader(pipe: Pipeline, count: int) -> Client:
    """Start ``pipe``'s uploader and send it ``count`` snapshots as camera cam0's detector, each acked.

    The client comes back open (close it): it is the detector the uploader heard from.
    """
    pipe.start("uploader")
    assert pipe.wait_for("uploader", "receiver: listening", 60), pipe.output("uploader")
    client = Client(pipe.env["QUICKCAM_LINK__ENDPOINT"])
    try:
        assert client.hello(["cam0"]).type == "credit"
        for _ in range(count):
            header, payload = snapshot()
            assert client.request(protocol.encode(protocol.Message(header, payload))).type == "ack"
    except BaseException:
        client.close()
        raise
    return client


# -- keys ------------------------------------------------------------------------------------


def test_curve_keygen_writes_a_public_key_and_a_secret_only_the_owner_can_read(tmp_path: Path) -> None:
    public, secret = keygen(tmp_path, "garage", cli=True)
    assert secret.stat().st_mode & 0o777 == 0o600
    pub_key, no_secret = zmq.auth.load_certificate(public)
    same_pub, secret_key = zmq.auth.load_certificate(secret)
    assert no_secret is None and pub_key == same_pub and len(secret_key) == 40
    assert zmq.curve_public(secret_key) == pub_key
    again = subprocess.run([QUICKCAM, "curve-keygen", str(tmp_path / "garage")], capture_output=True,
                           text=True, timeout=30)
    assert again.returncode == 1 and "already exists" in again.stderr
    assert zmq.auth.load_certificate(secret)[1] == secret_key  # not overwritten


# -- the uploader's allow-list ------------------------------------------------------------------


@pytest.fixture
def curve_setup(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """Keys and an allow-list, and the link on TCP: what CURVE is for (two machines)."""
    monkeypatch.setenv("QUICKCAM_LINK__ENDPOINT", f"tcp://127.0.0.1:{free_port()}")
    keys = workdir / "keys"
    keygen(keys, "uploader")
    keygen(keys, "garage")
    keygen(keys, "stranger")
    allow_dir = allow(workdir / "allowed", {"garage": ["cam0", "drive"]}, keys)
    return {"keys": keys, "allow": allow_dir, "server_secret": keys / "uploader.key_secret",
            "server_public": keys / "uploader.key"}


def _link(endpoint: str, outbox: Outbox, keys: CurveKeys) -> UploaderLink:
    config = LinkConfig(endpoint=endpoint, ack_timeout_s=2, heartbeat_s=0.5)
    return UploaderLink(config, outbox, ["cam0"], camera_status=dict, curve=keys)


def test_an_allowed_detector_delivers_its_footage_over_curve(workdir: Path, curve_setup: dict) -> None:
    endpoint = os.environ["QUICKCAM_LINK__ENDPOINT"]
    outbox = Outbox(workdir / "outbox")
    header, payload = snapshot()
    outbox.commit_bytes(header, payload)
    keys = client_keys(curve_setup["keys"] / "garage.key_secret", curve_setup["server_public"])
    with running_uploader(workdir, curve_env(curve_setup["server_secret"], curve_setup["allow"])) as up:
        assert "CURVE; 1 detector key(s) allowed: garage" in up.output()
        link = _link(endpoint, outbox, keys)
        link.start()
        try:
            assert wait_until(lambda: outbox.depth()[0] == 0, 30), link.state
        finally:
            link.stop()
        assert wait_until(lambda: header["id"] in stored_ids(workdir), 30)
        assert "garage" in up.wait_for("(key garage)")


def test_an_unknown_key_is_refused_at_the_handshake_and_the_detector_keeps_its_footage(
    workdir: Path, curve_setup: dict, caplog: pytest.LogCaptureFixture,
) -> None:
    endpoint = os.environ["QUICKCAM_LINK__ENDPOINT"]
    outbox = Outbox(workdir / "outbox")
    header, payload = snapshot()
    outbox.commit_bytes(header, payload)
    keys = client_keys(curve_setup["keys"] / "stranger.key_secret", curve_setup["server_public"])
    with running_uploader(workdir, curve_env(curve_setup["server_secret"], curve_setup["allow"])) as up:
        caplog.set_level(logging.INFO, logger="quickcam.detector.link")
        link = _link(endpoint, outbox, keys)
        link.start()
        try:
            assert wait_until(lambda: link.state.auth_refused, 30)
            time.sleep(1)
        finally:
            link.stop()
        assert "refused this detector's CURVE key (ZAP status 400)" in caplog.text
        assert "stay in the outbox" in caplog.text
        assert outbox.depth()[0] == 1 and (workdir / "outbox" / f"{header['id']}.bin").exists()
        assert "auth: refused a detector at 127.0.0.1" in up.output()
        assert "is not in the allow-list" in up.output()
        assert wait_until(lambda: up.status()["counters"].get("auth_denied", 0) >= 1, 30)  # status.json: ~1 s
    assert stored_ids(workdir) == set()


def test_a_refused_detector_gets_in_once_its_key_is_allowed_without_a_restart(
    workdir: Path, curve_setup: dict,
) -> None:
    endpoint = os.environ["QUICKCAM_LINK__ENDPOINT"]
    outbox = Outbox(workdir / "outbox")
    header, payload = snapshot()
    outbox.commit_bytes(header, payload)
    keys = client_keys(curve_setup["keys"] / "stranger.key_secret", curve_setup["server_public"])
    link = _link(endpoint, outbox, keys)
    env = curve_env(curve_setup["server_secret"], curve_setup["allow"])
    try:
        with running_uploader(workdir, env):
            link.start()
            assert wait_until(lambda: link.state.auth_refused, 30)
        allow(curve_setup["allow"], {"garage": ["cam0"], "stranger": ["cam0"]}, curve_setup["keys"])
        with running_uploader(workdir, env):
            # The link opens a new socket 5 s after the refusal: libzmq alone would never retry.
            assert wait_until(lambda: outbox.depth()[0] == 0, 20), link.state
        assert not link.state.auth_refused
    finally:
        link.stop()


def test_a_key_may_send_only_for_the_cameras_listed_with_it(workdir: Path, curve_setup: dict) -> None:
    endpoint = os.environ["QUICKCAM_LINK__ENDPOINT"]
    vector = json.loads((VECTORS / "invalid" / "snapshot-not-allowed.json").read_text())
    keys = client_keys(curve_setup["keys"] / "garage.key_secret", curve_setup["server_public"])
    with running_uploader(workdir, curve_env(curve_setup["server_secret"], curve_setup["allow"])) as up:
        client = Client(endpoint, keys)
        try:
            assert client.hello(["cam0", "garage"]).type == "credit"  # still credit: cam0 may flow
            up.wait_for("may not send for camera(s) garage")
            reply = client.request([bytes.fromhex(f) for f in vector["frames"]])
            assert (reply.type, reply.header["code"], reply.header["retry"], reply.header["ref"]) == (
                "nack", "not_allowed", False, vector["nack"]["ref"])
            header, payload = snapshot("drive")
            reply = client.request(protocol.encode(protocol.Message(header, payload)))
            assert (reply.type, reply.header["ref"]) == ("ack", header["id"])
        finally:
            client.close()
        assert "nack not_allowed for 0018fcf6904338f00112233445 from garage" in up.output()


def test_the_allow_list_is_reloaded_when_its_folder_changes_and_on_sighup(workdir: Path, curve_setup: dict) -> None:
    endpoint = os.environ["QUICKCAM_LINK__ENDPOINT"]
    keys = {name: client_keys(curve_setup["keys"] / f"{name}.key_secret", curve_setup["server_public"])
            for name in ("garage", "stranger")}
    folder = curve_setup["allow"]
    with running_uploader(workdir, curve_env(curve_setup["server_secret"], folder)) as up:
        garage = Client(endpoint, keys["garage"])
        try:
            assert garage.hello(["cam0"]).type == "credit"
            stranger = Client(endpoint, keys["stranger"])
            stranger.send(protocol.encode(protocol.Message(protocol.make_header(
                "hello", detector="test", detector_version="0", cameras=["cam0"]))))
            assert not stranger.sock.poll(1500), "a key not in the list got an answer"
            stranger.close()
            allow(folder, {"garage": ["cam0"], "stranger": ["cam0"]}, curve_setup["keys"])  # no restart
            up.wait_for("(the folder changed): 2 detector key(s): garage, stranger; added stranger")
            stranger = Client(endpoint, keys["stranger"])
            assert stranger.hello(["cam0"]).type == "credit"
            stranger.close()
            up.proc.send_signal(signal.SIGHUP)
            up.wait_for("(SIGHUP): 2 detector key(s)")
            (folder / "allow.toml").write_text("[detectors.garage\n")  # broken: the last good list stays
            up.wait_for("allow-list not reloaded (the folder changed)")
            header, payload = snapshot()
            assert garage.request(protocol.encode(protocol.Message(header, payload))).type == "ack"
            allow(folder, {"stranger": ["cam0"]}, curve_setup["keys"])
            (folder / "garage.key").unlink()
            up.wait_for("removed garage")
            header, payload = snapshot()  # the open connection of a removed key stores nothing more
            reply = garage.request(protocol.encode(protocol.Message(header, payload)))
            assert (reply.type, reply.header["code"]) == ("nack", "not_allowed")
            assert "no longer in the allow-list" in reply.header["text"]
        finally:
            garage.close()
        assert up.status()["counters"]["allow_list_reloads"] == 3


# -- without CURVE -------------------------------------------------------------------------------


def _uploader_once(extra: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([QUICKCAM, "uploader", "--seconds", "1"], env={**os.environ, **extra},
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("host", ["0.0.0.0", "127.0.0.1"])
def test_without_curve_the_uploader_refuses_any_tcp_endpoint_unless_plain_tcp_is_allowed(
    workdir: Path, host: str,
) -> None:
    tcp = f"tcp://{host}:{free_port()}"
    refused = _uploader_once({"QUICKCAM_LINK__ENDPOINT": tcp})
    assert refused.returncode == 2
    assert f"{tcp} without CURVE lets any program on" in refused.stderr
    assert "remove link.endpoint to use the private socket ipc://link/uploader.sock" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    allowed = _uploader_once({"QUICKCAM_LINK__ENDPOINT": tcp, "QUICKCAM_LINK__ALLOW_PLAIN_TCP": "true"})
    assert allowed.returncode == 0, allowed.stderr
    assert "WITHOUT CURVE (link.allow_plain_tcp = true)" in allowed.stderr
    local = _uploader_once({})
    assert local.returncode == 0 and "(a socket only this user can reach)" in local.stderr


def test_curve_without_an_allow_list_is_a_config_error(workdir: Path, curve_setup: dict) -> None:
    run = _uploader_once({"QUICKCAM_LINK__CURVE_SECRET_KEY_FILE": str(curve_setup["server_secret"])})
    assert run.returncode == 2
    assert "link.curve_allow_dir must name the folder" in run.stderr


def test_a_secret_key_readable_by_others_is_a_config_error(workdir: Path, curve_setup: dict) -> None:
    curve_setup["server_secret"].chmod(0o644)
    run = _uploader_once(curve_env(curve_setup["server_secret"], curve_setup["allow"]))
    assert run.returncode == 2 and "readable by other users" in run.stderr


def test_an_allow_list_and_key_files_saved_with_a_byte_order_mark_and_crlf_are_read(tmp_path: Path) -> None:
    # As Notepad saves them. The key files were read already; allow.toml was refused as "cannot be read: Invalid
    # statement (at line 1, column 1)", pointing at a character nobody can see.
    from quickcam.uploader.auth import AllowList

    folder = allow(tmp_path / "allowed", {"garage": ["cam0"]}, keygen(tmp_path / "keys", "garage")[0].parent)
    for path in (folder / "allow.toml", folder / "garage.key"):
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes().replace(b"\n", b"\r\n"))
    assert AllowList.load(folder).cameras_for("garage") == frozenset({"cam0"})
