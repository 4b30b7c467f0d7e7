"""The native detector (detector/native) on the same wire, the same vectors and the same config.

Built by scripts/build_native.sh (installed and built in CI by scripts/install_test_tools.sh);
where it cannot be built these tests skip with the build's reason. The reliability scenarios
run against it too: see the ``detector_command`` parameter in tests/test_reliability.py and
tests/test_hostile.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import QUICKCAM, REPO
from tests.native_build import native_detector

VECTORS = REPO / "tests" / "vectors" / "protocol"


def _env(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUICKCAM_")}
    return env | overrides


def test_the_native_codec_encodes_every_canonical_vector_and_refuses_every_invalid_one_with_its_code() -> None:
    run = subprocess.run([str(native_detector()), "--vectors", str(VECTORS)], capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
    vectors = sorted(VECTORS.glob("*/*.json"))
    passed = [line for line in run.stdout.splitlines() if line.startswith("PASS  ")]
    assert len(passed) == len(vectors) and len(vectors) > 50, run.stdout
    assert run.stdout.splitlines()[-1] == f"{len(vectors)}/{len(vectors)} vectors passed"


@pytest.mark.slow
def test_the_native_detector_passes_every_protocol_check_over_ipc_and_writes_the_status_file(tmp_path: Path) -> None:
    env = _env(QUICKCAM_RECORDING__OUTBOX_DIR=str(tmp_path / "outbox"), QUICKCAM_LINK__ACK_TIMEOUT_S="2",
               QUICKCAM_LINK__HEARTBEAT_S="0.5")
    started = time.monotonic()
    # No --seconds: the detector runs until the check has every verdict (well inside --timeout) and stops it.
    # Over ipc:// (the single-machine transport); CURVE over TCP is in test_hostile.py's wrong-key scenario.
    run = subprocess.run([QUICKCAM, "protocol", "check", "--quiet", "--timeout", "90", "--endpoint",
                          f"ipc://{tmp_path}/link.sock", "--run", str(native_detector())], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=150)
    took = time.monotonic() - started
    assert run.returncode == 0, run.stdout + run.stderr[-3000:]
    lines = run.stdout.splitlines()
    assert all(line.startswith("PASS") for line in lines[:-1]), run.stdout
    assert lines[-1] == f"{len(lines) - 1}/{len(lines) - 1} checks passed"
    assert took < 60, f"the check should end once every check has a verdict, not at --timeout ({took:.0f} s)"
    assert "native-detector" not in run.stderr, "--quiet must not pass the detector's own log through"

    status = json.loads((tmp_path / "outbox" / "detector-status.json").read_text())
    assert {"time", "pid", "running", "cameras", "outbox", "link"} <= set(status)
    assert status["running"] is False and status["link"]["acked"] >= 4
    assert {"state", "fps", "frames", "dropped", "events", "width", "height"} <= set(status["cameras"]["cam0"])
    shown = subprocess.run([QUICKCAM, "status"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=30)
    assert shown.returncode == 0 and "cam0" in shown.stdout, shown.stdout + shown.stderr


def test_the_native_detector_reports_keys_it_does_not_implement_once_and_runs(tmp_path: Path) -> None:
    (tmp_path / "quickcam.toml").write_text(
        '[camera]\nfps = 10\n[camera.zones]\ninclude = []\n[motion]\npixle_threshold = 20\n'
        'lighting_min_blob_fraction = 0.1\n[link]\nsocket_dir = "run"\n[uploader]\ncredit_messages = 4\n')
    run = subprocess.run([str(native_detector()), "--config", "quickcam.toml", "--seconds", "1"], cwd=tmp_path,
                         env=_env(QUICKCAM_LINK__ENDPOINT="tcp://127.0.0.1:9"), capture_output=True, text=True,
                         timeout=30)
    assert run.returncode == 0, run.stderr
    log = run.stderr
    assert log.count("motion.pixle_threshold: unknown key (check the spelling") == 1, log
    assert log.count("link.socket_dir: unknown key") == 1, log
    assert "motion.lighting_min_blob_fraction: the lighting check of large blobs is not implemented" in log
    assert "uploader" not in log.split("detector: watching")[0], "the uploader's own keys are not ours to report"
    assert "zones" not in log  # empty zones are the default, nothing to report


@pytest.mark.parametrize(("config", "env", "expected"), [
    ("[camera]\nfps = -1\n", {}, "config error: camera.fps: must be in (0, 120]; fix it in quickcam.toml"),
    ("", {"QUICKCAM_CAMERA__WIDTH": "wide"},
     "config error: camera.width: must be a number, got wide; fix it in environment variable QUICKCAM_CAMERA__WIDTH"),
    ("[camera\n", {}, "config file quickcam.toml is not valid TOML"),
    ("[camera]\nsource = \"file\"\n", {}, "config error: camera.path: must name the file or stream URL"),
    ("", {"QUICKCAM_LINK__CURVE_SECRET_KEY_FILE": "missing.key_secret",
          "QUICKCAM_LINK__CURVE_SERVER_PUBLIC_KEY_FILE": "uploader.key"},
     "CURVE key file missing.key_secret cannot be read"),
])
def test_a_bad_native_config_stops_with_one_line_naming_the_key_and_the_fix(
    tmp_path: Path, config: str, env: dict[str, str], expected: str,
) -> None:
    (tmp_path / "quickcam.toml").write_text(config)
    run = subprocess.run([str(native_detector()), "--config", "quickcam.toml", "--seconds", "1"], cwd=tmp_path,
                         env=_env(**env), capture_output=True, text=True, timeout=30)
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert run.returncode == 2 and len(lines) == 1, run.stderr
    assert expected in lines[0], lines[0]


SUBSET_CONFIG = """
[camera]
id = "porch"
fps = 10
source = "file"
path = "porch.mp4"
[camera.motion]
learning_rate = 0.1
[motion]
pixel_threshold = 30
dark_pixel_threshold = 12
[recording]
segment_s = 1.5
keep_local_copy = true
[link]
heartbeat_s = 1.0
"""
CAMERAS_CONFIG = """
[motion]
trigger_frames = 3
[[cameras]]
id = "door"
source = "stream"
path = "rtsp://192.0.2.10/stream1"
[cameras.motion]
trigger_frames = 1
[[cameras]]
id = "desk"
source = "camera"
index = 1
"""


def _restricted(python: object, native: object) -> object:
    """``python`` with only the keys ``native`` has (the native detector reads a subset)."""
    if isinstance(native, dict) and isinstance(python, dict):
        return {k: _restricted(python.get(k), v) for k, v in native.items()}
    if isinstance(native, list) and isinstance(python, list):
        return [_restricted(p, n) for p, n in zip(python, native, strict=False)]
    return python


@pytest.mark.parametrize(("config", "env"), [
    ("", {}),
    (SUBSET_CONFIG, {"QUICKCAM_CAMERA__WIDTH": "320", "QUICKCAM_RECORDING__PRE_ROLL_S": "1.0",
                     "QUICKCAM_LINK__ACK_TIMEOUT_S": "4"}),
    (CAMERAS_CONFIG, {"QUICKCAM_LOGGING__LEVEL": "DEBUG"}),
], ids=["defaults", "camera-and-overrides", "cameras"])
def test_the_native_detector_reads_its_config_subset_as_common_config_does(
    tmp_path: Path, config: str, env: dict[str, str],
) -> None:
    from quickcam.common.config import load_config

    (tmp_path / "quickcam.toml").write_text(config)
    run = subprocess.run([str(native_detector()), "--config", "quickcam.toml", "--print-config"], cwd=tmp_path,
                         env=_env(**env), capture_output=True, text=True, timeout=30)
    assert run.returncode == 0, run.stderr
    native = json.loads(run.stdout)
    python = load_config(tmp_path / "quickcam.toml", env)
    expected = {
        "cameras": [cam.model_dump(mode="json") for cam in python.camera_list()],
        "recording": python.recording.model_dump(mode="json"),
        "link": python.link.model_dump(mode="json"),
        "logging": python.logging.model_dump(mode="json"),
    }
    assert native == _restricted(expected, native)
