"""The ``fsspec`` back end: any storage fsspec can reach by URL.

``s3://bucket/prefix``, ``sftp://user@host/path``, ``gcs://``, ``az://``,
``smb://``, ``webdav://``, ``file:///mnt/nas``: the URL picks the
implementation (s3fs, sshfs, gcsfs, adlfs, ...), which must be installed;
``storage_options`` go to it unchanged, except that string values written as
``${NAME}`` are filled in from ``secrets`` (the tokens.env view), so keys and
passwords stay out of the config file.

On file systems with a real rename (local, SFTP, SMB, WebDAV, FTP) a file is
written to a hidden temporary name beside its target and then moved into
place, so a reader never sees half a file. Object stores (S3, GCS, Azure)
already make an object appear whole or not at all, and their "move" is a
copy, so there the file is put directly.

A key that already holds a file is never overwritten: the same bytes (a retry
whose answer was lost) are a success, different bytes a permanent error that
keeps what is stored, as the Cloudinary and Dropbox back ends do.

s3fs retries a failed request on its own (5 tries, about 2 s of back-off) before the error
comes back: ``retries`` sets how many (s3fs reads its instance's ``retries`` attribute on
each call and takes no argument for it), since the uploader retries a failed upload on its
own schedule anyway. Other implementations are refused the option: gcsfs, for one, has such
an attribute but binds its value when the class is made, so setting it would do nothing.

For ``sftp://`` the server's host key is checked (sshfs alone would not):
``known_hosts`` in the storage options, else ``~/.ssh/known_hosts``; the string
``"none"`` switches the check off on purpose.

On ``file://`` (a folder of this machine, often a NAS mounted there) each upload first asks
``mount_guard.py`` whether the folder is an empty mount point, as the ``local`` back end does.

Every library raises its own errors; :func:`classify_error` maps them by HTTP
status when one is known, then by exception type.
"""

from __future__ import annotations

import logging
import os
import posixpath
import re
import threading
import uuid
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

import fsspec
import fsspec.asyn
import fsspec.utils
from fsspec.implementations.local import LocalFileSystem

from quickcam.uploader.backends import (
    BackendError,
    PermanentError,
    RemoteFile,
    RetryableError,
    is_listed_name,
    parse_retry_after,
    untrusted_certificate,
)
from quickcam.uploader.backends.mount_guard import MountGuard

log = logging.getLogger(__name__)

OBJECT_STORES = {"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "adl", "oss", "r2", "memory"}

_SECRET_REF = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")

# Exception class names (anywhere in the type's MRO, first match wins) from
# libraries this module does not import: asyncssh, botocore, aiohttp, fsspec.
_PERMANENT_NAMES = {
    "PermissionDenied",  # asyncssh: authentication failed
    "HostKeyNotVerifiable",
    "KeyImportError",
    "KeyEncryptionError",
    "SFTPPermissionDenied",
    "SFTPNoSpaceOnFilesystem",
    "SFTPQuotaExceeded",
    "SFTPInvalidFilename",
    "NoCredentialsError",  # botocore
    "PartialCredentialsError",
    "ParamValidationError",
    "InvalidRegionError",
}
_RETRYABLE_NAMES = {
    "ConnectionLost",  # asyncssh
    "DisconnectError",
    "ChannelOpenError",
    "ServiceNotAvailable",
    "SFTPConnectionLost",
    "SFTPFailure",
    "HTTPClientError",  # botocore: timeouts, refused and dropped connections
    "EndpointConnectionError",
    "ConnectionClosedError",
    "ReadTimeoutError",
    "ConnectTimeoutError",
    "ClientConnectionError",  # aiohttp
    "ClientPayloadError",
    "ServerDisconnectedError",
    "ServerTimeoutError",
    "FSTimeoutError",  # fsspec
}
_PERMANENT_TYPES = (
    PermissionError,
    FileNotFoundError,
    NotADirectoryError,
    IsADirectoryError,
    FileExistsError,
    ValueError,
    TypeError,
    ImportError,
)


class FsspecBackend:
    """Uploads to ``url`` (a folder URL) through fsspec; see the module docstring."""

    name = "fsspec"

    def __init__(
        self,
        url: str,
        storage_options: Mapping[str, Any] | None = None,
        atomic_rename: bool | None = None,
        timeout: float = 120.0,
        verify_size: bool = True,
        name: str = "fsspec",
        secrets: Mapping[str, str] | None = None,
        retries: int | None = None,
    ) -> None:
        if not url:
            raise PermanentError("the fsspec back end needs a url, e.g. s3://bucket/prefix")
        self.url = url.rstrip("/")
        self.protocol = fsspec.utils.get_protocol(self.url)
        try:
            implementation = fsspec.get_filesystem_class(self.protocol)
        except (ImportError, ValueError) as exc:
            raise PermanentError(
                f"no fsspec implementation for {self.protocol}:// is installed: {exc}"
            ) from exc
        self.retries = _own_retries(implementation, self.protocol, retries)
        # A folder of this machine: a NAS not mounted there is refused, not written into (its stored_before: app.py)
        self.mount_guard = (MountGuard(Path(implementation._strip_protocol(self.url)))
                            if issubclass(implementation, LocalFileSystem) else None)
        environ = os.environ if secrets is None else secrets
        self._storage_options = _fill_secrets(dict(storage_options or {}), environ)
        if self.protocol in ("sftp", "ssh"):
            self._storage_options["known_hosts"] = _known_hosts(self._storage_options)
        self.atomic_rename = (
            self.protocol not in OBJECT_STORES if atomic_rename is None else atomic_rename
        )
        self.timeout = timeout
        self.verify_size = verify_size
        self.name = name
        self._fs: fsspec.AbstractFileSystem | None = None
        self._root = ""
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, options: dict[str, Any], secrets: Mapping[str, str]) -> FsspecBackend:
        """Build from the ``[storage.<name>]`` options and the tokens.env view."""
        return cls(**options, secrets=secrets)

    def upload(self, local_path: Path, remote_key: str) -> str:
        parts = PurePosixPath(remote_key).parts
        if not parts or remote_key.startswith("/") or ".." in parts:
            raise PermanentError(f"remote key {remote_key!r} is not a relative path")
        try:
            size = local_path.stat().st_size
        except OSError as exc:
            raise PermanentError(f"cannot read {local_path}: {exc.strerror or exc}") from exc
        target = ""
        try:
            fs, root = self._filesystem()
            target = posixpath.join(root, remote_key) if root else remote_key
            ops = _Ops(fs, self.timeout)
            if self.mount_guard is not None:
                self.mount_guard.check()
            if self._already_stored(ops, local_path, target, size, remote_key):
                return f"{self.url}/{remote_key}"
            if self.atomic_rename:
                parent = posixpath.dirname(target)
                tmp = posixpath.join(
                    parent, f".{posixpath.basename(target)}.{uuid.uuid4().hex[:12]}.part"
                )
                if parent:
                    ops.call("makedirs", parent, exist_ok=True)
                ops.call("put_file", str(local_path), tmp)
                try:
                    ops.call("mv", tmp, target)
                except BaseException:
                    ops.remove_quietly(tmp)
                    raise
            else:
                ops.call("put_file", str(local_path), target)
            if self.verify_size:
                ops.call("invalidate_cache", target)
                remote_size = ops.call("size", target)
                if remote_size != size:
                    raise RetryableError(
                        f"{self.url}/{remote_key}: stored {remote_size} bytes of {size}"
                    )
        except Exception as exc:  # classified below, never swallowed
            self._forget_filesystem()
            raise classify_error(exc, f"{self.url}/{remote_key}") from exc
        return f"{self.url}/{remote_key}"

    def _already_stored(self, ops: _Ops, local_path: Path, target: str, size: int, remote_key: str) -> bool:
        """True if ``target`` holds exactly this file; PermanentError if it holds another.

        A copy that is this file's first bytes is our own store cut short (the size check after a store
        found it so and the upload was retried): removed, so the file is stored again whole."""
        ops.call("invalidate_cache", target)
        if not ops.call("exists", target):
            return False
        if ops.call("size", target) <= size:
            remote, local = ops.call("cat_file", target), local_path.read_bytes()
            if remote == local:
                return True
            if local.startswith(remote):
                ops.call("rm_file", target)
                return False
        raise PermanentError(f"{self.url}/{remote_key} already holds a different file; not overwriting it")

    # -- reading back (quickcam view) -------------------------------------------------------
    def list_folders(self, prefix: str) -> list[str]:
        def run(ops: _Ops, path: str) -> list[str]:
            if not ops.call("exists", path):
                return []
            entries = ops.call("ls", path, detail=True)
            return sorted(posixpath.basename(e["name"].rstrip("/")) for e in entries
                          if e.get("type") == "directory" and is_listed_name(posixpath.basename(e["name"].rstrip("/"))))
        return self._reading(prefix, run)

    def list_files(self, prefix: str) -> list[RemoteFile]:
        def run(ops: _Ops, path: str) -> list[RemoteFile]:
            root = self._root.rstrip("/")
            found = []
            for name, info in ops.call("find", path, detail=True).items():
                rel = posixpath.relpath(name.rstrip("/"), root) if root else name.lstrip("/")
                if info.get("type") == "file" and all(is_listed_name(part) for part in rel.split("/")):
                    found.append(RemoteFile(rel, int(info.get("size") or 0)))
            return sorted(found, key=lambda f: f.key)
        return self._reading(prefix, run)

    def read(self, key: str, start: int = 0, end: int | None = None) -> bytes:
        def run(ops: _Ops, path: str) -> bytes:
            if start == 0 and end is None:
                return ops.call("cat_file", path)
            # Not cat_file(start=, end=): sshfs ignores both and returns the whole file.
            with ops.fs.open(path, "rb") as src:
                src.seek(start)
                return src.read(-1 if end is None else max(0, end - start))
        return self._reading(key, run)

    def _reading(self, key: str, run: Any) -> Any:
        parts = PurePosixPath(key).parts
        if key.startswith("/") or ".." in parts:
            raise PermanentError(f"remote key {key!r} is not a relative path")
        try:
            fs, root = self._filesystem()
            path = posixpath.join(root, key) if root and key else (root or key)
            return run(_Ops(fs, self.timeout), path.rstrip("/"))
        except Exception as exc:  # classified below, never swallowed
            self._forget_filesystem()
            raise classify_error(exc, f"{self.url}/{key}") from exc

    def _filesystem(self) -> tuple[fsspec.AbstractFileSystem, str]:
        """Connect on first use; after a failure the next upload reconnects."""
        with self._lock:
            if self._fs is None:
                # skip_instance_cache: a dead SSH connection must not be handed back.
                self._fs, self._root = fsspec.core.url_to_fs(
                    self.url, skip_instance_cache=True, **self._storage_options
                )
                if self.retries is not None:  # this instance's own (not a cached one's: skip_instance_cache)
                    self._fs.retries = self.retries
                loop = getattr(self._fs, "loop", None)
                if loop is not None and loop.get_exception_handler() is None:
                    loop.set_exception_handler(_log_loop_error_in_one_line)
            return self._fs, self._root.rstrip("/")

    def _forget_filesystem(self) -> None:
        with self._lock:
            self._fs = None


class _Ops:
    """Calls file-system methods with a deadline where the file system is async."""

    def __init__(self, fs: fsspec.AbstractFileSystem, timeout: float) -> None:
        self.fs = fs
        self.timeout = timeout
        self._is_async = isinstance(fs, fsspec.asyn.AsyncFileSystem)

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        if self._is_async and method != "invalidate_cache":
            kwargs["timeout"] = self.timeout  # consumed by fsspec's sync(), not the method
        return getattr(self.fs, method)(*args, **kwargs)

    def remove_quietly(self, path: str) -> None:
        """Best-effort cleanup of a temporary file; the original error is what matters."""
        try:
            self.call("rm_file", path)
        except Exception as exc:  # the upload error is what the caller raises
            log.warning("could not remove temporary file %s: %s", path, exc)


def _log_loop_error_in_one_line(loop: Any, context: dict[str, Any]) -> None:
    """Exception handler for fsspec's event loop.

    After a lost connection asyncssh leaves tasks whose ConnectionLost nobody
    retrieves; asyncio would log each with a full traceback when it is garbage
    collected. The upload already failed with the reason, so one line is enough
    (and formatting a traceback inside a garbage collection that interrupts
    another thread's parsing trips CPython 3.11's "AST constructor recursion
    depth mismatch").
    """
    exc = context.get("exception")
    detail = f": {type(exc).__name__}: {exc}" if exc is not None else ""
    log.warning("storage event loop: %s%s", context.get("message", "error"), detail)


def classify_error(exc: BaseException, where: str) -> BackendError:
    """Map an error from any fsspec implementation to RetryableError or PermanentError."""
    if isinstance(exc, BackendError):
        return exc
    refused = untrusted_certificate(exc, where)
    if refused:
        return refused
    # An OSError's file name is the store's temporary ``.part`` beside ``where``: left out, so the cause stays short
    said = f"[Errno {exc.errno}] {exc.strerror}" if isinstance(exc, OSError) and exc.strerror else str(exc)
    detail = f"{where}: {type(exc).__name__}: {said}".rstrip(": ")
    status = _http_status(exc)
    if status is not None:
        if status in (408, 420, 425, 429) or status >= 500:
            after = _retry_after_s(exc)
            asks = f"; the server asks to wait {after:g} s" if after else ""
            return RetryableError(f"{detail} (HTTP {status}){asks}", retry_after_s=after)
        if status >= 400:
            return PermanentError(f"{detail} (HTTP {status})")
    for cls in type(exc).__mro__:
        if cls.__name__ in _PERMANENT_NAMES:
            return PermanentError(detail)
        if cls.__name__ in _RETRYABLE_NAMES:
            return RetryableError(detail)
    if isinstance(exc, _PERMANENT_TYPES):
        return PermanentError(detail)
    # Timeouts, refused or reset connections, EIO/EBUSY from the store, and
    # anything unknown: worth another try later.
    return RetryableError(detail)


def _http_status(exc: BaseException) -> int | None:
    """The HTTP status behind an error, looking through its causes (botocore, aiohttp)."""
    seen = 0
    node: BaseException | None = exc
    while node is not None and seen < 6:
        response = getattr(node, "response", None)
        if isinstance(response, dict):
            status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if isinstance(status, int):
                return status
        for attr in ("status", "status_code"):
            status = getattr(node, attr, None)
            if isinstance(status, int) and 100 <= status <= 599:
                return status
        node = node.__cause__ or node.__context__
        seen += 1
    return None


def _retry_after_s(exc: BaseException) -> float | None:
    """Seconds from a ``Retry-After`` header behind an error (botocore keeps the headers), if it has one."""
    node: BaseException | None = exc
    for _ in range(6):
        if node is None:
            return None
        response = getattr(node, "response", None)
        if isinstance(response, dict):
            headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
            return parse_retry_after(headers.get("retry-after") if isinstance(headers, dict) else None)
        node = node.__cause__ or node.__context__
    return None


def _own_retries(implementation: type, protocol: str, retries: int | None) -> int | None:
    """``retries`` checked: a count of at least 1, for s3fs (the one implementation known to honour it)."""
    if retries is None:
        return None
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 1:
        raise PermanentError(f"retries must be a whole number of tries, at least 1 (got {retries!r})")
    if not implementation.__module__.startswith("s3fs."):
        raise PermanentError(f"retries: applies to s3:// (s3fs) only; {protocol}:// ({implementation.__name__}) "
                             "makes no retries that it could set; remove the option")
    return retries


def _known_hosts(options: Mapping[str, Any]) -> Any:
    """sshfs skips host-key checking unless told otherwise; here it is on by default."""
    value = options.get("known_hosts")
    if isinstance(value, str) and value.lower() == "none":
        return None  # explicitly asked for: no host-key checking
    if value:
        return value
    default = Path("~/.ssh/known_hosts").expanduser()
    if default.is_file():
        return str(default)
    raise PermanentError(
        "sftp:// needs the server's host key: set storage option known_hosts to a file "
        "(e.g. made with `ssh-keyscan -p PORT HOST > quickcam_known_hosts`), "
        'or to "none" to skip the check'
    )


def _fill_secrets(options: dict[str, Any], secrets: Mapping[str, str]) -> dict[str, Any]:
    """Replace "${NAME}" string values (also inside dicts and lists) from ``secrets``."""

    def fill(value: Any) -> Any:
        if isinstance(value, str):
            match = _SECRET_REF.match(value)
            if not match:
                return value
            if match.group(1) not in secrets:
                raise PermanentError(
                    f"storage option refers to {match.group(1)}, which is not in tokens.env "
                    "or the environment"
                )
            return secrets[match.group(1)]
        if isinstance(value, dict):
            return {k: fill(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [fill(v) for v in value]
        return value

    return {key: fill(value) for key, value in options.items()}
