"""Files of committed outbox items deleted by hand: under a running detector, and between two runs.

A ``.bin`` deleted while the detector runs leaves an item that can never be sent; a ``.hdr`` deleted, a payload
the journal names with no header. Each must be noticed, said in one line naming the item, counted
(``outbox.deleted`` in the status file, ``refused`` at start-up), and what is left of it moved to ``refused/``,
never deleted. Before (bench/outside FINDINGS #8, both detectors): the running detector said nothing, the orphan
``.hdr`` stayed for good and every stop said "1 item(s) ... sent on next start"; at the next start the journaled
``.bin`` was deleted as an "uncommitted payload".
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

from tests.conftest import QUICKCAM, private_endpoint
from tests.fakes.uploader_peer import AckingPeer
from tests.native_build import native_detector
from tests.waiting import wait_until


def _journal(outbox: Path) -> list[str]:
    try:
        return [json.loads(line)["id"] for line in (outbox / "produced.jsonl").read_text().splitlines()]
    except (OSError, ValueError):
        return []


def _committed(outbox: Path) -> list[str]:
    """Journaled items whose two files are in the outbox."""
    return [i for i in _journal(outbox) if (outbox / f"{i}.bin").exists() and (outbox / f"{i}.hdr").exists()]


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUICKCAM_")}
    return env | {"QUICKCAM_LINK__ENDPOINT": private_endpoint(tmp_path), "QUICKCAM_RECORDING__SEGMENT_S": "1.0",
                  "QUICKCAM_CAMERA__DEMO_START_S": "0.5"}


@pytest.mark.realtime
@pytest.mark.slow  # 15-21 s a case: in the slow unit (tests/realtime_group.py)
@pytest.mark.parametrize("detector", ["python", "native"])
def test_outbox_files_deleted_by_hand_are_said_counted_and_set_aside(tmp_path: Path, detector: str) -> None:
    command = [str(native_detector())] if detector == "native" else [QUICKCAM, "detector"]
    env, outbox = _env(tmp_path), tmp_path / "outbox"

    # 1. Under the running detector, its uploader not there yet: one item's .bin deleted, another's .hdr.
    log_path = tmp_path / "run1.log"
    with open(log_path, "w") as log_file:
        proc = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=log_file, stderr=log_file)
    try:
        assert wait_until(lambda: len(_committed(outbox)) >= 3, 90), log_path.read_text()[-3000:]
        first, second = _committed(outbox)[:2]
        (outbox / f"{first}.bin").unlink()
        (outbox / f"{second}.hdr").unlink()
        uploader = AckingPeer(env["QUICKCAM_LINK__ENDPOINT"])
        try:
            said = [f"{first}.bin of item {first} deleted", f"{second}.hdr of item {second} deleted"]
            assert wait_until(lambda: all(s in log_path.read_text() for s in said), 60), log_path.read_text()[-3000:]
        finally:
            uploader.close()
        assert wait_until(lambda: len(_committed(outbox)) >= 2, 90), (_journal(outbox), sorted(os.listdir(outbox)))
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=40) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    status = json.loads((outbox / "detector-status.json").read_text())
    assert status["outbox"]["deleted"] == 2, status["outbox"]
    assert (outbox / "refused" / f"{first}.hdr").exists() and (outbox / "refused" / f"{second}.bin").exists()

    # 2. Between two runs, with items waiting: the same two deletions, found at the start. An uploader there: the
    # run's stop does not wait 5 s for one to come (what the start found is all this part checks).
    third, fourth = _committed(outbox)[:2]
    (outbox / f"{third}.hdr").unlink()
    (outbox / f"{fourth}.bin").unlink()
    uploader = AckingPeer(env["QUICKCAM_LINK__ENDPOINT"])
    try:
        result = subprocess.run([*command, "--seconds", "2"], cwd=tmp_path, env=env, capture_output=True, text=True,
                                timeout=60)
    finally:
        uploader.close()
    text = result.stdout + result.stderr
    assert f"{third}.bin is in the journal but its header {third}.hdr is gone" in text, text[-3000:]
    assert f"discarding uncommitted payload {third}.bin" not in text
    assert f"item {fourth} has a header but no payload" in text, text[-3000:]
    assert (outbox / "refused" / f"{third}.bin").exists() and (outbox / "refused" / f"{fourth}.hdr").exists()
    status = json.loads((outbox / "detector-status.json").read_text())
    assert status["outbox"]["refused"] >= 2, status["outbox"]
