"""The console over real HTTP (uvicorn on 127.0.0.1): auth, MJPEG framing and bounds, zones, bad clients."""

from __future__ import annotations

import base64
import logging
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import httpx2 as httpx
import numpy as np
import pytest

from quickcam.common.config import CameraConfig, ConsoleConfig, load_config
from quickcam.detector.console.auth import set_password
from quickcam.detector.console.hooks import PipelineHooks
from quickcam.detector.console.server import ConsoleError, ConsoleServer, check_exposure
from quickcam.detector.console.tap import LiveTap

PASSWORD = "a long test password"
CONFIG = """\
# Test config: comments must survive saving zones.
[camera]
id = "cam0"  # the only camera
[camera.zones]
exclude = []  # drawn in the console
"""


class Feeder:
    """Offers 1280x720 frames to the tap at ``fps``, like a capture thread, timing every offer."""

    def __init__(self, tap: LiveTap, fps: float = 30.0, noisy: bool = False) -> None:
        self.tap, self.gap, self.noisy = tap, 1 / fps, noisy
        self.stop = threading.Event()
        self.offers = 0
        self.slowest_s = 0.0
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        image = np.zeros((720, 1280, 3), np.uint8)
        if self.noisy:  # large JPEGs, so a viewer that does not read fills the socket buffers fast
            image = np.random.default_rng(1).integers(0, 255, image.shape, np.uint8)
        while not self.stop.wait(self.gap):
            frame = image.copy()
            cv2.putText(frame, str(self.offers), (100, 400), cv2.FONT_HERSHEY_SIMPLEX, 8, (255, 255, 255), 12)
            started = time.perf_counter()
            self.tap.offer("cam0", frame, time.time_ns())
            self.slowest_s = max(self.slowest_s, time.perf_counter() - started)
            self.offers += 1


@dataclass
class Console:
    server: ConsoleServer
    base: str
    feeder: Feeder
    config_path: Path
    hooks: PipelineHooks

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base, timeout=10)

    @contextmanager
    def logged_in(self) -> Iterator[httpx.Client]:
        with self.client() as client:
            answer = client.post("/login", data={"user": "alice", "password": PASSWORD})
            assert answer.status_code == 303, answer.text
            yield client

    def session_cookie(self) -> str:
        with self.logged_in() as client:
            return client.cookies["quickcam_session"]


def start_console(tmp_path: Path, noisy: bool = False, **console: Any) -> Console:
    set_password(tmp_path / "console.passwd", "alice", PASSWORD)
    config_path = tmp_path / "quickcam.toml"
    config_path.write_text(CONFIG)
    console = {"view_width": 320, "view_fps": 5.0, **console}
    cfg = ConsoleConfig(listen="127.0.0.1:0", password_file=tmp_path / "console.passwd", **console)
    hooks = PipelineHooks(tap=LiveTap(cfg.view_width, cfg.view_fps, cfg.view_quality))
    status = {"cameras": {"cam0": {"state": "ok", "width": 1280, "height": 720, "fps": 30.0}},
              "link": {"connected": True}, "outbox": {"items": 0}}
    server = ConsoleServer(cfg, [CameraConfig(id="cam0")], hooks, lambda: status, config_path, tmp_path)
    url = server.start()
    return Console(server, url.split("?")[0].rstrip("/"), Feeder(hooks.tap, noisy=noisy), config_path, hooks)


@pytest.fixture
def console(tmp_path: Path) -> Iterator[Console]:
    running = start_console(tmp_path)
    yield running
    running.feeder.stop.set()
    running.server.stop()


def wait_for(condition: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def mjpeg_parts(data: bytes) -> list[bytes]:
    """The JPEGs of a multipart/x-mixed-replace body, checking each part's framing."""
    parts = []
    while data.startswith(b"--quickcam-frame\r\n"):
        head, sep, rest = data.partition(b"\r\n\r\n")
        if not sep:
            break
        headers = dict(line.split(": ", 1) for line in head.decode().split("\r\n")[1:])
        assert headers["Content-Type"] == "image/jpeg"
        size = int(headers["Content-Length"])
        if len(rest) < size + 2:
            break
        assert rest[size:size + 2] == b"\r\n"
        parts.append(rest[:size])
        data = rest[size + 2:]
    return parts


def test_nothing_is_reachable_without_credentials(console: Console) -> None:
    with console.client() as client:
        for path in ("/api/status", "/api/cameras/cam0/live.mjpeg", "/api/cameras/cam0/snapshot.jpg",
                     "/api/cameras/cam0/zones"):
            answer = client.get(path)
            assert answer.status_code == 401 and "log in" in answer.json()["error"]
        assert client.post("/api/cameras/cam0/zones", json={"exclude": []}).status_code == 401
        assert client.get("/").headers["location"] == "/login"
        answer = client.get("/login")
        assert "script-src 'self'" in answer.headers["content-security-policy"]
        assert answer.headers["x-frame-options"] == "DENY"
        assert client.cookies.get("quickcam_session") is None
    assert "cam0" not in console.hooks.tap.status()  # no viewer ever registered: nothing kept or encoded


def test_api_status_gives_every_camera_its_viewer_counts_before_anyone_watched(console: Console) -> None:
    """docs/console.md: each camera in /api/status has viewers, sent, skipped (an outside client read none)."""
    with console.logged_in() as client:
        camera = client.get("/api/status").json()["cameras"]["cam0"]
    assert (camera["viewers"], camera["sent"], camera["skipped"]) == (0, 0, 0)
    assert camera["console_state"] == "watching" and camera["fps"] == 30.0


def test_bad_tokens_and_wrong_passwords_are_refused_and_logged_and_the_right_ones_let_in(
        console: Console, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    with console.client() as client:
        answer = client.get("/?token=not-the-token")
        assert answer.status_code == 401 and "not valid" in answer.text
        answer = client.post("/login", data={"user": "alice", "password": "wrong password"})
        assert answer.status_code == 401 and "Wrong user name or password" in answer.text
        assert client.get("/api/status").status_code == 401
    assert "failed token login from 127.0.0.1" in caplog.text
    assert "failed login from 127.0.0.1 for user 'alice' (2 of 5" in caplog.text
    assert PASSWORD not in caplog.text
    assert PASSWORD not in caplog.text and "wrong password" not in caplog.text
    with console.client() as client:  # through a reverse proxy the start token is not enough
        answer = client.get(f"/?token={console.server.state.start_token}", headers={"x-forwarded-for": "192.0.2.1"})
        assert answer.status_code == 401
    with console.client() as client:  # the token printed at start (loopback)
        assert client.get(f"/?token={console.server.state.start_token}").status_code == 303
        status = client.get("/api/status").json()
        assert status["cameras"]["cam0"]["console_state"] == "watching" and status["link"]["connected"]
    with console.logged_in() as client:
        assert client.get("/api/status").status_code == 200
        client.post("/logout")
        assert client.get("/api/status").status_code == 401


def test_failed_logins_are_rate_limited_even_with_the_right_password_afterwards(
        console: Console, caplog: pytest.LogCaptureFixture) -> None:
    with console.client() as client:
        for _ in range(5):
            assert client.post("/login", data={"user": "alice", "password": "guess"}).status_code == 401
        answer = client.post("/login", data={"user": "alice", "password": PASSWORD})
        assert answer.status_code == 429 and "Too many failed logins" in answer.text
        assert client.get("/?token=" + console.server.state.start_token).status_code == 429
    assert "refused: too many failed logins" in caplog.text
    assert console.server.status()["refused_logins"] == 2 and console.server.status()["failed_logins"] == 5


def test_sessions_expire(tmp_path: Path) -> None:
    running = start_console(tmp_path, session_s=1.0)
    now = [time.monotonic()]
    running.server.state.sessions.clock = lambda: now[0]  # the sessions' own clock: no race with a slow request
    try:
        with running.logged_in() as client:
            assert client.get("/api/status").status_code == 200
            now[0] += 1.2
            answer = client.get("/api/status")
            assert answer.status_code == 401 and "expired" in answer.json()["error"]
    finally:
        running.feeder.stop.set()
        running.server.stop()


def test_mjpeg_is_framed_and_bounded_in_size_and_rate_and_the_picture_changes(console: Console) -> None:
    with console.logged_in() as client, client.stream("GET", "/api/cameras/cam0/live.mjpeg") as stream:
        assert stream.headers["content-type"] == "multipart/x-mixed-replace; boundary=quickcam-frame"
        data, started = b"", time.monotonic()
        for chunk in stream.iter_bytes():  # 2 s at least, and 4 whole frames (a loaded machine is slower)
            data += chunk
            elapsed = time.monotonic() - started
            if elapsed > 2.0 and (data.count(b"--quickcam-frame") >= 5 or elapsed > 30):
                break
        elapsed = time.monotonic() - started
    parts = mjpeg_parts(data)
    assert len(parts) >= 3, "the live view should deliver frames"
    assert len(parts) <= 5.0 * elapsed + 2, f"{len(parts)} frames in {elapsed:.1f} s is above view_fps = 5"
    images = [cv2.imdecode(np.frombuffer(p, np.uint8), cv2.IMREAD_COLOR) for p in parts]
    assert all(image.shape == (180, 320, 3) for image in images)  # 1280x720 shrunk to view_width = 320
    assert not np.array_equal(images[0], images[-1])


def test_a_snapshot_is_one_fresh_jpeg_and_no_frame_is_kept_when_nobody_watches(console: Console) -> None:
    with console.logged_in() as client:
        answer = client.get("/api/cameras/cam0/snapshot.jpg")
        assert answer.status_code == 200 and answer.headers["content-type"] == "image/jpeg"
        assert cv2.imdecode(np.frombuffer(answer.content, np.uint8), cv2.IMREAD_COLOR).shape[1] == 320
        assert client.get("/api/cameras/nope/snapshot.jpg").status_code == 404
    tap = console.hooks.tap
    assert tap.viewers("cam0") == 0
    sent = tap.status()["cam0"]["sent"]
    time.sleep(0.5)
    assert tap._slots["cam0"].image is None and tap.status()["cam0"]["sent"] == sent


def test_a_browser_leaving_mid_stream_ends_its_viewer_with_one_log_line(
        console: Console, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    cookie = console.session_cookie()
    port = int(console.base.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(f"GET /api/cameras/cam0/live.mjpeg HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     f"Cookie: quickcam_session={cookie}\r\n\r\n".encode())
        received = b""
        while received.count(b"--quickcam-frame") < 2:
            received += sock.recv(65536)
        assert console.hooks.tap.viewers("cam0") == 1
    wait_for(lambda: console.hooks.tap.viewers("cam0") == 0)
    wait_for(lambda: "127.0.0.1 stopped watching camera cam0 after" in caplog.text)


def _watch(console: Console) -> tuple[bytes, float]:
    """Watch cam0 as a browser does for 2.5 s and 4 whole frames at least; (the stream, capture's offers/s)."""
    offers_before, started = console.feeder.offers, time.monotonic()
    with console.logged_in() as client, client.stream("GET", "/api/cameras/cam0/live.mjpeg") as stream:
        data = b""
        for chunk in stream.iter_bytes():
            data += chunk
            elapsed = time.monotonic() - started
            if elapsed > 2.5 and (data.count(b"--quickcam-frame") >= 5 or elapsed > 30):
                break
    return data, (console.feeder.offers - offers_before) / (time.monotonic() - started)


@pytest.mark.realtime  # capture's rate on the wall clock, with and without a stuck viewer
def test_a_stuck_viewer_never_slows_capture_and_others_still_get_frames(tmp_path: Path) -> None:
    console = start_console(tmp_path, noisy=True, view_width=1280, view_quality=95)
    cookie = console.session_cookie()
    port = int(console.base.rsplit(":", 1)[1])
    stuck = socket.socket()
    try:
        # The same viewer first without the stuck one: how fast this machine captures right now (a loaded
        # CI machine may not keep 30 fps with or without viewers; a stuck viewer must not make it slower).
        _, alone = _watch(console)
        wait_for(lambda: console.hooks.tap.viewers("cam0") == 0)
        stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stuck.connect(("127.0.0.1", port))
        stuck.sendall(f"GET /api/cameras/cam0/live.mjpeg HTTP/1.1\r\nHost: x\r\nCookie: quickcam_session={cookie}"
                      "\r\n\r\n".encode())  # and never reads
        wait_for(lambda: console.hooks.tap.viewers("cam0") == 1)
        data, beside_stuck = _watch(console)
        assert len(mjpeg_parts(data)) >= 4, "a stuck viewer must not starve the others"
        assert beside_stuck >= 0.6 * alone, f"capture slowed from {alone:.1f} to {beside_stuck:.1f} frames/s"
        assert console.feeder.slowest_s < 0.25  # an offer never waits for a viewer (a stuck one would block it)
        wait_for(lambda: console.hooks.tap.status()["cam0"]["skipped"] > 3)  # the stuck one's, counted
    finally:
        stuck.close()
        console.feeder.stop.set()
        console.server.stop()


def test_zones_saved_from_the_console_are_validated_written_with_comments_kept_and_applied(
        console: Console) -> None:
    square = [[0.1, 0.1], [0.5, 0.1], [0.5, 0.5], [0.1, 0.5]]
    with console.logged_in() as client:
        zones = client.get("/api/cameras/cam0/zones").json()
        assert zones == {"include": [], "exclude": [], "mask": None, "mask_url": None, "width": 1280,
                         "height": 720, "editable": True}
        answer = client.post("/api/cameras/cam0/zones", json={"exclude": [[[0.1, 0.1], [0.2, 0.2]]]})
        assert answer.status_code == 400
        assert answer.json()["error"] == "exclude polygon 1 needs at least 3 points (got 2)"
        answer = client.post("/api/cameras/cam0/zones", content=b"{not json",
                             headers={"content-type": "application/json"})
        assert answer.status_code == 400 and "valid JSON" in answer.json()["error"]
        answer = client.post("/api/cameras/cam0/zones", json={"exclude": [square]},
                             headers={"origin": "http://evil.example"})
        assert answer.status_code == 403
        assert console.config_path.read_text() == CONFIG
        assert console.hooks.zones.current("cam0") is None

        answer = client.post("/api/cameras/cam0/zones", json={"exclude": [square]})
        assert answer.status_code == 200 and "applied" in answer.json()["message"]
        assert client.get("/api/cameras/cam0/zones").json()["exclude"] == [square]
    text = console.config_path.read_text()
    assert "# Test config" in text and "# the only camera" in text and "# drawn in the console" in text
    assert load_config(console.config_path, {}).camera.zones.exclude == [[tuple(p) for p in square]]
    version, applied, _ = console.hooks.zones.current("cam0")
    assert version == 1 and applied.exclude == [[tuple(p) for p in square]]


def test_an_unwritable_config_file_is_one_clear_error_and_nothing_is_applied(console: Console) -> None:
    (console.config_path.parent / "quickcam.toml.part").mkdir()
    with console.logged_in() as client:
        answer = client.post("/api/cameras/cam0/zones", json={"exclude": [[[0.1, 0.1], [0.5, 0.1], [0.5, 0.5]]]})
    assert answer.status_code == 500
    assert answer.json()["error"].startswith(f"cannot write the config file {console.config_path}")
    assert console.hooks.zones.current("cam0") is None and console.config_path.read_text() == CONFIG


def test_off_loopback_the_console_needs_a_password_and_tls_or_a_declared_proxy(tmp_path: Path) -> None:
    passwords = tmp_path / "console.passwd"
    with pytest.raises(ConsoleError, match="a password is required .*quickcam console-password"):
        check_exposure(ConsoleConfig(listen="0.0.0.0:8765", password_file=passwords))
    set_password(passwords, "alice", PASSWORD)
    with pytest.raises(ConsoleError, match="set tls_cert and tls_key, or put a TLS reverse proxy"):
        check_exposure(ConsoleConfig(listen="0.0.0.0:8765", password_file=passwords))
    assert check_exposure(ConsoleConfig(listen="0.0.0.0:8765", password_file=passwords,
                                        allow_plain_http=True)) is False
    assert check_exposure(ConsoleConfig(listen="[::1]:8765", password_file=tmp_path / "none")) is True


def test_a_busy_port_is_one_clear_error(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        server = ConsoleServer(ConsoleConfig(listen=f"127.0.0.1:{port}"), [CameraConfig(id="cam0")],
                               PipelineHooks(), lambda: {}, None, tmp_path)
        with pytest.raises(ConsoleError, match=f"cannot listen on 127.0.0.1:{port} .*choose another"):
            server.start()


def test_with_a_certificate_the_console_serves_https_and_the_cookie_is_secure(tmp_path: Path) -> None:
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    cert.private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "console.pem"))
    running = start_console(tmp_path, tls_cert=tmp_path / "console.pem", tls_key=tmp_path / "console.pem")
    try:
        assert running.base.startswith("https://127.0.0.1:")
        verify = ssl.create_default_context()
        ca.configure_trust(verify)
        with httpx.Client(base_url=running.base, verify=verify) as client:
            answer = client.post("/login", data={"user": "alice", "password": PASSWORD})
            assert answer.status_code == 303
            assert "secure" in answer.headers["set-cookie"].lower()
            assert client.get("/api/status").status_code == 200
        with pytest.raises(httpx.RemoteProtocolError):
            httpx.get(running.base.replace("https", "http") + "/login")
    finally:
        running.feeder.stop.set()
        running.server.stop()


def test_a_painted_mask_is_saved_as_png_beside_the_config_and_applied(console: Console) -> None:
    mask = np.full((720, 1280), 255, np.uint8)
    mask[:, :640] = 0  # ignore the left half
    png = base64.b64encode(cv2.imencode(".png", mask)[1].tobytes()).decode()
    with console.logged_in() as client:
        answer = client.post("/api/cameras/cam0/zones", json={"mask": "data:image/png;base64,AAAA"})
        assert answer.status_code == 400 and "not a PNG or JPEG" in answer.json()["error"]
        answer = client.post("/api/cameras/cam0/zones", json={"mask": f"data:image/png;base64,{png}"})
        assert answer.status_code == 200, answer.text
    saved = console.config_path.parent / "cam0-zone-mask.png"
    assert saved.stat().st_mode & 0o777 == 0o600
    assert load_config(console.config_path, {}).camera.zones.mask == saved
    _, zones, image = console.hooks.zones.current("cam0")
    assert zones.mask == saved and image is not None and image[:, :640].max() == 0
    with console.logged_in() as client:  # the editor paints on top of the saved mask
        assert client.get("/api/cameras/cam0/zones").json()["mask_url"] == "/api/cameras/cam0/zones/mask.png"
        served = client.get("/api/cameras/cam0/zones/mask.png")
        assert served.headers["content-type"] == "image/png"
        assert np.array_equal(cv2.imdecode(np.frombuffer(served.content, np.uint8), cv2.IMREAD_GRAYSCALE), mask)


def test_doctor_says_whether_the_console_would_start(tmp_path: Path) -> None:
    from quickcam.common.config import Config
    from quickcam.detector.doctor import check_console

    passwords = tmp_path / "console.passwd"
    result = check_console(Config(console=ConsoleConfig(listen="0.0.0.0:8765", password_file=passwords)))
    assert not result.ok and "quickcam console-password" in result.fix
    assert check_console(Config(console=ConsoleConfig(listen="127.0.0.1:8765"))).ok


def test_a_damaged_password_file_is_one_clear_error_not_a_traceback(
        console: Console, caplog: pytest.LogCaptureFixture) -> None:
    console.server.state.password_file.write_text("alice:not-a-hash\n")
    with console.client() as client:
        answer = client.post("/login", data={"user": "alice", "password": PASSWORD})
    assert answer.status_code == 500 and "password file cannot be read" in answer.text
    assert "line 1 is not user:scrypt$...; set the password again with quickcam console-password" in caplog.text
    assert "Traceback" not in caplog.text


@pytest.mark.parametrize(("info", "word"), [
    ({"state": "ok"}, "watching"), ({"state": "ok", "recording": True}, "recording"),
    ({"state": "ok", "dark": True}, "dark"), ({"state": "lost"}, "failing"), ({"state": "stalled"}, "failing"),
    ({"state": "degraded"}, "failing"), ({"state": "starting"}, "starting"), ({}, "starting"),
    ({"state": "degraded", "view": "blocked"}, "blind"), ({"state": "degraded", "view": "ok"}, "failing"),
])
def test_each_camera_state_is_one_word_on_the_page(info: dict, word: str) -> None:
    from quickcam.detector.console.state import camera_state

    assert camera_state(info) == word
