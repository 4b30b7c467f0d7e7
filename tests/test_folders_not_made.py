"""A configured folder that cannot be made at start: one line naming the key, the folder and the fix, exit 2.

``uploader.spool_dir`` or ``uploader.state_dir`` under ``/proc`` (ENOENT) or under a 0500 folder (EACCES,
run under ``setpriv`` so that root's CAP_DAC_OVERRIDE does not let it through) ended the uploader in a
traceback from ``mkdir``; the detectors' ``recording.outbox_dir`` said ``cannot open /proc/nope: No such
file or directory``, naming neither the key nor the fix.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import QUICKCAM
from tests.pipeline import Pipeline


def _fix(key: str, folder: str, reason: str) -> str:
    return (f"{key}: cannot make the folder {folder} ({reason}); set {key} to a folder this user may write in, or "
            "make that one writable for it")


@pytest.mark.parametrize("key", ["uploader.spool_dir", "uploader.state_dir"])
def test_an_uploader_folder_under_proc_is_one_line_naming_it(tmp_path: Path, key: str) -> None:
    pipe = Pipeline(tmp_path)
    run = subprocess.run([QUICKCAM, "uploader", "--seconds", "5"], cwd=tmp_path, capture_output=True, text=True,
                         timeout=60, env={**pipe.env, "QUICKCAM_" + key.upper().replace(".", "__"): "/proc/nope"})
    assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr[-3000:]
    assert run.stderr.splitlines()[-1] == "quickcam: " + _fix(key, "/proc/nope", "No such file or directory")


@pytest.mark.parametrize("key", ["uploader.spool_dir", "uploader.state_dir"])
def test_an_uploader_folder_this_user_may_not_make_is_one_line_naming_it(
        tmp_path: Path, key: str, as_a_user: list[str]) -> None:
    pipe = Pipeline(tmp_path)
    (tmp_path / "ro").mkdir(mode=0o500)
    run = subprocess.run([*as_a_user, QUICKCAM, "uploader", "--seconds", "5"], cwd=tmp_path, capture_output=True,
                         text=True, timeout=60,
                         env={**pipe.env, "QUICKCAM_" + key.upper().replace(".", "__"): "ro/folder"})
    assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr[-3000:]
    assert run.stderr.splitlines()[-1] == "quickcam: " + _fix(key, "ro/folder", "Permission denied")


@pytest.mark.parametrize("which", ["python", "native"])
def test_an_outbox_that_cannot_be_made_is_one_line_naming_the_key_in_both_detectors(
        tmp_path: Path, which: str) -> None:
    if which == "python":
        argv, program = [QUICKCAM, "detector", "--seconds", "5"], "quickcam"
    else:
        from tests.native_build import native_detector

        argv, program = [str(native_detector()), "--seconds", "5"], "quickcam-native-detector"
    pipe = Pipeline(tmp_path)
    run = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=60,
                         env={**pipe.env, "QUICKCAM_RECORDING__OUTBOX_DIR": "/proc/nope"})
    assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr[-3000:]
    assert run.stderr.splitlines()[-1] == f"{program}: " + _fix("recording.outbox_dir", "/proc/nope",
                                                                "No such file or directory")
