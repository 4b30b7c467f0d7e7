"""A failed CURVE handshake is named for what it is, in both detectors' log and ``quickcam status``.

docs/protocol.md section 10.2: a handshake refused or garbled at once (the detector pins another
key than the uploader's) is said as a key problem; one that times out (libzmq's 30 s: something
accepted the connection and never answered) is said as "no answer from the uploader", never as a
key problem (libzmq's handshake timeout is ``[link] handshake_timeout_s``, 30 s by default; 8 s here, as long as the
tests need to tell a timeout from a refusal, which comes at once). The native detector said every failed handshake
was a key problem. And the new socket
opened while the handshake keeps failing was logged as "the connection dropped and ZeroMQ did not
reconnect", while ZeroMQ was reconnecting every 100 ms (and failing the handshake again).
An endpoint where nothing listens makes no handshake at all: it said nothing (NOT CONNECTED, no
reason); now "no answer from the uploader ... no connection opens" after the same timeout.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import threading
from pathlib import Path

import pytest

from tests.conftest import QUICKCAM, free_port
from tests.native_build import native_detector
from tests.pipeline import Pipeline
from tests.test_curve import allow, keygen
from tests.waiting import wait_until

KEY_WORDS = ("the CURVE handshake with the uploader failed (is link.curve_server_public_key_file the uploader's key? "
             "does the uploader use CURVE too?)")
NEW_SOCKET_WORDS = "link: the handshake with the uploader still fails; trying with a new socket too"
DROPPED_WORDS = "ZeroMQ did not reconnect"
DETECTORS = ("python", "native")
QUIET = {"QUICKCAM_MOTION__MIN_AREA_FRACTION": "0.95"}  # the demo's walker records nothing: the link is the test
HANDSHAKE_S = 8  # [link] handshake_timeout_s: ZMQ_HANDSHAKE_IVL, and how long no connection may open, before it is said


class SilentPeer:
    """A TCP listener on 127.0.0.1 that accepts every connection and never sends a byte (a frozen uploader,
    a proxy or firewall that accepts and drops): the detector's handshake times out."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                self.held.append(self.sock.accept()[0])
            except OSError:  # closed
                return

    def close(self) -> None:
        self.sock.close()
        for conn in self.held:
            conn.close()


def _pipeline(tmp_path: Path, detector: str, port: int) -> Pipeline:
    return Pipeline(tmp_path, detector=[str(native_detector())] if detector == "native" else None,
                    QUICKCAM_LINK__ENDPOINT=f"tcp://127.0.0.1:{port}",
                    QUICKCAM_LINK__HANDSHAKE_TIMEOUT_S=str(HANDSHAKE_S), **QUIET)


def _detector_env(keys: Path, server: str) -> dict[str, str]:
    return {"QUICKCAM_LINK__CURVE_SECRET_KEY_FILE": str(keys / "garage.key_secret"),
            "QUICKCAM_LINK__CURVE_SERVER_PUBLIC_KEY_FILE": str(keys / f"{server}.key")}


def _link(tmp_path: Path) -> dict:
    try:
        return json.loads((tmp_path / "outbox" / "detector-status.json").read_text())["link"]
    except (OSError, ValueError, KeyError):  # not written yet
        return {}


def _status(pipe: Pipeline) -> str:
    run = subprocess.run([QUICKCAM, "status"], cwd=pipe.root, env=pipe.env, capture_output=True, text=True,
                         timeout=30)
    return run.stdout


def _error_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if "level=error" in line and "link:" in line]


@pytest.mark.parametrize("detector", DETECTORS)
def test_a_wrong_pinned_uploader_key_is_said_as_a_key_problem_and_its_new_socket_not_as_a_drop(
        tmp_path: Path, detector: str) -> None:
    keys = tmp_path / "keys"
    for name in ("uploader", "impostor", "garage"):
        keygen(keys, name)
    allowed = allow(tmp_path / "allowed", {"garage": ["cam0"]}, keys)
    pipe = _pipeline(tmp_path, detector, free_port())
    try:
        pipe.start("uploader", env={"QUICKCAM_LINK__CURVE_SECRET_KEY_FILE": str(keys / "uploader.key_secret"),
                                    "QUICKCAM_LINK__CURVE_ALLOW_DIR": str(allowed)})
        assert pipe.wait_for("uploader", "receiver: listening", 60), pipe.output("uploader")[-3000:]
        pipe.start("detector", env=_detector_env(keys, "impostor"))
        # the error at once, the new socket 5 s after the first knock that found the link down
        assert wait_until(lambda: NEW_SOCKET_WORDS in pipe.output("detector"), 60), pipe.output("detector")[-3000:]
        assert _link(tmp_path).get("last_error") == KEY_WORDS, _link(tmp_path)
        status = _status(pipe)
        assert "NOT CONNECTED" in status and f"last error: {KEY_WORDS}" in status, status
        assert pipe.stop("detector") == 0
    finally:
        pipe.close()
    output = pipe.output("detector")
    errors = _error_lines(output)
    assert len(errors) == 1 and f"link: {KEY_WORDS}; retrying, " in errors[0], errors  # once, not at ZeroMQ's rate
    assert DROPPED_WORDS not in output and "no answer" not in output, output[-3000:]


def _both(tmp_path: Path, keys: Path, port: int) -> dict[str, Pipeline]:
    """Both detectors, each in its own folder, started at once against ``port``: the waits below overlap."""
    pipes = {}
    for detector in DETECTORS:
        (tmp_path / detector).mkdir()
        pipes[detector] = _pipeline(tmp_path / detector, detector, port)
        pipes[detector].start("detector", env=_detector_env(keys, "uploader"))
    return pipes


def test_an_uploader_that_accepts_the_connection_and_never_answers_is_said_as_no_answer_not_a_key_problem(
        tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    for name in ("uploader", "garage"):
        keygen(keys, name)
    peer = SilentPeer()
    endpoint = f"tcp://127.0.0.1:{peer.port}"
    pipes = _both(tmp_path, keys, peer.port)
    try:
        for detector, pipe in pipes.items():
            # libzmq gives up on the handshake after HANDSHAKE_S (ZMQ_HANDSHAKE_IVL: 30 s by default)
            assert wait_until(lambda p=pipe: _link(p.root).get("last_error"), HANDSHAKE_S + 60), (
                detector, pipe.output("detector")[-3000:])
            error = _link(pipe.root)["last_error"]
            assert error.startswith(f"no answer from the uploader at {endpoint} for "), (detector, error)
            assert error.endswith(" s: the connection opens but the uploader does not respond (stopped, frozen or "
                                  "overloaded)"), (detector, error)
            status = _status(pipe)
            assert "NOT CONNECTED" in status and f"last error: no answer from the uploader at {endpoint}" in status, (
                detector, status)
        for detector, pipe in pipes.items():
            # then a new socket 5 s after the next knock, while ZeroMQ reconnects by itself too
            assert wait_until(lambda p=pipe: NEW_SOCKET_WORDS in p.output("detector"), 30), (
                detector, pipe.output("detector")[-3000:])
            assert pipe.stop("detector") == 0, detector
    finally:
        for pipe in pipes.values():
            pipe.close()
        peer.close()
    for detector, pipe in pipes.items():
        output = pipe.output("detector")
        errors = _error_lines(output)
        assert len(errors) == 1 and f"link: no answer from the uploader at {endpoint} for " in errors[0], (
            detector, errors)
        assert "key" not in errors[0] and "CURVE" not in errors[0], (detector, errors)
        assert DROPPED_WORDS not in output, (detector, output[-3000:])


def test_an_endpoint_where_nothing_listens_is_said_as_no_answer_and_as_past_once_the_uploader_answers(
        tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    for name in ("uploader", "garage"):
        keygen(keys, name)
    allowed = allow(tmp_path / "allowed", {"garage": ["cam0"]}, keys)
    port = free_port()  # bound, not listening: every connection refused, no handshake at all
    endpoint = f"tcp://127.0.0.1:{port}"
    pipes = _both(tmp_path, keys, port)
    try:
        for detector, pipe in pipes.items():
            # said once no connection has opened for as long as a handshake takes to time out (HANDSHAKE_S)
            assert wait_until(lambda p=pipe: _link(p.root).get("last_error"), HANDSHAKE_S + 30), (
                detector, pipe.output("detector")[-3000:])
            error = _link(pipe.root)["last_error"]
            assert re.fullmatch(rf"no answer from the uploader at {re.escape(endpoint)} for (8|9|1\d) s: no connection "
                                r"opens \(is it running, and listening on this endpoint\?\)", error), (detector, error)
            status = _status(pipe)
            assert "NOT CONNECTED" in status and f"last error: {error}" in status, (detector, status)
        uploader = pipes["python"]
        uploader.start("uploader", env={"QUICKCAM_LINK__CURVE_SECRET_KEY_FILE": str(keys / "uploader.key_secret"),
                                        "QUICKCAM_LINK__CURVE_ALLOW_DIR": str(allowed)})
        for detector, pipe in pipes.items():
            # the uploader comes: the error is past, shown with when it cleared
            assert wait_until(lambda p=pipe: _link(p.root).get("connected") and _link(p.root).get("error_cleared_at"),
                              60), (detector, _link(pipe.root), uploader.output("uploader")[-2000:])
            assert pipe.stop("detector") == 0, detector
    finally:
        for pipe in pipes.values():
            pipe.close()
    for detector, pipe in pipes.items():
        said = [line for line in pipe.output("detector").splitlines() if "no answer from the uploader" in line]
        assert len(said) == 1 and "level=warning" in said[0], (detector, said)  # once an outage
        assert "key" not in said[0] and "CURVE" not in said[0], (detector, said)
