"""The native detector's ``input_format = "auto"``: a USB camera's H.264 is read, and recorded as it came, when offered.

As the Python detector (``usb_source.py``'s ``_choose``, ``v4l2.py``'s ``choose_input``): H.264
when the device lists it, else MJPEG, else raw video (both through OpenCV, as before). The
native detector read "auto" through OpenCV always: a camera's own H.264 decoded and encoded
again. No camera here, so the device's list comes from the test seam ``QC_NATIVE_USB_FORMATS``
(what ``VIDIOC_ENUM_FMT`` would answer: that ioctl itself is not run by these tests), and the
H.264 camera is the FIFO of ``QC_NATIVE_USB_DEMUXER=h264`` (``tests/test_native_usb_h264.py``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from quickcam.detector.v4l2 import DeviceError, choose_input
from tests.conftest import private_endpoint
from tests.detector.test_usb_camera import FPS, MAX_S, WALK, Feeder, _annex_b
from tests.fakes.h264 import write_h264
from tests.native_build import native_detector
from tests.test_native_fast_decode import SnapshotKeeper
from tests.test_native_passthrough import _playable, record_with

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="USB cameras use V4L2: Linux only")


@pytest.mark.parametrize("formats", ["YUYV,MJPG,H264", "YUYV,MJPG", "YUYV", "JPEG", ""])
def test_native_auto_chooses_what_the_python_detector_chooses_among_the_formats_a_device_offers(
        tmp_path: Path, formats: str) -> None:
    listed = tuple(code for code in formats.split(",") if code)
    try:
        expected = choose_input("/dev/video0 (camera index 0)", listed, "auto")
    except DeviceError as exc:
        expected = str(exc)
    (tmp_path / "quickcam.toml").write_text('[camera]\nsource = "camera"\ninput_format = "auto"\n'
                                            f'[link]\nendpoint = "{private_endpoint(tmp_path)}"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUICKCAM_")}
    env |= {"QC_NATIVE_USB_FORMATS": formats, "QC_NATIVE_USB_DEMUXER": "h264"}  # never a real device
    run = subprocess.run([str(native_detector()), "--config", "quickcam.toml", "--seconds", "3"], cwd=tmp_path,
                         env=env, capture_output=True, text=True, timeout=60)
    if listed:
        assert f"camera cam0: /dev/video0 (camera index 0) offers {', '.join(listed)}; reading {expected}" \
            in run.stderr, run.stderr
    else:  # Python's words for it, the fix's command naming the device node alone (Python's names it as it says it)
        assert expected.startswith("/dev/video0 (camera index 0) offers no video format; check it with `v4l2-ctl -d ")
        assert ("camera cam0: /dev/video0 (camera index 0) offers no video format; check it with `v4l2-ctl -d "
                "/dev/video0 --list-formats-ext` (a UVC camera's second /dev/video node carries only metadata)") \
            in run.stderr, (expected, run.stderr)


@pytest.mark.realtime  # fed through a FIFO in real time
def test_a_native_auto_camera_offering_h264_is_recorded_as_it_came(tmp_path: Path) -> None:
    """Before, "auto" opened the device through OpenCV (here: none, the camera never delivered a frame)."""
    video = write_h264(tmp_path / "camera.mp4", MAX_S, FPS, 1.0, 320, 240, walks=(WALK,), bitrate=300_000)
    feeder = Feeder(tmp_path / "video0", _annex_b(video))
    try:
        segments, log, camera, _ = record_with(
            tmp_path / "run", tmp_path / "video0", "", MAX_S - 6,
            f'source = "camera"\ninput_format = "auto"\nfps = {FPS:g}\nwidth = 320\nheight = 240', SnapshotKeeper,
            {"QC_NATIVE_USB_DEMUXER": "h264", "QC_NATIVE_USB_FORMATS": "YUYV,H264,MJPG"})
    finally:
        feeder.close()
    assert "offers YUYV, H264, MJPG; reading h264" in log, log
    assert camera["recorder"] == "passthrough" and camera["events"] == 1, (camera, log)
    assert "recording by passthrough (h264" in log and "level=warning" not in log and "level=error" not in log, log
    _playable(segments)
    assert all(head["codec"] == "h264" for head, _ in segments)
