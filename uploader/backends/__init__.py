"""Storage back ends: where encrypted footage goes once it is off the camera.

A back end is one small class with one job: put a local file at a remote key
and say where it went. It tells a temporary failure (retry later) from a
permanent one (keep the file, tell the user) by the exception it raises.
Back ends are found through the entry-point group ``quickcam.backends``, so a
third-party package can add one without touching this repository.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

ENTRY_POINT_GROUP = "quickcam.backends"


class BackendError(Exception):
    """Base class for upload failures; the message is meant for a person."""


class RetryableError(BackendError):
    """The upload may succeed later (network down, 5xx, rate limit, timeout).

    ``retry_after_s``: how long the server asked us to wait (HTTP ``Retry-After``
    on a 429 or 503), when it said; the shipper waits at least that long before
    it asks that destination again.
    """

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


def parse_retry_after(value: object) -> float | None:
    """Seconds from an HTTP ``Retry-After`` value in seconds (an HTTP date is not used: None)."""
    try:
        seconds = float(str(value).strip())
    except (TypeError, ValueError):
        return None
    return seconds if 0 < seconds < float("inf") else None


class PermanentError(BackendError):
    """Retrying will not help until a person acts (bad credentials, bad config)."""


_CERT_REFUSED = re.compile(r"certificate verify failed: (.+?)\.?\s*\(_ssl|certificate verify failed: ([^\"'\\)]+)")


def untrusted_certificate(exc: BaseException, where: str) -> RetryableError | None:
    """A TLS certificate the client refused, anywhere in ``exc``'s chain, said in words with its fixes; else None.

    Every SDK wraps it its own way (urllib3's MaxRetryError repr inside Cloudinary's "Unexpected error",
    aiohttp's ClientConnectorCertificateError, requests' SSLError): one cut status row showed only the
    wrapping. Retried, as an outage is: a server's certificate gets renewed, a clock gets set.
    """
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        match = _CERT_REFUSED.search(str(exc)) or _CERT_REFUSED.search(repr(exc))
        if match:
            why = (match.group(1) or match.group(2)).strip()
            return RetryableError(
                f"{where}: the server's TLS certificate is not trusted ({why}): check this "
                "machine's clock (date) and that nothing on the way intercepts TLS (a proxy, antivirus); a server "
                "of your own needs a certificate from a CA this machine trusts")
        reason = getattr(exc, "reason", None)  # urllib3's MaxRetryError; asyncssh's SFTPError has a str there
        exc = exc.__cause__ or exc.__context__ or (reason if isinstance(reason, BaseException) else None)
    return None


@runtime_checkable
class Backend(Protocol):
    """What the uploader needs from a storage destination."""

    name: str

    def upload(self, local_path: Path, remote_key: str) -> str:
        """Store ``local_path`` under ``remote_key``; return the remote location.

        Must be idempotent: uploading the same content to the same key twice
        is success, not an error. Raises RetryableError or PermanentError.
        """
        ...


@dataclass(frozen=True)
class RemoteFile:
    """One stored file as a listing names it: ``key`` relative to the back end's root."""

    key: str
    size: int


@runtime_checkable
class Reader(Protocol):
    """What ``quickcam view`` needs from a destination: list and read back what was uploaded.

    Keys are the ``remote_key`` the uploader stored under ("/"-separated, relative);
    a key that would leave the back end's root raises PermanentError. Hidden and
    temporary names (a leading "." or a ``.part`` suffix) are never listed.
    """

    def list_folders(self, prefix: str) -> list[str]:
        """Names of the folders directly under ``prefix`` (empty if it does not exist)."""
        ...

    def list_files(self, prefix: str) -> list[RemoteFile]:
        """Every file under ``prefix``, at any depth (empty if it does not exist)."""
        ...

    def read(self, key: str, start: int = 0, end: int | None = None) -> bytes:
        """Bytes ``start`` up to (not including) ``end`` of the file at ``key``; None = to its end."""
        ...


def is_listed_name(name: str) -> bool:
    """False for the hidden temporary files back ends write before a rename."""
    return not (name.startswith(".") or name.endswith(".part"))


def available_backends() -> dict[str, Any]:
    """Map of back-end kind name to its entry point (not yet imported)."""
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def create_backend(kind: str, options: dict[str, Any], secrets: Mapping[str, str]) -> Backend:
    """Build the back end registered as ``kind`` from its config options and secrets.

    The registered object is a class (or factory) with a ``from_config(options,
    secrets)`` classmethod; plain callables are called with the options only.
    """
    found = available_backends()
    if kind not in found:
        known = ", ".join(sorted(found)) or "none"
        raise PermanentError(f"unknown storage back end {kind!r}; installed: {known}")
    factory = found[kind].load()
    from_config = getattr(factory, "from_config", None)
    try:
        if from_config is not None:
            return from_config(dict(options), secrets)
        return factory(**options)
    except TypeError as exc:
        raise PermanentError(f"bad options for back end {kind!r}: {exc}") from None
