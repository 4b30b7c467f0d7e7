"""What the console's request handlers share: the state the detector hands in, and small helpers."""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse

from quickcam.common.config import CameraConfig, ConsoleConfig
from quickcam.detector.console.auth import LoginLimiter, Sessions
from quickcam.detector.console.live_zones import ZoneBoard
from quickcam.detector.console.tap import LiveTap

COOKIE = "quickcam_session"
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


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
    proxies: tuple[Network, ...] = field(init=False)
    streams: int = 0
    stream_lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.sessions = Sessions(self.config.session_s)
        self.limiter = LoginLimiter(self.config.max_failed_logins, self.config.failed_login_window_s)
        self.proxies = tuple(ipaddress.ip_network(p, strict=False) for p in self.config.trusted_proxies)


def _is_proxy(host: str, proxies: Sequence[Network]) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(address in network for network in proxies)


def client_of(request: Request, proxies: Sequence[Network] = ()) -> str:
    """The client's address, as the failed-login limit and the log know it.

    The peer's address, unless the peer is one of ``[console] trusted_proxies``:
    then the last address of X-Forwarded-For that is not a trusted proxy (each
    proxy appends the address it saw, so the ones left of it are the client's
    word only). Without trusted proxies the header is ignored, so a client
    cannot pick its own address to escape the limit.
    """
    peer = request.client.host if request.client else "?"
    if not _is_proxy(peer, proxies):
        return peer
    hops = [hop.strip() for value in request.headers.getlist("x-forwarded-for") for hop in value.split(",")]
    for hop in reversed(hops):
        if not _is_proxy(hop, proxies):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer  # a proxy that passes garbage on: all such clients share the proxy's limit
    return peer


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def user_of(state: ConsoleState, request: Request) -> str | None:
    """The logged-in user of this request, or None."""
    return state.sessions.user(request.cookies.get(COOKIE))


def same_origin(request: Request) -> bool:
    """Refuse a POST another site's page makes the browser send (the cookie is SameSite=Strict too)."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None:  # every current browser sends it
        return fetch_site in ("same-origin", "none")
    origin = request.headers.get("origin")
    if origin is None:  # not a browser, or an old one on a same-origin form post
        return True
    return origin.split("://", 1)[-1] == request.headers.get("host", "")


async def status_doc(state: ConsoleState) -> dict[str, Any]:
    """The detector's status (it looks at the outbox on disk, so not on the event loop)."""
    return await anyio.to_thread.run_sync(state.status)


async def frame_size(state: ConsoleState, cam_id: str) -> tuple[int, int]:
    """The camera's frame size as delivered (the configured one until it has delivered)."""
    info = (await status_doc(state)).get("cameras", {}).get(cam_id, {})
    camera = state.cameras[cam_id]
    return int(info.get("width") or camera.width), int(info.get("height") or camera.height)


def camera_state(info: dict[str, Any]) -> str:
    """The one word the page shows: watching, recording, dark, blind, failing, starting or ended."""
    state = info.get("state", "starting")
    if state in ("starting", "ended"):
        return state
    if state == "degraded" and info.get("view", "ok") != "ok":  # frames come, the picture is useless
        return "blind"
    if state != "ok":  # lost, failed, failing, stalled, degraded: the page shows ``fault`` beside it
        return "failing"
    if info.get("recording"):
        return "recording"
    return "dark" if info.get("dark") else "watching"
