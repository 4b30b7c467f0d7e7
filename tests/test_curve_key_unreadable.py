"""A CURVE key file the disk will not read stops either detector with one line naming the file, the error and the fix.

The native detector read its key files with ``std::ifstream``, which takes a read error (EIO) for
the end of the file: a secret key file on a failing disk read as empty and was said as ``public-key
is not a 40-character z85 key``, sending its owner off to regenerate keys that were fine. The Python
detector said ``[Errno 5] Input/output error: 'path'``. Both now say ``CURVE key file PATH cannot be
read: Input/output error; check the disk and the file's permissions``, and for a file that is not
there, which setting names it.

The error is real for the process: ``tests/fakes/fail_reads.c`` preloaded makes the first ``read()``
of a file named ``*.key_secret`` in the test's folder fail with EIO (the tests run as root, so file
modes cannot make a read fail).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import QUICKCAM, private_endpoint
from tests.fakes.shims import preload_shim
from tests.native_build import native_detector


def _run(tmp_path: Path, detector: str, extra: dict[str, str]) -> subprocess.CompletedProcess:
    subprocess.run([QUICKCAM, "curve-keygen", "detector"], cwd=tmp_path, check=True, capture_output=True)
    subprocess.run([QUICKCAM, "curve-keygen", "uploader"], cwd=tmp_path, check=True, capture_output=True)
    command = [str(native_detector())] if detector == "native" else [QUICKCAM, "detector"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUICKCAM_")} | {
        "QUICKCAM_LINK__ENDPOINT": private_endpoint(tmp_path),
        "QUICKCAM_LINK__CURVE_SECRET_KEY_FILE": "detector.key_secret",
        "QUICKCAM_LINK__CURVE_SERVER_PUBLIC_KEY_FILE": "uploader.key",
    } | extra
    (tmp_path / "quickcam.toml").write_text("")
    return subprocess.run([*command, "--config", "quickcam.toml", "--seconds", "1"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("detector", ["native", "python"])
def test_a_curve_key_file_the_disk_will_not_read_stops_the_detector_with_one_line_naming_the_error_and_the_fix(
        tmp_path: Path, detector: str) -> None:
    run = _run(tmp_path, detector, {"LD_PRELOAD": str(preload_shim("fail_reads", tmp_path)),
                                    "QC_FAIL_READS_DIR": str(tmp_path.resolve()),
                                    "QC_FAIL_READS_SUFFIX": ".key_secret", "QC_FAIL_READS_COUNT": "1"})
    said = [line for line in run.stderr.splitlines() if "CURVE key file" in line]
    assert run.returncode == 2, run.stderr[-3000:]
    assert "fail_reads: read 1 of .key_secret file(s) fails with EIO" in run.stderr, run.stderr[-3000:]
    assert len(said) == 1 and said[0].endswith(
        "CURVE key file detector.key_secret cannot be read: Input/output error; check the disk and the file's "
        "permissions"), run.stderr[-3000:]
    assert "z85" not in run.stderr and "no secret-key" not in run.stderr and "Traceback" not in run.stderr


@pytest.mark.parametrize("detector", ["native", "python"])
def test_a_curve_key_file_that_is_not_there_is_said_with_the_setting_that_names_it(
        tmp_path: Path, detector: str) -> None:
    run = _run(tmp_path, detector, {"QUICKCAM_LINK__CURVE_SERVER_PUBLIC_KEY_FILE": "uploadr.key"})
    said = [line for line in run.stderr.splitlines() if "CURVE key file" in line]
    assert run.returncode == 2, run.stderr[-3000:]
    assert len(said) == 1 and said[0].endswith(
        "CURVE key file uploadr.key cannot be read: No such file or directory; check the path set in "
        "link.curve_server_public_key_file"), run.stderr[-3000:]
