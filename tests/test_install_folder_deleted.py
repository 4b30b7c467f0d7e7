"""The folder the processes run in deleted under them (`rm -rf` of the install, a clean-up of /tmp), for good:
nothing can be made again in it (bench/outside/FINDINGS.md #55, cwd_gone.py). The uploader's stop ended in a
traceback, exit 1, at the ledger's folder; both detectors logged a line a frame (the Python one with a traceback
each), 231-235 in 20 s. Now one line at the uploader's stop, and the recorders' failure once a minute."""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from pathlib import Path

from quickcam.common.cryptofile import SymmetricKey
from tests.conftest import QUICKCAM, private_endpoint
from tests.pipeline import QUICK_DEMO


def _delete_for_good(folder: Path) -> None:
    """``rm -rf`` of a folder whose processes still write in it: a file they make meanwhile fails one pass (not
    empty, or gone before it was removed), so again until the folder itself is gone (then nothing can be made in it)."""
    deadline = time.monotonic() + 10
    while folder.exists() and time.monotonic() < deadline:
        shutil.rmtree(folder, ignore_errors=True)
    assert not folder.exists(), f"{folder} could not be deleted"


def test_a_stop_after_the_uploaders_folder_was_deleted_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    folder = tmp_path / "install"
    folder.mkdir()
    (folder / "tokens.env").write_text(f"ENCRYPTION_KEY={SymmetricKey.generate().to_hex()}\n")
    (folder / "tokens.env").chmod(0o600)
    (folder / "quickcam.toml").write_text(f'[storage.local]\npath = "{tmp_path / "nas"}"\n')
    out = tmp_path / "uploader.out"
    with open(out, "wb") as log:
        proc = subprocess.Popen([QUICKCAM, "uploader", "--config", "quickcam.toml"], cwd=folder, stdout=log,
                                stderr=subprocess.STDOUT,
                                env={"PATH": "/usr/bin:/bin", "QUICKCAM_LINK__ENDPOINT": private_endpoint(folder)})
    try:
        deadline = time.monotonic() + 60
        while "uploader: destinations" not in out.read_text() and time.monotonic() < deadline:
            assert proc.poll() is None, out.read_text()
            time.sleep(0.1)
        time.sleep(1)  # its threads have their ledgers open (deleted before they did, they died: not this test's)
        _delete_for_good(folder)
        time.sleep(1.5)  # a housekeeping pass or more with its folders gone
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
    text = out.read_text()
    assert "Traceback" not in text.split("uploader: stopping")[-1], text[-3000:]
    assert "cannot open the ledger state/ledger.sqlite3 at the stop" in text, text[-3000:]


def test_a_detector_whose_folder_was_deleted_says_its_recording_fails_once_not_a_line_a_frame(
        tmp_path: Path, detector_command: list[str] | None) -> None:
    folder = tmp_path / "install"
    folder.mkdir()
    out = tmp_path / "detector.out"
    env = {"PATH": "/usr/bin:/bin", "QUICKCAM_LINK__ENDPOINT": private_endpoint(folder),
           "QUICKCAM_RECORDING__SEGMENT_S": "1", **QUICK_DEMO}
    with open(out, "wb") as log:
        proc = subprocess.Popen(detector_command or [QUICKCAM, "detector"], cwd=folder, stdout=log,
                                stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + 60
        while "motion, event" not in out.read_text() and time.monotonic() < deadline:
            assert proc.poll() is None, out.read_text()
            time.sleep(0.1)
        _delete_for_good(folder)
        time.sleep(4)  # ~60 frames of the walk with nowhere to record them
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
    text = out.read_text()
    failed = [line for line in text.splitlines() if "frame(s) lost; starting a new segment" in line
              or "encoding failed" in line]
    assert 1 <= len(failed) <= 3, (len(failed), failed[:5])
    assert "Traceback" not in text, text[-3000:]
    # the stop's line says the run's loss again, not "all footage handed to the uploader" (it did, both detectors)
    assert "all footage handed to the uploader" not in text, text[-3000:]
    assert " frame(s) of this run were not recorded (see above; not_recorded in quickcam status)" in text, \
        text[-3000:]
