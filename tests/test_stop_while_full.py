"""A detector stopped (SIGTERM) while its outbox disk is full and it holds snapshots in memory.

The snapshots cannot be written (the disk still refuses them after the stop's last try) and end with the
process. The stop must say so and count them: `stopping with N snapshot(s) held in memory (lost)`, a last line
naming the loss, not `outbox empty; all footage handed to the uploader`, and the camera's dropped count
(``snapshots_replaced``) raised by them in the last status. Before, the Python detector said nothing of them,
only "all footage handed to the uploader" (bench/outside FINDINGS #3); the native one said "(lost)" but also
"all footage handed" and counted nothing. Root only (a tmpfs of the test's own, filled), else a skip.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
from pathlib import Path

import pytest

from tests.conftest import QUICKCAM, private_endpoint
from tests.native_build import native_detector
from tests.tmpfs import fill, tmpfs
from tests.waiting import wait_until


def _camera(outbox: Path) -> dict:
    try:
        return json.loads((outbox / "detector-status.json").read_text())["cameras"]["cam0"]
    except (OSError, ValueError, KeyError):
        return {}


@pytest.mark.realtime
@pytest.mark.parametrize("detector", ["python", "native"])
def test_a_stop_on_a_full_disk_says_and_counts_the_snapshots_it_held_in_memory(tmp_path: Path, detector: str) -> None:
    command = [str(native_detector())] if detector == "native" else [QUICKCAM, "detector"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUICKCAM_")}
    env |= {"QUICKCAM_LINK__ENDPOINT": private_endpoint(tmp_path), "QUICKCAM_RECORDING__SEGMENT_S": "1.0"}
    log_path = tmp_path / "detector.log"
    with tmpfs(tmp_path / "outbox", "size=24m,mode=0700") as outbox, open(log_path, "w") as log_file:
        proc = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=log_file, stderr=log_file)
        log = log_path.read_text
        try:
            assert wait_until(lambda: "demo scene clock starts" in log() and _camera(outbox), 20), log()
            fill(outbox)  # before the first walk (4 s into the scene)
            held = re.compile(r"([12]) snapshot\(s\) and \d+ segment\(s\) held")
            assert wait_until(lambda: held.search(_camera(outbox).get("fault", "")), 30), log()[-3000:]
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=40) == 0, log()[-3000:]
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
        text = log()
        lost = re.search(r"camera cam0: stopping with (\d+) snapshot\(s\) held in memory \(lost\)", text)
        assert lost and int(lost.group(1)) >= 1, text[-3000:]
        assert "all footage handed to the uploader" not in text, text[-3000:]
        assert f"detector: {lost.group(1)} snapshot(s) held in memory were lost at the stop" in text, text[-3000:]
        camera = _camera(outbox)  # the last status, written after the cameras stopped
        assert camera.get("snapshots_replaced", 0) >= int(lost.group(1)), camera
