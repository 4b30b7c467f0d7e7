"""A segment whose commit the disk holds up: the stop waits for it, and one the process does not outlive is kept.

A segment is committed by fsyncing its file in ``.staging/``, then moving it into the outbox with its header. On a
disk that answers slowly (an SD card, a USB disk in a reset, NFS) that fsync can take many seconds. A stop gave its
cameras 10 s: a last segment whose commit took longer was left behind and, with an uploader that had acked
everything else (no drain to wait for), ended with the process; the next start discarded it from staging as
"left by a crash". A kill during that fsync lost it the same way. Now the stop waits for a recorder until 19 s, and
a commit under way has the segment's header beside it in staging, so the next start commits it.

The disk is made slow for real: a shim preloaded into the detector (``tests/fakes/slow_fsync.c``) makes each fsync
of a file in the outbox's staging folder take longer (the segment's own; the outbox's other files sync as usual).
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from tests.fakes.shims import preload_shim
from tests.native_build import native_detector
from tests.pipeline import QUICK_DEMO, Pipeline
from tests.waiting import wait_until


def _pipeline(tmp_path: Path, detector: str, segment_s: str) -> Pipeline:
    command = [str(native_detector())] if detector == "native" else None
    return Pipeline(tmp_path, detector=command, QUICKCAM_RECORDING__SEGMENT_S=segment_s, **QUICK_DEMO)


def _slow_staging(tmp_path: Path, ms: int) -> dict[str, str]:
    staging = tmp_path / "outbox" / ".staging"
    staging.mkdir(parents=True, exist_ok=True)
    return {"LD_PRELOAD": str(preload_shim("slow_fsync", tmp_path)), "QC_SLOW_FSYNC_PREFIX": str(staging.resolve()),
            "QC_SLOW_FSYNC_MS": str(ms)}


@pytest.mark.realtime
@pytest.mark.slow
@pytest.mark.parametrize("detector", ["python", "native"])
def test_a_stop_waits_for_a_last_segment_whose_commit_outlasts_the_cameras_10_s(tmp_path: Path,
                                                                                 detector: str) -> None:
    # one long segment: the event's only commit is its last, at the stop, and it takes 12 s
    pipe = _pipeline(tmp_path, detector, "60")
    try:
        pipe.start_uploader_listening()
        pipe.start("detector", env=_slow_staging(tmp_path, 12_000))
        assert pipe.wait_for("detector", "motion, event", 30), pipe.output("detector")[-3000:]
        time.sleep(1.0)
        assert pipe.stop("detector", timeout=40) == 0, pipe.output("detector")[-3000:]
        assert pipe.wait_drained(20), pipe.output("detector")[-3000:]
        pipe.stop("uploader")
    finally:
        pipe.close()
    output = pipe.output("detector")
    segments = [row for row in pipe.produced() if row["type"] == "segment"]
    assert len(segments) == 1 and segments[0]["frames"] > 0, (segments, output[-3000:])
    assert "left behind" not in output, output[-3000:]
    pipe.check_invariant()


@pytest.mark.realtime
@pytest.mark.parametrize("detector", ["python", "native"])
def test_a_segment_whose_commit_a_kill_cut_short_is_committed_at_the_next_start(tmp_path: Path,
                                                                                 detector: str) -> None:
    pipe = _pipeline(tmp_path, detector, "1")
    staging = tmp_path / "outbox" / ".staging"
    try:
        pipe.start_uploader_listening()
        pipe.start("detector", env=_slow_staging(tmp_path, 60_000))  # a disk that stopped answering
        assert wait_until(lambda: any(staging.glob("*.hdr")), 40), pipe.output("detector")[-3000:]
        held = next(staging.glob("*.hdr")).name[: -len(".hdr")]
        pipe.procs["detector"].send_signal(signal.SIGKILL)  # a service manager's kill at the end of its wait
        pipe.procs["detector"].wait(10)
        pipe.start("detector")  # the disk answers again
        assert pipe.wait_for("detector", "was left in .staging/ by the last run", 30), pipe.output("detector")[-3000:]
        assert pipe.wait_drained(30), pipe.output("detector")[-3000:]
        pipe.stop("detector")
        pipe.stop("uploader")
    finally:
        pipe.close()
    assert held in {row["id"] for row in pipe.produced()}, pipe.output("detector")[-3000:]
    assert not list(staging.iterdir()), list(staging.iterdir())
    pipe.check_invariant()
