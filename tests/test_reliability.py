"""Nothing recorded is lost: processes killed, storage failing, link cut, spool full.

Each scenario runs the real processes on the demo source (a person walks
through at 4-10 s and 18-23 s of every 30 s; most start it 3 s into that script,
``QUICK_DEMO``: at 1-7 s and 15-20 s of the run; with ``CLOSE_WALKS`` the second at
12-17 s) and ends by draining and checking the invariant in tests/pipeline.py; each prints its figures (and records them
for bench/reliability_report.py). docs/reliability.md describes them.

The scenarios that concern the detector's side (1, 2, 4, 6) run twice: with
``quickcam detector`` and with the native detector (detector/native, the same
demo scene and the same outbox), which must keep the same invariant.

The long variants (outages of a full minute) run with QUICKCAM_SOAK=1; the
default CI variants end each outage once the event it is about is recorded
(polled: ~13 s for the link, ~9 s for storage).
"""

from __future__ import annotations

import json
import logging
import os
import random
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import QUICKCAM
from tests.fakes import httpfake
from tests.fakes.fault_proxy import HttpFaultProxy, s3_error
from tests.pipeline import CLOSE_WALKS, QUICK_DEMO, FsspecStorage, Pipeline, RandomFaults, Timer, spool_file_problems
from tests.waiting import wait_until

LONG = os.environ.get("QUICKCAM_SOAK") == "1"
OUTAGE_S = 60.0 if LONG else 20.0


@pytest.fixture
def make_pipeline():
    made: list[Pipeline] = []

    def make(root: Path, detector: list[str] | None = None, **overrides: str) -> Pipeline:
        made.append(Pipeline(root, detector=detector, **overrides))
        return made[-1]

    yield make
    for pipe in made:
        pipe.close()


def _native(detector_command: list[str] | None) -> str:
    """The scenario name's suffix for the native detector's run of it."""
    return " (native detector)" if detector_command else ""


# 1 s segments: each walk is many items, so kills and faults hit an event in the middle.
BUSY_DEMO = {"QUICKCAM_RECORDING__SEGMENT_S": "1.0"}


def _wait_for_open_segment(pipe: Pipeline, min_produced: int = 0, timeout: float = 60) -> bool:
    """True once the detector has a segment open (in the outbox's .staging) and ``min_produced`` items done."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if list((pipe.root / "outbox" / ".staging").glob("*.mp4")) and len(pipe.produced()) >= min_produced:
            return True
        time.sleep(0.05)
    return False


@pytest.mark.slow
def test_uploader_killed_ten_times_during_an_event_loses_and_duplicates_nothing(
    tmp_path: Path, make_pipeline, detector_command: list[str] | None,
) -> None:
    pipe = make_pipeline(tmp_path, detector=detector_command, **BUSY_DEMO, **QUICK_DEMO)
    pipe.start("uploader")
    # Up before the detector (a loaded machine may take seconds to start it), so the kills hit a working link.
    assert pipe.wait_for("uploader", "receiver: listening", 60), pipe.output("uploader")[-2000:]
    pipe.start("detector")
    rng = random.Random(1)
    kills = 0
    # The first walker's event has started: polled, a slow machine waits longer.
    assert pipe.wait_for("detector", "motion, event", 40), pipe.output("detector")[-2000:]
    for _ in range(10):
        time.sleep(rng.uniform(0.3, 1.2))
        pipe.kill("uploader")
        kills += 1
        time.sleep(rng.uniform(0.0, 0.5))
        last_start = len(pipe.output("uploader"))
        pipe.start("uploader")
    assert wait_until(lambda: "receiver: listening" in pipe.output("uploader")[last_start:], 60)
    # The last uploader stays: the outbox drains while the detector still runs (polled: a loaded machine,
    # slow to restart the uploader, waits longer instead of stopping the detector with its outbox full).
    pipe.wait_drained(60)
    assert pipe.stop("detector") == 0
    pipe.wait_drained(60)  # what never arrives is counted as lost when the figures are recorded
    assert pipe.stop("uploader") == 0
    figures = pipe.record_invariant("1. uploader SIGKILL during an event" + _native(detector_command),
                                    f"{kills} SIGKILLs + restarts")
    assert figures["produced"] >= 5


@pytest.mark.slow
def test_detector_killed_mid_segment_loses_at_most_the_open_segment(
    tmp_path: Path, make_pipeline, detector_command: list[str] | None,
) -> None:
    pipe = make_pipeline(tmp_path, detector=detector_command, **BUSY_DEMO, **QUICK_DEMO)
    pipe.start("uploader")
    pipe.start("detector")
    # Mid-walk, with a segment open: polled, not slept, so a slow machine only waits longer.
    assert _wait_for_open_segment(pipe, min_produced=3), pipe.output("detector")[-2000:]
    pipe.kill("detector")
    before = len(pipe.produced())
    assert list((tmp_path / "outbox" / ".staging").iterdir()), "expected an open segment at the kill"
    # The restart on the script from its start (no walker in its 4 s): it only sends what it finds in the outbox.
    pipe.start("detector", "--seconds", "4", env={"QUICKCAM_CAMERA__DEMO_START_S": "0"})
    assert pipe.procs["detector"].wait(timeout=30) == 0
    assert "discarding incomplete file" in pipe.output("detector")
    pipe.wait_drained(30)  # what never arrives is counted as lost when the figures are recorded
    assert pipe.stop("uploader") == 0
    pipe.record_invariant("2. detector SIGKILL mid-segment" + _native(detector_command),
                          "1 SIGKILL with a segment open (that segment is lost by design)")
    assert before >= 3


@pytest.mark.slow
def test_sigterm_during_an_event_flushes_the_open_segment_and_exits_promptly(
    tmp_path: Path, make_pipeline, detector_command: list[str] | None,
) -> None:
    pipe = make_pipeline(tmp_path, detector=detector_command, **QUICK_DEMO)
    pipe.start("uploader")
    pipe.start("detector")
    assert _wait_for_open_segment(pipe), pipe.output("detector")[-2000:]
    clock = Timer(15)
    open_at_stop = list((tmp_path / "outbox" / ".staging").glob("*.mp4"))
    assert open_at_stop, "expected an open segment when SIGTERM arrives"
    assert pipe.stop("detector", timeout=15) == 0
    segments = [row for row in pipe.produced() if row["type"] == "segment"]
    assert segments, "no segment recorded"
    # The segment that was open at SIGTERM was closed and committed, not discarded.
    assert open_at_stop[0].stem in {row["id"] for row in segments}
    pipe.wait_drained(20)  # what never arrives is counted as lost when the figures are recorded
    assert pipe.stop("uploader", timeout=20) == 0
    assert clock.left() > 0
    pipe.record_invariant("6. SIGTERM during an event" + _native(detector_command),
                          f"SIGTERM to both with a segment open; both stopped and drained in "
                          f"{15 - clock.left():.1f} s, the open segment committed")


@pytest.mark.slow
@pytest.mark.beside_others  # every wait polled (the outbox drains with the detector running): no time bound
def test_link_down_for_a_while_footage_waits_in_the_outbox_then_drains(
    tmp_path: Path, make_pipeline, detector_command: list[str] | None,
) -> None:
    pipe = make_pipeline(tmp_path, detector=detector_command, **QUICK_DEMO)
    pipe.start("detector")  # no uploader yet: the whole first event waits on disk
    started = time.monotonic()
    if LONG:
        time.sleep(OUTAGE_S)
    else:  # until the first walk's event (1-7 s) is whole in the outbox (~10 s): polled, a slow machine waits longer
        assert pipe.wait_for("detector", " recorded in ", 60), pipe.output("detector")[-2000:]
    outage_s = time.monotonic() - started
    waiting = list((tmp_path / "outbox").glob("*.hdr"))
    assert waiting, "the event should be waiting in the outbox"
    pipe.start("uploader")
    pipe.wait_drained(30)  # what never arrives is counted as lost when the figures are recorded
    assert pipe.stop("detector") == 0
    assert pipe.wait_drained(60)
    assert pipe.stop("uploader") == 0
    pipe.record_invariant("4. link down" + _native(detector_command),
                          f"uploader unreachable for {outage_s:.0f} s; {len(waiting)} items waited")


# -- 3. storage failing, then down, then back ---------------------------------------------------

BUCKET, PREFIX, REGION = "reliability-footage", "nas", "eu-west-1"
S3_KEY_ID, S3_SECRET = "AKIAQUICKCAMTEST0001", "quickcam-test-secret-key"
STORAGE_FAULTS = {
    "500": s3_error(500, "InternalError", "We encountered an internal error."),
    "502": httpfake.status(502, "Bad Gateway"),
    "503": s3_error(503, "ServiceUnavailable", "Service is unable to handle the request."),
    "timeout": httpfake.delay(3.0),  # the client gives up after its 1 s read timeout
    "answer-lost-after-store": httpfake.drop_after_commit(),
}


def s3_config(endpoint: str) -> str:
    """The uploader's storage: s3:// through fsspec/s3fs, at ``endpoint`` (the fault proxy)."""
    return f"""
[uploader]
destinations = ["s3"]

[storage.s3]
kind = "fsspec"
url = "s3://{BUCKET}/{PREFIX}"
timeout = 10.0

[storage.s3.storage_options]
endpoint_url = "{endpoint}"
key = "${{S3_KEY_ID}}"
secret = "${{S3_SECRET}}"
client_kwargs = {{ region_name = "{REGION}" }}
# One attempt per s3fs try and short timeouts: the uploader owns the retries.
config_kwargs = {{ connect_timeout = 1, read_timeout = 1, retries = {{ total_max_attempts = 1 }} }}
"""


@pytest.fixture
def s3_behind_proxy() -> Iterator[tuple[HttpFaultProxy, Any]]:
    """moto's S3 server on 127.0.0.1, a bucket, and a fault proxy in front of it."""
    import s3fs
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    port = server.get_host_and_port()[1]
    direct = s3fs.S3FileSystem(key=S3_KEY_ID, secret=S3_SECRET, endpoint_url=f"http://127.0.0.1:{port}",
                               client_kwargs={"region_name": REGION}, skip_instance_cache=True)
    direct.mkdir(BUCKET)  # moto's state is per test process: other tests' buckets must not clash
    proxy = HttpFaultProxy(port).start()
    try:
        yield proxy, direct
    finally:
        proxy.stop()
        direct.rm(BUCKET, recursive=True)
        server.stop()


def _fired(faults: RandomFaults) -> int:
    with faults.lock:  # the proxy's threads count as they inject
        return sum(faults.fired.values())


@pytest.mark.slow
def test_storage_failing_a_third_of_requests_then_down_then_back_loses_and_duplicates_nothing(
    tmp_path: Path, make_pipeline, s3_behind_proxy: tuple[HttpFaultProxy, Any],
) -> None:
    proxy, direct = s3_behind_proxy
    faults = RandomFaults(0.3, STORAGE_FAULTS)
    proxy.faults = faults  # type: ignore[assignment]
    pipe = make_pipeline(tmp_path, config=s3_config(proxy.url),
                         secrets={"S3_KEY_ID": S3_KEY_ID, "S3_SECRET": S3_SECRET}, **BUSY_DEMO, **QUICK_DEMO,
                         **CLOSE_WALKS)
    pipe.storage = FsspecStorage(direct, f"{BUCKET}/{PREFIX}")
    pipe.start("uploader")
    pipe.start("detector")
    # Every request at 30% risk until the first walk (1-7 s) is recorded and faults have hit its uploads:
    # polled, a slow machine waits longer.
    assert pipe.wait_for_count("detector", " recorded in ", 1, 60), pipe.output("detector")[-2000:]
    assert wait_until(lambda: _fired(faults) >= 5 and len(pipe.stored()) >= 2, 60), faults.fired
    flaky_requests, flaky_fired = faults.requests, _fired(faults)
    stored_before_outage = len(pipe.stored())
    recorded_before_outage = pipe.output("detector").count(" recorded in ")
    with proxy.server.refusing():  # down: connections refused during the second walk (12-17 s, CLOSE_WALKS)
        outage_started = time.monotonic()
        if LONG:
            time.sleep(OUTAGE_S / 2)
        else:  # until the next event (the second walk's, ~7 s) is recorded: polled, a slow machine waits longer
            assert pipe.wait_for_count("detector", " recorded in ", recorded_before_outage + 1, 60), \
                pipe.output("detector")[-2000:]
        status = subprocess.run([QUICKCAM, "status", "--json", *pipe.args], cwd=tmp_path, env=pipe.env,
                                capture_output=True, text=True, timeout=30)
        if LONG:
            time.sleep(OUTAGE_S / 2)
        outage_s = time.monotonic() - outage_started
        waiting = len(pipe.spool_files())
        faults.clear()  # when it is back, it is healthy
    assert waiting, "footage made during the outage should wait in the spool"
    assert pipe.stop("detector") == 0
    pipe.wait_drained(90, spool=True)  # what never arrives is counted as lost when the figures are recorded
    assert pipe.stop("uploader") == 0
    assert proxy.server.errors == [], "the fault proxy itself failed"
    after = subprocess.run([QUICKCAM, "status", "--json", *pipe.args], cwd=tmp_path, env=pipe.env,
                           capture_output=True, text=True, timeout=30)
    assert after.returncode == 0, after.stderr

    assert status.returncode == 0, status.stderr
    [s3_row] = json.loads(status.stdout)["destinations"]  # what `quickcam status` showed mid-outage
    assert s3_row["pending"] >= 1 and "connect" in s3_row["last_error"].lower(), s3_row
    [s3_after] = json.loads(after.stdout)["destinations"]
    retries = s3_after["failed_tries"]  # every failed attempt counted in `quickcam status`, not one line each
    assert flaky_fired >= 5 and retries >= 5, (faults.fired, retries)
    assert stored_before_outage >= 2, "uploads should get through a 30% failure rate"
    assert not pipe.spool_files(), "every spool file is deleted once stored"
    fired = ", ".join(f"{n} {kind}" for kind, n in sorted(faults.fired.items()))
    pipe.record_invariant("3. storage failing, then down, then back",
                          f"{flaky_fired} of {flaky_requests} S3 requests failed ({fired}); "
                          f"then S3 down {outage_s:.0f} s; "
                          f"{retries} upload retries")


# -- 5. the uploader's spool full ---------------------------------------------------------------


@pytest.mark.slow
def test_spool_full_stops_credit_with_a_reason_and_resumes_when_space_is_back(tmp_path: Path, make_pipeline) -> None:
    pipe = make_pipeline(tmp_path, QUICKCAM_UPLOADER__SPOOL_MAX_MB="0.4", **BUSY_DEMO, **QUICK_DEMO)
    # Storage refuses every upload (a file where its folder should be), so the spool only fills.
    (tmp_path / "storage").mkdir()
    blocker = tmp_path / "storage" / "webcam_captures"
    blocker.write_text("not a folder")
    pipe.start("uploader")
    pipe.start("detector")
    assert pipe.wait_for("detector", "uploader paused sending: the spool", 40), pipe.output("detector")[-2000:]
    time.sleep(3)
    spool = tmp_path / "spool"
    held = sum(p.stat().st_size for p in spool.glob("*.qsc"))
    waiting = len(pipe.outbox_items())
    assert waiting, "the detector keeps what the uploader cannot take"
    assert held <= 0.4 * (1 << 20) + 256 * 1024, f"spool {held} bytes, far over its cap"
    assert spool_file_problems(spool) == []
    uploader_log = pipe.output("uploader")
    assert "not accepting footage: the spool" in uploader_log and "cap" in uploader_log
    shown = subprocess.run([QUICKCAM, "status"], cwd=tmp_path, env=pipe.env, capture_output=True, text=True,
                           timeout=30).stdout
    assert "uploader: not accepting footage: the spool" in shown, shown  # the pause's reason, not only a count

    blocker.unlink()  # storage back: uploads free the spool, credit comes back
    assert pipe.wait_for("detector", "uploader accepts footage again", 30)
    assert pipe.stop("detector") == 0
    pipe.wait_drained(60, spool=True)  # what never arrives is counted as lost when the figures are recorded
    assert pipe.stop("uploader") == 0
    status = json.loads((tmp_path / "state" / "status.json").read_text())
    pauses = uploader_log.count("not accepting footage")
    pipe.record_invariant("5. spool full",
                          f"spool capped at 0.4 MB with storage refusing; {waiting} items held back in the "
                          f"outbox; {status['counters'].get('nack_busy', 0)} busy nacks, {pauses} pause log line(s)")


# -- the disk budget policy: the uploader unreachable until the outbox is over its budget ----------


def _segment_headers(outbox: Path) -> list[dict]:
    import msgpack

    headers = [msgpack.unpackb(p.read_bytes()) for p in outbox.glob("*.hdr")]
    return sorted((h for h in headers if h["type"] == "segment"), key=lambda h: h["start_ms"])


@pytest.mark.slow
def test_outbox_over_its_budget_records_smaller_segments_deletes_nothing_and_drains(
    tmp_path: Path, make_pipeline,
) -> None:
    pipe = make_pipeline(tmp_path, QUICKCAM_RECORDING__OUTBOX_BUDGET_MB="0.1", **QUICK_DEMO)
    pipe.start("detector")  # no uploader: the first walk (1-7 s) fills the outbox past its budget
    assert pipe.wait_for("detector", "over the outbox budget of 0.1 MB", 60), pipe.output("detector")[-2000:]
    assert pipe.wait_for("detector", "segment(s)", 60)  # the event is over: its last segment is committed
    status = subprocess.run([QUICKCAM, "status"], cwd=tmp_path, env=pipe.env, capture_output=True, text=True,
                            timeout=30)
    segments = _segment_headers(tmp_path / "outbox")
    full = [h for h in segments if h["fps"] == 15.0 and (h["width"], h["height"]) == (640, 480)]
    reduced = [h for h in segments if h["fps"] == 1.0 and (h["width"], h["height"]) == (320, 240)
               and h["frames"] <= (h["end_ms"] - h["start_ms"]) / 1000 + 1]
    assert full and reduced and len(full) + len(reduced) == len(segments), segments
    assert len(pipe.outbox_items()) == len(pipe.produced()), "nothing recorded may be deleted"
    assert "OVER BUDGET: " in status.stdout and "new segments at 1 fps, 320x240" in status.stdout, status.stdout

    def bytes_per_s(headers: list[dict]) -> float:
        return sum(h["size"] for h in headers) / sum((h["end_ms"] - h["start_ms"]) / 1000 + 1 / h["fps"]
                                                     for h in headers)

    ratio = bytes_per_s(full) / bytes_per_s(reduced)
    assert ratio > 2, f"reduced segments should be far smaller: {bytes_per_s(full):.0f} vs {bytes_per_s(reduced):.0f}"

    pipe.start("uploader")  # back before the second walk (15-20 s): its segments are full again
    assert pipe.wait_for("detector", "back under its budget", 30), pipe.output("detector")[-2000:]
    time.sleep(4)
    assert pipe.stop("detector") == 0
    pipe.wait_drained(30, spool=True)  # what never arrives is counted as lost when the figures are recorded
    assert pipe.stop("uploader") == 0
    assert pipe.output("detector").count("over the outbox budget") == 1  # one loud line per episode (< 1 min)
    pipe.record_invariant("disk budget: outbox over budget",
                          f"uploader away, outbox budget 0.1 MB: {len(full)} full and "
                          f"{len(reduced)} reduced segments (1 fps, half size: {ratio:.0f}x fewer bytes per second), "
                          "none deleted")
