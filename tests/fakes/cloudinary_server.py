"""A fake of Cloudinary's Upload API (``POST /v1_1/<cloud>/<resource_type>/upload``).

Point the SDK at it with ``upload_prefix=fake.upload_prefix``. It checks what
the real service checks before storing anything:

* the cloud name and api_key;
* ``timestamp`` present and less than an hour old;
* the signature, computed as Cloudinary documents it: every parameter except
  ``file``, ``cloud_name``, ``resource_type``, ``api_key`` (and ``signature``),
  sorted by name, ``name=value`` joined with ``&`` (an ``&`` inside a value
  escaped as ``%26``, signature version 2), the API secret appended, then the
  SHA-1 or SHA-256 hex digest;

and it reassembles ``upload_large`` chunks by ``X-Unique-Upload-Id`` and
``Content-Range: bytes FIRST-LAST/TOTAL``, in whatever order they arrive.
With ``overwrite=0`` an existing public id is not replaced: the answer is the
stored asset with ``"existing": true``, as Cloudinary does.

For reading back it also serves, with HTTP Basic auth (api_key:api_secret) as the
Admin API takes it: ``GET /v1_1/<cloud>/resources/raw/upload?prefix=&max_results=&next_cursor=``
(paged), ``GET /v1_1/<cloud>/resources/raw/upload/<public_id>`` and
``GET /v1_1/<cloud>/folders/<path>`` (folders implied by public ids); and, when
``delivery_prefix`` is set to its own URL, the assets themselves at
``<cloud>/raw/upload/v<version>/<public_id>`` with ``Range`` requests, as the CDN does.
"""

from __future__ import annotations

import base64
import hashlib
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.fakes.httpfake import FakeHandler, FaultPlan, LoopbackServer

UNSIGNED_PARAMS = {"file", "cloud_name", "resource_type", "api_key", "signature"}
_ROUTE = re.compile(r"^/v1_1/(?P<cloud>[^/]+)/(?P<rtype>image|video|raw|auto)/upload$")
_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+)$")


def string_to_sign(params: dict[str, str]) -> str:
    """Cloudinary's string to sign for ``params`` (the secret not yet appended)."""
    pairs = [
        f"{name}={value}".replace("&", "%26")
        for name, value in params.items()
        if name not in UNSIGNED_PARAMS and value != ""
    ]
    return "&".join(sorted(pairs))


def sign(params: dict[str, str], api_secret: str, algorithm: str = "sha1") -> str:
    digest = hashlib.sha256 if algorithm == "sha256" else hashlib.sha1
    return digest((string_to_sign(params) + api_secret).encode()).hexdigest()


@dataclass
class Asset:
    public_id: str
    resource_type: str
    data: bytes
    version: int

    @property
    def etag(self) -> str:
        return hashlib.md5(self.data, usedforsecurity=False).hexdigest()


@dataclass
class _Partial:
    public_id: str
    total: int
    pieces: dict[int, bytes] = field(default_factory=dict)

    def received(self) -> int:
        return sum(len(p) for p in self.pieces.values())

    def assemble(self) -> bytes:
        data = b"".join(self.pieces[offset] for offset in sorted(self.pieces))
        if len(data) != self.total:
            raise ValueError(f"chunks overlap or leave holes: {len(data)} of {self.total}")
        return data


@dataclass
class Received:
    """What one request carried, for assertions (file bytes left out)."""

    path: str
    fields: dict[str, str]
    headers: dict[str, str]
    file_size: int


class FakeCloudinary:
    """The fake's state; ``start()`` serves it on 127.0.0.1."""

    def __init__(
        self,
        cloud_name: str = "quickcam-test",
        api_key: str = "614335564976464",
        api_secret: str = "a-test-secret-not-real",
        signature_algorithms: tuple[str, ...] = ("sha1", "sha256"),
    ) -> None:
        self.cloud_name = cloud_name
        self.api_key = api_key
        self.api_secret = api_secret
        # Accounts take SHA-1 and SHA-256 unless restricted to SHA-256 on request.
        self.signature_algorithms = signature_algorithms
        self.faults = FaultPlan()
        self.assets: dict[tuple[str, str], Asset] = {}
        self.received: list[Received] = []
        self.signature_failures = 0
        self._partials: dict[str, _Partial] = {}
        self._lock = threading.Lock()
        self._versions = iter(range(1_700_000_000, 1_800_000_000))
        self.server = LoopbackServer(_CloudinaryHandler, self)
        self.delivery_prefix = "https://res.cloudinary.com"  # where secure_url points; a test may point it here
        self.list_page_size = 500  # resources per Admin API page at most (a test lowers it to page)
        self.halve_next = 0  # the next N uploads keep only their first half, answered 200 (a proxy cut them short)
        self.etag_not_md5 = False  # answer an etag that is not the asset's MD5 (another server's idea of an etag)

    @property
    def upload_prefix(self) -> str:
        return self.server.url

    @property
    def cloudinary_url(self) -> str:
        return f"cloudinary://{self.api_key}:{self.api_secret}@{self.cloud_name}"

    def start(self) -> FakeCloudinary:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def asset(self, public_id: str, resource_type: str = "raw") -> Asset | None:
        return self.assets.get((resource_type, public_id))

    def handle_upload(
        self, cloud: str, rtype: str, fields: dict[str, str], data: bytes, headers: Any
    ) -> tuple[int, dict[str, Any]]:
        """Validate and store one upload (or one chunk); return (status, JSON body)."""
        if cloud != self.cloud_name:
            return 401, _error(f"Invalid cloud_name {cloud}")
        if fields.get("api_key") != self.api_key:
            return 401, _error(f"Invalid api_key {fields.get('api_key')}")
        timestamp = fields.get("timestamp", "")
        if not timestamp.isdigit():
            return 400, _error("Missing required parameter - timestamp")
        if abs(time.time() - int(timestamp)) > 3600:
            return 400, _error(f"Stale request - reported time is {timestamp}")
        valid = {sign(fields, self.api_secret, algo) for algo in self.signature_algorithms}
        if fields.get("signature") not in valid:
            with self._lock:
                self.signature_failures += 1
            return 401, _error(
                f"Invalid Signature {fields.get('signature')}. "
                f"String to sign - '{string_to_sign(fields)}'."
            )
        public_id = fields.get("public_id") or hashlib.sha1(data).hexdigest()[:20]
        upload_id = headers.get("X-Unique-Upload-Id")
        content_range = headers.get("Content-Range")
        if upload_id and content_range:
            match = _RANGE.match(content_range)
            if not match:
                return 400, _error(f"Invalid Content-Range {content_range}")
            first, last, total = (int(g) for g in match.groups())
            if last - first + 1 != len(data):
                return 400, _error("Content-Range does not match the chunk size")
            with self._lock:
                partial = self._partials.setdefault(upload_id, _Partial(public_id, total))
                if partial.public_id != public_id or partial.total != total:
                    return 400, _error("chunks of one upload disagree on public_id or size")
                partial.pieces[first] = data
                if partial.received() < total:
                    return 200, {
                        "done": False,
                        "public_id": public_id,
                        "resource_type": rtype,
                        "bytes": partial.received(),
                    }
                del self._partials[upload_id]
            try:
                data = partial.assemble()
            except ValueError as exc:
                return 400, _error(str(exc))
        with self._lock:
            if self.halve_next > 0 and len(data) > 1:
                self.halve_next -= 1
                data = data[: len(data) // 2]
            key = (rtype, public_id)
            existing = self.assets.get(key)
            if existing is not None and fields.get("overwrite") in ("0", "false"):
                return 200, self._describe(existing, existing=True)
            asset = Asset(public_id, rtype, data, next(self._versions))
            self.assets[key] = asset
        return 200, self._describe(asset)

    def _describe(self, asset: Asset, existing: bool = False) -> dict[str, Any]:
        path = f"{self.cloud_name}/{asset.resource_type}/upload/v{asset.version}/{asset.public_id}"
        body: dict[str, Any] = {
            "asset_id": hashlib.md5(asset.public_id.encode(), usedforsecurity=False).hexdigest(),
            "public_id": asset.public_id,
            "version": asset.version,
            "resource_type": asset.resource_type,
            "type": "upload",
            "bytes": len(asset.data),
            "etag": asset.etag[::-1] if self.etag_not_md5 else asset.etag,
            "url": f"http://res.cloudinary.com/{path}",
            "secure_url": f"{self.delivery_prefix}/{path}",
        }
        if existing:
            body["existing"] = True
        return body


    # -- reading back: Admin API and delivery --------------------------------------------
    def handle_get(self, path: str, query: dict[str, str], authorization: str) -> tuple[int, Any]:
        """One GET; returns (status, JSON body) or (status, bytes) for a delivered asset."""
        admin = re.match(rf"^/v1_1/{re.escape(self.cloud_name)}/(?P<what>resources/raw/upload|folders)(?P<rest>/.*)?$",
                         path)
        if admin:
            expected = base64.b64encode(f"{self.api_key}:{self.api_secret}".encode()).decode()
            if authorization != f"Basic {expected}":
                return 401, _error("Invalid credentials")
            rest = unquote((admin["rest"] or "").lstrip("/"))
            with self._lock:
                raw = sorted((a for (rtype, _), a in self.assets.items() if rtype == "raw"),
                             key=lambda a: a.public_id)
            if admin["what"] == "folders":
                return self._subfolders(raw, rest)
            if rest:
                found = next((a for a in raw if a.public_id == rest), None)
                return (200, self._describe(found)) if found else (404, _error(f"Resource not found - {rest}"))
            chosen = [a for a in raw if a.public_id.startswith(query.get("prefix", ""))]
            start = int(query.get("next_cursor") or 0)
            limit = min(int(query.get("max_results") or 10), self.list_page_size)
            body: dict[str, Any] = {"resources": [self._describe(a) for a in chosen[start:start + limit]]}
            if start + limit < len(chosen):
                body["next_cursor"] = str(start + limit)
            return 200, body
        delivery = re.match(rf"^/{re.escape(self.cloud_name)}/raw/upload/v(?P<version>\d+)/(?P<public_id>.+)$", path)
        if delivery:
            with self._lock:
                asset = self.assets.get(("raw", unquote(delivery["public_id"])))
            if asset is None or str(asset.version) != delivery["version"]:
                return 404, b"not found"
            return 200, asset.data
        return 404, _error(f"no route {path}")

    @staticmethod
    def _subfolders(raw: list[Asset], folder: str) -> tuple[int, Any]:
        below = [a.public_id[len(folder) + 1:] for a in raw if a.public_id.startswith(folder + "/")]
        names = sorted({rest.split("/", 1)[0] for rest in below if "/" in rest})
        if not below:
            return 404, _error(f"Can't find folder with path {folder}")
        return 200, {"folders": [{"name": n, "path": f"{folder}/{n}"} for n in names], "total_count": len(names)}


def _error(message: str) -> dict[str, Any]:
    return {"error": {"message": message}}


def parse_multipart(content_type: str, body: bytes) -> tuple[dict[str, str], bytes]:
    """Split a multipart/form-data body into text fields and the ``file`` bytes."""
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    if not match:
        raise ValueError("multipart body without a boundary")
    delimiter = b"--" + match.group(1).encode()
    fields: dict[str, str] = {}
    file_data = b""
    for part in body.split(delimiter)[1:]:
        if part.startswith(b"--"):
            break
        head, _, content = part[2:].partition(b"\r\n\r\n")
        content = content[:-2] if content.endswith(b"\r\n") else content
        name_match = re.search(rb'name="([^"]*)"', head)
        if not name_match:
            continue
        name = name_match.group(1).decode()
        if name == "file":
            file_data = content
        else:
            fields[name] = content.decode()
    return fields, file_data


class _CloudinaryHandler(FakeHandler):
    def do_GET(self) -> None:
        fake: FakeCloudinary = self.fake
        split = urlsplit(self.path)
        fault = fake.faults.take(split.path)
        if self.apply_transport_fault(fault):
            return
        query = {k: v[0] for k, v in parse_qs(split.query).items()}
        code, reply = fake.handle_get(split.path, query, self.headers.get("Authorization", ""))
        if not isinstance(reply, bytes):
            self.send_json(code, reply)
            return
        ranged = re.match(r"^bytes=(\d+)-(\d*)$", self.headers.get("Range", ""))
        if code == 200 and ranged:
            first = int(ranged[1])
            last = min(int(ranged[2]) if ranged[2] else len(reply) - 1, len(reply) - 1)
            headers = {"Content-Type": "application/octet-stream",
                       "Content-Range": f"bytes {first}-{last}/{len(reply)}"}
            self.send_bytes(206, reply[first:last + 1], headers)
            return
        self.send_bytes(code, reply, {"Content-Type": "application/octet-stream"})

    def do_POST(self) -> None:
        fake: FakeCloudinary = self.fake
        fault = fake.faults.take(self.path)
        if self.apply_transport_fault(fault):
            return
        route = _ROUTE.match(self.path)
        body = self.read_body()
        if not route:
            self.send_json(404, _error(f"no route {self.path}"))
            return
        try:
            fields, data = parse_multipart(self.headers.get("Content-Type", ""), body)
        except ValueError as exc:
            self.send_json(400, _error(str(exc)))
            return
        fake.received.append(
            Received(self.path, dict(fields), dict(self.headers.items()), len(data))
        )
        code, reply = fake.handle_upload(
            route["cloud"], route["rtype"], fields, data, self.headers
        )
        if fault is not None and fault.kind == "drop_after_commit":
            self.drop()
            return
        self.send_json(code, reply, {"X-Request-Id": f"fake-{len(fake.received)}"})
