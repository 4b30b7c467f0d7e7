"""Nothing recorded is lost: processes killed, restarted and stopped mid-event.

Each scenario runs the real processes on the demo source and ends by draining
and checking the invariant in tests/pipeline.py.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from tests.pipeline import Pipeline, Timer


@pytest.fixture
def make_pipeline():
    made: list[Pipeline] = []

    def make(root: Path, **overrides: str) -> Pipeline:
        made.append(Pipeline(root, **overrides))
        return made[-1]

    yield make
    for pipe in made:
        pipe.close()

# A demo script with motion nearly all the time: one long walk per 12 s.
BUSY_DEMO = {"QUICKCAM_RECORDING__SEGMENT_S": "1.0"}


@pytest.mark.slow
def test_uploader_killed_ten_times_during_an_event_loses_and_duplicates_nothing(tmp_path: Path, make_pipeline) -> None:
    pipe = make_pipeline(tmp_path, **BUSY_DEMO)
    pipe.start("uploader")
    pipe.start("detector")
    rng = random.Random(1)
    kills = 0
    time.sleep(4.5)  # the demo's first walker enters at 4 s
    for _ in range(10):
        time.sleep(rng.uniform(0.3, 1.2))
        pipe.kill("uploader")
        kills += 1
        time.sleep(rng.uniform(0.0, 0.5))
        pipe.start("uploader")
    time.sleep(3)
    assert pipe.stop("detector") == 0
    assert pipe.wait_drained(60), f"missing after drain: {pipe.missing()}"
    assert pipe.stop("uploader") == 0
    figures = pipe.check_invariant()
    print(f"uploader SIGKILL x{kills}: {figures}")
    assert figures["produced"] >= 5


@pytest.mark.slow
def test_detector_killed_mid_segment_loses_at_most_the_open_segment(tmp_path: Path, make_pipeline) -> None:
    pipe = make_pipeline(tmp_path, **BUSY_DEMO)
    pipe.start("uploader")
    pipe.start("detector")
    time.sleep(7.3)  # mid-walk, a segment is open
    pipe.kill("detector")
    before = len(pipe.produced())
    assert list((tmp_path / "outbox" / ".staging").iterdir()), "expected an open segment at the kill"
    pipe.start("detector", "--seconds", "4")
    assert pipe.procs["detector"].wait(timeout=30) == 0
    assert "discarding incomplete file" in pipe.output("detector")
    assert pipe.wait_drained(30), f"missing after drain: {pipe.missing()}"
    assert pipe.stop("uploader") == 0
    figures = pipe.check_invariant()
    print(f"detector SIGKILL mid-segment: {before} items before the kill; {figures}")
    assert before >= 3


@pytest.mark.slow
def test_sigterm_during_an_event_flushes_the_open_segment_and_exits_promptly(tmp_path: Path, make_pipeline) -> None:
    pipe = make_pipeline(tmp_path)
    pipe.start("uploader")
    pipe.start("detector")
    time.sleep(6.5)
    clock = Timer(15)
    open_at_stop = list((tmp_path / "outbox" / ".staging").glob("*.mp4"))
    assert open_at_stop, "expected an open segment when SIGTERM arrives"
    assert pipe.stop("detector", timeout=15) == 0
    segments = [row for row in pipe.produced() if row["type"] == "segment"]
    assert segments, "no segment recorded"
    # The segment that was open at SIGTERM was closed and committed, not discarded.
    assert open_at_stop[0].stem in {row["id"] for row in segments}
    assert pipe.wait_drained(20)
    assert pipe.stop("uploader", timeout=20) == 0
    assert clock.left() > 0
    pipe.check_invariant()


@pytest.mark.slow
def test_link_down_for_a_while_footage_waits_in_the_outbox_then_drains(tmp_path: Path, make_pipeline) -> None:
    pipe = make_pipeline(tmp_path)
    pipe.start("detector")  # no uploader yet: the whole first event waits on disk
    time.sleep(12)
    waiting = list((tmp_path / "outbox").glob("*.hdr"))
    assert waiting, "the event should be waiting in the outbox"
    pipe.start("uploader")
    assert pipe.wait_drained(30), f"missing after drain: {pipe.missing()}"
    assert pipe.stop("detector") == 0
    assert pipe.wait_drained(20)
    assert pipe.stop("uploader") == 0
    figures = pipe.check_invariant()
    print(f"link down 12 s: {len(waiting)} items waited; {figures}")
