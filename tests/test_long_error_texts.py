"""A long or multi-line error text is kept on one bounded line in status, by both detectors.

An exception's words and an uploader's reason have no limit of their own. Kept as they were:

- a Python capture loop that failed with a 100 kB message (a video file's path mistyped to 100 kB:
  ``OSError: [Errno 36] File name too long: '...'``) kept it in ``loops.capture.last_error``, every
  heartbeat after it was over the protocol's 64 KiB header limit, and the uploader got the minimal
  fallback status ("status not sent whole") instead of the camera's. That path is a camera that cannot
  be opened now (tests/test_camera_open.py), no loop failure, and no other input is known to fail a
  loop with a long message; the same 100 kB path is now the fault's real trigger (``cannot open
  /tmp/mmm...``), bounded by the same ``error_text`` at ``FAULT_MAX``;
- an uploader's pause reason (up to 1 KiB, over several lines) became the detector's
  ``link.last_error`` as it was, and ``quickcam status`` printed it over several lines.

Now each is one line of at most ``ERROR_TEXT_MAX`` bytes ending in an ellipsis when cut
(``protocol_schema.error_text``; the native detector's ``error_text.cpp`` gives the same bytes).
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from pathlib import Path

import pytest

from quickcam.common import protocol
from quickcam.common.protocol_schema import ERROR_TEXT_MAX, FAULT_MAX, error_text, middle_cut
from quickcam.detector.pipeline.capture import PATH_SHOWN_MAX
from tests.conftest import QUICKCAM, private_endpoint
from tests.fakes.uploader_peer import UploaderPeer, credit
from tests.native_build import native_detector
from tests.test_camera_open import PATH_TOO_LONG
from tests.waiting import wait_until

ELLIPSIS = "\u2026"


class _Listening(UploaderPeer):
    """Credit for hello and status (or a pause with ``reason``); keeps every camera status sent."""

    def __init__(self, endpoint: str, pause_reason: str = "") -> None:
        self.pause_reason = pause_reason
        self.cameras: list[dict] = []
        self.lock = threading.Lock()
        super().__init__(endpoint)

    def answer(self, peer: bytes, message: protocol.Message) -> dict | None:
        if message.type == "status":
            with self.lock:
                self.cameras.append(message.header["cameras"].get("cam0", {}))
        if message.type not in ("hello", "status"):
            return None
        if self.pause_reason:
            return protocol.make_header("credit", messages=0, bytes=0, reason=self.pause_reason)
        return credit()


def _env(endpoint: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUICKCAM_")}
    env["QUICKCAM_LINK__ENDPOINT"] = endpoint
    env["QUICKCAM_LINK__HEARTBEAT_S"] = "0.5"
    return env


def _status(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, ValueError):  # not written yet
        return {}



def _failed(camera: dict) -> bool:
    return bool((camera.get("loops") or {}).get("capture", {}).get("errors"))


def _check_bounded(text: str, starts: str, max_bytes: int = ERROR_TEXT_MAX) -> None:
    assert text.startswith(starts), text[:300]
    assert len(text.encode("utf-8")) <= max_bytes and text.endswith(ELLIPSIS), (len(text), text[-40:])
    assert "\n" not in text and "\r" not in text, text


def _faulty(camera: dict) -> bool:
    return camera.get("fault", "").startswith("cannot open /tmp/mmm")


def test_a_camera_that_cannot_be_opened_with_a_100_kb_fault_still_sends_its_whole_status_bounded(
        tmp_path: Path) -> None:
    # A path of 100 kB: the kernel refuses the name, and the fault quotes it whole ("cannot open /tmp/mmm... — path
    # too long for the system ..."). Unbounded, every heartbeat was over the protocol's header limit: the
    # uploader got the minimal fallback status, without the camera's loops or figures.
    clip = "/tmp/" + "m" * 100_000 + ".mp4"
    (tmp_path / "quickcam.toml").write_text(f'[camera]\nsource = "file"\npath = "{clip}"\n')
    endpoint = private_endpoint(tmp_path)
    uploader = _Listening(endpoint)
    status_path = tmp_path / "outbox" / "detector-status.json"
    log = (tmp_path / "detector.log").open("w")  # not a pipe: each 100 kB log line of a retry would fill it, and block
    detector = subprocess.Popen([QUICKCAM, "detector", "--config", "quickcam.toml", "--seconds", "30"], cwd=tmp_path,
                                env=_env(endpoint), stdout=subprocess.DEVNULL, stderr=log, text=True)
    try:
        def failing_and_said() -> bool:
            with uploader.lock:
                sent = any(_faulty(c) for c in uploader.cameras)
            return sent and _faulty(_status(status_path).get("cameras", {}).get("cam0", {}))
        said_in_time = wait_until(failing_and_said, 20)
        with uploader.lock:
            sent = list(uploader.cameras)
        camera = _status(status_path).get("cameras", {}).get("cam0", {})
        shown = subprocess.run([QUICKCAM, "status"], cwd=tmp_path, env=_env(endpoint), capture_output=True,
                               text=True, timeout=30)
    finally:
        detector.terminate()
        detector.wait(timeout=30)
        log.close()
        uploader.close()
    stderr = (tmp_path / "detector.log").read_text()
    # unbounded: every heartbeat the minimal one ("status not sent whole"), without the camera's loops or figures
    assert said_in_time, ([c.get("fault", "")[:120] for c in sent[-3:]], stderr[-2000:])
    heard = next(c for c in sent if _faulty(c))
    assert set(heard["loops"]) == {"capture", "detection", "recording"}, heard
    assert not _failed(heard), heard["loops"]  # a camera that cannot be opened, not a failed loop
    starts = "cannot open /tmp/mmm"
    # the path cut in its middle, the fix kept (tests/test_long_camera_paths.py)
    said = f"cannot open {middle_cut(clip, PATH_SHOWN_MAX)} — {PATH_TOO_LONG}"
    assert heard["fault"].startswith(said) and len(heard["fault"].encode()) <= FAULT_MAX, heard["fault"]
    assert heard["state"] == "failing", heard
    # the status file the same, and `quickcam status` shows the fault in one line of reasonable length
    assert camera["fault"].startswith(said) and len(camera["fault"].encode()) <= FAULT_MAX, camera["fault"]
    assert shown.returncode in (0, 1), shown.stderr
    assert all(len(line) < 1000 for line in shown.stdout.splitlines()), shown.stdout[:2000]
    assert f"camera cam0: FAILING ({starts}" in shown.stdout, shown.stdout


@pytest.mark.parametrize("detector", ["native", "python"])
def test_an_uploaders_long_multi_line_pause_reason_is_one_bounded_line_in_the_link_status(
        tmp_path: Path, detector: str) -> None:
    reason = "spool full:\n" + "\n".join(f"  volume {n}: no space left on device, {n} files waiting" for n in range(16))
    assert len(reason.encode()) <= protocol.MAX_NACK_TEXT  # the protocol's limit for a reason: a valid credit
    command = [str(native_detector())] if detector == "native" else [QUICKCAM, "detector"]
    (tmp_path / "quickcam.toml").write_text('[camera]\nsource = "demo"\n')
    endpoint = private_endpoint(tmp_path)
    uploader = _Listening(endpoint, pause_reason=reason)
    status_path = tmp_path / "outbox" / "detector-status.json"
    process = subprocess.Popen([*command, "--config", "quickcam.toml", "--seconds", "30"], cwd=tmp_path,
                               env=_env(endpoint), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        said = wait_until(lambda: _status(status_path).get("link", {}).get("last_error"), 20)
        link = _status(status_path).get("link", {})
        shown = subprocess.run([QUICKCAM, "status"], cwd=tmp_path, env=_env(endpoint), capture_output=True,
                               text=True, timeout=30)
    finally:
        process.terminate()
        stderr = process.communicate(timeout=30)[1]
        uploader.close()
    assert said, stderr[-2000:]
    expected = error_text(f"uploader paused sending: {reason}")
    assert link["last_error"] == expected, link  # the same bytes from both detectors
    _check_bounded(link["last_error"], "uploader paused sending: spool full:   volume 0: no space left on device")
    line = next((line for line in shown.stdout.splitlines() if line.startswith("detector:")), "")
    assert f"; last error: {expected}" in line, shown.stdout  # before: the reason's 17 lines


@pytest.mark.parametrize("detector", ["native", "python"])
def test_a_camera_fault_from_a_config_path_with_a_line_break_is_one_line_cut_with_an_ellipsis(
        tmp_path: Path, detector: str) -> None:
    # The fault quotes the source's path, which is the config's text: a line break in it (a TOML "\n") made the
    # status, and `quickcam status`, span lines, and a long fault was cut at FAULT_MAX without a sign of the cut
    # (now its path is cut in the middle instead, the fix after it kept: tests/test_long_camera_paths.py).
    path = "in\\nbox/" + "x" * 200 + "/" + "y" * 200 + ".mp4"  # TOML's escape: a real line break in the path
    command = [str(native_detector())] if detector == "native" else [QUICKCAM, "detector"]
    (tmp_path / "quickcam.toml").write_text(f'[camera]\nsource = "file"\npath = "{path}"\n')
    endpoint = private_endpoint(tmp_path)
    status_path = tmp_path / "outbox" / "detector-status.json"
    process = subprocess.Popen([*command, "--config", "quickcam.toml", "--seconds", "30"], cwd=tmp_path,
                               env=_env(endpoint), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        said = wait_until(lambda: _status(status_path).get("cameras", {}).get("cam0", {}).get("fault"), 20)
        camera = _status(status_path)["cameras"]["cam0"]
        shown = subprocess.run([QUICKCAM, "status"], cwd=tmp_path, env=_env(endpoint), capture_output=True,
                               text=True, timeout=30)
    finally:
        process.terminate()
        stderr = process.communicate(timeout=30)[1]
    assert said, stderr[-2000:]
    fault = camera["fault"]
    assert fault.startswith("cannot open in box/xxxx"), fault  # before: "cannot open in\nbox/xxxx"
    assert len(fault.encode("utf-8")) <= FAULT_MAX and ELLIPSIS in fault, fault  # before: cut, no ellipsis
    assert "yyy.mp4 — no such file; check [camera] path" in fault, fault
    line = next((line for line in shown.stdout.splitlines() if line.startswith("camera cam0")), "")
    assert line.startswith("camera cam0: FAILING (cannot open in box/xxxx"), shown.stdout
    assert not any(line.startswith("box/") for line in shown.stdout.splitlines()), shown.stdout
