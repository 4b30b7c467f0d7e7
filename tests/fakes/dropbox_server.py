"""A fake of the Dropbox API (api and content hosts) over TLS on 127.0.0.1.

Two listeners share one state, as Dropbox's two hosts do: the API host serves
``/oauth2/token`` (refresh and authorization-code grants, PKCE checked) and
``/2/files/get_metadata`` and ``/2/files/list_folder{,/continue}`` (paged by
``limit``); the content host serves ``/2/files/upload``,
``/2/files/upload_session/{start,append_v2,finish}`` and ``/2/files/download``. A route on the wrong host
is a 400, as on the real service.

It behaves as Dropbox documents: bearer access tokens that expire; in ``add``
mode an existing file with identical content is not a conflict (nothing is
written, its metadata comes back) while different content is a 409
``path/conflict/file``; ``content_hash`` is checked for every chunk; session
offsets must match. Errors use Dropbox's JSON shapes so the real SDK parses
them into its own exception types.

Faults (``fake.faults.inject(...)``) beyond those of ``httpfake``:
``expire_token`` (every access token expires now; the request gets the 401
``expired_access_token``) and ``conflict`` (a 409 ``path/conflict/file`` even for
identical content, as a stricter server might answer).

The SDK reads DROPBOX_API_HOST / DROPBOX_API_CONTENT_HOST when it is imported,
so it runs in a child process started with ``sdk_environment()``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import ssl
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from tests.fakes.httpfake import FakeHandler, FaultPlan, LoopbackServer, status

BLOCK = 4 * 1024 * 1024
CONTENT_ROUTES = {
    "files/upload",
    "files/upload_session/start",
    "files/upload_session/append_v2",
    "files/upload_session/finish",
    "files/download",
}
API_ROUTES = {"files/get_metadata", "files/list_folder", "files/list_folder/continue"}


def content_hash(data: bytes) -> str:
    """Dropbox's content hash, written out independently of the code under test."""
    blocks = b"".join(
        hashlib.sha256(data[i : i + BLOCK]).digest() for i in range(0, len(data), BLOCK)
    )
    return hashlib.sha256(blocks).hexdigest()


@dataclass
class StoredFile:
    path_display: str
    data: bytes
    rev: str
    modified: str

    def metadata(self) -> dict[str, Any]:
        return {
            ".tag": "file",
            "name": self.path_display.rsplit("/", 1)[-1],
            "id": "id:" + hashlib.sha1(self.path_display.lower().encode()).hexdigest()[:22],
            "client_modified": self.modified,
            "server_modified": self.modified,
            "rev": self.rev,
            "size": len(self.data),
            "path_lower": self.path_display.lower(),
            "path_display": self.path_display,
            "content_hash": content_hash(self.data),
            "is_downloadable": True,
        }


@dataclass
class Download:
    """A files/download answer: metadata in the Dropbox-API-Result header, the bytes as the body."""

    metadata: dict[str, Any]
    data: bytes


@dataclass
class _Session:
    data: bytearray = field(default_factory=bytearray)
    closed: bool = False


class DropboxApiError(Exception):
    """An error answer: HTTP status and Dropbox's JSON body."""

    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(status, body)
        self.status = status
        self.body = body
        self.headers = headers or {}


def _route_error(summary: str, error: Any) -> DropboxApiError:
    return DropboxApiError(409, {"error_summary": summary + "/..", "error": error})


def _auth_error(tag: str) -> DropboxApiError:
    return DropboxApiError(401, {"error_summary": f"{tag}/..", "error": {".tag": tag}})


class FakeDropbox:
    """The fake's state; ``start()`` serves the two hosts over TLS."""

    def __init__(
        self,
        cert_dir: Path,
        app_key: str = "quickcam-test-app",
        app_secret: str = "quickcam-test-secret",
        refresh_token: str = "refresh-" + "r" * 40,
        token_lifetime_s: int = 14400,
    ) -> None:
        self.app_key = app_key
        self.app_secret = app_secret
        self.refresh_token = refresh_token
        self.token_lifetime_s = token_lifetime_s
        self.auth_code = "auth-code-from-browser"
        self.faults = FaultPlan()
        self.files: dict[str, StoredFile] = {}
        self.tokens: dict[str, float] = {}  # access token -> expiry (epoch seconds)
        self.refreshes = 0
        self.code_verifiers: list[str] = []
        self.calls: list[str] = []  # API routes requested, in order (not /oauth2/token)
        self._sessions: dict[str, _Session] = {}
        self._cursors: dict[str, tuple[list[dict[str, Any]], int]] = {}  # list_folder cursor -> rest, limit
        self.list_page_size = 2000  # entries per list_folder page at most (a test lowers it to page)
        self._lock = threading.Lock()
        self._revs = iter(range(0x100000000, 0x200000000))
        self.ca_bundle, context = _tls(cert_dir)
        self.api = LoopbackServer(_DropboxHandler, self, ssl_context=context)
        self.content = LoopbackServer(_DropboxHandler, self, ssl_context=context)

    def start(self) -> FakeDropbox:
        self.api.start()
        self.content.start()
        return self

    def stop(self) -> None:
        self.api.stop()
        self.content.stop()

    def sdk_environment(self) -> dict[str, str]:
        """Environment for a child process whose SDK should talk to this fake."""
        return {
            "DROPBOX_API_HOST": f"127.0.0.1:{self.api.port}",
            "DROPBOX_API_CONTENT_HOST": f"127.0.0.1:{self.content.port}",
            "DROPBOX_WEB_HOST": "www.dropbox.invalid",
            "REQUESTS_CA_BUNDLE": str(self.ca_bundle),
        }

    def put_file(self, path: str, data: bytes) -> None:
        """Place a file as if another client had uploaded it."""
        with self._lock:
            self._store(path, data)

    def file(self, path: str) -> StoredFile | None:
        return self.files.get(path.lower())

    def expire_tokens(self) -> None:
        with self._lock:
            for token in self.tokens:
                self.tokens[token] = 0.0

    # -- request handling ------------------------------------------------------------

    def token_endpoint(self, form: dict[str, str]) -> dict[str, Any]:
        grant = form.get("grant_type")
        if form.get("client_id") != self.app_key:
            raise DropboxApiError(400, {"error": "invalid_client", "error_description": "bad id"})
        if "client_secret" in form and form["client_secret"] != self.app_secret:
            raise DropboxApiError(400, {"error": "invalid_client", "error_description": "secret"})
        if grant == "refresh_token":
            if form.get("refresh_token") != self.refresh_token:
                raise DropboxApiError(
                    400, {"error": "invalid_grant", "error_description": "refresh token revoked"}
                )
            with self._lock:
                self.refreshes += 1
            return self._new_token()
        if grant == "authorization_code":
            if form.get("code") != self.auth_code:
                raise DropboxApiError(400, {"error": "invalid_grant", "error_description": "code"})
            if "code_verifier" in form:
                self.code_verifiers.append(form["code_verifier"])
            elif "client_secret" not in form:
                raise DropboxApiError(400, {"error": "invalid_request", "error_description": "pkce"})
            reply = self._new_token()
            reply.update(
                refresh_token=self.refresh_token,
                account_id="dbid:AAAAfakeaccount",
                uid="12345",
                scope="files.content.write files.metadata.read",
            )
            return reply
        raise DropboxApiError(400, {"error": "unsupported_grant_type"})

    def _new_token(self) -> dict[str, Any]:
        token = "sl." + secrets.token_urlsafe(24)
        with self._lock:
            self.tokens[token] = time.time() + self.token_lifetime_s
        return {"access_token": token, "token_type": "bearer", "expires_in": self.token_lifetime_s}

    def check_token(self, authorization: str | None) -> None:
        if not authorization or not authorization.startswith("Bearer "):
            raise DropboxApiError(400, "Error in call to API function: missing Authorization")
        expiry = self.tokens.get(authorization[len("Bearer ") :])
        if expiry is None:
            raise _auth_error("invalid_access_token")
        if expiry <= time.time():
            raise _auth_error("expired_access_token")

    def route(self, name: str, arg: dict[str, Any], body: bytes, force_conflict: bool) -> Any:
        with self._lock:
            if name == "files/get_metadata":
                stored = self.files.get(str(arg.get("path", "")).lower())
                if stored is None:
                    raise _route_error(
                        "path/not_found", {".tag": "path", "path": {".tag": "not_found"}}
                    )
                return stored.metadata()
            if name == "files/download":
                stored = self.files.get(str(arg.get("path", "")).lower())
                if stored is None:
                    raise _route_error("path/not_found", {".tag": "path", "path": {".tag": "not_found"}})
                return Download(stored.metadata(), stored.data)
            if name == "files/list_folder":
                limit = min(int(arg.get("limit") or 2000), self.list_page_size)
                return self._list_page(self._entries(str(arg.get("path", "")), bool(arg.get("recursive"))), limit)
            if name == "files/list_folder/continue":
                entries, limit = self._cursors.pop(arg["cursor"])
                return self._list_page(entries, limit)
            if name == "files/upload":
                self._check_hash(arg, body, lambda e: e)
                return self._commit(arg, bytes(body), force_conflict, session_id=None)
            if name == "files/upload_session/start":
                self._check_hash(arg, body, lambda e: e)
                session_id = uuid.uuid4().hex
                self._sessions[session_id] = _Session(bytearray(body), bool(arg.get("close")))
                return {"session_id": session_id}
            if name == "files/upload_session/append_v2":
                self._check_hash(arg, body, lambda e: e)
                session = self._session(arg["cursor"], lambda e: e)
                session.data += body
                session.closed = bool(arg.get("close"))
                return None
            if name == "files/upload_session/finish":
                self._check_hash(arg, body, lambda e: e)
                session = self._session(
                    arg["cursor"], lambda e: {".tag": "lookup_failed", "lookup_failed": e}
                )
                data = bytes(session.data + body)
                del self._sessions[arg["cursor"]["session_id"]]
                return self._commit(arg["commit"], data, force_conflict, arg["cursor"]["session_id"])
        raise DropboxApiError(400, f"Unknown API function: {name}")

    def _entries(self, path: str, recursive: bool) -> list[dict[str, Any]]:
        """Folder and file metadata below ``path`` (folders are implied by the files' paths)."""
        base = path.rstrip("/").lower()
        if base in self.files:
            raise _route_error("path/not_folder", {".tag": "path", "path": {".tag": "not_folder"}})
        folders: dict[str, str] = {}
        entries = []
        for lower, stored in sorted(self.files.items()):
            if not lower.startswith(base + "/"):
                continue
            parts = stored.path_display.split("/")
            depth = base.count("/") + 1  # index of the first component below path
            for n in range(depth, len(parts) - 1):
                if recursive or n == depth:
                    folders.setdefault("/".join(parts[: n + 1]).lower(), "/".join(parts[: n + 1]))
            if recursive or len(parts) == depth + 1:
                entries.append(stored.metadata())
        if not entries and not folders:
            raise _route_error("path/not_found", {".tag": "path", "path": {".tag": "not_found"}})
        return [{".tag": "folder", "name": display.rsplit("/", 1)[-1], "path_lower": lower,
                 "path_display": display, "id": "id:" + hashlib.sha1(lower.encode()).hexdigest()[:22]}
                for lower, display in sorted(folders.items())] + entries

    def _list_page(self, entries: list[dict[str, Any]], limit: int) -> dict[str, Any]:
        page, rest = entries[:limit], entries[limit:]
        cursor = uuid.uuid4().hex
        if rest:
            self._cursors[cursor] = (rest, limit)
        return {"entries": page, "cursor": cursor, "has_more": bool(rest)}

    def _check_hash(self, arg: dict[str, Any], body: bytes, wrap: Any) -> None:
        expected = arg.get("content_hash")
        if expected and expected != content_hash(body):
            raise _route_error("content_hash_mismatch", wrap({".tag": "content_hash_mismatch"}))

    def _session(self, cursor: dict[str, Any], wrap: Any) -> _Session:
        session = self._sessions.get(cursor["session_id"])
        if session is None:
            raise _route_error("not_found", wrap({".tag": "not_found"}))
        if session.closed:
            raise _route_error("closed", wrap({".tag": "closed"}))
        if cursor["offset"] != len(session.data):
            raise _route_error(
                "incorrect_offset",
                wrap({".tag": "incorrect_offset", "correct_offset": len(session.data)}),
            )
        return session

    def _commit(
        self, arg: dict[str, Any], data: bytes, force_conflict: bool, session_id: str | None
    ) -> dict[str, Any]:
        path = str(arg.get("path", ""))
        if not path.startswith("/") or "//" in path:
            raise DropboxApiError(400, f"Error in call to API function: bad path {path!r}")
        mode = arg.get("mode", "add")
        mode = mode.get(".tag") if isinstance(mode, dict) else mode
        existing = self.files.get(path.lower())
        if existing is not None and mode != "overwrite":
            same = existing.data == data
            if same and not force_conflict:
                return existing.metadata()
            error: dict[str, Any] = {".tag": "conflict", "conflict": {".tag": "file"}}
            if session_id is None:
                raise _route_error(
                    "path/conflict/file",
                    {".tag": "path", "reason": error, "upload_session_id": "sid"},
                )
            raise _route_error("path/conflict/file", {".tag": "path", "path": error})
        return self._store(path, data).metadata()

    def _store(self, path: str, data: bytes) -> StoredFile:
        stored = StoredFile(
            path, data, f"{next(self._revs):x}", datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        )
        self.files[path.lower()] = stored
        return stored


class _DropboxHandler(FakeHandler):
    def do_POST(self) -> None:
        fake: FakeDropbox = self.fake
        on_content_host = self.owner is fake.content
        name = self.path.removeprefix("/2/") if self.path.startswith("/2/") else self.path
        if self.path != "/oauth2/token":
            fake.calls.append(name)  # every API request, answered or not
        fault = fake.faults.take(name)
        if fault is not None and fault.kind == "expire_token":
            fake.expire_tokens()
            fault = None
        if self.apply_transport_fault(fault):
            return
        body = self.read_body()
        try:
            if self.path == "/oauth2/token":
                if on_content_host:
                    raise DropboxApiError(400, "oauth2/token is served by the API host")
                form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
                reply = fake.token_endpoint(form)
            else:
                expected = CONTENT_ROUTES if on_content_host else API_ROUTES
                if name not in expected:
                    raise DropboxApiError(400, f"Unknown API function or wrong host: {name}")
                fake.check_token(self.headers.get("Authorization"))
                if on_content_host:
                    arg = json.loads(self.headers.get("Dropbox-API-Arg") or "{}")
                    payload = body
                else:
                    arg = json.loads(body or b"{}")
                    payload = b""
                force_conflict = fault is not None and fault.kind == "conflict"
                reply = fake.route(name, arg, payload, force_conflict)
        except DropboxApiError as exc:
            if isinstance(exc.body, str):
                self.send_bytes(exc.status, exc.body.encode(), exc.headers)
            else:
                self.send_json(exc.status, exc.body, exc.headers)
            return
        if fault is not None and fault.kind == "drop_after_commit":
            self.drop()
            return
        if isinstance(reply, Download):
            self.send_bytes(200, reply.data, {"Content-Type": "application/octet-stream",
                                              "Dropbox-API-Result": json.dumps(reply.metadata)})
            return
        self.send_json(200, reply, {"X-Dropbox-Request-Id": uuid.uuid4().hex})


def rate_limited(retry_after: int = 1) -> Any:
    """The 429 Dropbox sends when an app goes too fast."""
    return status(
        429,
        {
            "error_summary": "too_many_requests/..",
            "error": {"reason": {".tag": "too_many_requests"}, "retry_after": retry_after},
        },
        Retry_After=str(retry_after),
    )


def _tls(cert_dir: Path) -> tuple[Path, ssl.SSLContext]:
    """A throw-away CA and a certificate for 127.0.0.1, made with trustme."""
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    cert_dir.mkdir(parents=True, exist_ok=True)
    bundle = cert_dir / "fake-dropbox-ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    return bundle, context


def pkce_challenge(verifier: str) -> str:
    """The S256 code challenge for ``verifier`` (RFC 7636)."""
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")
