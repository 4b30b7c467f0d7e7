"""An outbox file the native link cannot read for a moment is said, shown, retried, and still arrives.

The native link read an item's payload with ``std::ifstream``, which takes a read error for the end
of the file: a payload that failed to read went out empty (or cut short), the uploader refused it
for good (``size_mismatch``) and the footage was set aside in ``outbox/refused/``, never stored, with
not a word from the detector of why. A file that would not open was skipped in silence, and an
exception out of the link's thread would have ended the whole process. Now, as the Python link
(``tests/test_link_restart.py``): the error is logged once with its reason, shown as the link's last
error (``quickcam status``), the link starts again with a new socket after a pause, and the item
arrives.

The error is real for the binary: a small shim preloaded into it (``tests/fakes/fail_reads.c``,
built here with the C compiler the native build installs) makes the first three ``read()`` calls
on outbox payloads (``outbox/*.bin``) fail with EIO. The tests run as root, so file modes cannot
make a read fail.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from quickcam.uploader.cli import detector_line
from tests.conftest import REPO
from tests.native_build import native_detector
from tests.pipeline import QUICK_DEMO, Pipeline

SHIM = REPO / "tests" / "fakes" / "fail_reads.c"
FAILING_READS = 3


def _shim(tmp_path: Path) -> Path:
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        pytest.skip("no C compiler for the read-error shim (scripts/build_native.sh installs g++)")
    shim = tmp_path / "fail_reads.so"
    subprocess.run([compiler, "-shared", "-fPIC", "-O1", "-o", str(shim), str(SHIM), "-ldl"], check=True)
    return shim


@pytest.mark.slow
@pytest.mark.beside_others  # every wait polled, the uploader running throughout: no time bound
def test_a_native_outbox_payload_that_fails_to_read_is_logged_once_shown_retried_and_still_arrives(
        tmp_path: Path) -> None:
    binary = native_detector()
    shim = _shim(tmp_path)
    pipe = Pipeline(tmp_path, detector=[str(binary)], **QUICK_DEMO)
    outbox = tmp_path / "outbox"
    try:
        pipe.start_uploader_listening()
        detector = pipe.start("detector", env={
            "LD_PRELOAD": str(shim), "QC_FAIL_READS_DIR": str(outbox.resolve()), "QC_FAIL_READS_SUFFIX": ".bin",
            "QC_FAIL_READS_COUNT": str(FAILING_READS)})
        assert pipe.wait_for("detector", f"fail_reads: read {FAILING_READS} of", 60), pipe.output("detector")[-3000:]
        # The first walk's event, whole, and the link working again after the failures.
        assert pipe.wait_for("detector", " recorded in ", 60), pipe.output("detector")[-3000:]
        assert pipe.wait_drained(60), pipe.output("detector")[-3000:]
        assert detector.poll() is None, pipe.output("detector")[-3000:]  # the process lives on
        status = json.loads((outbox / "detector-status.json").read_text())
        shown = detector_line(status, status["time"])
        assert pipe.stop("detector") == 0
        assert pipe.wait_drained(30)
        pipe.stop("uploader")
    finally:
        pipe.close()
    log = pipe.output("detector")
    link = status["link"]
    # Said once for the streak, with the reason; the status keeps it as past once the link works again.
    assert log.count("starting it again, footage stays in the outbox") == 1, log[-3000:]
    assert "link failing (cannot read " in log and "Input/output error" in log, log[-3000:]
    assert link["last_error"].startswith("link failing (cannot read "), link
    assert "Input/output error" in link["last_error"], link
    assert link["error_cleared_at"] >= link["last_error_at"] > 0, link
    assert "Input/output error" in shown and "cleared" in shown, shown
    assert not list((outbox / "refused").iterdir()), "nothing set aside: the item was not sent cut short"
    pipe.check_invariant()  # every item produced is in storage, whole
