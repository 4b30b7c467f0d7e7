"""Who may look: a one-run token (as Jupyter prints), an optional password, session cookies.

The token is drawn fresh at every start and printed once in the URL to open; it and
the password are only ever compared in constant time. A password is stored in
tokens.env as ``VIEW_PASSWORD_HASH`` (scrypt, made by ``quickcam view --hash-password``),
never in clear. A successful login gets a random session id in an ``HttpOnly``,
``SameSite=Strict`` cookie, so no other site can make the browser send it: the only
state-changing request, the login form, also checks that it came from this origin.
Every response carries a Content-Security-Policy that allows nothing but this origin's
own images, video and style sheet (the pages have no script at all) and ``no-store``,
so no decrypted image or video lands in the browser's disk cache either.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import secrets
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

log = logging.getLogger(__name__)

PASSWORD_ENV = "VIEW_PASSWORD_HASH"
COOKIE = "quickcam_view"
# scrypt with n=2**15, r=8, p=1: 32 MiB and ~0.1 s per guess (OWASP's 2023 minimum is 2**17 for r=8
# at 128 MiB; this is the most a small box serving one person should spend per login).
_SCRYPT = {"n": 2**15, "r": 8, "p": 1}
_MAXMEM = 64 * 1024 * 1024

CSP = ("default-src 'none'; img-src 'self'; media-src 'self'; style-src 'self'; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"cache-control", b"no-store"),
]


class PasswordHashError(ValueError):
    """``VIEW_PASSWORD_HASH`` is not a hash this module wrote."""


def hash_password(password: str, salt: bytes | None = None) -> str:
    """``scrypt$n$r$p$salt$hash`` (base64): what goes into tokens.env."""
    salt = secrets.token_bytes(16) if salt is None else salt
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, dklen=32, maxmem=_MAXMEM, **_SCRYPT)
    b64 = base64.urlsafe_b64encode
    return f"scrypt${_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches ``stored`` (constant-time comparison)."""
    try:
        scheme, n, r, p, salt, digest = stored.strip().split("$")
        if scheme != "scrypt":
            raise ValueError(scheme)
        expected = base64.urlsafe_b64decode(digest)
        got = hashlib.scrypt(password.encode("utf-8"), salt=base64.urlsafe_b64decode(salt),
                             n=int(n), r=int(r), p=int(p), dklen=len(expected), maxmem=_MAXMEM)
    except (ValueError, TypeError) as exc:
        raise PasswordHashError(f"{PASSWORD_ENV} is not a hash from `quickcam view --hash-password` "
                                f"({type(exc).__name__}); make a new one with that command") from None
    return hmac.compare_digest(got, expected)


class Gate:
    """The token, the optional password hash, and the sessions they opened (memory only)."""

    def __init__(self, password_hash: str | None = None, token: str | None = None) -> None:
        self.token = token or secrets.token_urlsafe(32)
        self.password_hash = password_hash
        if password_hash:
            verify_password("", password_hash)  # a malformed hash fails at start-up, not at login
        self._sessions: set[str] = set()
        self._lock = threading.Lock()
        self.failed_logins = 0

    def token_ok(self, candidate: str) -> bool:
        return bool(candidate) and hmac.compare_digest(candidate.encode(), self.token.encode())

    def password_ok(self, candidate: str) -> bool:
        return bool(self.password_hash and candidate) and verify_password(candidate, self.password_hash or "")

    def open_session(self) -> str:
        sid = secrets.token_urlsafe(32)
        with self._lock:
            self._sessions.add(sid)
        return sid

    def session_ok(self, sid: str | None) -> bool:
        if not sid:
            return False
        with self._lock:
            return any(hmac.compare_digest(sid.encode(), known.encode()) for known in self._sessions)

    def note_failure(self, what: str) -> None:
        """Count and log a refused login (never the value that was tried)."""
        with self._lock:
            self.failed_logins += 1
            count = self.failed_logins
        log.warning("refused a login with a wrong %s (%d refused since start)", what, count)


def cookie_header(sid: str) -> str:
    return f"{COOKIE}={sid}; HttpOnly; SameSite=Strict; Path=/"


Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]


class SecurityHeaders:
    """ASGI middleware: add :data:`SECURITY_HEADERS` to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                names = {name for name, _ in SECURITY_HEADERS}
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                message["headers"] = headers + SECURITY_HEADERS
            await send(message)

        await self.app(scope, receive, send_with_headers)


def same_origin(request: Request) -> bool:
    """A login POST must come from this origin: Sec-Fetch-Site, else Origin, must say so."""
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site in ("same-origin", "none")
    origin = request.headers.get("origin")
    if origin is None:
        return True  # not a browser (curl, tests): no cookie of a victim rides along
    return origin == f"{request.url.scheme}://{request.headers.get('host', '')}"


class RequireLogin:
    """ASGI middleware: a valid session cookie, or ``?token=`` (which opens one), or go to /login."""

    OPEN = ("/login", "/static/style.css")

    def __init__(self, app: Callable[..., Any], gate: Gate) -> None:
        self.app = app
        self.gate = gate

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] in self.OPEN:
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        token = request.query_params.get("token")
        if token is not None:
            if self.gate.token_ok(token):
                rest = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
                target = scope["path"] + ("?" + urlencode(rest) if rest else "")
                response: Response = RedirectResponse(target, status_code=303,
                                                      headers={"set-cookie": cookie_header(self.gate.open_session())})
            else:
                self.gate.note_failure("token in the URL")
                await asyncio.sleep(1.0)
                response = PlainTextResponse("wrong token: open the URL quickcam view printed", status_code=403)
        elif self.gate.session_ok(request.cookies.get(COOKIE)):
            await self.app(scope, receive, send)
            return
        elif request.method == "GET" and not scope["path"].endswith((".mp4", ".jpg", ".zip")):
            response = RedirectResponse("/login", status_code=303)
        else:
            response = PlainTextResponse("log in first", status_code=401)
        await response(scope, receive, send)
