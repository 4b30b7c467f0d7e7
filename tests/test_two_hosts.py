"""Detector and uploader on two network hosts, over CURVE: two namespaces joined by a veth pair.

Needs root and ``ip netns`` (CI runs as root). Where namespaces cannot be made
the test is skipped with the reason, never passed silently.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from quickcam.common.cryptofile import SymmetricKey
from tests.conftest import QUICKCAM
from tests.pipeline import QUICK_DEMO
from tests.test_curve import Uploader, allow, curve_env, keygen, stored_ids
from tests.waiting import wait_until

UPLOADER_IP, DETECTOR_IP = "10.77.0.1", "10.77.0.2"


def _ip(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)


@pytest.fixture
def two_hosts() -> Iterator[tuple[str, str]]:
    """Namespaces (uploader host, detector host) joined by a veth pair; removed afterwards."""
    if shutil.which("ip") is None:
        pytest.skip("the ip command (iproute2) is not installed")
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root (CI runs this test as root)")
    tag = f"{os.getpid() % 100000}"
    up_ns, det_ns = f"qsc-up-{tag}", f"qsc-det-{tag}"
    made: list[str] = []
    try:
        for ns in (up_ns, det_ns):
            run = _ip("netns", "add", ns)
            if run.returncode != 0:
                pytest.skip(f"cannot create a network namespace: {run.stderr.strip()}")
            made.append(ns)
        veth_up, veth_det = f"qu{tag}", f"qd{tag}"
        steps = [
            ("link", "add", veth_up, "type", "veth", "peer", "name", veth_det),
            ("link", "set", veth_up, "netns", up_ns),
            ("link", "set", veth_det, "netns", det_ns),
            ("-n", up_ns, "addr", "add", f"{UPLOADER_IP}/24", "dev", veth_up),
            ("-n", det_ns, "addr", "add", f"{DETECTOR_IP}/24", "dev", veth_det),
            ("-n", up_ns, "link", "set", veth_up, "up"),
            ("-n", det_ns, "link", "set", veth_det, "up"),
            ("-n", up_ns, "link", "set", "lo", "up"),
            ("-n", det_ns, "link", "set", "lo", "up"),
        ]
        for step in steps:
            run = _ip(*step)
            if run.returncode != 0:
                pytest.skip(f"cannot set up the veth pair (ip {' '.join(step)}): {run.stderr.strip()}")
        ping = subprocess.run(["ip", "netns", "exec", det_ns, "ping", "-c", "1", "-W", "2", UPLOADER_IP],
                              capture_output=True, text=True, timeout=30)
        if ping.returncode != 0 and shutil.which("ping"):
            pytest.fail(f"the namespaces cannot reach each other: {ping.stdout}{ping.stderr}")
        yield up_ns, det_ns
    finally:
        for ns in made:
            _ip("netns", "del", ns)  # takes its end of the veth pair with it


@pytest.mark.slow
def test_footage_crosses_from_one_host_to_another_over_curve(tmp_path: Path, two_hosts: tuple[str, str]) -> None:
    up_ns, det_ns = two_hosts
    up_root, det_root = tmp_path / "uploader-host", tmp_path / "detector-host"
    up_root.mkdir()
    det_root.mkdir()
    keys = tmp_path / "keys"
    keygen(keys, "uploader")
    keygen(keys, "frontdoor")
    allow_dir = allow(up_root / "allowed", {"frontdoor": ["cam0"]}, keys)
    (up_root / "tokens.env").write_text(f"ENCRYPTION_KEY={SymmetricKey.generate().to_hex()}\n")
    (up_root / "tokens.env").chmod(0o600)
    endpoint = f"tcp://{UPLOADER_IP}:5557"
    base = {k: v for k, v in os.environ.items() if not k.startswith("QUICKCAM_")}

    up_env = base | {"QUICKCAM_LINK__ENDPOINT": endpoint} | curve_env(keys / "uploader.key_secret", allow_dir)
    uploader = Uploader(up_root, up_env, prefix=["ip", "netns", "exec", up_ns])
    try:
        out = uploader.wait_for("receiver: listening")
        assert f"listening on {endpoint} (CURVE; 1 detector key(s) allowed: frontdoor)" in out
        det_env = base | {
            "QUICKCAM_LINK__ENDPOINT": endpoint,
            "QUICKCAM_LINK__CURVE_SECRET_KEY_FILE": str(keys / "frontdoor.key_secret"),
            "QUICKCAM_LINK__CURVE_SERVER_PUBLIC_KEY_FILE": str(keys / "uploader.key"),
            "QUICKCAM_LINK__ACK_TIMEOUT_S": "3",
            "QUICKCAM_LINK__HEARTBEAT_S": "0.5",
            "QUICKCAM_CAMERA__SOURCE": "demo",
        } | QUICK_DEMO  # a walker from 1 s: a snapshot and segments within 8 s
        detector = subprocess.run(["ip", "netns", "exec", det_ns, QUICKCAM, "detector", "--seconds", "8"],
                                  cwd=det_root, env=det_env, capture_output=True, text=True, timeout=60)
        assert detector.returncode == 0, detector.stderr[-3000:]
        assert "with CURVE" in detector.stderr
        assert "refused" not in detector.stderr
        assert not list((det_root / "outbox").glob("*.hdr")), "everything acked leaves the outbox"
        assert "outbox empty; all footage handed to the uploader" in detector.stderr
        assert wait_until(lambda: len(stored_ids(up_root)) >= 2, 60), uploader.output()[-3000:]
        status = uploader.status()
        assert status["curve"] is True
        assert status["counters"].get("snapshot", 0) >= 1
        assert any(d["key"] == "frontdoor" for d in status["detectors"])
        assert "(key frontdoor)" in uploader.output()
    finally:
        assert uploader.stop() == 0
    names = {p.name.split("-")[0] for p in (up_root / "storage").rglob("*.qsc")}
    assert {"snapshot", "segment"} <= names
