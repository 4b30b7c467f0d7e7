"""Spool files the ledger does not know are adopted at start, never left in the spool in silence.

The ledger (``state/ledger.sqlite3``) lost while the uploader was stopped with uploads pending, or a
damaged one moved aside as the uploader's own error advises: the encrypted files stayed in ``spool/``
for good, in no status row, no log line, the health check green (bench/outside/FINDINGS.md #1). Now
each is adopted from its header and uploaded; the count is said in the log and in ``quickcam status``.

Real processes: the uploader and a demo detector, the ``local`` destination down (its folder is a
file) while the footage is received, back for the second start.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import QUICKCAM
from tests.pipeline import QUICK_DEMO, Pipeline
from tests.waiting import wait_until


def _lose_ledger(state: Path, how: str) -> None:
    if how == "deleted":
        shutil.rmtree(state)
    else:  # garbage, then the fix its error names: mv state/ledger.sqlite3 state/ledger.sqlite3.damaged
        (state / "ledger.sqlite3").write_bytes(os.urandom(4096))
        for extra in state.glob("ledger.sqlite3-*"):
            extra.unlink()
        os.rename(state / "ledger.sqlite3", state / "ledger.sqlite3.damaged")


@pytest.mark.parametrize("how", ["deleted", "moved-aside"])
def test_spool_files_of_a_lost_ledger_are_adopted_and_uploaded_and_said(tmp_path: Path, how: str) -> None:
    (tmp_path / "storage").write_text("a file where the destination's folder should be\n")  # every upload fails
    pipe = Pipeline(tmp_path, QUICKCAM_UPLOADER__STOP_UPLOAD_S="1", **QUICK_DEMO)
    try:
        pipe.start_uploader_listening()
        detector = pipe.start("detector", "--seconds", "8")
        assert detector.wait(timeout=60) == 0, pipe.output("detector")[-3000:]
        assert wait_until(lambda: not pipe.outbox_items(), 30), pipe.output("detector")[-3000:]
        assert pipe.stop("uploader") == 0
        waiting = {p.name for p in pipe.spool_files()}
        assert len(waiting) >= 2, waiting
        (tmp_path / "spool" / "0000000000000aaaaaaaaaaaaa.qsc").write_bytes(b"not footage\n" * 10)

        _lose_ledger(tmp_path / "state", how)
        (tmp_path / "storage").unlink()
        (tmp_path / "storage").mkdir()
        pipe.start_uploader_listening()
        # before: the spool files stayed for good, the storage empty
        assert pipe.wait_drained(60, spool=True), (pipe.missing(), pipe.output("uploader")[-3000:])
        pipe.check_invariant()
        assert (tmp_path / "spool" / "damaged" / "0000000000000aaaaaaaaaaaaa.qsc").exists()
        said = f"adopted {len(waiting)} spool file(s) the ledger did not know"
        assert said in pipe.output("uploader"), pipe.output("uploader")[-3000:]
        assert "1 unreadable one(s) moved to spool/damaged/" in pipe.output("uploader")
        status = subprocess.run([QUICKCAM, "status"], cwd=tmp_path, env=pipe.env, capture_output=True, text=True,
                                timeout=30)
        assert said in status.stdout, status.stdout
        assert all("/adopted/" in ref for refs in pipe.stored().values() for ref in refs), pipe.stored()
    finally:
        pipe.close()
