"""Who may talk to the uploader: the CURVE allow-list and the ZAP handler that enforces it.

The allow-list folder (``link.curve_allow_dir``) holds one public key file per
detector, ``NAME.key`` as written by ``quickcam curve-keygen NAME``, and
``allow.toml`` binding each NAME to the camera ids it may send for::

    [detectors.garage]
    cameras = ["drive", "door"]

A key file without an entry, or an entry without its key file, is left out
and logged. The list is read at start-up and again on SIGHUP or whenever the
folder changes (``signature``); a broken new version is logged and the previous
list stays in force. The ZAP handler (ZeroMQ RFC 27) runs in its own thread
on the receiver's context and must be started before the ROUTER binds: with no
handler listening, libzmq lets every CURVE client in. It names each accepted
connection by its public key (the ZAP User-Id, z85), which the receiver reads
from every message and looks up in the current list: a key removed from the
list stops being able to store footage at once, even on an open connection.
"""

from __future__ import annotations

import logging
import threading
import time
import tomllib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import zmq
from zmq.utils import z85

from quickcam.common import protocol
from quickcam.common.config import ConfigError
from quickcam.common.curve import PUBLIC_SUFFIX, load_public_key

log = logging.getLogger(__name__)

ALLOW_FILE = "allow.toml"
ZAP_ENDPOINT = "inproc://zeromq.zap.01"
ZAP_DOMAIN = "quickcam"
DENIED_LOG_EVERY_S = 600.0  # a refused detector reconnects every few seconds: log it once in a while


@dataclass(frozen=True)
class AllowedDetector:
    name: str
    public_key: bytes  # z85, 40 characters
    cameras: frozenset[str]


class AllowList:
    """Detector public keys and the cameras each may send for."""

    def __init__(self, detectors: list[AllowedDetector], folder: Path | None = None) -> None:
        self.folder = folder
        self.by_key = {d.public_key: d for d in detectors}
        self.by_name = {d.name: d for d in detectors}

    def __len__(self) -> int:
        return len(self.by_name)

    def cameras_for(self, name: str) -> frozenset[str]:
        detector = self.by_name.get(name)
        return detector.cameras if detector else frozenset()

    @classmethod
    def load(cls, folder: Path) -> AllowList:
        """Read ``folder``; a broken allow.toml or key file is a ConfigError naming it."""
        allow_file = folder / ALLOW_FILE
        if not folder.is_dir():
            raise ConfigError(f"link.curve_allow_dir: {folder} is not a folder")
        try:
            entries = tomllib.loads(allow_file.read_text(encoding="utf-8-sig")).get("detectors", {})  # a BOM dropped
        except FileNotFoundError:
            raise ConfigError(f"{allow_file} is missing; it lists the cameras each detector key "
                              "may send for (see docs/protocol.md, Security)") from None
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"{allow_file} cannot be read: {exc}") from None
        if not isinstance(entries, dict):
            raise ConfigError(f"{allow_file}: [detectors] must be a table of [detectors.NAME]")
        detectors = []
        for name, entry in sorted(entries.items()):
            cameras = entry.get("cameras") if isinstance(entry, dict) else None
            if not isinstance(cameras, list) or not cameras \
                    or any(protocol.camera_id_problem(cam) for cam in cameras):
                raise ConfigError(f"{allow_file}: detectors.{name}.cameras must be a non-empty "
                                  "list of camera ids")
            key_file = folder / f"{name}{PUBLIC_SUFFIX}"
            if not key_file.is_file():
                log.warning("auth: %s lists detector %r but %s is missing; it cannot connect",
                            allow_file, name, key_file.name)
                continue
            detectors.append(AllowedDetector(name, load_public_key(key_file), frozenset(cameras)))
        for key_file in sorted(folder.glob(f"*{PUBLIC_SUFFIX}")):
            if key_file.stem not in entries:
                log.warning("auth: %s has no entry in %s; that detector cannot connect",
                            key_file.name, ALLOW_FILE)
        keys = Counter(d.public_key for d in detectors)
        repeated = sorted(d.name for d in detectors if keys[d.public_key] > 1)
        if repeated:
            raise ConfigError(f"{folder}: detectors {', '.join(repeated)} share one public key; "
                              "give each detector its own key pair")
        if not detectors:
            log.warning("auth: the allow-list in %s is empty; no detector can connect", folder)
        return cls(detectors, folder)


def only_allowed_cameras(header: dict[str, Any], allowed: frozenset[str] | None) -> dict[str, Any]:
    """The hello or status with only the cameras a key may send for (``None``: no allow-list, all of them).

    A key limited by allow.toml must not raise alerts (camera lost, disk full) for someone else's camera.
    """
    if allowed is None:
        return header
    cameras = header.get("cameras")
    if isinstance(cameras, dict):
        cameras = {cam: state for cam, state in cameras.items() if cam in allowed}
    elif isinstance(cameras, list):
        cameras = [cam for cam in cameras if cam in allowed]
    return {**header, "cameras": cameras}


def signature(folder: Path) -> tuple:
    """What changes when anything in the allow-list folder changes (names, sizes, times)."""
    try:
        entries = sorted((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in folder.iterdir())
        return (folder.stat().st_mtime_ns, tuple(entries))
    except OSError as exc:
        return ("unreadable", str(exc))


class AllowListWatcher:
    """Reads the allow-list folder again when it changed or when asked (SIGHUP), logging the result."""

    def __init__(self, folder: Path, current: AllowList, counters: Counter[str]) -> None:
        self.folder = folder
        self.current = current
        self.counters = counters
        self._signature = signature(folder)

    def reload_if_changed(self, asked: bool = False) -> AllowList | None:
        """The new list if it changed and loads; None if unchanged or broken (the current one stays)."""
        fresh_signature = signature(self.folder)
        if not asked and fresh_signature == self._signature:
            return None
        self._signature = fresh_signature
        why = "SIGHUP" if asked else "the folder changed"
        try:
            fresh = AllowList.load(self.folder)
        except ConfigError as exc:
            self.counters["allow_list_reload_failed"] += 1
            log.error("auth: allow-list not reloaded (%s): %s; the previous list (%d key(s)) stays in force",
                      why, exc, len(self.current))
            return None
        before, after = set(self.current.by_name), set(fresh.by_name)
        self.current = fresh
        self.counters["allow_list_reloads"] += 1
        log.info("auth: allow-list reloaded from %s (%s): %d detector key(s): %s%s%s", self.folder, why,
                 len(fresh), ", ".join(sorted(after)) or "none",
                 f"; added {', '.join(sorted(after - before))}" if after - before else "",
                 f"; removed {', '.join(sorted(before - after))}" if before - after else "")
        return fresh


class ZapHandler:
    """Answers libzmq's ZAP requests for the ``quickcam`` domain from an AllowList."""

    def __init__(self, ctx: zmq.Context, allow: AllowList, counters: Counter[str] | None = None) -> None:
        self.ctx = ctx
        self.allow = allow
        self.counters = counters if counters is not None else Counter()
        self._ready = threading.Event()
        self._stop = threading.Event()
        self._error: Exception | None = None
        self._last_logged: dict[bytes, float] = {}
        self._thread = threading.Thread(target=self._run, name="zap", daemon=True)

    def start(self) -> None:
        """Bind the ZAP endpoint; returns once requests will be answered."""
        self._thread.start()
        self._ready.wait(5)
        if self._error is not None or not self._ready.is_set():
            raise ConfigError(f"cannot start the CURVE authenticator: {self._error or 'timed out'}")

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)

    def _run(self) -> None:
        sock = self.ctx.socket(zmq.REP)
        sock.setsockopt(zmq.LINGER, 0)
        try:
            sock.bind(ZAP_ENDPOINT)
        except zmq.ZMQError as exc:
            self._error = exc
            sock.close()
            self._ready.set()
            return
        self._ready.set()
        try:
            while not self._stop.is_set():
                if sock.poll(200):
                    sock.send_multipart(self.reply(sock.recv_multipart()))
        finally:
            sock.close()

    def reply(self, request: list[bytes]) -> list[bytes]:
        """The ZAP reply frames for one request (RFC 27): 200 with the detector name, or 400."""
        if len(request) < 6 or request[0] != b"1.0":
            log.error("auth: malformed ZAP request from libzmq (%d frames)", len(request))
            return [b"1.0", request[1] if len(request) > 1 else b"", b"500", b"bad request", b"", b""]
        request_id, domain, address, mechanism = request[1], request[2], request[3], request[5]
        credentials = request[6:]

        def answer(code: bytes, text: bytes, user: bytes = b"") -> list[bytes]:
            return [b"1.0", request_id, code, text, user, b""]

        if domain != ZAP_DOMAIN.encode() or mechanism != b"CURVE" or len(credentials) != 1 \
                or len(credentials[0]) != 32:
            self._deny(address, b"", f"mechanism {mechanism.decode(errors='replace')} "
                                     f"in domain {domain.decode(errors='replace')!r} is not CURVE")
            return answer(b"400", b"CURVE in the quickcam domain only")
        key = z85.encode(credentials[0])
        detector = self.allow.by_key.get(key)
        if detector is None:
            self._deny(address, key, f"its public key {key.decode()} is not in the allow-list "
                                     f"{self.allow.folder}")
            return answer(b"400", b"public key not in the allow-list")
        self.counters["auth_allowed"] += 1
        log.debug("auth: detector %s connected from %s", detector.name, _shown(address))
        return answer(b"200", b"OK", key)

    def _deny(self, address: bytes, key: bytes, why: str) -> None:
        self.counters["auth_denied"] += 1
        now = time.monotonic()
        if now - self._last_logged.get(key, -DENIED_LOG_EVERY_S) >= DENIED_LOG_EVERY_S:
            self._last_logged[key] = now
            log.warning("auth: refused a detector at %s: %s (%d refusal(s) so far)",
                        _shown(address), why, self.counters["auth_denied"])


def _shown(address: bytes) -> str:
    """A peer's address as people write it: an IPv4 one as such, not IPv4-mapped (``::ffff:192.0.2.7``).

    With ZeroMQ's IPV6 option on (an uploader reachable over IPv6, FINDINGS #49), IPv4 peers come as mapped.
    """
    text = address.decode(errors="replace")
    return (text.removeprefix("::ffff:") if text.startswith("::ffff:") and "." in text else text) or "?"
