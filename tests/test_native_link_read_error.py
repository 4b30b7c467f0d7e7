"""An outbox file the native link cannot read is said, shown, retried, and still arrives; nothing waits behind it.

The native link read an item's payload with ``std::ifstream``, which takes a read error for the end
of the file: a payload that failed to read went out empty (or cut short), the uploader refused it
for good (``size_mismatch``) and the footage was set aside in ``outbox/refused/``, never stored, with
not a word from the detector of why. A file that would not open was skipped in silence, and an
exception out of the link's thread would have ended the whole process. Then the link started again on
the error and met the same item first each time: an item that never read again held every item behind
it. Now, as the Python link (``tests/test_link_unreadable.py``): the item is skipped for now (kept in the
outbox), logged once a streak with its reason, counted (``link.unreadable``), shown as the link's last
error (``quickcam status``) and tried again after 1 s doubling to 60 s; the items behind it go on.

The error is real for the binary: a small shim preloaded into it (``tests/fakes/fail_reads.c``,
built here with the C compiler the native build installs) makes the first three ``read()`` calls
on outbox payloads (``outbox/*.bin``) fail with EIO, or every read of the first one until the test says
the disk came back. The tests run as root, so file modes cannot make a read fail.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from quickcam.uploader.cli import detector_line
from tests.fakes.shims import preload_shim
from tests.native_build import native_detector
from tests.pipeline import QUICK_DEMO, Pipeline
from tests.waiting import wait_until

FAILING_READS = 3


def _failing_reads(tmp_path: Path, **mode: str) -> dict[str, str]:
    """The detector's environment in which reads of its outbox payloads fail as ``mode`` says (``fail_reads.c``)."""
    return {"LD_PRELOAD": str(preload_shim("fail_reads", tmp_path)),
            "QC_FAIL_READS_DIR": str((tmp_path / "outbox").resolve()), "QC_FAIL_READS_SUFFIX": ".bin", **mode}


@pytest.mark.slow
@pytest.mark.beside_others  # every wait polled, the uploader running throughout: no time bound
def test_a_native_outbox_payload_that_fails_to_read_is_logged_once_shown_retried_and_still_arrives(
        tmp_path: Path) -> None:
    pipe = Pipeline(tmp_path, detector=[str(native_detector())], **QUICK_DEMO)
    outbox = tmp_path / "outbox"
    try:
        pipe.start_uploader_listening()
        detector = pipe.start("detector", env=_failing_reads(tmp_path, QC_FAIL_READS_COUNT=str(FAILING_READS)))
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
    # The item's trouble, not the link's: said once a streak with the reason, counted, tried again; the link
    # never restarted; the status keeps it as past once every such item read again.
    assert "starting it again" not in log, log[-3000:]
    assert "the disk refuses to read it; check the disk" in log and "Input/output error (errno 5)" in log, log[-3000:]
    assert " reads again after " in log, log[-3000:]
    assert link["last_error"].startswith("cannot read "), link
    assert "Input/output error (errno 5); the disk refuses to read it; check the disk" in link["last_error"], link
    assert 1 <= link["unreadable"] <= FAILING_READS, link
    assert link["error_cleared_at"] >= link["last_error_at"] > 0, link
    assert "Input/output error" in shown and "cleared" in shown, shown
    assert not list((outbox / "refused").iterdir()), "nothing set aside: the item was not sent cut short"
    pipe.check_invariant()  # every item produced is in storage, whole


def _link_status(outbox: Path) -> dict:
    try:
        return json.loads((outbox / "detector-status.json").read_text())["link"]
    except (OSError, ValueError, KeyError):
        return {}  # not written yet, or caught mid-replace


@pytest.mark.slow
@pytest.mark.beside_others  # every wait polled, the uploader running throughout: no time bound
def test_a_native_outbox_item_that_never_reads_holds_up_nothing_behind_it_and_is_sent_once_it_reads(
        tmp_path: Path) -> None:
    # Before, the link started again on the error and met the same item first each time: nothing behind it left.
    pipe = Pipeline(tmp_path, detector=[str(native_detector())], **QUICK_DEMO)
    outbox, healed = tmp_path / "outbox", tmp_path / "disk-came-back"
    try:
        pipe.start_uploader_listening()
        detector = pipe.start("detector", env=_failing_reads(tmp_path, QC_FAIL_READS_ONE="1",
                                                             QC_FAIL_READS_HEALED=str(healed)))
        assert pipe.wait_for("detector", "the disk refuses to read it; check the disk", 90), \
            pipe.output("detector")[-3000:]
        bad = Path(re.search(r"fail_reads: every read of (\S+) fails", pipe.output("detector")).group(1))
        # The items behind it leave while it stays, whole, in the outbox; the link shows it standing.
        assert wait_until(lambda: _link_status(outbox).get("acked", 0) >= 1, 60), pipe.output("detector")[-3000:]
        assert pipe.wait_for("detector", " recorded in ", 60), pipe.output("detector")[-3000:]
        assert wait_until(lambda: {p.name for p in outbox.glob("*.bin")} == {bad.name}, 60), \
            (sorted(p.name for p in outbox.glob("*.bin")), pipe.output("detector")[-3000:])
        link = _link_status(outbox)
        assert link["unreadable"] == 1 and link["error_cleared_at"] == 0, link
        assert "Input/output error (errno 5); the disk refuses to read it; check the disk" in link["last_error"], link
        assert bad.exists() and (bad.parent / f"{bad.stem}.hdr").exists()
        # The disk comes back: it is sent within its back-off (1 s doubling, at most 60 s).
        healed.touch()
        assert pipe.wait_drained(90), pipe.output("detector")[-3000:]
        assert detector.poll() is None, pipe.output("detector")[-3000:]
        assert wait_until(lambda: _link_status(outbox).get("error_cleared_at", 0) > 0, 30), _link_status(outbox)
        assert pipe.stop("detector") == 0
        pipe.stop("uploader")
    finally:
        pipe.close()
    log = pipe.output("detector")
    assert log.count("the disk refuses to read it; check the disk") == 1, log[-3000:]  # once for the streak
    assert "starting it again" not in log, log[-3000:]
    assert f"{bad.stem} reads again after " in log, log[-3000:]
    assert not list((outbox / "refused").iterdir())
    pipe.check_invariant()  # every item produced is in storage, whole
