"""The Python detector with no H.264 encoder: mp4v said once per camera, and shown in ``quickcam status``.

Found by ``bench/outside/fd_limit.py --who detector --as-mb 1000`` (bench/outside/FINDINGS.md #25): under a
low address-space limit PyAV could not be loaded, and ``H.264 encoder unavailable …; falling back to mp4v``
was warned at every segment (9 in 6 s) with nothing in ``quickcam status``. The same limit here, set from
what this machine's interpreter needs to import the detector (plus room for its frames, less than PyAV
needs), with one malloc arena so that the process's address space does not depend on its threads.
"""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import QUICKCAM
from tests.pipeline import Pipeline
from tests.waiting import wait_until

# Room above what importing the detector takes: enough for the detector besides PyAV (~110 MB here), too little
# with PyAV's encoders (~210 MB). Tried in this order, as the window moves with a machine's libraries.
ROOMS_MB = (130, 110, 150, 170, 95)
PROBE = ("import quickcam.detector.app, quickcam.detector.cli\n"
         "print(next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmSize')))")


def test_no_h264_encoder_is_said_once_and_shown_on_the_camera_line(tmp_path: Path) -> None:
    pipe = Pipeline(tmp_path, QUICKCAM_CAMERA__DEMO_START_S="2", QUICKCAM_RECORDING__SEGMENT_S="1",
                    MALLOC_ARENA_MAX="1")
    base_kb = int(subprocess.run([sys.executable, "-c", PROBE], env=pipe.env, capture_output=True, text=True,
                                 check=True, timeout=60).stdout)
    tried = []
    for room_mb in ROOMS_MB:
        limit = (base_kb << 10) + (room_mb << 20)
        with open(tmp_path / "detector.out", "wb") as out:  # each try's output alone
            pipe.procs["detector"] = subprocess.Popen(
                [QUICKCAM, "detector"], cwd=tmp_path, env=pipe.env, stdout=out, stderr=subprocess.STDOUT,
                preexec_fn=lambda limit=limit: resource.setrlimit(resource.RLIMIT_AS, (limit, limit)))
        if pipe.wait_for("detector", "H.264 encoder unavailable", 20):  # in the window: PyAV's encoder failed
            break
        tried.append(f"{room_mb} MB: {pipe.output('detector').strip().splitlines()[-1:]}")
        pipe.close()
    else:
        pytest.skip(f"no address-space limit here leaves the detector running without PyAV's H.264 encoder: {tried}")
    try:
        assert pipe.wait_for("detector", "camera cam0: H.264 encoder unavailable (", 5), pipe.output("detector")[-3000:]
        assert pipe.wait_for("detector", "recorded in", 30), pipe.output("detector")[-3000:]  # many segments
        assert pipe.output("detector").count("H.264 encoder unavailable") == 1, pipe.output("detector")[-3000:]

        def camera_line() -> str:
            out = subprocess.run([QUICKCAM, "status"], cwd=tmp_path, env=pipe.env, capture_output=True, text=True,
                                 timeout=30).stdout
            return next((line for line in out.splitlines() if line.startswith("camera cam0")), out)

        assert wait_until(lambda: "recording in mp4v: H.264 encoder unavailable (" in camera_line(), 15), \
            camera_line()
        assert pipe.stop("detector") == 0, pipe.output("detector")[-3000:]
    finally:
        pipe.close()
