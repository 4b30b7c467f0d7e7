"""The ``dropbox`` back end: Dropbox through its SDK, logged in for weeks.

The original tool stored a short-lived access token and stopped uploading
four hours later. Here the SDK gets the app key, app secret and a refresh
token (from ``quickcam dropbox-auth``); it fetches access tokens itself and
refreshes them before they expire, or when the API answers
``expired_access_token``.

Writes use ``WriteMode.add`` with ``autorename=False``: Dropbox never
overwrites a file, and writing identical bytes to an existing path is not a
conflict. A conflict is still checked by content hash (the same key uploaded
again after a lost response is success; different bytes are a permanent
error, never an overwrite or a renamed copy).

The SDK's own retry loops for 5xx and 429 are switched off: the uploader owns
retries (backoff, circuit breaker, logging), so every failure comes back at
once as RetryableError or PermanentError.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

import dropbox
import requests
from dropbox import exceptions as dbx_errors
from dropbox import files as dbx_files
from dropbox import stone_base

from quickcam.uploader.backends import (
    BackendError,
    PermanentError,
    RemoteFile,
    RetryableError,
    is_listed_name,
    untrusted_certificate,
)

MIB = 1 << 20
# Dropbox takes up to 150 MiB in one files/upload; sessions keep memory flat.
DEFAULT_SESSION_THRESHOLD = 16 * MIB
DEFAULT_CHUNK_SIZE = 8 * MIB
CONTENT_HASH_BLOCK = 4 * MIB

# Error tags (as in Dropbox's error_summary) worth retrying: the next attempt
# starts a fresh request or upload session.
_RETRYABLE_TAGS = {
    "too_many_write_operations",
    "too_many_requests",
    "content_hash_mismatch",
    "lookup_failed",
    "incorrect_offset",
    "closed",
    "not_closed",
    "internal_error",
    "concurrent_session_data_not_allowed",
    "concurrent_session_not_closed",
    "concurrent_session_missing_data",
}


class ContentHasher:
    """Dropbox's ``content_hash``: SHA-256 over the SHA-256 of each 4 MiB block."""

    def __init__(self) -> None:
        self._overall = hashlib.sha256()
        self._block = hashlib.sha256()
        self._in_block = 0

    def update(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            if self._in_block == CONTENT_HASH_BLOCK:
                self._overall.update(self._block.digest())
                self._block = hashlib.sha256()
                self._in_block = 0
            take = min(len(view), CONTENT_HASH_BLOCK - self._in_block)
            self._block.update(view[:take])
            self._in_block += take
            view = view[take:]

    def hexdigest(self) -> str:
        overall = self._overall.copy()
        if self._in_block:
            overall.update(self._block.digest())
        return overall.hexdigest()


def content_hash(data: bytes) -> str:
    """Dropbox content hash of ``data``."""
    hasher = ContentHasher()
    hasher.update(data)
    return hasher.hexdigest()


def file_content_hash(path: Path) -> str:
    """Dropbox content hash of the file at ``path``."""
    hasher = ContentHasher()
    with open(path, "rb") as src:
        for block in iter(lambda: src.read(CONTENT_HASH_BLOCK), b""):
            hasher.update(block)
    return hasher.hexdigest()


class DropboxBackend:
    """Uploads under ``folder`` in the Dropbox of whoever ran ``quickcam dropbox-auth``.

    ``app_key``/``app_secret``/``refresh_token`` default to DROPBOX_APP_KEY,
    DROPBOX_APP_SECRET and DROPBOX_REFRESH_TOKEN from ``secrets`` (the
    tokens.env view). The app secret may be empty when the refresh token came
    from the PKCE flow.
    """

    name = "dropbox"

    def __init__(
        self,
        app_key: str = "",
        app_secret: str = "",
        refresh_token: str = "",
        folder: str = "/",
        session_threshold: int = DEFAULT_SESSION_THRESHOLD,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        timeout: float = 60.0,
        name: str = "dropbox",
        secrets: Mapping[str, str] | None = None,
    ) -> None:
        secrets = secrets or {}
        self._app_key = app_key or secrets.get("DROPBOX_APP_KEY", "")
        self._app_secret = app_secret or secrets.get("DROPBOX_APP_SECRET", "")
        self._refresh_token = refresh_token or secrets.get("DROPBOX_REFRESH_TOKEN", "")
        if not (self._app_key and self._refresh_token):
            raise PermanentError(
                "Dropbox needs DROPBOX_APP_KEY and DROPBOX_REFRESH_TOKEN (and DROPBOX_APP_SECRET "
                "unless the token came from PKCE) in tokens.env; run `quickcam dropbox-auth`"
            )
        if session_threshold < 0 or chunk_size <= 0 or chunk_size > 150 * MIB:
            raise PermanentError(
                "Dropbox session_threshold must be >= 0 and chunk_size between 1 B and 150 MiB"
            )
        self.folder = "/" + folder.strip("/") if folder.strip("/") else ""
        self.session_threshold = session_threshold
        self.chunk_size = chunk_size
        self.timeout = timeout
        self.name = name
        self._client: dropbox.Dropbox | None = None
        self._client_lock = threading.Lock()

    @classmethod
    def from_config(cls, options: dict[str, Any], secrets: Mapping[str, str]) -> DropboxBackend:
        """Build from the ``[storage.<name>]`` options and the tokens.env view."""
        return cls(**options, secrets=secrets)

    def path_for(self, remote_key: str) -> str:
        """The Dropbox path of ``remote_key``: the key under the folder."""
        parts = PurePosixPath(remote_key).parts
        if not parts or remote_key.startswith("/") or ".." in parts:
            raise PermanentError(f"remote key {remote_key!r} is not a relative path")
        return f"{self.folder}/{remote_key}"

    def upload(self, local_path: Path, remote_key: str) -> str:
        path = self.path_for(remote_key)
        try:
            size = local_path.stat().st_size
            local_hash = file_content_hash(local_path)
        except OSError as exc:
            raise PermanentError(f"cannot read {local_path}: {exc.strerror or exc}") from exc
        client = self._dropbox()
        try:
            try:
                if size <= self.session_threshold:
                    metadata = client.files_upload(
                        local_path.read_bytes(),
                        path,
                        mode=dbx_files.WriteMode.add,
                        autorename=False,
                        mute=True,
                        content_hash=local_hash,
                    )
                else:
                    metadata = self._upload_in_session(client, local_path, size, path)
            except dbx_errors.ApiError as exc:
                if not _is_file_conflict(exc.error):
                    raise
                metadata = client.files_get_metadata(path)
        except Exception as exc:  # classified below, never swallowed
            raise classify_error(exc, path) from exc
        if not isinstance(metadata, dbx_files.FileMetadata):
            raise PermanentError(f"Dropbox holds a folder, not a file, at {path}")
        if metadata.content_hash != local_hash:
            raise PermanentError(
                f"Dropbox already holds a different file at {metadata.path_display} "
                f"(content hash {metadata.content_hash}, local {local_hash}); not overwriting it"
            )
        return str(metadata.path_display)

    def _upload_in_session(
        self, client: dropbox.Dropbox, local_path: Path, size: int, path: str
    ) -> Any:
        """files/upload_session start, append_v2..., finish with the last chunk."""
        commit = dbx_files.CommitInfo(
            path=path, mode=dbx_files.WriteMode.add, autorename=False, mute=True
        )
        with open(local_path, "rb") as src:
            chunk = src.read(self.chunk_size)
            start = client.files_upload_session_start(chunk, content_hash=content_hash(chunk))
            cursor = dbx_files.UploadSessionCursor(session_id=start.session_id, offset=len(chunk))
            while True:
                chunk = src.read(self.chunk_size)
                if cursor.offset + len(chunk) >= size:
                    return client.files_upload_session_finish(
                        chunk, cursor, commit, content_hash=content_hash(chunk)
                    )
                client.files_upload_session_append_v2(
                    chunk, cursor, content_hash=content_hash(chunk)
                )
                cursor.offset += len(chunk)

    # -- reading back (quickcam view) -------------------------------------------------------
    def list_folders(self, prefix: str) -> list[str]:
        return sorted(entry.name for entry in self._list(prefix, recursive=False)
                      if isinstance(entry, dbx_files.FolderMetadata) and is_listed_name(entry.name))

    def list_files(self, prefix: str) -> list[RemoteFile]:
        found = []
        for entry in self._list(prefix, recursive=True):
            if isinstance(entry, dbx_files.FileMetadata):
                key = str(entry.path_display)[len(self.folder) + 1:]
                if all(is_listed_name(part) for part in key.split("/")):
                    found.append(RemoteFile(key, int(entry.size)))
        return sorted(found, key=lambda f: f.key)

    def read(self, key: str, start: int = 0, end: int | None = None) -> bytes:
        """files/download, streamed: a header read stops after ``end`` bytes and hangs up."""
        path = self.path_for(key)
        try:
            _, response = self._dropbox().files_download(path)
            try:
                chunks, got = [], 0
                for chunk in response.iter_content(64 * 1024):
                    chunks.append(chunk)
                    got += len(chunk)
                    if end is not None and got >= end:
                        break
            finally:
                response.close()
        except dbx_errors.ApiError as exc:
            if _error_tags(exc.error)[-1:] == ["not_found"]:
                raise PermanentError(f"Dropbox: {path} is not there (deleted since it was listed?)") from exc
            raise classify_error(exc, path, "download") from exc
        except Exception as exc:  # classified below, never swallowed
            raise classify_error(exc, path, "download") from exc
        return b"".join(chunks)[start:end]

    def _list(self, prefix: str, recursive: bool) -> list[Any]:
        """Every entry of files/list_folder and its continuations; a missing folder is empty."""
        path = self.path_for(prefix)
        client = self._dropbox()
        try:
            result = client.files_list_folder(path, recursive=recursive, limit=2000)
            entries = list(result.entries)
            while result.has_more:
                result = client.files_list_folder_continue(result.cursor)
                entries += result.entries
        except dbx_errors.ApiError as exc:
            if _error_tags(exc.error)[-1:] == ["not_found"]:
                return []
            raise classify_error(exc, path, "listing") from exc
        except Exception as exc:  # classified below, never swallowed
            raise classify_error(exc, path, "listing") from exc
        return entries

    def _dropbox(self) -> dropbox.Dropbox:
        """One SDK client per back end; it keeps and refreshes the access token."""
        with self._client_lock:
            if self._client is None:
                self._client = dropbox.Dropbox(
                    oauth2_refresh_token=self._refresh_token,
                    app_key=self._app_key,
                    app_secret=self._app_secret or None,
                    timeout=self.timeout,
                    max_retries_on_error=0,
                    max_retries_on_rate_limit=0,
                    user_agent="QuickSecurityCam",
                )
            return self._client


def _error_tags(error: Any) -> list[str]:
    """The tag path of a Dropbox error union, e.g. ['path', 'conflict', 'file']."""
    tags: list[str] = []
    node = error
    for _ in range(8):
        if isinstance(node, stone_base.Union):
            tags.append(str(node._tag))
            node = node._value
        elif isinstance(node, stone_base.Struct) and hasattr(node, "reason"):
            node = node.reason  # UploadWriteFailed wraps the WriteError
        else:
            break
    return tags


def _is_file_conflict(error: Any) -> bool:
    tags = _error_tags(error)
    return "conflict" in tags and tags[-1] == "file"


def classify_error(exc: Exception, path: str, what: str = "upload") -> BackendError:
    """Turn an SDK or network error into RetryableError or PermanentError."""
    where = f"Dropbox {what} of {path}"
    if isinstance(exc, BackendError):
        return exc
    refused = untrusted_certificate(exc, where)
    if refused:
        return refused
    if isinstance(exc, dbx_errors.AuthError):
        tag = "/".join(_error_tags(exc.error)) or "unknown"
        return PermanentError(
            f"{where}: Dropbox rejected the credentials ({tag}); the refresh token may be "
            "revoked or the app key wrong: run `quickcam dropbox-auth`"
        )
    if isinstance(exc, dbx_errors.RateLimitError):
        after = f"; the server asks to wait {exc.backoff} s" if exc.backoff else ""
        return RetryableError(f"{where}: rate limited (429){after}", retry_after_s=exc.backoff or None)
    if isinstance(exc, dbx_errors.InternalServerError):
        return RetryableError(f"{where}: Dropbox server error {exc.status_code}")
    if isinstance(exc, dbx_errors.BadInputError):
        return PermanentError(f"{where}: Dropbox rejected the request (400): {exc.message}")
    if isinstance(exc, dbx_errors.HttpError):
        status = exc.status_code
        if status in (408, 425, 429) or status >= 500:
            return RetryableError(f"{where}: HTTP {status} from Dropbox")
        return PermanentError(f"{where}: HTTP {status} from Dropbox: {str(exc.body)[:200]}")
    if isinstance(exc, dbx_errors.ApiError):
        tags = _error_tags(exc.error)
        summary = "/".join(tags) or "unknown"
        if tags[:1] == ["path"] and tags[-1:] == ["not_found"]:
            return RetryableError(f"{where}: file vanished while checking a conflict ({summary})")
        if _RETRYABLE_TAGS.intersection(tags):
            return RetryableError(f"{where}: {summary}")
        user = f": {exc.user_message_text}" if exc.user_message_text else ""
        return PermanentError(f"{where}: Dropbox refused it ({summary}){user}")
    if isinstance(exc, requests.exceptions.InvalidURL | requests.exceptions.InvalidSchema):
        return PermanentError(f"{where}: bad Dropbox API address: {exc}")
    if isinstance(exc, requests.exceptions.Timeout):
        return RetryableError(f"{where}: timed out: {exc}")
    if isinstance(exc, requests.exceptions.RequestException):
        return RetryableError(f"{where}: network error: {exc}")
    if isinstance(exc, AssertionError):
        # The SDK asserts on responses that are not Dropbox's (a captive portal, a proxy).
        return RetryableError(f"{where}: unexpected response: {exc}")
    if isinstance(exc, dbx_errors.DropboxException | dropbox.dropbox_client.BadInputException):
        return PermanentError(f"{where}: {exc}")
    return RetryableError(f"{where}: {type(exc).__name__}: {exc}")
