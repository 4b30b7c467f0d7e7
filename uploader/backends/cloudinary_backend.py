"""The ``cloudinary`` back end: encrypted files as ``raw`` assets through Cloudinary's SDK.

Every call passes its own credentials and API base to the SDK instead of
touching the SDK's global ``cloudinary.config()``, so two Cloudinary
destinations (or a test server on 127.0.0.1 via ``upload_prefix``) can live in
one process. Uploads use ``overwrite=False``: uploading the same key again
returns the asset already there, which is success when its MD5 ``etag``
matches the local file and a loud permanent error when it does not.

An upload counts only when Cloudinary's answer describes these bytes (its ``bytes``; its MD5 ``etag``
where no size is given): a proxy or server that kept part of the file answers 200 all the same, and footage
counted stored that is not is footage lost. Such a copy is retried; the retry finds it ``existing``,
sees that its etag is the MD5 of the local file's first ``bytes`` bytes (our own copy, cut short)
and uploads over it, the one case where a stored asset is replaced.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import cloudinary.api
import cloudinary.exceptions
import cloudinary.uploader
import urllib3

from quickcam.uploader.backends import (
    BackendError,
    PermanentError,
    RemoteFile,
    RetryableError,
    is_listed_name,
    untrusted_certificate,
)

log = logging.getLogger(__name__)

# The SDK's own default for upload_large; Cloudinary caps a plain upload at
# 100 MB for raw files on most plans, so stay well below that.
DEFAULT_LARGE_THRESHOLD = 20_000_000
DEFAULT_CHUNK_SIZE = 20_000_000

_STATUS_IN_MESSAGE = re.compile(r"server response \((\d{3})\)")


class CloudinaryBackend:
    """Uploads to Cloudinary as ``raw`` assets under ``folder``.

    Credentials come either as ``cloudinary_url``
    (``cloudinary://API_KEY:API_SECRET@CLOUD_NAME``, as in CLOUDINARY_URL) or as
    ``cloud_name``/``api_key``/``api_secret``; explicit values win over the URL.
    ``secrets`` (the tokens.env view) fills in whatever was not passed, from
    CLOUDINARY_URL, CLOUDINARY_CLOUD_NAME, CLOUDINARY_API_KEY and
    CLOUDINARY_API_SECRET.
    """

    name = "cloudinary"

    def __init__(
        self,
        cloudinary_url: str = "",
        cloud_name: str = "",
        api_key: str = "",
        api_secret: str = "",
        folder: str = "",
        large_threshold: int = DEFAULT_LARGE_THRESHOLD,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        timeout: float = 60.0,
        upload_prefix: str = "",
        signature_algorithm: str = "",
        name: str = "cloudinary",
        secrets: Mapping[str, str] | None = None,
    ) -> None:
        secrets = secrets or {}
        url = _parse_cloudinary_url(cloudinary_url or secrets.get("CLOUDINARY_URL", ""))
        self.cloud_name = cloud_name or secrets.get("CLOUDINARY_CLOUD_NAME", "") or url["cloud_name"]
        self._api_key = api_key or secrets.get("CLOUDINARY_API_KEY", "") or url["api_key"]
        self._api_secret = (
            api_secret or secrets.get("CLOUDINARY_API_SECRET", "") or url["api_secret"]
        )
        missing = [
            env
            for env, value in (
                ("CLOUDINARY_CLOUD_NAME", self.cloud_name),
                ("CLOUDINARY_API_KEY", self._api_key),
                ("CLOUDINARY_API_SECRET", self._api_secret),
            )
            if not value
        ]
        if missing:
            raise PermanentError(
                "Cloudinary credentials missing: set CLOUDINARY_URL "
                "(cloudinary://API_KEY:API_SECRET@CLOUD_NAME) or "
                + ", ".join(missing)
                + " in tokens.env"
            )
        if large_threshold < 0 or chunk_size <= 0:
            raise PermanentError("Cloudinary large_threshold must be >= 0 and chunk_size > 0")
        algorithm = (signature_algorithm or url["signature_algorithm"] or "sha1").lower()
        if algorithm not in ("sha1", "sha256"):
            raise PermanentError(
                f"Cloudinary signature_algorithm must be sha1 or sha256, got {algorithm!r}"
            )
        self.folder = folder.strip("/")
        self.large_threshold = large_threshold
        self.chunk_size = chunk_size
        self.timeout = timeout
        self._etag_said = False  # an etag that is not the MD5 is said once (_check_whole)
        self.upload_prefix = (upload_prefix or url["upload_prefix"]).rstrip("/")
        self.signature_algorithm = algorithm
        self.name = name
        self._urls: dict[str, str] = {}  # key -> delivery URL, from the last listing
        self._http = urllib3.PoolManager(timeout=urllib3.Timeout(connect=timeout, read=timeout), retries=False)

    @classmethod
    def from_config(cls, options: dict[str, Any], secrets: Mapping[str, str]) -> CloudinaryBackend:
        """Build from the ``[storage.<name>]`` options and the tokens.env view."""
        return cls(**options, secrets=secrets)

    def public_id_for(self, remote_key: str) -> str:
        """The Cloudinary public id of ``remote_key``: the key under the upload folder."""
        parts = PurePosixPath(remote_key).parts
        if not parts or remote_key.startswith("/") or ".." in parts:
            raise PermanentError(f"remote key {remote_key!r} is not a relative path")
        return "/".join(p for p in (self.folder, remote_key) if p)

    def upload(self, local_path: Path, remote_key: str) -> str:
        public_id = self.public_id_for(remote_key)
        try:
            size = local_path.stat().st_size
        except OSError as exc:
            raise PermanentError(f"cannot read {local_path}: {exc.strerror or exc}") from exc
        options: dict[str, Any] = {
            "resource_type": "raw",
            "public_id": public_id,
            "overwrite": False,
            "unique_filename": False,
            "use_filename": False,
            "filename": PurePosixPath(remote_key).name,
            "cloud_name": self.cloud_name,
            "api_key": self._api_key,
            "api_secret": self._api_secret,
            "signature_algorithm": self.signature_algorithm,
            "timeout": self.timeout,
        }
        if self.upload_prefix:
            options["upload_prefix"] = self.upload_prefix
        result = self._send(local_path, size, public_id, options)
        if result.get("existing"):
            if not _cut_short_copy(local_path, size, result):
                self._check_same_content(local_path, public_id, result)
                return str(result.get("secure_url") or result.get("url") or public_id)
            result = self._send(local_path, size, public_id, {**options, "overwrite": True})
        if _check_whole(local_path, size, public_id, result) and not self._etag_said:
            self._etag_said = True
            log.warning(
                "Cloudinary stored %s with the right size but an etag (%s) that is not the file's MD5: counted "
                "stored (said once; if this is not a test server, check for a proxy on the way)",
                public_id, result.get("etag"),
            )
        return str(result.get("secure_url") or result.get("url") or public_id)

    def _send(self, local_path: Path, size: int, public_id: str, options: dict[str, Any]) -> dict[str, Any]:
        """One upload through the SDK; its answer, which names an asset."""
        try:
            if size > self.large_threshold:
                result = cloudinary.uploader.upload_large(
                    str(local_path), chunk_size=self.chunk_size, **options
                )
            else:
                result = cloudinary.uploader.upload(str(local_path), **options)
        except cloudinary.exceptions.Error as exc:
            raise classify_error(exc, public_id) from exc
        except ValueError as exc:  # the SDK's word for missing/invalid configuration
            raise PermanentError(f"Cloudinary configuration: {exc}") from exc
        except OSError as exc:
            raise PermanentError(f"cannot read {local_path}: {exc.strerror or exc}") from exc
        if not isinstance(result, dict) or not result.get("public_id"):
            raise RetryableError(f"Cloudinary returned no asset for {public_id}: {result!r}")
        return result

    # -- reading back (quickcam view): Admin API listings, CDN downloads ----------------------
    def _admin(self, call: Any, *args: Any, **options: Any) -> Any:
        options.update(cloud_name=self.cloud_name, api_key=self._api_key, api_secret=self._api_secret,
                       timeout=self.timeout)
        if self.upload_prefix:
            options["upload_prefix"] = self.upload_prefix
        return call(*args, **options)

    def list_folders(self, prefix: str) -> list[str]:
        folder = self.public_id_for(prefix)
        names: list[str] = []
        cursor = None
        try:
            while True:
                page = self._admin(cloudinary.api.subfolders, folder, max_results=500,
                                   **({"next_cursor": cursor} if cursor else {}))
                names += [f["name"] for f in page.get("folders", []) if is_listed_name(f["name"])]
                cursor = page.get("next_cursor")
                if not cursor:
                    return sorted(names)
        except cloudinary.exceptions.NotFound:
            return []
        except cloudinary.exceptions.Error as exc:
            raise classify_error(exc, folder, "listing") from exc

    def list_files(self, prefix: str) -> list[RemoteFile]:
        folder = self.public_id_for(prefix)
        skip = len(self.folder) + 1 if self.folder else 0
        found = []
        cursor = None
        try:
            while True:
                page = self._admin(cloudinary.api.resources, resource_type="raw", type="upload",
                                   prefix=folder + "/", max_results=500,
                                   **({"next_cursor": cursor} if cursor else {}))
                for asset in page.get("resources", []):
                    key = str(asset["public_id"])[skip:]
                    if all(is_listed_name(part) for part in key.split("/")):
                        found.append(RemoteFile(key, int(asset.get("bytes", 0))))
                        self._urls[key] = str(asset["secure_url"])
                cursor = page.get("next_cursor")
                if not cursor:
                    return sorted(found, key=lambda f: f.key)
        except cloudinary.exceptions.Error as exc:
            raise classify_error(exc, folder, "listing") from exc

    def read(self, key: str, start: int = 0, end: int | None = None) -> bytes:
        public_id = self.public_id_for(key)
        url = self._urls.get(key)
        try:
            if url is None:
                url = str(self._admin(cloudinary.api.resource, public_id, resource_type="raw",
                                      type="upload")["secure_url"])
                self._urls[key] = url
        except cloudinary.exceptions.NotFound as exc:
            raise PermanentError(f"Cloudinary: {public_id} is not there (deleted since it was listed?)") from exc
        except cloudinary.exceptions.Error as exc:
            raise classify_error(exc, public_id, "lookup") from exc
        headers = {} if start == 0 and end is None else {"Range": f"bytes={start}-{'' if end is None else end - 1}"}
        try:
            response = self._http.request("GET", url, headers=headers)
        except urllib3.exceptions.HTTPError as exc:
            raise RetryableError(f"Cloudinary download of {public_id}: {exc}") from exc
        if response.status == 404:
            raise PermanentError(f"Cloudinary: {public_id} is not there (deleted since it was listed?)")
        if response.status not in (200, 206):
            error = RetryableError if response.status in (408, 420, 429) or response.status >= 500 else PermanentError
            raise error(f"Cloudinary download of {public_id}: HTTP {response.status}")
        data = response.data
        return data[start:end] if response.status == 200 else data

    def _check_same_content(self, local_path: Path, public_id: str, result: dict[str, Any]) -> None:
        """A key uploaded twice is success only if Cloudinary holds these same bytes.

        Its etag is their MD5, except on a server that has already shown etags that are not (``_check_whole``):
        there the size decides, as it does for a fresh upload, or a retry after a lost answer would fail for good.
        """
        etag = result.get("etag")
        if not etag:
            return
        local_md5 = _md5(local_path)
        if local_md5 != etag and not (self._etag_said and result.get("bytes") == local_path.stat().st_size):
            raise PermanentError(
                f"Cloudinary already holds a different file at {public_id} "
                f"(etag {etag}, local md5 {local_md5}); not overwriting it"
            )


def _md5(local_path: Path, length: int | None = None) -> str:
    """MD5 of the file's first ``length`` bytes (all of it by default): what Cloudinary's etag is."""
    md5 = hashlib.md5(usedforsecurity=False)
    left = length
    with open(local_path, "rb") as src:
        for block in iter(lambda: src.read(1 << 20), b""):
            if left is not None:
                block, left = block[:left], left - min(left, len(block))
            md5.update(block)
            if left == 0:
                break
    return md5.hexdigest()


def _check_whole(local_path: Path, size: int, public_id: str, result: dict[str, Any]) -> bool:
    """RetryableError unless the answer says these bytes were stored; True if its etag is not their MD5.

    Its ``bytes`` decides (Cloudinary always gives it); the MD5 ``etag`` only where no size is given. A
    right size with another etag is counted stored and said once: the retry could never change that
    answer (a server or proxy whose etag is no MD5), and holding the footage back forever would be worse.
    """
    stored, etag = result.get("bytes"), result.get("etag")
    local_md5 = _md5(local_path) if etag else "-"
    if (stored is not None and stored != size) or (stored is None and etag and etag != local_md5):
        raise RetryableError(
            f"Cloudinary stored {stored} bytes of {size} at {public_id} (etag {etag}, local md5 {local_md5}): "
            "the upload was cut short or changed on its way (a proxy?); it is sent again over that copy"
        )
    return bool(etag) and etag != local_md5


def _cut_short_copy(local_path: Path, size: int, result: dict[str, Any]) -> bool:
    """True if the asset already there is the local file's first ``bytes`` bytes: our own upload cut short."""
    stored, etag = result.get("bytes"), result.get("etag")
    return isinstance(stored, int) and 0 <= stored < size and bool(etag) and _md5(local_path, stored) == etag


def classify_error(exc: cloudinary.exceptions.Error, public_id: str, what: str = "upload") -> BackendError:
    """Turn an SDK error into RetryableError or PermanentError with a readable message."""
    where = f"Cloudinary {what} of {public_id}"
    errors = cloudinary.exceptions
    refused = untrusted_certificate(exc, where)
    if refused:
        return refused
    if isinstance(exc, errors.RateLimited):
        return RetryableError(f"{where}: rate limited (420/429): {exc}")
    if isinstance(exc, errors.GeneralError):
        return RetryableError(f"{where}: server error (500/503): {exc}")
    if isinstance(exc, errors.AuthorizationRequired):
        return PermanentError(f"{where}: credentials rejected (401): {exc}; check CLOUDINARY_URL")
    if isinstance(exc, errors.NotAllowed):
        return PermanentError(f"{where}: not allowed (403): {exc}")
    if isinstance(exc, errors.BadRequest):
        return PermanentError(f"{where}: request rejected (400): {exc}")
    if isinstance(exc, errors.NotFound):
        return PermanentError(f"{where}: not found (404): {exc}; check the cloud name")
    if isinstance(exc, errors.AlreadyExists):
        return PermanentError(f"{where}: already exists (409): {exc}")
    message = str(exc)
    # A body that is not JSON (a proxy's 502 page, say) only shows its status here.
    match = _STATUS_IN_MESSAGE.search(message)
    if match:
        status = int(match.group(1))
        if status in (408, 420, 425, 429) or status >= 500:
            return RetryableError(f"{where}: HTTP {status} from the server")
        return PermanentError(f"{where}: HTTP {status} from the server: {message[:200]}")
    # "Unexpected error - ..." (timeouts, refused or dropped connections) and
    # "Socket error" are network trouble; an unknown status is treated alike.
    return RetryableError(f"{where}: {message[:300]}")


def _parse_cloudinary_url(url: str) -> dict[str, str]:
    """Split ``cloudinary://KEY:SECRET@CLOUD?upload_prefix=...`` into its parts."""
    parts = {
        "cloud_name": "",
        "api_key": "",
        "api_secret": "",
        "upload_prefix": "",
        "signature_algorithm": "",
    }
    if not url:
        return parts
    split = urlsplit(url)
    if split.scheme != "cloudinary" or "@" not in split.netloc:
        raise PermanentError(
            "CLOUDINARY_URL must look like cloudinary://API_KEY:API_SECRET@CLOUD_NAME"
        )
    userinfo, _, host = split.netloc.rpartition("@")
    key, _, secret = userinfo.partition(":")
    parts.update(cloud_name=host, api_key=unquote(key), api_secret=unquote(secret))
    for name, value in parse_qsl(split.query):
        if name in ("upload_prefix", "signature_algorithm"):
            parts[name] = value
    return parts
