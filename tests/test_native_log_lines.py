"""OpenCV's and FFmpeg's own lines stay out of the detector's output (issue 18, "Messages").

A USB camera that does not exist and a stream nobody serves make OpenCV print
``[ WARN:0@0.07] global cap_v4l.cpp ...`` and FFmpeg ``Connection refused`` on
stderr by default; the detector reports both itself (``camera cam0: lost``), so
every line it prints must be its own. The native detector's too (before, OpenCV's
warnings came through, five lines per attempt to open the USB camera).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import QUICKCAM, free_port, private_endpoint

CONFIG = """
[[cameras]]
id = "usb"
source = "camera"
index = 63

[[cameras]]
id = "ipcam"
source = "stream"
path = "tcp://127.0.0.1:{port}"
"""


@pytest.mark.parametrize("detector", ["python", "native"])
def test_a_missing_camera_and_a_refused_stream_print_only_the_detectors_own_lines(tmp_path: Path,
                                                                                  detector: str) -> None:
    (tmp_path / "quickcam.toml").write_text(CONFIG.format(port=free_port()))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QUICKCAM_", "OPENCV_"))}
    env["QUICKCAM_LINK__ENDPOINT"] = private_endpoint(tmp_path)
    if detector == "native":  # its lines are logfmt too (tests/test_native_logfmt.py); OpenCV's must not mix in
        from tests.native_build import native_detector

        command = [str(native_detector())]
    else:
        command = [QUICKCAM, "detector"]
    done = subprocess.run([*command, "--config", "quickcam.toml", "--seconds", "3"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 3, done.stderr  # neither camera ever delivered a frame
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    assert any("camera usb: cannot open" in line for line in lines)
    assert any("camera ipcam: cannot open" in line for line in lines)
    foreign = [line for line in lines if not line.startswith("ts=")]
    assert foreign == []


def test_doctor_on_a_refused_stream_prints_only_its_own_report_lines(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QUICKCAM_", "OPENCV_"))}
    env |= {"QUICKCAM_CAMERA__SOURCE": "stream", "QUICKCAM_CAMERA__PATH": f"tcp://127.0.0.1:{free_port()}",
            "QUICKCAM_LINK__ENDPOINT": private_endpoint(tmp_path)}
    done = subprocess.run([QUICKCAM, "doctor", "--only", "detector", "--timeout", "3"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    assert any(line.startswith("FAIL  camera cam0: cannot open stream") for line in lines), lines
    foreign = [line for line in lines if not line.startswith((" ok ", "FAIL", "doctor: "))]
    assert foreign == []
