"""The console's HTTP side (Starlette): login, the camera list, live view, snapshot, zone editor.

URLs (every one but /login and the static files needs a session):

    GET  /login, POST /login         the login form (user + password; or ?token= on loopback)
    POST /logout
    GET  /                           the page: cameras, their state, link and outbox
    GET  /api/status                 the same as JSON
    GET  /api/cameras/{id}/live.mjpeg   multipart/x-mixed-replace JPEGs, <= view_width px, <= view_fps
    GET  /api/cameras/{id}/snapshot.jpg the next frame as one JPEG
    GET  /api/cameras/{id}/zones     the camera's zones (fractions of the frame)
    POST /api/cameras/{id}/zones     save: validate, write the config file, apply without restart

Every response carries a strict Content-Security-Policy (scripts and styles
only from this server, no inline code), no caching, no framing, no referrer.
"""

from __future__ import annotations

import base64
import html
import json
import logging
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import anyio.to_thread
import cv2
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from quickcam.common.config import CameraConfig, ConsoleConfig
from quickcam.detector.console.auth import (
    AuthError,
    LoginLimiter,
    Sessions,
    read_password_file,
    same_token,
    verify_password,
)
from quickcam.detector.console.live_zones import ZoneBoard
from quickcam.detector.console.tap import LiveTap
from quickcam.detector.console.zone_file import (
    ZoneInputError,
    ZoneSaveError,
    decode_mask,
    mask_path_for,
    parse_zones,
    save_zones,
)
from quickcam.detector.zones import ZoneError, load_mask_image

log = logging.getLogger(__name__)

COOKIE = "quickcam_session"
BOUNDARY = "quickcam-frame"
MAX_VIEWERS = 8  # live streams at once, all cameras together: each holds a worker thread
FRAME_WAIT_S = 0.5  # a streaming worker re-checks for a disconnected browser this often
SNAPSHOT_WAIT_S = 3.0
MAX_BODY = 6 << 20
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
SECURITY_HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
                    "Referrer-Policy": "same-origin", "X-Frame-Options": "DENY", "Cache-Control": "no-store"}
STATIC = {"console.js": "text/javascript", "console.css": "text/css"}


@dataclass
class ConsoleState:
    """Everything the console's handlers read or change, handed in by the detector."""

    config: ConsoleConfig
    cameras: dict[str, CameraConfig]
    tap: LiveTap
    zones: ZoneBoard
    status: Callable[[], dict[str, Any]]  # the detector's status document (status_file's collect)
    config_path: Path | None  # the file the zone editor writes; None: started without --config
    loopback: bool
    start_token: str = ""
    tls: bool = False
    password_file: Path = Path("console.passwd")
    sessions: Sessions = field(init=False)
    limiter: LoginLimiter = field(init=False)
    streams: int = 0
    stream_lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.sessions = Sessions(self.config.session_s)
        self.limiter = LoginLimiter(self.config.max_failed_logins, self.config.failed_login_window_s)


def _page(name: str, **values: str) -> str:
    text = files("quickcam.detector.console").joinpath("static", name).read_text(encoding="utf-8")
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", html.escape(value))
    return text


def _client(request: Request) -> str:
    return request.client.host if request.client else "?"


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def camera_state(info: dict[str, Any]) -> str:
    """The one word the page shows: watching, recording, dark, failing, starting or ended."""
    state = info.get("state", "starting")
    if state in ("starting", "ended"):
        return state
    if state != "ok":  # lost, failed, failing, stalled, degraded: the page shows ``fault`` beside it
        return "failing"
    if info.get("recording"):
        return "recording"
    return "dark" if info.get("dark") else "watching"


def create_app(state: ConsoleState) -> SecurityHeaders:
    """The console's ASGI application."""

    def user_of(request: Request) -> str | None:
        return state.sessions.user(request.cookies.get(COOKIE))

    def login_page(message: str = "", status: int = 200) -> Response:
        hint = "" if not state.loopback else "Or open the link with the token printed when the detector started."
        return Response(_page("login.html", message=message, hint=hint), status, media_type="text/html")

    def logged_in(request: Request, user: str) -> Response:
        state.limiter.succeeded(_client(request))
        log.info("console: %s logged in from %s", user, _client(request))
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(COOKIE, state.sessions.open(user), max_age=int(state.config.session_s), httponly=True,
                            samesite="strict", secure=state.tls, path="/")
        return response

    def refused(request: Request, what: str) -> Response | None:
        """None if this client may try; else the 429 answer (also logged)."""
        wait = state.limiter.wait_s(_client(request))
        if not wait:
            return None
        log.warning("console: %s from %s refused: too many failed logins; next try in %.0f s", what,
                    _client(request), wait)
        return login_page(f"Too many failed logins from your address; try again in {wait:.0f} s.", 429)

    def failed(request: Request, what: str, user: str = "") -> Response:
        count = state.limiter.failed(_client(request))
        log.warning("console: failed %s from %s%s (%d of %d allowed within %.0f s)", what, _client(request),
                    f" for user {user!r}" if user else "", count, state.config.max_failed_logins,
                    state.config.failed_login_window_s)
        return login_page("Wrong user name or password." if what == "login" else "That token is not valid.", 401)

    async def login_form(request: Request) -> Response:
        token = request.query_params.get("token")
        if token is None:
            return login_page()
        if too_many := refused(request, "token login"):
            return too_many
        proxied = "forwarded" in request.headers or "x-forwarded-for" in request.headers
        if state.loopback and not proxied and same_token(token, state.start_token):  # a proxy: password only
            return logged_in(request, "token")
        return failed(request, "token login")

    async def login_post(request: Request) -> Response:
        if not _same_origin(request):
            return _error(403, "cross-site request refused")
        if too_many := refused(request, "login"):
            return too_many
        body = await request.body()
        if len(body) > 4096:
            return login_page("The form is too large.", 413)
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        user, password = form.get("user", ""), form.get("password", "")
        try:
            users = await anyio.to_thread.run_sync(read_password_file, state.password_file)
        except AuthError as exc:
            log.error("console: %s", exc)
            return login_page("The console's password file cannot be read; the detector's log says why.", 500)
        encoded = users.get(user, "scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAA")  # same cost for unknown users
        ok = await anyio.to_thread.run_sync(verify_password, password, encoded)
        if ok and user in users:
            return logged_in(request, user)
        return failed(request, "login", user)

    async def logout(request: Request) -> Response:
        state.sessions.close(request.cookies.get(COOKIE))
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE, path="/")
        return response

    async def index(request: Request) -> Response:
        if request.query_params.get("token") is not None:
            return await login_form(request)  # the link printed at start: /?token=...
        if user_of(request) is None:
            return RedirectResponse("/login", status_code=303)
        return Response(_page("index.html"), media_type="text/html")

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in STATIC:
            return Response("not found", 404)
        return Response(_page(name), media_type=STATIC[name])

    async def api_status(request: Request) -> Response:
        doc = await anyio.to_thread.run_sync(state.status)
        viewers = state.tap.status()
        cameras = {}
        for cam_id in state.cameras:
            info = doc.get("cameras", {}).get(cam_id, {})
            cameras[cam_id] = {**info, "console_state": camera_state(info), **viewers.get(cam_id, {})}
        return JSONResponse({"cameras": cameras, "link": doc.get("link", {}), "outbox": doc.get("outbox", {}),
                             "low_power": doc.get("low_power", {}), "user": user_of(request),
                             "zones_editable": state.config_path is not None})

    async def frame_size(cam_id: str) -> tuple[int, int]:
        doc = await anyio.to_thread.run_sync(state.status)  # it looks at the outbox on disk: not on the loop
        info = doc.get("cameras", {}).get(cam_id, {})
        camera = state.cameras[cam_id]
        return int(info.get("width") or camera.width), int(info.get("height") or camera.height)

    async def live(request: Request) -> Response:
        cam_id = request.path_params["camera"]
        with state.stream_lock:
            if state.streams >= MAX_VIEWERS:
                return _error(503, f"already {MAX_VIEWERS} live views open; close one and reload")
            state.streams += 1

        async def parts() -> AsyncIterator[bytes]:
            client = _client(request)
            viewer_frames = 0
            try:
                with state.tap.watch(cam_id) as viewer:
                    log.info("console: %s watches camera %s live", client, cam_id)
                    try:
                        while True:
                            jpeg = await anyio.to_thread.run_sync(viewer.next_jpeg, FRAME_WAIT_S)
                            if jpeg is None:
                                if await request.is_disconnected():
                                    break
                                continue
                            viewer_frames += 1
                            yield (f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n"
                                   .encode() + jpeg + b"\r\n")
                    finally:
                        log.info("console: %s stopped watching camera %s after %d frame(s), %d skipped "
                                 "because it was slower than the camera", client, cam_id, viewer_frames,
                                 viewer.skipped)
            finally:
                with state.stream_lock:
                    state.streams -= 1

        return StreamingResponse(parts(), media_type=f"multipart/x-mixed-replace; boundary={BOUNDARY}")

    async def snapshot(request: Request) -> Response:
        cam_id = request.path_params["camera"]

        def one_frame() -> bytes | None:
            with state.tap.watch(cam_id) as viewer:
                return viewer.next_jpeg(SNAPSHOT_WAIT_S)

        jpeg = await anyio.to_thread.run_sync(one_frame)
        if jpeg is None:
            doc = await anyio.to_thread.run_sync(state.status)
            info = doc.get("cameras", {}).get(cam_id, {})
            return _error(503, f"camera {cam_id} delivered no frame within {SNAPSHOT_WAIT_S:.0f} s "
                               f"(state: {camera_state(info)})")
        return Response(jpeg, media_type="image/jpeg")

    async def zones_get(request: Request) -> Response:
        cam_id = request.path_params["camera"]
        current = state.zones.current(cam_id)
        zones = current[1] if current else state.cameras[cam_id].zones
        width, height = await frame_size(cam_id)
        return JSONResponse({"include": zones.include, "exclude": zones.exclude,
                             "mask": str(zones.mask) if zones.mask else None, "width": width, "height": height,
                             "mask_url": f"/api/cameras/{cam_id}/zones/mask.png" if zones.mask else None,
                             "editable": state.config_path is not None})

    async def zones_mask(request: Request) -> Response:
        """The camera's mask image, so the editor paints on top of it instead of starting over."""
        cam_id = request.path_params["camera"]
        current = state.zones.current(cam_id)
        zones, image = (current[1], current[2]) if current else (state.cameras[cam_id].zones, None)
        if zones.mask is None:
            return _error(404, f"camera {cam_id} has no mask image")
        try:
            if image is None:
                image = await anyio.to_thread.run_sync(load_mask_image, zones.mask)
        except ZoneError as exc:
            return _error(404, str(exc))
        ok, png = cv2.imencode(".png", image)
        if not ok:
            return _error(500, f"the mask of camera {cam_id} cannot be encoded as PNG")
        return Response(png.tobytes(), media_type="image/png")

    async def zones_post(request: Request) -> Response:
        cam_id = request.path_params["camera"]
        if not _same_origin(request) or request.headers.get("content-type", "").split(";")[0] != "application/json":
            return _error(403, "zones are saved by the console page (JSON, same origin)")
        if state.config_path is None:
            return _error(409, "the detector was started without --config, so there is no file to save zones in; "
                               "restart it with --config FILE")
        body = await request.body()
        if len(body) > MAX_BODY:
            return _error(413, f"the zones are larger than {MAX_BODY >> 20} MB")
        try:
            data = json.loads(body)
            if not isinstance(data, dict):
                raise ZoneInputError("zones must be a JSON object")
            mask_image, mask_path = None, None
            painted = data.get("mask")
            if painted is not None:
                if not isinstance(painted, str) or not painted.startswith("data:image/png;base64,"):
                    raise ZoneInputError("mask must be a PNG data URL (data:image/png;base64,...) or null")
                mask_image = decode_mask(base64.b64decode(painted.split(",", 1)[1], validate=True))
                mask_path = mask_path_for(state.config_path, cam_id)
            zones = parse_zones(data, *(await frame_size(cam_id)), mask_path, mask_image)
            await anyio.to_thread.run_sync(save_zones, state.config_path, cam_id, zones, mask_image)
        except (json.JSONDecodeError, UnicodeDecodeError, ValueError) as exc:
            message = str(exc) if isinstance(exc, ZoneInputError) else f"zones must be valid JSON ({exc})"
            log.warning("console: zones for camera %s refused: %s", cam_id, message)
            return _error(400, message)
        except ZoneSaveError as exc:
            log.error("console: %s", exc)
            return _error(500, str(exc))
        state.zones.replace(cam_id, zones, mask_image)
        log.info("console: %s saved zones for camera %s (%d include, %d exclude%s) in %s; applied now",
                 user_of(request), cam_id, len(zones.include), len(zones.exclude),
                 ", painted mask" if mask_image is not None else "", state.config_path)
        return JSONResponse({"saved": True, "message": f"zones of {cam_id} saved in {state.config_path} and "
                                                       "applied"})

    def guarded(handler: Callable[[Request], Any], needs_camera: bool = False) -> Callable[[Request], Any]:
        async def wrapper(request: Request) -> Response:
            if user_of(request) is None:
                return _error(401, "log in first (your session may have expired)")
            if needs_camera and request.path_params["camera"] not in state.cameras:
                return _error(404, f"no camera {request.path_params['camera']!r}; cameras: "
                                   f"{', '.join(state.cameras)}")
            return await handler(request)
        return wrapper

    routes = [
        Route("/", index),
        Route("/login", login_form, methods=["GET"]),
        Route("/login", login_post, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/static/{name}", static),
        Route("/api/status", guarded(api_status)),
        Route("/api/cameras/{camera}/live.mjpeg", guarded(live, True)),
        Route("/api/cameras/{camera}/snapshot.jpg", guarded(snapshot, True)),
        Route("/api/cameras/{camera}/zones", guarded(zones_get, True), methods=["GET"]),
        Route("/api/cameras/{camera}/zones/mask.png", guarded(zones_mask, True)),
        Route("/api/cameras/{camera}/zones", guarded(zones_post, True), methods=["POST"]),
    ]
    return SecurityHeaders(Starlette(routes=routes))


class SecurityHeaders:
    """ASGI wrapper adding SECURITY_HEADERS to every response (streams included, untouched otherwise)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.extra = [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                names = {k for k, _ in self.extra}
                message["headers"] = [h for h in message.get("headers", []) if h[0] not in names] + self.extra
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _same_origin(request: Request) -> bool:
    """Refuse a POST another site's page makes the browser send (the cookie is SameSite=Strict too)."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None:  # every current browser sends it
        return fetch_site in ("same-origin", "none")
    origin = request.headers.get("origin")
    if origin is None:  # not a browser, or an old one on a same-origin form post
        return True
    return origin.split("://", 1)[-1] == request.headers.get("host", "")
