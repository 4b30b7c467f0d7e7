"""A setting from the environment whose value is not UTF-8: one line naming the variable, in both detectors.

A path is bytes, and the environment may hold any (a folder named on an old Latin-1 system); a
TOML file cannot. Before, ``QUICKCAM_CAMERA__PATH`` holding such a byte:

- crashed the Python detector re-encoding (OpenCV's VideoCapture given the path: a segmentation
  fault, every camera blind, no word said);
- a missing such file made every Python status fail to build (the fault could not be encoded):
  ``quickcam status`` showed the camera "starting" for ever, not FAILING, and each status write
  logged a traceback;
- the native detector quoted the raw bytes in its status: invalid UTF-8, which the uploader refuses.

Now both stop at once with exit 2 and the same line, the bytes shown as U+FFFD.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from quickcam.common.config import not_utf8
from quickcam.common.protocol_schema import error_text, valid_utf8
from tests.conftest import QUICKCAM, private_endpoint
from tests.fakes.h264 import write_h264
from tests.native_build import native_detector


def _env(root: Path, path: bytes, **extra: str) -> dict[bytes, bytes]:
    env = {k: v for k, v in os.environb.items() if not k.startswith(b"QUICKCAM_")}
    env |= {b"QUICKCAM_LINK__ENDPOINT": private_endpoint(root).encode(), b"QUICKCAM_CAMERA__SOURCE": b"file",
            b"QUICKCAM_CAMERA__PATH": path}
    return env | {k.encode(): v.encode() for k, v in extra.items()}


def test_a_camera_path_that_is_not_utf8_stops_the_python_detector_with_one_line_not_a_crash(tmp_path: Path) -> None:
    path = bytes(tmp_path) + b"/gar\xe7age.mp4"  # "garçage" written in Latin-1: the file is there, and plays
    write_h264(Path(os.fsdecode(path)), seconds=2.0, fps=5.0)
    run = subprocess.run([QUICKCAM, "detector", "--seconds", "5"], cwd=tmp_path, capture_output=True, timeout=60,
                         env=_env(tmp_path, path, QUICKCAM_CAMERA__RECORD="reencode"))  # OpenCV's source
    assert run.returncode == 2, (run.returncode, run.stderr[-3000:])  # before: -11, a segmentation fault
    shown = os.fsdecode(path).replace("\udce7", "\ufffd")
    assert run.stderr.decode().splitlines() == [
        f"quickcam: config error: camera.path: holds bytes that are not UTF-8 ({shown}); use a name in UTF-8 "
        "(rename it, or link it with ln -s under one); fix it in environment variable QUICKCAM_CAMERA__PATH"]


# Ill-formed UTF-8 of each kind, and what Python's decode(errors="replace") makes of it: one U+FFFD for each
# maximal ill-formed part (Unicode's table 3-7), which the native detector's valid_utf8 must match.
ILL_FORMED = {
    b"\xff": "\ufffd",  # never in UTF-8
    b"\xe2\x82": "\ufffd",  # a character cut short: one part
    b"\xe2\x82x": "\ufffdx",
    b"\xc0\xaf": "\ufffd\ufffd",  # an over-long "/": C0 starts nothing
    b"\xed\xa0\x80": "\ufffd\ufffd\ufffd",  # a surrogate: ED takes 80-9F only
    b"\xf4\x90\x80\x80": "\ufffd" * 4,  # past U+10FFFF
    b"\xf0\x9f\x98": "\ufffd",  # a 4-byte character cut short
    b"\x80\x80": "\ufffd\ufffd",  # continuation bytes alone
}


@pytest.mark.parametrize("bad", list(ILL_FORMED), ids=[bad.hex() for bad in ILL_FORMED])
def test_the_native_detector_refuses_a_setting_that_is_not_utf8_with_the_python_detectors_line(
        tmp_path: Path, bad: bytes) -> None:
    path = b"/footage/\xc3\xa9t\xc3\xa9-" + bad + b"-cam.mp4"  # real UTF-8 ("été") beside the ill-formed bytes
    value = os.fsdecode(path)
    assert valid_utf8(value) == "/footage/été-" + ILL_FORMED[bad] + "-cam.mp4"
    assert error_text(value) == valid_utf8(value)  # a status can always be encoded (before: UnicodeEncodeError)
    run = subprocess.run([str(native_detector()), "--print-config"], cwd=tmp_path, capture_output=True, timeout=30,
                         env=_env(tmp_path, path))
    assert run.returncode == 2, run.stdout + run.stderr  # before: 0, the raw bytes taken as the path
    said = not_utf8("camera.path", "QUICKCAM_CAMERA__PATH", value)
    assert run.stderr.decode("utf-8").splitlines() == [f"quickcam-native-detector: {said}"]


def test_a_log_line_quoting_a_file_name_that_is_not_utf8_reaches_the_log_file(tmp_path: Path) -> None:
    """A stray file in the outbox named in Latin-1: its line ("item ... has a header but no payload ...")
    could not be encoded, and the log file lost it ("log: cannot write run.detector.log ...: surrogates
    not allowed"); the uploader uploads that file, so the incident went missing from it."""
    outbox = tmp_path / "outbox"
    outbox.mkdir(mode=0o700)
    (outbox / os.fsdecode(b"gar\xe7age.hdr")).write_bytes(b"not a header")
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUICKCAM_")}
    env |= {"QUICKCAM_LINK__ENDPOINT": private_endpoint(tmp_path)}
    run = subprocess.run([QUICKCAM, "detector", "--seconds", "1"], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "log: cannot write" not in run.stderr, run.stderr[-3000:]
    log = (tmp_path / "run.detector.log").read_text(encoding="utf-8")  # strict: the file stays UTF-8
    assert "outbox: item gar\\udce7age has a header but no payload gar\\udce7age.bin" in log, log[-3000:]
