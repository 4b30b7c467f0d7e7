"""An outbox the detector may no longer write in (EACCES, not ENOSPC): nothing lost, and it says so.

A ``chmod``, an ACL or a wrong owner after a restore refuses writes with EACCES
while the disk has room. Before the fix the detector treated it as a bug: the
onset snapshot and every segment of the event were lost (loops failing with
tracebacks), and the first acknowledged item it could not delete ended the link
thread, so nothing recorded afterwards ever left the detector until a restart.

Root ignores file modes, so as root the detector runs under ``setpriv`` without
CAP_DAC_OVERRIDE (util-linux, in every Debian); as another user the mode alone
refuses the writes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import QUICKCAM
from tests.pipeline import QUICK_DEMO, Pipeline


def _detector_argv() -> list[str]:
    if os.geteuid() != 0:
        return [QUICKCAM, "detector"]
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is missing: as root, file modes cannot refuse a write without it")
    return ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--", QUICKCAM, "detector"]


def _status(pipe: Pipeline) -> str:
    return subprocess.run([QUICKCAM, "status"], cwd=pipe.root, env=pipe.env, capture_output=True, text=True,
                          timeout=30).stdout


@pytest.mark.slow
def test_an_outbox_made_read_only_mid_event_holds_the_footage_says_so_and_delivers_it_when_writable(
    tmp_path: Path,
) -> None:
    pipe = Pipeline(tmp_path, detector=_detector_argv(), QUICKCAM_RECORDING__SEGMENT_S="1.0",
                    QUICKCAM_RECORDING__POST_ROLL_S="1.0", **QUICK_DEMO)
    outbox = tmp_path / "outbox"
    try:
        pipe.start("uploader")
        pipe.start("detector")
        assert pipe.wait_for("detector", "motion, event", 40), pipe.output("detector")[-3000:]
        outbox.chmod(0o500)  # mid-event: the folder takes no new file, the disk has room
        deadline = time.monotonic() + 30
        text = _status(pipe)
        while "OUTBOX NOT WRITABLE" not in text and time.monotonic() < deadline:
            time.sleep(0.3)
            text = _status(pipe)
        assert "camera cam0: OUTBOX NOT WRITABLE" in text, text + pipe.output("detector")[-3000:]
        assert "held until the disk takes them" in text, text

        produced_before = len(pipe.produced())
        outbox.chmod(0o700)
        deadline = time.monotonic() + 30  # what was held is written within a probe interval (0.5 s); polled
        while "OUTBOX NOT WRITABLE" in (text := _status(pipe)) and time.monotonic() < deadline:
            time.sleep(0.3)
        assert "camera cam0: ok" in text, text + pipe.output("detector")[-3000:]
        assert len(pipe.produced()) > produced_before  # the held snapshot and segments, journaled

        assert pipe.stop("detector") == 0  # commits the open segment
        deadline = time.monotonic() + 30
        while pipe.missing() and time.monotonic() < deadline:
            time.sleep(0.25)
        assert pipe.stop("uploader") == 0
        log = pipe.output("detector")
        assert "Traceback" not in log, log[log.index("Traceback") - 300:][:2000]
        # Acknowledged while the folder was read-only: still in the outbox (sent again after a restart and
        # stored once), never lost.
        left = {path.stem for path in outbox.glob("*.hdr")}
        assert left <= set(pipe.stored()), left
        figures = pipe.check_invariant()
        pipe.record("11. outbox not writable (EACCES) mid-event",
                    f"outbox folder chmod 0500 during an event, the detector without CAP_DAC_OVERRIDE; "
                    f"{pipe.output('detector').count('written from memory')} snapshot(s) and "
                    f"{pipe.output('detector').count('committed after the disk took it')} segment(s) held and "
                    f"committed once writable; {len(left)} acked item(s) it could not delete", figures)
    finally:
        outbox.chmod(0o700)
        pipe.close()
