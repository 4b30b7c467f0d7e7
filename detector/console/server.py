"""Serving the console: uvicorn in one thread of the detector, only when ``[console] listen`` is set.

The rules on who may reach it are checked here, before anything listens:
off loopback a password must be set (``quickcam console-password``) and TLS
configured, unless ``allow_plain_http`` says a TLS reverse proxy on this host
fronts it. On loopback a fresh token is printed at start (and written, 0600,
to ``<outbox>/console.url``), never logged.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import uvicorn

from quickcam.common.config import CameraConfig, ConsoleConfig
from quickcam.common.logs import stderr_line
from quickcam.detector.console.auth import AuthError, new_start_token, read_password_file
from quickcam.detector.console.hooks import PipelineHooks
from quickcam.detector.console.state import ConsoleState
from quickcam.detector.console.web import create_app

log = logging.getLogger(__name__)

URL_FILE = "console.url"


class ConsoleError(Exception):
    """The console cannot start as configured; the message names the fix."""


def split_listen(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    return host.strip("[]"), int(port)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_exposure(config: ConsoleConfig) -> bool:
    """Raise ConsoleError if the console would be reachable without a password or TLS; True on loopback."""
    host, _ = split_listen(config.listen)
    if is_loopback(host):
        return True
    try:
        users = read_password_file(config.password_file)
    except AuthError as exc:
        raise ConsoleError(f"console: {exc}") from None
    if not users:
        raise ConsoleError(f"console: [console] listen = {config.listen!r} is reachable from other machines, so "
                           f"a password is required and {config.password_file} has none; set one with "
                           "`quickcam console-password --config FILE`, or listen on 127.0.0.1")
    if config.tls_cert is None and not config.allow_plain_http:
        raise ConsoleError(f"console: [console] listen = {config.listen!r} is reachable from other machines, so "
                           "passwords need TLS: set tls_cert and tls_key, or put a TLS reverse proxy in front "
                           "(docs/console.md) and set allow_plain_http = true")
    return False


class ConsoleServer:
    """The console's web server, in a daemon thread; ``start`` raises ConsoleError, never the thread."""

    def __init__(self, config: ConsoleConfig, cameras: list[CameraConfig], hooks: PipelineHooks,
                 status: Callable[[], dict[str, Any]], config_path: Path | None, outbox_dir: Path) -> None:
        self.config = config
        self.loopback = check_exposure(config)
        self.state = ConsoleState(
            config=config, cameras={c.id: c for c in cameras}, tap=hooks.tap, zones=hooks.zones, status=status,
            config_path=config_path, loopback=self.loopback, start_token=new_start_token() if self.loopback else "",
            tls=config.tls_cert is not None, password_file=config.password_file)
        self.outbox_dir = outbox_dir
        self.server: uvicorn.Server | None = None
        self.thread: threading.Thread | None = None
        self.url = ""

    def start(self) -> str:
        """Listen and serve; returns the URL to open (with the token on loopback)."""
        host, port = split_listen(self.config.listen)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            sock.close()
            raise ConsoleError(f"console: cannot listen on {self.config.listen} ({exc.strerror or exc}); "
                               "choose another [console] listen address or port") from None
        sock.listen(64)
        port = sock.getsockname()[1]
        tls = self.config.tls_cert is not None
        uv_config = uvicorn.Config(
            create_app(self.state), log_config=None, log_level="warning", access_log=False, lifespan="off",
            proxy_headers=False,  # X-Forwarded-For only from [console] trusted_proxies (state.client_of)
            ssl_certfile=str(self.config.tls_cert) if tls else None,
            ssl_keyfile=str(self.config.tls_key) if tls else None, timeout_graceful_shutdown=2)
        try:
            uv_config.load()  # reads the certificate now, so a bad one is an error here, not in the thread
        except (OSError, ValueError) as exc:
            sock.close()
            raise ConsoleError(f"console: cannot use the TLS certificate {self.config.tls_cert} / key "
                               f"{self.config.tls_key} ({exc}); fix the paths or the files") from None
        self.server = uvicorn.Server(uv_config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]}, name="console",
                                       daemon=True)
        self.thread.start()
        shown_host = f"[{host}]" if ":" in host else host
        base = f"{'https' if tls else 'http'}://{shown_host}:{port}/"
        log.info("console: serving %s (%s)", base, "token or password" if self.loopback else "password")
        self.url = f"{base}?token={self.state.start_token}" if self.loopback else base
        if self.loopback:
            stderr_line(f"quickcam console: open {self.url}")  # not logged (it holds the token); never blocks
            self._write_url_file()
        return self.url

    def _write_url_file(self) -> None:
        path = self.outbox_dir / URL_FILE
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as handle:
                os.fchmod(handle.fileno(), 0o600)
                handle.write(self.url + "\n")
        except OSError as exc:
            log.warning("console: cannot write %s (%s); the link is only on the detector's stderr", path,
                        exc.strerror or exc)

    def status(self) -> dict[str, Any]:
        return {"listen": self.config.listen, "viewers": self.state.tap.status(),
                "failed_logins": self.state.limiter.failures, "refused_logins": self.state.limiter.refused}

    def stop(self) -> None:
        if self.server is not None:
            self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(timeout=5)
        (self.outbox_dir / URL_FILE).unlink(missing_ok=True)
