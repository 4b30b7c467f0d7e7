"""The native detector (detector/native) on the same wire, the same vectors and the same config.

Built by scripts/build_native.sh (installed and built in CI by scripts/install_test_tools.sh);
where it cannot be built these tests skip with the build's reason. The reliability scenarios
run against it too: see the ``detector_command`` parameter in tests/test_reliability.py and
tests/test_hostile.py.
"""

from __future__ import annotations

import http.server
import json
import os
import re
import subprocess
import threading
import time
from pathlib import Path

import pytest
import zmq

from quickcam.common import protocol
from quickcam.detector.sources import Walk
from tests.conftest import QUICKCAM, REPO, private_endpoint
from tests.detector.fakes import header
from tests.fakes.h264 import write_h264
from tests.native_build import native_detector
from tests.pipeline import QUICK_DEMO

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
               QUICKCAM_LINK__HEARTBEAT_S="0.5", **QUICK_DEMO)  # the walker from 1 s: the verdicts 3 s sooner
    started = time.monotonic()
    # No --seconds: the detector runs until the check has every verdict (well inside --timeout) and stops it.
    # Over the check's default, an ipc:// socket in a new 0700 folder passed in QUICKCAM_LINK__ENDPOINT (the
    # single-machine transport); CURVE over TCP is in test_hostile.py's wrong-key scenario.
    run = subprocess.run([QUICKCAM, "protocol", "check", "--quiet", "--timeout", "90",
                          "--run", str(native_detector())], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=150)
    took = time.monotonic() - started
    assert run.returncode == 0, run.stdout + run.stderr[-3000:]
    lines = run.stdout.splitlines()
    assert all(line.startswith("PASS") for line in lines[:-1]), run.stdout
    assert lines[-1] == f"{len(lines) - 1}/{len(lines) - 1} checks passed"
    assert took < 60, f"the check should end once every check has a verdict, not at --timeout ({took:.0f} s)"
    assert "logger=quickcam.native" not in run.stderr, "--quiet must not pass the detector's own log through"

    status = json.loads((tmp_path / "outbox" / "detector-status.json").read_text())
    assert {"time", "pid", "running", "cameras", "outbox", "link"} <= set(status)
    assert status["running"] is False and status["link"]["acked"] >= 4
    assert {"state", "fps", "frames", "dropped", "events", "width", "height"} <= set(status["cameras"]["cam0"])
    shown = subprocess.run([QUICKCAM, "status"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=30)
    assert shown.returncode == 0 and "cam0" in shown.stdout, shown.stdout + shown.stderr


def test_the_native_detector_reports_keys_it_does_not_implement_once_and_runs(tmp_path: Path) -> None:
    (tmp_path / "quickcam.toml").write_text(
        '[camera]\nfps = 10\n[camera.zones]\ninclude = []\n[motion]\n'
        'lighting_min_blob_fraction = 0.1\nperson_check = true\n[link]\n'
        '[uploader]\ncredit_messages = 4\n[alerts]\ncooldown_s = 5\n[low_power]\nenabled = false\n')
    run = subprocess.run([str(native_detector()), "--config", "quickcam.toml", "--seconds", "1"], cwd=tmp_path,
                         env=_env(), capture_output=True, text=True, timeout=30)
    assert run.returncode == 0, run.stderr
    log = run.stderr
    assert "unknown key" not in log  # a typo is refused (tests/test_native_config.py)
    assert "lighting_min_blob_fraction" not in log  # unused on both sides since every blob is judged by its shape
    assert log.count("motion.person_check = true: the people check is not implemented") == 1, log
    assert log.count("low_power: the low-power governor is not implemented") == 1, log
    assert "alerts" not in log, "the uploader's alerts are not ours to report"
    assert "uploader" not in log.split("detector: watching")[0], "the uploader's own keys are not ours to report"
    assert "zones" not in log  # empty zones are the default, nothing to report


@pytest.mark.parametrize(("config", "env", "expected"), [
    ("[camera]\nfps = -1\n", {}, "config error: camera.fps: must be in [0.1, 120]; fix it in quickcam.toml"),
    # Refused by the Python detector; the native one warned the key unsupported and ran.
    # Taken, then refused by the uploader on every hello: the footage stayed in the outbox for good.
    ("[camera]\nid = \"..\"\n", {}, "config error: camera.id: must be 1-64 of A-Z a-z 0-9 _ . - and not . or .. "
     "(the uploader refuses those); fix it in quickcam.toml"),
    ("".join(f"[[cameras]]\nid = \"c{i}\"\n" for i in range(65)), {}, "config error: cameras: at most 64 per "
     "detector, 65 given (a hello lists 1 to 64 camera ids); run a second detector for the rest; fix it in"),
    ("", {"QUICKCAM_RECORDING__OUTBOX_BUDGET_MB": "-1"}, "config error: recording.outbox_budget_mb: must be >= 0 "
     "(0: no budget); fix it in environment variable QUICKCAM_RECORDING__OUTBOX_BUDGET_MB"),
    ("", {"QUICKCAM_CAMERA__WIDTH": "wide"},
     "config error: camera.width: must be a number, got wide; fix it in environment variable QUICKCAM_CAMERA__WIDTH"),
    ("[camera\n", {}, "config file quickcam.toml is not valid TOML"),
    ("[camera]\nsource = \"file\"\n", {}, "config error: camera.path: must name the file or stream URL"),
    ("", {"QUICKCAM_LINK__CURVE_SECRET_KEY_FILE": "missing.key_secret",
          "QUICKCAM_LINK__CURVE_SERVER_PUBLIC_KEY_FILE": "uploader.key"},
     "CURVE key file missing.key_secret cannot be read"),
    ("", {"QUICKCAM_LINK__ENDPOINT": "tcp://127.0.0.1:9"},
     "link.endpoint: tcp://127.0.0.1:9 without CURVE lets any program on this machine pose as the uploader or a "
     "detector; remove link.endpoint to use the private socket ipc://link/uploader.sock (one machine), turn CURVE "
     "on (docs/deploy.md, Two machines), or set link.allow_plain_tcp = true to accept the risk"),
    ("[link]\nendpoint = \"ipc://open/uploader.sock\"\n", {},
     "link.endpoint: the socket folder open is open to other users (mode 755), so they could pose as the uploader "
     "or a detector; chmod 700 open"),
    ("", {"QUICKCAM_LINK__ENDPOINT": "ipc://theirs/uploader.sock"},
     "link.endpoint: the socket folder theirs belongs to uid 65534, not to this user"),
    ("", {"QUICKCAM_LINK__ENDPOINT": "ipc://shared/link/uploader.sock"},
     "link.endpoint: the socket folder shared/link sits in a folder every user may write to (without the sticky bit)"),
])
def test_a_bad_native_config_stops_with_one_line_naming_the_key_and_the_fix(
    tmp_path: Path, config: str, env: dict[str, str], expected: str,
) -> None:
    (tmp_path / "quickcam.toml").write_text(config)
    # Socket folders another user could enter, own or swap (docs/protocol.md 10.1).
    (tmp_path / "open").mkdir(mode=0o755)
    (tmp_path / "open").chmod(0o755)
    (tmp_path / "theirs").mkdir(mode=0o700)
    if os.geteuid() == 0:
        os.chown(tmp_path / "theirs", 65534, 65534)
    elif "theirs" in str(env):
        pytest.skip("giving a folder to another user needs root")
    (tmp_path / "shared" / "link").mkdir(mode=0o700, parents=True)
    (tmp_path / "shared").chmod(0o777)
    run = subprocess.run([str(native_detector()), "--config", "quickcam.toml", "--seconds", "1"], cwd=tmp_path,
                         env=_env(**env), capture_output=True, text=True, timeout=30)
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert run.returncode == 2 and len(lines) == 1, run.stderr
    assert expected in lines[0], lines[0]
    assert not (tmp_path / "outbox").exists(), "a refused start creates nothing"


def test_the_native_detector_makes_its_files_private_and_runs_plain_tcp_only_when_allowed(tmp_path: Path) -> None:
    # The caller's umask (022, a shell's) does not matter: folders 0700, files 0600, the socket folder made 0700.
    run = subprocess.run([str(native_detector()), "--seconds", "1"], cwd=tmp_path, env=_env(), capture_output=True,
                         text=True, timeout=30, preexec_fn=lambda: os.umask(0o022))
    assert run.returncode == 0, run.stderr
    assert "(a socket only this user can reach)" in run.stderr
    for path, mode in [("link", 0o700), ("outbox", 0o700), ("outbox/detector-status.json", 0o600)]:
        assert (tmp_path / path).stat().st_mode & 0o777 == mode, path
    assert json.loads((tmp_path / "outbox" / "detector-status.json").read_text())["link"]["endpoint"] == \
        "ipc://link/uploader.sock"

    run = subprocess.run([str(native_detector()), "--seconds", "1"], cwd=tmp_path, capture_output=True, text=True,
                         timeout=30, env=_env(QUICKCAM_LINK__ENDPOINT="tcp://127.0.0.1:9",
                                              QUICKCAM_LINK__ALLOW_PLAIN_TCP="true"))
    assert run.returncode == 0, run.stderr
    assert ('level=warning logger=quickcam.native.link msg="link: connecting to uploader at tcp://127.0.0.1:9 '
            "WITHOUT CURVE (link.allow_plain_tcp = true): any local program can pose as the uploader or a detector"
            ) in run.stderr, run.stderr


def test_a_native_camera_that_never_delivers_a_frame_is_failing_with_its_fault_and_exits_3(tmp_path: Path) -> None:
    (tmp_path / "quickcam.toml").write_text('[camera]\nsource = "file"\npath = "missing.mp4"\n')
    run = subprocess.run([str(native_detector()), "--config", "quickcam.toml", "--seconds", "3"], cwd=tmp_path,
                         env=_env(), capture_output=True, text=True, timeout=30)
    assert run.returncode == 3, run.stderr
    assert run.stderr.count("cannot open missing.mp4 — no such file; check [camera] path") >= 2, run.stderr
    assert "detector: camera cam0 never delivered a frame (cannot open missing.mp4" in run.stderr
    cam = json.loads((tmp_path / "outbox" / "detector-status.json").read_text())["cameras"]["cam0"]
    assert cam["state"] == "failing" and cam["frames"] == 0, cam
    assert re.fullmatch(r"cannot open missing.mp4 — no such file; check \[camera\] path; "
                        r"retrying \(attempt \d+ failed, next in \d+\.\d s\)", cam["fault"]), cam



def _usb_camera_fault(tmp_path: Path, binary: Path) -> dict:
    (tmp_path / "quickcam.toml").write_text('[camera]\nsource = "camera"\nindex = 63\n')
    # 4 s, not 2: the first open loads the USB module (OpenCV's v4l2), over 2 s on a loaded machine (a clean
    # clone's run failed once so; test_camera_permission.py's native case the same)
    run = subprocess.run([str(binary), "--config", "quickcam.toml", "--seconds", "4"], cwd=tmp_path, env=_env(),
                         capture_output=True, text=True, timeout=30)
    assert run.returncode == 3, run.stderr  # never delivered a frame
    assert "Traceback" not in run.stderr and "terminate called" not in run.stderr, run.stderr
    return json.loads((tmp_path / "outbox" / "detector-status.json").read_text())["cameras"]["cam0"]


def test_a_native_usb_camera_opens_through_its_module_and_a_missing_device_is_its_fault(tmp_path: Path) -> None:
    """The V4L2 source lives in quickcam-native-v4l2.so (OpenCV's videoio stays out of the binary's memory)."""
    cam = _usb_camera_fault(tmp_path, native_detector())
    assert cam["state"] == "failing", cam
    assert cam["fault"].startswith("cannot open /dev/video63 (camera index 63) — no such device"), cam


def test_a_native_binary_without_its_usb_module_says_so_in_the_cameras_fault(tmp_path: Path) -> None:
    alone = tmp_path / "bin" / "quickcam-native-detector"
    alone.parent.mkdir()
    alone.write_bytes(native_detector().read_bytes())
    alone.chmod(0o700)
    cam = _usb_camera_fault(tmp_path, alone)
    assert cam["state"] == "failing", cam
    assert cam["fault"].startswith("cannot load the USB camera module ("), cam
    assert "); rebuild with scripts/build_native.sh; retrying (attempt " in cam["fault"], cam


def _serve(folder: Path, once: bool = False) -> http.server.ThreadingHTTPServer:
    """Files of ``folder`` over HTTP on 127.0.0.1 (``once``: the first request only, then 404: a camera gone)."""
    served = threading.Event()

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, directory=str(folder), **kwargs)

        def do_GET(self) -> None:
            if once and served.is_set():
                self.send_error(404)
                return
            served.set()
            super().do_GET()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.mark.realtime  # how often it reopens within its 3 s is counted
def test_a_native_stream_that_ends_is_reopened_with_backoff_and_its_password_never_logged(tmp_path: Path) -> None:
    """A stream served over HTTP on 127.0.0.1 that ends: reopened after 0.5 s, then 1 s, ... (it was at once,
    in a tight loop); the "opened" and "lost" lines name it with the password masked, as Python does."""
    write_h264(tmp_path / "clip.mp4", 1.0, 10.0, 1.0, 160, 120, walks=())
    server = _serve(tmp_path)
    url = f"http://alice:s3cret@127.0.0.1:{server.server_address[1]}/clip.mp4"
    (tmp_path / "quickcam.toml").write_text(f'[camera]\nsource = "stream"\npath = "{url}"\n')
    try:
        run = subprocess.run([str(native_detector()), "--config", "quickcam.toml", "--seconds", "3"], cwd=tmp_path,
                             env=_env(QUICKCAM_LINK__ENDPOINT=private_endpoint(tmp_path)), capture_output=True,
                             text=True, timeout=60)
    finally:
        server.shutdown()
    masked = url.replace("alice:s3cret", "alice:***")
    assert f"camera cam0: opened {masked}" in run.stderr, run.stderr
    assert f"camera cam0: lost (no frame from {masked})" in run.stderr, run.stderr
    assert "s3cret" not in run.stdout + run.stderr
    assert 2 <= run.stderr.count("camera cam0: opened") <= 4, run.stderr  # at 0, 0.5 s, 1.5 s (+ the clip's length)
    assert "camera cam0: went away soon after it opened; reopening in 1 s" in run.stderr, run.stderr


def test_a_native_camera_lost_mid_event_commits_the_event_at_its_last_frame_while_still_lost(tmp_path: Path) -> None:
    """The stream ends while the walker is in view and does not come back: the event's final segment is
    committed at once (it stayed in staging until the camera came back, or for ever)."""
    write_h264(tmp_path / "clip.ts", 3.0, 10.0, 1.0, 160, 120, walks=(Walk(0.5, 6.0),), container="mpegts")
    server = _serve(tmp_path, once=True)
    (tmp_path / "quickcam.toml").write_text(
        f'[camera]\nsource = "stream"\npath = "http://127.0.0.1:{server.server_address[1]}/clip.ts"\n')
    detector = subprocess.Popen([str(native_detector()), "--config", "quickcam.toml", "--seconds", "60"],
                                cwd=tmp_path, env=_env(QUICKCAM_LINK__ENDPOINT=private_endpoint(tmp_path)),
                                stderr=subprocess.PIPE, text=True)
    outbox = tmp_path / "outbox"

    def committed() -> list[dict]:  # the journal's rows, each with its header's "final"
        lines = (outbox / "produced.jsonl").read_text().splitlines() if (outbox / "produced.jsonl").exists() else []
        return [row | {"final": header(outbox, row["id"]).get("final")} for row in map(json.loads, lines)]

    def state() -> str:
        status = outbox / "detector-status.json"
        return json.loads(status.read_text())["cameras"]["cam0"]["state"] if status.exists() else ""

    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (any(row["final"] for row in committed()) and state() == "lost"):
            time.sleep(0.1)
        assert detector.poll() is None  # still running, the camera still gone
        rows = committed()
        segments = [row for row in rows if row["type"] == "segment"]
        assert rows[0]["type"] == "snapshot" and segments and segments[-1]["final"], rows
        assert len({row["event"] for row in rows}) == 1
        assert not list((outbox / ".staging").iterdir())
        assert state() == "lost"
    finally:
        detector.kill()  # (a stop would wait 5 s for an uploader that is not there)
        stderr = detector.communicate(timeout=30)[1]
        server.shutdown()
    assert f"camera cam0 lost during event {rows[0]['event']}; the event is closed at the last frame" in stderr, stderr


def test_the_native_detector_redacts_stream_urls_as_python_does_and_prints_its_config_redacted(
        tmp_path: Path) -> None:
    from tests.detector.test_redacted import URLS

    cameras = "".join(f'[[cameras]]\nid = "c{n}"\nsource = "stream"\npath = "{url}"\n'
                      for n, (url, _) in enumerate(URLS))
    (tmp_path / "quickcam.toml").write_text(cameras)
    run = subprocess.run([str(native_detector()), "--config", "quickcam.toml", "--print-config"], cwd=tmp_path,
                         env=_env(), capture_output=True, text=True, timeout=30)
    assert run.returncode == 0, run.stderr
    printed = [camera["path"] for camera in json.loads(run.stdout)["cameras"]]
    assert printed == [expected for _, expected in URLS]


SUBSET_CONFIG = """
[camera]
id = "porch"
fps = 10
source = "file"
path = "porch.mp4"
detect_path = "porch-sub.mp4"
record = "passthrough"
max_gop_s = 4
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
    ('[camera]\nsource = "demo"\n', {}),  # every default (a file with no setting at all is refused)
    (SUBSET_CONFIG, {"QUICKCAM_CAMERA__WIDTH": "320", "QUICKCAM_RECORDING__PRE_ROLL_S": "1.0",
                     "QUICKCAM_LINK__ACK_TIMEOUT_S": "4", "QUICKCAM_CAMERA__DEMO_START_S": "3",
                     "QUICKCAM_CAMERA__IDLE_KEYFRAMES_ONLY": "true"}),
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
    # printed, so compared: before, --print-config left out the substream and how events are recorded
    printed = {"detect_path", "record", "max_gop_s", "fast_decode", "idle_keyframes_only", "event_keyframes_only"}
    assert all(printed <= camera.keys() for camera in native["cameras"]), native


def _first_message(router: zmq.Socket, timeout_s: float) -> tuple[bytes, protocol.Message] | None:
    """The next message a fake uploader's ROUTER receives within ``timeout_s``: (sender, message)."""
    if not router.poll(int(timeout_s * 1000)):
        return None
    sender, *frames = router.recv_multipart()
    return sender, protocol.decode(frames, accept=protocol.DETECTOR_TYPES)


def test_the_native_detector_says_hello_on_every_new_connection_at_once(tmp_path: Path) -> None:
    # A restarted uploader knows nothing of this detector: a hello at the handshake (docs/protocol.md),
    # not a status at the next heartbeat (10 s here) nor after three silent heartbeats.
    endpoint = private_endpoint(tmp_path)
    Path(endpoint[len("ipc://"):]).parent.mkdir(mode=0o700, exist_ok=True)
    ctx = zmq.Context.instance()
    router = ctx.socket(zmq.ROUTER)
    router.bind(endpoint)
    proc = subprocess.Popen([str(native_detector())], cwd=tmp_path, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True,
                            env=_env(QUICKCAM_LINK__ENDPOINT=endpoint, QUICKCAM_LINK__HEARTBEAT_S="10"))
    try:
        first = _first_message(router, 20)
        assert first and first[1].header["type"] == "hello", first
        assert "probe" not in first[1].header["capabilities"], "the probe capability is quickcam doctor's"
        paused = protocol.make_header("credit", messages=0, bytes=0, reason="test: paused")  # no footage comes
        router.send_multipart([first[0], *protocol.encode(protocol.Message(paused))])
        time.sleep(1)  # connected, paused
        router.close(linger=0)
        router = ctx.socket(zmq.ROUTER)
        router.bind(endpoint)  # "the uploader restarted"
        again = _first_message(router, 30)  # at once; the deadline is for a loaded machine
        assert again and again[1].header["type"] == "hello", again
    finally:
        router.close(linger=0)
        proc.terminate()
        proc.wait(timeout=30)
