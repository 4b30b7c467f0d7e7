"""Scenario 7, hostile input: strangers, garbage and damage get a clear error; nothing is lost or crashes.

Each test runs the real processes (tests/pipeline.py) and ends with the
no-loss invariant, or checks the one-line error of a process that must refuse
to start. The protocol fuzz against a running uploader is tests/test_protocol_fuzz.py;
a wrong key at decryption time is tests/common/test_crypto_cli.py.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import zmq

from quickcam.common import protocol
from tests.conftest import QUICKCAM, free_port
from tests.pipeline import QUICK_DEMO, Pipeline, spool_file_problems
from tests.test_curve import Client, allow, client_keys, keygen, snapshot
from tests.waiting import wait_until


@pytest.fixture
def make_pipeline() -> Iterator:
    made: list[Pipeline] = []

    def make(root: Path, detector: list[str] | None = None, **kwargs: str) -> Pipeline:
        made.append(Pipeline(root, detector=detector, **kwargs))
        return made[-1]

    yield make
    for pipe in made:
        pipe.close()


def one_line_error(run: subprocess.CompletedProcess) -> str:
    """The single stderr line of a process that refused to start (asserts exactly that)."""
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert run.returncode == 2, (run.returncode, run.stderr)
    assert len(lines) == 1 and "Traceback" not in run.stderr, run.stderr
    return lines[0]


# -- an unauthorized CURVE peer while an allowed detector records --------------------------------


@pytest.mark.slow
@pytest.mark.beside_others  # every wait polled (the uploader runs throughout), no bound on time
def test_strangers_are_refused_at_the_handshake_while_the_allowed_detector_loses_nothing(
    tmp_path: Path, make_pipeline,
) -> None:
    keys = tmp_path / "keys"
    for name in ("uploader", "garage", "stranger"):
        keygen(keys, name)
    allowed = allow(tmp_path / "allowed", {"garage": ["cam0"]}, keys)
    pipe = make_pipeline(tmp_path, QUICKCAM_LINK__ENDPOINT=f"tcp://127.0.0.1:{free_port()}")  # CURVE's home
    pipe.start("uploader", env={"QUICKCAM_LINK__CURVE_SECRET_KEY_FILE": str(keys / "uploader.key_secret"),
                                "QUICKCAM_LINK__CURVE_ALLOW_DIR": str(allowed)})
    assert pipe.wait_for("uploader", "receiver: listening", 60)
    pipe.start("detector", env={"QUICKCAM_LINK__CURVE_SECRET_KEY_FILE": str(keys / "garage.key_secret"),
                                "QUICKCAM_LINK__CURVE_SERVER_PUBLIC_KEY_FILE": str(keys / "uploader.key")})
    # The strangers knock during the first walk's event (polled: a loaded machine is slower to get there).
    assert pipe.wait_for("detector", "motion, event", 60), pipe.output("detector")[-2000:]
    endpoint = pipe.env["QUICKCAM_LINK__ENDPOINT"]
    stranger = Client(endpoint, client_keys(keys / "stranger.key_secret", keys / "uploader.key"))
    plain = Client(endpoint)  # no CURVE at all
    attempts = 0
    try:
        for _ in range(5):
            for client in (stranger, plain):
                header, payload = snapshot()
                # Without blocking: once the uploader has refused the handshake the DEALER has no
                # connection left, and a blocking send would wait forever (it hung this test).
                for frames in (protocol.encode(protocol.Message(header, payload)), [b"QSC1", b"\xc1garbage"]):
                    with contextlib.suppress(zmq.Again):
                        client.sock.send_multipart(frames, flags=zmq.NOBLOCK)
                attempts += 2
        assert not stranger.sock.poll(2000) and not plain.sock.poll(100), "a stranger got an answer"
    finally:
        stranger.close()
        plain.close()
    # The walk goes on until the detector has footage to lose (polled: a loaded machine is slower to get there).
    assert wait_until(lambda: len(pipe.produced()) >= 3, 60), pipe.output("detector")[-2000:]
    assert pipe.procs["uploader"].poll() is None, "the uploader died"
    assert pipe.stop("detector") == 0
    pipe.wait_drained(30, spool=True)  # what never arrives is counted as lost when the figures are recorded
    assert pipe.stop("uploader") == 0
    log = pipe.output("uploader")
    assert "auth: refused a detector at 127.0.0.1" in log and "is not in the allow-list" in log
    status = json.loads((tmp_path / "state" / "status.json").read_text())
    assert status["counters"].get("auth_denied", 0) >= 1
    # also: nothing in storage the detector did not produce
    figures = pipe.record_invariant("7a. unauthorized CURVE and plain-TCP peers", f"{attempts} messages from a "
                                    f"stranger key and a peer without CURVE during an event, none answered; the "
                                    f"stranger's key refused by the allow-list {status['counters']['auth_denied']}x")
    assert figures["produced"] >= 3


# -- a corrupted spool file ------------------------------------------------------------------------


def _corrupt(files: list[Path]) -> dict[str, str]:
    """Damage three spool files three ways; returns {item id: how}."""
    cut, garbage, header = files[:3]
    with open(cut, "r+b") as handle:
        handle.truncate(cut.stat().st_size // 2)
    tmp = garbage.with_suffix(".tmp")
    tmp.write_bytes(os.urandom(garbage.stat().st_size))
    os.replace(tmp, garbage)
    with open(header, "r+b") as handle:
        handle.seek(30)  # inside the checked fixed part of the header
        byte = handle.read(1)
        handle.seek(30)
        handle.write(bytes([byte[0] ^ 0xFF]))
    return {cut.stem: "cut in half", garbage.stem: "overwritten with random bytes", header.stem: "header byte flipped"}


@pytest.mark.slow
def test_a_corrupted_spool_file_is_set_aside_loudly_never_uploaded_and_nothing_else_is_lost(
    tmp_path: Path, make_pipeline,
) -> None:
    pipe = make_pipeline(tmp_path, QUICKCAM_RECORDING__SEGMENT_S="1.0", **QUICK_DEMO)
    (tmp_path / "storage").mkdir()
    blocker = tmp_path / "storage" / "webcam_captures"
    blocker.write_text("storage is refusing uploads for now")  # so the footage waits in the spool
    pipe.start("uploader")
    pipe.start("detector")
    spool = tmp_path / "spool"
    assert wait_until(lambda: len(list(spool.glob("*.qsc"))) >= 6, 60), "the spool did not fill"
    damaged = _corrupt(sorted(spool.glob("*.qsc"))[:3])
    blocker.unlink()
    assert pipe.wait_drained(60, set_aside=damaged, spool=True), f"missing: {pipe.missing(damaged)}"
    assert pipe.procs["uploader"].poll() is None, "the uploader died"
    assert pipe.stop("detector") == 0
    assert pipe.stop("uploader") == 0

    log = pipe.output("uploader")
    for item_id in damaged:
        assert "NOT uploading" in log and item_id in log
        assert (spool / "damaged" / f"{item_id}.qsc").exists(), "a damaged file is kept for a person"
    assert "cut short or padded" in log and "not an encrypted quickcam file" in log and "damaged:" in log
    status = subprocess.run([QUICKCAM, "status", "--json"], cwd=tmp_path, env=pipe.env, capture_output=True,
                            text=True, timeout=30)
    [local] = json.loads(status.stdout)["destinations"]
    assert local["failed"] == 3 and "damaged spool file" in local["last_error"]
    assert spool_file_problems(spool) == []
    pipe.record_invariant("7b. corrupted spool files", "3 spool files damaged after their ack (" + ", ".join(
        damaged.values()) + "); set aside in spool/damaged, none uploaded", set_aside=damaged)


# -- garbage config files and malformed keys: one line, exit code 2 --------------------------------

GARBAGE_CONFIGS = {  # name: (file, what the one line must say besides the file's name)
    "binary": (b"\x00\xff\xfe\x89PNG\r\n\x1a\n" + bytes(range(256)), "cannot be read"),
    "not-toml": (b"[camera\nid = cam0\n", "is not valid TOML"),
    "unknown-key": (b"[camera]\nidd = \"cam0\"\n", "camera.idd: unknown key (did you mean id?)"),
    "wrong-type": (b"[camera]\nfps = \"fast\"\n", "camera.fps: "),
    "section-is-a-number": (b"storage = 5\n", "storage: "),
    "negative-cap": (b"[uploader]\nspool_max_mb = -1\n", "uploader.spool_max_mb: "),
    "huge": (b"# " + b"x" * 2_000_000 + b"\n[link]\nendpoint = \"udp://nowhere\"\n", "link.endpoint: "),
}


@pytest.mark.parametrize("command", ["uploader", "detector"])
@pytest.mark.parametrize("name", GARBAGE_CONFIGS)
def test_a_garbage_config_file_is_one_line_naming_the_problem(tmp_path: Path, command: str, name: str) -> None:
    content, expected = GARBAGE_CONFIGS[name]
    (tmp_path / "bad.toml").write_bytes(content)
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUICKCAM_")}
    run = subprocess.run([QUICKCAM, command, "--config", "bad.toml", "--seconds", "1"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=60)
    line = one_line_error(run)
    assert line.startswith("quickcam: ") and "bad.toml" in line and expected in line, line


def test_a_folder_given_as_the_config_file_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "conf.toml").mkdir()
    run = subprocess.run([QUICKCAM, "uploader", "--config", "conf.toml"], cwd=tmp_path, capture_output=True,
                         text=True, timeout=60)
    assert "conf.toml" in one_line_error(run)


MALFORMED_KEYS = {  # name: (tokens.env, what the one line must say)
    "too-short": ("ENCRYPTION_KEY=abcd\n",
                  "ENCRYPTION_KEY must be exactly 64 hex characters (32 bytes); got 4 characters"),
    "not-hex": ("ENCRYPTION_KEY=" + "zz" * 32 + "\n", "ENCRYPTION_KEY must be exactly 64 hex characters (32 bytes); "
                "non-hex character at position 1"),
    "curly-quotes": ("ENCRYPTION_KEY=\u201c" + "ab" * 32 + "\u201d\n",  # FINDINGS #45: was "got 66 characters" only
                     "got 66 characters: the key is wrapped in typographic quotes"),
    "recipient-file-missing": ("ENCRYPTION_RECIPIENT=/nonexistent/owner.key.pub\n",
                               "ENCRYPTION_RECIPIENT: cannot read /nonexistent/owner.key.pub"),
    "binary-tokens-env": ("\udcff\udcfe", "tokens.env"),
}


@pytest.mark.parametrize("name", MALFORMED_KEYS)
def test_a_malformed_encryption_key_stops_the_uploader_with_one_line(tmp_path: Path, name: str) -> None:
    content, expected = MALFORMED_KEYS[name]
    (tmp_path / "tokens.env").write_bytes(content.encode("utf-8", "surrogateescape"))
    (tmp_path / "tokens.env").chmod(0o600)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QUICKCAM_", "ENCRYPTION_"))}
    run = subprocess.run([QUICKCAM, "uploader", "--seconds", "1"], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=60)
    line = one_line_error(run)
    assert expected in line, line


def test_a_malformed_curve_key_file_stops_the_detector_with_one_line(tmp_path: Path) -> None:
    keygen(tmp_path / "keys", "uploader")
    bad = tmp_path / "keys" / "garage.key_secret"
    bad.write_text("this is not a certificate\n")
    bad.chmod(0o600)
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUICKCAM_")}
    env |= {"QUICKCAM_LINK__CURVE_SECRET_KEY_FILE": str(bad),
            "QUICKCAM_LINK__CURVE_SERVER_PUBLIC_KEY_FILE": str(tmp_path / "keys" / "uploader.key")}
    run = subprocess.run([QUICKCAM, "detector", "--seconds", "1"], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=60)
    assert "garage.key_secret" in one_line_error(run)


@pytest.mark.slow
def test_a_detector_holding_the_wrong_uploader_key_keeps_its_footage_and_delivers_once_fixed(
    tmp_path: Path, make_pipeline, detector_command: list[str] | None,
) -> None:
    keys = tmp_path / "keys"
    for name in ("uploader", "impostor", "garage"):
        keygen(keys, name)
    allowed = allow(tmp_path / "allowed", {"garage": ["cam0"]}, keys)
    pipe = make_pipeline(tmp_path, detector=detector_command,
                         QUICKCAM_LINK__ENDPOINT=f"tcp://127.0.0.1:{free_port()}", **QUICK_DEMO)
    pipe.start("uploader", env={"QUICKCAM_LINK__CURVE_SECRET_KEY_FILE": str(keys / "uploader.key_secret"),
                                "QUICKCAM_LINK__CURVE_ALLOW_DIR": str(allowed)})
    detector_env = {"QUICKCAM_LINK__CURVE_SECRET_KEY_FILE": str(keys / "garage.key_secret"),
                    "QUICKCAM_LINK__CURVE_SERVER_PUBLIC_KEY_FILE": str(keys / "impostor.key")}
    pipe.start("detector", env=detector_env)
    # The first walk (from 1 s), recorded into the outbox, going nowhere: polled, a slow machine waits longer.
    assert wait_until(lambda: len(pipe.outbox_items()) >= 2, 40), pipe.output("detector")[-2000:]
    waiting = len(pipe.outbox_items())
    assert waiting >= 2 and not pipe.stored()
    assert pipe.stop("detector") == 0
    detector_log = pipe.output("detector")
    assert "not yet acknowledged; they stay in" in detector_log
    # Said once, not at ZeroMQ's reconnect rate (ten times a second).
    assert detector_log.count("handshake with the uploader failed (is link.curve_server_public_key_file") == 1
    detector_env["QUICKCAM_LINK__CURVE_SERVER_PUBLIC_KEY_FILE"] = str(keys / "uploader.key")
    detector_env["QUICKCAM_CAMERA__DEMO_START_S"] = "0"  # the restart on the script from its start: no walker in 3 s
    pipe.start("detector", "--seconds", "3", env=detector_env)
    assert pipe.procs["detector"].wait(timeout=30) == 0
    pipe.wait_drained(30, spool=True)  # what never arrives is counted as lost when the figures are recorded
    assert pipe.stop("uploader") == 0
    native = " (native detector)" if detector_command else ""
    pipe.record_invariant("7c. wrong uploader key on the detector" + native,
                          f"{waiting} items recorded while the CURVE handshake "
                          "could not succeed; delivered after the key was fixed")
