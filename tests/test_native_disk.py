"""The native detector on a full or unwritable disk: detection goes on, footage is held, it says so, it recovers.

Two ways the outbox refuses writes, each set up before the demo's first walk (4-10 s
of every 30 s): a tmpfs of the test's own filled to ENOSPC (root only, else a skip),
and the outbox folder made ``chmod 0500`` with the detector under ``setpriv`` without
CAP_DAC_OVERRIDE (root ignores modes). Before the disk ladder was ported, the first
refused write ended the camera's threads and the process exited (code 4): a camera
blind until its service manager restarted it, and the event's snapshot lost. Now, as
the Python detector (tests/test_disk_full.py, tests/test_outbox_unwritable.py): the
snapshot is held in memory, recording steps down, the status says ``DISK FULL`` or
``OUTBOX NOT WRITABLE``, and within a probe interval of the disk taking writes again
the held footage is written and the rest of the walk is recorded in full.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import msgpack
import pytest

from tests.conftest import QUICKCAM, private_endpoint
from tests.native_build import native_detector
from tests.tmpfs import fill, tmpfs
from tests.waiting import wait_until


@contextmanager
def _full_disk(tmp_path: Path) -> Iterator[tuple[list[str], Callable[[], object], Callable[[], object]]]:
    """The detector's argv prefix, and how to make its outbox refuse writes and take them again."""
    with tmpfs(tmp_path / "outbox", "size=24m,mode=0700") as outbox:
        filler = outbox / "filler.fill"
        yield [], lambda: fill(outbox), lambda: filler.unlink()


@contextmanager
def _unwritable(tmp_path: Path) -> Iterator[tuple[list[str], Callable[[], object], Callable[[], object]]]:
    outbox = tmp_path / "outbox"
    prefix = []
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("setpriv (util-linux) is missing: as root, file modes cannot refuse a write without it")
        prefix = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"]
    try:
        yield prefix, lambda: outbox.chmod(0o500), lambda: outbox.chmod(0o700)
    finally:
        if outbox.exists():
            outbox.chmod(0o700)


def _camera(outbox: Path) -> dict:
    try:
        return json.loads((outbox / "detector-status.json").read_text())["cameras"]["cam0"]
    except (OSError, ValueError, KeyError):
        return {}



@pytest.mark.realtime
@pytest.mark.parametrize(("disk", "words"), [(_full_disk, "DISK FULL"), (_unwritable, "OUTBOX NOT WRITABLE")],
                         ids=["enospc", "eacces"])
def test_the_native_detector_holds_footage_on_a_refusing_disk_says_so_and_records_in_full_once_it_takes_writes(
    tmp_path: Path, disk: Callable, words: str,
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUICKCAM_")}
    env |= {"QUICKCAM_LINK__ENDPOINT": private_endpoint(tmp_path), "QUICKCAM_RECORDING__SEGMENT_S": "1.0",
            "QUICKCAM_RECORDING__POST_ROLL_S": "4.0"}  # margin: the event outlasts a slow check
    outbox, log_path = tmp_path / "outbox", tmp_path / "detector.log"
    with disk(tmp_path) as (prefix, refuse, allow), open(log_path, "w") as log_file:
        proc = subprocess.Popen([*prefix, str(native_detector())], cwd=tmp_path, env=env, stdout=log_file,
                                stderr=log_file)
        log = log_path.read_text
        try:
            assert wait_until(lambda: "demo scene clock starts" in log() and _camera(outbox), 15), log()
            scene_t0 = int(re.search(r"demo scene clock starts at (\d+) ms", log()).group(1)) / 1000
            assert time.time() < scene_t0 + 3.5, "too slow to make the disk refuse writes before the first walk"
            refuse()

            # The walk, with the disk refusing: detected, its snapshot held, recording stepped down, and said.
            assert wait_until(lambda: _camera(outbox).get("state") == "degraded", 20), log()[-3000:]
            camera = _camera(outbox)  # rewritten in place: the disk takes no new copy
            # the onset snapshot (and the newest one if the walk grew): the event's first picture is never given up
            # Held behind the snapshot, finished segments wait in staging; a failed segment write steps down.
            fault = (words + r", (full recording|recording reduced|recording snapshots only), [12] snapshot\(s\) and "
                     r"\d+ segment\(s\) held until the disk takes them, \d+ write\(s\) failed$")
            assert re.match(fault, camera["fault"]), camera
            assert camera["events"] >= 1 and camera["write_failures"] >= 1, camera
            status = subprocess.run([QUICKCAM, "status"], cwd=tmp_path, env=env, capture_output=True, text=True,
                                    timeout=30).stdout
            assert f"camera cam0: {words}, " in status, status
            assert proc.poll() is None, log()[-3000:]  # never a crash, never an exit

            freed_at, before = time.monotonic(), len(log())
            allow()
            assert wait_until(lambda: "written from memory" in log()[before:], 10), log()[-3000:]
            resume_s = time.monotonic() - freed_at  # a probe every 0.5 s; the log's clock has only seconds
            assert resume_s <= 2.0, f"held footage written {resume_s:.2f} s after the disk took writes again"
            if "full recording," not in camera["fault"]:  # it had stepped down: back to full recording
                resumed = "the disk takes writes again; full recording resumes"
                assert wait_until(lambda: resumed in log()[before:], 30), log()[-3000:]
            journal = [json.loads(line) for line in (outbox / "produced.jsonl").read_text().splitlines()]
            event = journal[0]["event"]
            assert journal[0]["type"] == "snapshot" and journal[0]["seq"] == 0, journal  # the onset, held, first

            # The rest of the walk: full segments (640x480) of the same event, and the camera ok again.
            def full_segment() -> bool:
                headers = [msgpack.unpackb(path.read_bytes()) for path in outbox.glob("*.hdr")]
                return any(h["type"] == "segment" and h["event"] == event and h["width"] == 640 for h in headers)

            assert wait_until(full_segment, 30), log()[-3000:]
            assert wait_until(lambda: _camera(outbox).get("state") == "ok", 30), _camera(outbox)
            assert _camera(outbox)["fault"] == ""
            assert proc.poll() is None
            assert not list((outbox / ".staging").glob("probe-*"))
            print(f"{words}: held footage written {resume_s:.2f} s after the disk took writes again")
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
