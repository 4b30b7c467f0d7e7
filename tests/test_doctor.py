"""``quickcam doctor`` against a working setup and a broken one, and its runner's rules."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from quickcam.common import doctor, protocol
from quickcam.common.config import CameraConfig, load_config
from quickcam.common.cryptofile import SymmetricKey
from quickcam.common.curve import write_keypair
from quickcam.common.doctor import Check, Result
from quickcam.detector import status_file
from quickcam.detector.doctor import (
    camera_in_use,
    check_camera,
    check_uploader_link,
    describe_source,
    running_detector,
)
from tests.conftest import QUICKCAM, free_port
from tests.fakes.uploader_peer import UploaderPeer

ANSI = "\x1b["


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("QUICKCAM_") and k not in ("ENCRYPTION_KEY", "ENCRYPTION_RECIPIENT")}
    env.pop("NO_COLOR", None)
    return env


def _setup(root: Path, port: int, key: SymmetricKey | None, storage: str = "storage") -> Path:
    env_file = root / "tokens.env"
    env_file.write_text(f"ENCRYPTION_KEY={key.to_hex()}\n" if key else "DROPBOX_APP_KEY=unrelated\n")
    env_file.chmod(0o600)
    config = root / "quickcam.toml"
    config.write_text(f"""
[camera]
source = "demo"
[link]
endpoint = "tcp://127.0.0.1:{port}"
allow_plain_tcp = true
heartbeat_s = 0.5
[storage.local]
path = "{storage}"
""")
    return config


def _doctor(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([QUICKCAM, "doctor", "--config", "quickcam.toml", *args], cwd=root, env=_env(),
                          capture_output=True, text=True, timeout=60)


def _lines(run: subprocess.CompletedProcess[str]) -> dict[str, str]:
    """Report lines by check name ("camera cam0", "storage local", ...)."""
    found = {}
    for line in run.stdout.splitlines():
        if line[:6] in (" ok   ", "FAIL  "):
            name = line[6:].split(":", 1)[0]
            found[name] = line
    return found


def _wait_until_listening(root: Path, proc: subprocess.Popen) -> None:
    """Until the uploader writes its status file (it listens by then)."""
    deadline = time.monotonic() + 60
    while not (root / "state" / "status.json").exists():
        assert proc.poll() is None, "the uploader exited at start-up"
        assert time.monotonic() < deadline, "the uploader did not start"
        time.sleep(0.1)


@pytest.fixture
def running_uploader(tmp_path: Path, key: SymmetricKey) -> Iterator[Path]:
    _setup(tmp_path, free_port(), key)
    proc = subprocess.Popen([QUICKCAM, "uploader", "--config", "quickcam.toml"], cwd=tmp_path, env=_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_until_listening(tmp_path, proc)
        yield tmp_path
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_doctor_passes_a_working_setup_line_by_line_without_showing_the_key(
    running_uploader: Path, key: SymmetricKey,
) -> None:
    run = _doctor(running_uploader)
    assert run.returncode == 0, run.stdout + run.stderr
    lines = _lines(run)
    assert {"config", "tokens.env", "camera cam0", "outbox disk", "uploader link", "encryption key",
            "storage local", "spool disk"} <= set(lines)
    assert all(line.startswith(" ok ") for line in lines.values())
    assert "answered in" in lines["uploader link"]
    assert key.key_id in lines["encryption key"]
    assert key.to_hex() not in run.stdout + run.stderr
    assert ANSI not in run.stdout  # not a terminal: no colour
    assert (running_uploader / "storage" / "webcam_captures" / ".quickcam-doctor").is_file()
    assert run.stdout.rstrip().endswith("checks passed")


@pytest.mark.realtime  # a wall-clock bound
def test_doctor_names_every_fault_of_a_broken_setup_with_its_fix(tmp_path: Path) -> None:
    (tmp_path / "not-a-folder").write_text("a file where the storage folder should be")
    _setup(tmp_path, free_port(), key=None, storage="not-a-folder/storage")
    (tmp_path / "tokens.env").chmod(0o644)
    started = time.monotonic()
    # Time for the checks that pass on a loaded machine (at 2 s the camera check once gave no answer); the
    # uploader link check does not wait it out: its port refuses the connection, and that is the answer.
    run = _doctor(tmp_path, "--timeout", "8")
    assert run.returncode == 1, run.stdout + run.stderr
    assert time.monotonic() - started < 20
    lines = _lines(run)
    assert lines["tokens.env"].startswith("FAIL") and "fix: chmod 600" in lines["tokens.env"]
    assert lines["encryption key"].startswith("FAIL") and "quickcam keygen" in lines["encryption key"]
    assert lines["uploader link"].startswith("FAIL") and "start the uploader" in lines["uploader link"]
    assert "nothing listens at tcp://127.0.0.1:" in lines["uploader link"]  # said at once, not after 6.4 s
    assert lines["storage local"].startswith("FAIL") and "[storage.local]" in lines["storage local"]
    # the cause first, the where after it, as status and the log's lines (it was "test upload to <remote> failed:
    # local storage <path>: Not a directory")
    assert lines["storage local"].startswith("FAIL  storage local: test upload failed: Not a directory (local "
                                             "storage "), lines["storage local"]
    assert lines["camera cam0"].startswith(" ok ")  # what works still says so
    assert all("; fix: " in line for line in lines.values() if line.startswith("FAIL"))
    assert "4 of" in run.stdout.splitlines()[-1]


def test_doctor_only_detector_skips_the_uploader_side(tmp_path: Path) -> None:
    _setup(tmp_path, free_port(), key=None)
    run = _doctor(tmp_path, "--only", "detector", "--timeout", "1")
    lines = _lines(run)
    assert "camera cam0" in lines and "encryption key" not in lines and "storage local" not in lines
    assert run.returncode == 1  # no uploader is listening
    assert list(lines) == ["config", "tokens.env", "private files", "camera cam0", "outbox disk", "uploader link"]


def test_doctor_turns_a_bad_config_into_one_red_line(tmp_path: Path) -> None:
    (tmp_path / "quickcam.toml").write_text("[camera]\nfps = -1\n")
    run = _doctor(tmp_path)
    assert run.returncode == 1
    assert run.stdout.startswith("FAIL  config: config error: camera.fps")


def test_a_malformed_key_is_red_without_being_echoed(tmp_path: Path) -> None:
    _setup(tmp_path, free_port(), key=None)
    secretish = "c0ffee" * 5
    (tmp_path / "tokens.env").write_text(f"ENCRYPTION_KEY={secretish}\n")
    run = _doctor(tmp_path, "--only", "uploader")
    assert _lines(run)["encryption key"].startswith("FAIL")
    assert "64 hex characters" in run.stdout
    assert secretish not in run.stdout + run.stderr


# -- the detector's checks, in process ----------------------------------------------


SAMPLE_VIDEO = Path(__file__).parent / "data" / "vtest.avi"


@pytest.mark.skipif(not SAMPLE_VIDEO.is_file(),
                    reason="tests/data/vtest.avi missing: scripts/install_test_tools.sh extracts it from opencv-doc")
def test_camera_check_reads_frames_from_a_video_file() -> None:
    good = check_camera(CameraConfig(source="file", path=str(SAMPLE_VIDEO), realtime=False))
    assert good.ok and "delivered 5 frame(s)" in good.detail


def test_camera_check_fails_on_a_missing_video_file_naming_the_key() -> None:
    missing = check_camera(CameraConfig(source="file", path="/nonexistent/clip.mp4"))
    assert not missing.ok and "camera.path" in missing.fix


def test_a_camera_held_by_a_running_detector_is_reported_from_its_status_not_reopened(tmp_path: Path) -> None:
    config = load_config(None, {"QUICKCAM_RECORDING__OUTBOX_DIR": str(tmp_path)})
    cam = config.camera_list()[0]
    path = status_file.status_path(tmp_path)
    assert running_detector(config) == {}

    def running(state: str, age_s: float = 1.0, still_running: bool = True) -> dict:
        doc = status_file.build_status({cam.id: {"state": state, "fps": 14.9, "dark": False}}, (0, 0), 0, {},
                                       still_running, now=time.time() - age_s)
        path.write_text(json.dumps(doc))
        return running_detector(config)

    good = camera_in_use(cam, running("ok"))
    assert good is not None and good.ok and "in use by the running detector" in good.detail
    lost = camera_in_use(cam, running("lost"))
    assert lost is not None and not lost.ok and "'lost'" in lost.detail
    assert running("ok", age_s=60) == {} and running("ok", still_running=False) == {}
    assert camera_in_use(cam, {}) is None  # nobody holds it: doctor opens it itself


def test_a_stream_password_never_appears_in_the_report() -> None:
    cam = CameraConfig(source="stream", path="rtsp://admin:hunter2@192.168.1.9:554/live")
    assert describe_source(cam) == "stream rtsp://admin:***@192.168.1.9:554/live"


class _FakeUploader(UploaderPeer):
    """A ROUTER on 127.0.0.1 answering each hello with one prepared reply."""

    def __init__(self, reply: dict) -> None:
        self.reply = reply
        super().__init__(f"tcp://127.0.0.1:{free_port()}")

    def answer(self, peer: bytes, message: protocol.Message) -> dict | None:
        assert message.type == "hello"
        return self.reply


@pytest.mark.parametrize(("reply", "ok", "words"), [
    (protocol.make_header("credit", messages=16, bytes=1 << 20), True, "credit 16 message(s)"),
    (protocol.make_header("credit", messages=0, bytes=0, reason="spool full"), False, "takes no footage now"),
    (protocol.make_nack("", "not_allowed", "camera cam0 is not yours"), False, "refused the hello"),
])
def test_uploader_link_check_reads_the_uploaders_answer(reply: dict, ok: bool, words: str) -> None:
    fake = _FakeUploader(reply)
    try:
        config = load_config(None, {"QUICKCAM_LINK__ENDPOINT": fake.endpoint,
                                    "QUICKCAM_LINK__ALLOW_PLAIN_TCP": "true"})
        result = check_uploader_link(config, wait_s=5)
    finally:
        fake.close()
    assert result.ok is ok and words in result.detail


def test_uploader_link_check_speaks_curve_and_names_a_key_the_uploader_refuses(
    tmp_path: Path, key: SymmetricKey,
) -> None:
    curve = tmp_path / "curve"
    (curve / "allow").mkdir(parents=True)
    write_keypair(curve / "uploader")
    write_keypair(curve / "garage")
    write_keypair(curve / "stranger")
    (curve / "allow" / "garage.key").write_bytes((curve / "garage.key").read_bytes())
    (curve / "allow" / "allow.toml").write_text('[detectors.garage]\ncameras = ["cam0"]\n')
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    (tmp_path / "tokens.env").write_text(f"ENCRYPTION_KEY={key.to_hex()}\n")
    env = {**_env(), "QUICKCAM_LINK__ENDPOINT": endpoint,
           "QUICKCAM_LINK__CURVE_SECRET_KEY_FILE": str(curve / "uploader.key_secret"),
           "QUICKCAM_LINK__CURVE_ALLOW_DIR": str(curve / "allow")}
    proc = subprocess.Popen([QUICKCAM, "uploader"], cwd=tmp_path, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_until_listening(tmp_path, proc)  # a loaded machine may take longer to start it than a check waits

        def detector(name: str) -> Result:
            config = load_config(None, {
                "QUICKCAM_LINK__ENDPOINT": endpoint,
                "QUICKCAM_LINK__CURVE_SECRET_KEY_FILE": str(curve / f"{name}.key_secret"),
                "QUICKCAM_LINK__CURVE_SERVER_PUBLIC_KEY_FILE": str(curve / "uploader.key")})
            return check_uploader_link(config, wait_s=10)

        allowed = detector("garage")
        assert allowed.ok and "(with CURVE)" in allowed.detail, allowed
        refused = detector("stranger")
        assert not refused.ok and "refused this detector's CURVE key" in refused.detail
        assert "curve_allow_dir" in refused.fix
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_uploader_link_check_explains_an_endpoint_a_detector_cannot_dial() -> None:
    config = load_config(None, {"QUICKCAM_LINK__ENDPOINT": "tcp://*:5557", "QUICKCAM_LINK__ALLOW_PLAIN_TCP": "true"})
    result = check_uploader_link(config, wait_s=1)
    assert not result.ok and "link.endpoint must name the uploader's address" in result.fix


# -- the runner -------------------------------------------------------------------------


@pytest.mark.realtime  # a wall-clock bound
def test_runner_turns_a_hung_or_crashing_check_into_a_red_line_and_keeps_order() -> None:
    release = threading.Event()

    def crash() -> Result:
        raise RuntimeError("boom")

    checks = [
        Check("hangs", lambda: (release.wait(10), doctor.ok("hangs", "late"))[1], fix_on_timeout="unplug it"),
        Check("crashes", crash),
        Check("fine", lambda: doctor.ok("fine", "yes")),
    ]
    started = time.monotonic()
    results = list(doctor.run_checks(checks, timeout_s=0.5))
    release.set()
    assert time.monotonic() - started < 3
    assert [r.name for r in results] == ["hangs", "crashes", "fine"]
    assert [r.ok for r in results] == [False, False, True]
    assert results[0].fix == "unplug it" and "no answer within 0.5 s" in results[0].detail
    assert "RuntimeError: boom" in results[1].detail


def test_colour_only_on_a_terminal_and_never_with_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    good, bad = doctor.ok("a", "fine"), doctor.red("b", "broken", "mend it")
    assert ANSI in doctor.format_result(good, color=True)
    assert doctor.format_result(bad, color=False) == "FAIL  b: broken; fix: mend it"

    class Tty:
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    assert doctor.use_color(Tty()) is True
    monkeypatch.setenv("NO_COLOR", "1")
    assert doctor.use_color(Tty()) is False


def test_env_file_check_accepts_owner_only_and_flags_group_or_world_access(tmp_path: Path) -> None:
    env_file = tmp_path / "tokens.env"
    assert doctor.check_env_file(env_file).ok  # absent: secrets from the environment
    env_file.write_text("ENCRYPTION_KEY=x\n")
    env_file.chmod(0o600)
    assert doctor.check_env_file(env_file).ok
    env_file.chmod(0o640)
    result = doctor.check_env_file(env_file)
    assert not result.ok and "mode 640" in result.detail


def test_free_space_check_goes_red_below_the_minimum_and_on_a_file(tmp_path: Path) -> None:
    assert doctor.free_space_result("outbox disk", tmp_path / "not" / "yet", "recording.outbox_dir").ok
    assert not doctor.free_space_result("outbox disk", tmp_path, "x", minimum=1 << 62).ok
    (tmp_path / "file").write_text("")
    assert not doctor.free_space_result("outbox disk", tmp_path / "file" / "outbox", "x").ok


def test_checks_are_found_through_the_entry_point_group() -> None:
    names = [name for name, _ in doctor.providers()]
    assert names == ["detector", "uploader"]
