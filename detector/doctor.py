"""The detector's preflight checks for ``quickcam doctor`` (entry point group ``quickcam.checks``).

Each camera opens and delivers frames; the outbox has room; the uploader
answers a ``hello`` with ``credit`` over the configured endpoint -- the same
round trip the detector makes at start-up, spoken through
``quickcam.common.protocol``, so it proves the address, the port, the firewall
and the CURVE keys at once.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import cv2
import zmq
from zmq.utils.monitor import recv_monitor_message

from quickcam.common import endpoint as link_endpoint
from quickcam.common import protocol
from quickcam.common.config import CameraConfig, Config, ConfigError, FacesConfig
from quickcam.common.curve import client_keys
from quickcam.common.doctor import Check, DoctorContext, Result, free_space_result, ok, red
from quickcam.common.health import liveness
from quickcam.detector import status_file
from quickcam.detector.cli import quiet_native_logs
from quickcam.detector.faces import FaceModelError, load_face_detector
from quickcam.detector.pipeline.capture import redacted
from quickcam.detector.sources import EndOfSource, make_source

log = logging.getLogger(__name__)

DOCTOR_NAME = "quickcam-doctor"
FRAMES_WANTED = 5
FRAME_WAIT_S = 5.0  # a camera that opened may take a moment before its first frame
HELLO_EVERY_S = 0.5

UPLOADER_FIX = ("start the uploader (quickcam uploader, or: systemctl start quickcam-uploader) and check that "
                "link.endpoint names its machine and port on both sides and that no firewall blocks the port")


def checks(context: DoctorContext) -> list[Check]:
    config = context.config
    if not log.isEnabledFor(logging.DEBUG):  # OpenCV's and FFmpeg's own lines would break the one-line report
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
        quiet_native_logs()  # FFmpeg reads its level when OpenCV first opens a stream: still ahead
    running = running_detector(config)
    found = [Check(f"camera {cam.id}", lambda cam=cam: camera_in_use(cam, running) or check_camera(cam),
                   fix_on_timeout=_camera_fix(cam))
             for cam in config.camera_list()]
    found += face_checks(config)
    found.append(Check("outbox disk", lambda: free_space_result("outbox disk", config.recording.outbox_dir,
                                                                "recording.outbox_dir")))
    wait_s = max(0.5, context.timeout_s * 0.8)  # answer before the runner's own deadline, with a better message
    found.append(Check("uploader link", lambda: check_uploader_link(config, wait_s), fix_on_timeout=UPLOADER_FIX))
    if config.console.listen:
        found.append(Check("console", lambda: check_console(config)))
    return found


def face_checks(config: Config) -> list[Check]:
    """One check per distinct [faces] setting that names a model file or a detector (the defaults need none).

    A top-level [faces] is copied into every camera: said once, named after the cameras that use it.
    """
    users: dict[FacesConfig, list[str]] = {}
    for cam in config.camera_list():
        faces = cam.faces
        if faces.enabled and (faces.detector != "auto" or faces.cascade or faces.yunet_model):
            users.setdefault(faces, []).append(cam.id)
    named = {faces: f"faces {', '.join(cams)}" for faces, cams in users.items()}
    return [Check(name, lambda faces=faces, name=name: check_faces(faces, name)) for faces, name in named.items()]


def check_faces(faces: FacesConfig, name: str) -> Result:
    """The configured face model loads (the detector would turn faces off, with a warning, if it did not)."""
    try:
        detector = load_face_detector(faces)
    except FaceModelError as exc:
        problem, _, fix = str(exc).partition("; ")
        return red(name, problem, fix or "fix [faces] in the config")
    return ok(name, f"{detector.name if detector else 'off'}")


def check_console(config: Config) -> Result:
    """The console would start: a password and TLS when it is reachable from other machines."""
    from quickcam.detector.console.server import ConsoleError, check_exposure

    try:
        loopback = check_exposure(config.console)
    except ConsoleError as exc:
        problem, _, fix = str(exc).partition("; ")
        return red("console", problem.removeprefix("console: "), fix)
    how = "token link printed at start, or password" if loopback else "password over TLS"
    return ok("console", f"{config.console.listen} ({how})")


def running_detector(config: Config, now: float | None = None) -> dict[str, Any]:
    """The status of a detector running on this machine right now, or {}."""
    path = status_file.status_path(config.recording.outbox_dir)
    try:
        status = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    now = time.time() if now is None else now
    return status if liveness(status, now)[0] else {}  # the health check's rule: one owner of "running"


def camera_in_use(cam: CameraConfig, running: dict[str, Any]) -> Result | None:
    """A running detector holds the camera (many allow one reader): report what it sees instead."""
    info = running.get("cameras", {}).get(cam.id)
    if info is None:
        return None
    name = f"camera {cam.id}"
    pid = running.get("pid", "?")
    state = info.get("state", "?")
    if state in ("ok", "dark") or info.get("dark"):
        dark = ", dark mode" if info.get("dark") or state == "dark" else ""
        return ok(name, f"{describe_source(cam)} is in use by the running detector (pid {pid}): "
                        f"{state} at {float(info.get('fps', 0)):.1f} fps{dark}")
    if state == "starting":
        return red(name, f"the running detector (pid {pid}) is still opening {describe_source(cam)}",
                   "run quickcam doctor again in a few seconds")
    fault = f" ({info['fault']})" if info.get("fault") else ""
    if state == "degraded":  # the camera works; its recording does not (a full disk)
        return red(name, f"the running detector (pid {pid}) reports {describe_source(cam)}{fault}",
                   "free space on the outbox's disk; full recording resumes by itself within 2 s")
    return red(name, f"the running detector (pid {pid}) reports {describe_source(cam)} as {state!r}{fault}",
               _camera_fix(cam) + "; the detector reopens it by itself once it is back")


def describe_source(cam: CameraConfig) -> str:
    """The source in words, with any password in a stream URL hidden."""
    if cam.source == "demo":
        return "the demo scene"
    if cam.source == "camera":
        return f"USB camera {cam.path or cam.index}"
    if cam.source == "file":
        return f"video file {cam.path}"
    return f"stream {redacted(cam.path)}"


def _camera_fix(cam: CameraConfig) -> str:
    if cam.source == "camera":
        return (f"check that camera {cam.path or cam.index} is plugged in (Linux: ls /dev/video*), not in use by "
                "another program, and that this user may use it (Linux: the video group); or change camera.index "
                "(or camera.path)")
    if cam.source == "file":
        return "set camera.path to a readable video file"
    if cam.source == "stream":
        return ("check the URL, user and password in camera.path and that the camera answers from this machine "
                "(try: ffplay URL)")
    return "reinstall quickcam; the demo scene needs only OpenCV"


def check_camera(cam: CameraConfig, frames_wanted: int = FRAMES_WANTED, frame_wait_s: float = FRAME_WAIT_S) -> Result:
    """Open the camera as the detector would and read a few frames from it."""
    name = f"camera {cam.id}"
    what = describe_source(cam)
    source = make_source(cam)
    started = time.monotonic()
    try:
        if not source.open():
            why = getattr(source, "open_error", "")  # a USB camera says what is wrong and the fix: "...; fix"
            problem, _, fix = why.partition("; ")
            return red(name, problem or f"cannot open {what}", fix or _camera_fix(cam))
        got, image = 0, None
        deadline = time.monotonic() + frame_wait_s
        while got < frames_wanted and time.monotonic() < deadline:
            try:
                frame = source.read()
            except EndOfSource:
                break
            if frame is None:
                time.sleep(0.05)
                continue
            got, image = got + 1, frame.bgr()
        if image is None:
            return red(name, f"{what} opened but delivered no frame in {frame_wait_s:g} s", _camera_fix(cam))
    finally:
        source.close()
    height, width = image.shape[:2]
    brightness = float(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).mean())
    dark = " (dark: the detector will use dark mode)" if brightness < cam.motion.dark_threshold else ""
    return ok(name, f"{what} delivered {got} frame(s) of {width}x{height} in {time.monotonic() - started:.1f} s; "
                    f"brightness {brightness:.0f}{dark}")


def _package_version() -> str:
    try:
        return version("quickcam")
    except PackageNotFoundError:
        return "0"


def check_uploader_link(config: Config, wait_s: float) -> Result:
    """Send ``hello`` to the uploader and wait for its ``credit``: the detector's first round trip."""
    name = "uploader link"
    link = config.link
    try:
        curve = client_keys(link)
    except ConfigError as exc:
        return red(name, str(exc), "see docs/protocol.md, Security; keys come from quickcam curve-keygen NAME")
    try:
        link_endpoint.check_plain_tcp(link, curve=curve is not None)
        link_endpoint.private_folder(link.endpoint)
    except ConfigError as exc:
        return red(name, str(exc), "docs/deploy.md, The link on one machine")
    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.IPV6, 1)  # as the detector's link
    if curve is not None:
        sock.curve_secretkey = curve.secret
        sock.curve_publickey = curve.public
        sock.curve_serverkey = curve.server
    # A refused connection (ZeroMQ's next try scheduled before any was made) means nothing listens there now:
    # said at once, not after the whole wait that a silent address (a firewall, a frozen uploader) needs.
    monitor = sock.get_monitor_socket(zmq.EVENT_HANDSHAKE_FAILED_AUTH | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
                                      | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL | zmq.EVENT_CONNECT_RETRIED
                                      | zmq.EVENT_CONNECTED)
    secure = ("with CURVE" if curve is not None else "private socket" if link.endpoint.startswith("ipc://")
              else "without CURVE")
    try:
        try:
            sock.connect(link.endpoint)
        except zmq.ZMQError as exc:
            return red(name, f"cannot connect to {link.endpoint}: {exc}",
                       "on the detector, link.endpoint must name the uploader's address, e.g. tcp://192.168.1.20:5557")
        cameras = [cam.id for cam in config.camera_list()]
        hello = protocol.make_header("hello", detector=DOCTOR_NAME, detector_version=_package_version(),
                                     cameras=cameras, capabilities=["credit", "probe"])
        poller = zmq.Poller()
        poller.register(sock, zmq.POLLIN)
        poller.register(monitor, zmq.POLLIN)
        started = time.monotonic()
        deadline, next_hello = started + wait_s, 0.0
        connected = False
        while (now := time.monotonic()) < deadline:
            if now >= next_hello:
                # Never blocking: a refused CURVE handshake drops the connection, and a DEALER without one
                # would wait in send for ever (the doctor hung); the monitor below says why, or the next try goes.
                with contextlib.suppress(zmq.Again):
                    sock.send_multipart(protocol.encode(protocol.Message(hello)), flags=zmq.NOBLOCK)
                next_hello = now + HELLO_EVERY_S
            ready = dict(poller.poll(int(min(deadline, next_hello) * 1000 - now * 1000) + 1))
            if monitor in ready:
                event = recv_monitor_message(monitor)
                if event["event"] == zmq.EVENT_CONNECTED:
                    connected = True
                    continue
                if event["event"] == zmq.EVENT_CONNECT_RETRIED:
                    if connected:  # it was there and dropped us: what it said, or its silence, decides below
                        continue
                    return red(name, f"nothing listens at {link.endpoint} (the connection was refused)", UPLOADER_FIX)
                if event["event"] == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
                    return red(name, f"the uploader at {link.endpoint} refused this detector's CURVE key",
                               "copy this detector's NAME.key into the uploader's link.curve_allow_dir and list "
                               "its cameras in allow.toml there")
                if event["event"] == zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL:
                    continue  # a handshake that timed out: reported below as no answer
                return red(name, f"the handshake with {link.endpoint} ({secure}) failed",
                           "check link.curve_server_public_key_file is the uploader's NAME.key and that both "
                           "sides have CURVE on" if curve is not None else "check that both sides have CURVE off")
            if sock in ready:
                result = _answer(sock.recv_multipart(), link.endpoint, time.monotonic() - started, secure)
                if result is not None:
                    return result
        return red(name, f"no answer from {link.endpoint} ({secure}) within {wait_s:g} s", UPLOADER_FIX)
    finally:
        sock.disable_monitor()
        monitor.close(linger=0)
        sock.close(linger=0)
        ctx.term()


def _answer(frames: list[bytes], endpoint: str, took_s: float, secure: str) -> Result | None:
    name = "uploader link"
    try:
        message = protocol.decode(frames)
    except protocol.ProtocolError as exc:
        return red(name, f"{endpoint} answered with something that breaks the protocol ({exc})",
                   "check that link.endpoint is the uploader's port and that both sides run the same quickcam")
    header = message.header
    if message.type == "credit":
        if header["messages"] == 0:
            return red(name, f"the uploader at {endpoint} answers but takes no footage now: "
                             f"{header.get('reason', 'no reason given')}",
                       "free disk space for the uploader's spool, or let its backlog upload (quickcam status)")
        return ok(name, f"the uploader at {endpoint} answered in {took_s * 1000:.0f} ms ({secure}); "
                        f"credit {header['messages']} message(s)")
    if message.type == "nack":
        return red(name, f"the uploader at {endpoint} refused the hello: {header['code']}: {header['text']}",
                   "allow this detector's cameras for its key in the uploader's allow.toml")
    return None  # an ack for someone else's message cannot come here; keep waiting
