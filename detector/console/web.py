"""The console's HTTP side (Starlette): login and the page here; camera views and the zone editor beside.

URLs (every one but /login and the static files needs a session; docs/console.md):

    GET  /login, POST /login         the login form (user + password; or ?token= on loopback)
    POST /logout
    GET  /                           the page: cameras, their state, link and outbox
    GET  /api/status                 the same as JSON                        (live_routes.py)
    GET  /api/cameras/{id}/live.mjpeg   JPEGs, <= view_width px, <= view_fps  (live_routes.py)
    GET  /api/cameras/{id}/snapshot.jpg the next frame as one JPEG            (live_routes.py)
    GET  /api/cameras/{id}/zones, .../zones/mask.png, POST .../zones         (zone_routes.py)

Every response carries a strict Content-Security-Policy (scripts and styles
only from this server, no inline code), no caching, no framing.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Awaitable, Callable
from importlib.resources import files
from typing import Any
from urllib.parse import parse_qs

import anyio.to_thread
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from quickcam.detector.console import live_routes, zone_routes
from quickcam.detector.console.auth import AuthError, read_password_file, same_token, verify_password
from quickcam.detector.console.state import COOKIE, ConsoleState, client_of, error, same_origin, user_of

log = logging.getLogger(__name__)

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
SECURITY_HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
                    "Referrer-Policy": "same-origin", "X-Frame-Options": "DENY", "Cache-Control": "no-store"}
STATIC = {"console.js": "text/javascript", "console.css": "text/css"}

Handler = Callable[[ConsoleState, Request], Awaitable[Response]]


def _page(name: str, **values: str) -> str:
    text = files("quickcam.detector.console").joinpath("static", name).read_text(encoding="utf-8")
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", html.escape(value))
    return text


def create_app(state: ConsoleState) -> SecurityHeaders:
    """The console's ASGI application."""

    def login_page(message: str = "", status: int = 200) -> Response:
        hint = "" if not state.loopback else "Or open the link with the token printed when the detector started."
        return Response(_page("login.html", message=message, hint=hint), status, media_type="text/html")

    def logged_in(request: Request, user: str) -> Response:
        state.limiter.succeeded(client_of(request, state.proxies))
        log.info("console: %s logged in from %s", user, client_of(request, state.proxies))
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(COOKIE, state.sessions.open(user), max_age=int(state.config.session_s), httponly=True,
                            samesite="strict", secure=state.tls, path="/")
        return response

    def refused(request: Request, what: str) -> Response | None:
        """None if this client may try; else the 429 answer (also logged)."""
        wait = state.limiter.wait_s(client_of(request, state.proxies))
        if not wait:
            return None
        log.warning("console: %s from %s refused: too many failed logins; next try in %.0f s", what,
                    client_of(request, state.proxies), wait)
        return login_page(f"Too many failed logins from your address; try again in {wait:.0f} s.", 429)

    def failed(request: Request, what: str, user: str = "") -> Response:
        client = client_of(request, state.proxies)
        count = state.limiter.failed(client)
        log.warning("console: failed %s from %s%s (%d of %d allowed within %.0f s)", what, client,
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
        if not same_origin(request):
            return error(403, "cross-site request refused")
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
        if user_of(state, request) is None:
            return RedirectResponse("/login", status_code=303)
        return Response(_page("index.html"), media_type="text/html")

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in STATIC:
            return Response("not found", 404)
        return Response(_page(name), media_type=STATIC[name])

    def guarded(handler: Handler, needs_camera: bool = False) -> Callable[[Request], Awaitable[Response]]:
        async def wrapper(request: Request) -> Response:
            if user_of(state, request) is None:
                return error(401, "log in first (your session may have expired)")
            if needs_camera and request.path_params["camera"] not in state.cameras:
                return error(404, f"no camera {request.path_params['camera']!r}; cameras: "
                                  f"{', '.join(state.cameras)}")
            return await handler(state, request)
        return wrapper

    routes = [
        Route("/", index),
        Route("/login", login_form, methods=["GET"]),
        Route("/login", login_post, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/static/{name}", static),
        Route("/api/status", guarded(live_routes.api_status)),
        Route("/api/cameras/{camera}/live.mjpeg", guarded(live_routes.live, True)),
        Route("/api/cameras/{camera}/snapshot.jpg", guarded(live_routes.snapshot, True)),
        Route("/api/cameras/{camera}/zones", guarded(zone_routes.zones_get, True), methods=["GET"]),
        Route("/api/cameras/{camera}/zones/mask.png", guarded(zone_routes.zones_mask, True)),
        Route("/api/cameras/{camera}/zones", guarded(zone_routes.zones_post, True), methods=["POST"]),
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
