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

from tests.conftest import QUICKCAM
from tests.pipeline import Pipeline
from tests.waiting import wait_until

ROOM_MB = 130  # above what the detector needs besides PyAV (~110 MB), below it with PyAV (~210 MB)
PROBE = ("import quickcam.detector.app, quickcam.detector.cli\n"
         "print(next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmSize')))")


def test_no_h264_encoder_is_said_once_and_shown_on_the_camera_line(tmp_path: Path) -> None:
    pipe = Pipeline(tmp_path, QUICKCAM_CAMERA__DEMO_START_S="2", QUICKCAM_RECORDING__SEGMENT_S="1",
                    MALLOC_ARENA_MAX="1")
    base_kb = int(subprocess.run([sys.executable, "-c", PROBE], env=pipe.env, capture_output=True, text=True,
                                 check=True, timeout=60).stdout)
    limit = (base_kb << 10) + (ROOM_MB << 20)
    with open(tmp_path / "detector.out", "ab") as out:
        pipe.procs["detector"] = subprocess.Popen(
            [QUICKCAM, "detector"], cwd=tmp_path, env=pipe.env, stdout=out, stderr=subprocess.STDOUT,
            preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (limit, limit)))
    try:
        said = "camera cam0: H.264 encoder unavailable ("
        assert pipe.wait_for("detector", said, 30), pipe.output("detector")[-3000:]
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
