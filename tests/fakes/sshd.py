"""A real OpenSSH ``sshd`` on loopback ports, with its own config, keys and folder.

Not a fake: Debian's openssh-server, started in the foreground (``-D -e``)
with a config file written to a temporary folder, a fresh host key, and one
authorized client key. It listens on two ports: on ``port`` SFTP can write,
on ``read_only_port`` the same login gets a read-only SFTP server
(``internal-sftp -R``), which is how the tests see "permission denied" while
running as root.
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

from tests.conftest import free_port

SSHD = Path("/usr/sbin/sshd")


def _write_key(path: Path) -> str:
    """Write a new ed25519 private key (OpenSSH format); return the public key line."""
    import asyncssh

    key = asyncssh.generate_private_key("ssh-ed25519")
    path.write_bytes(key.export_private_key("openssh"))
    path.chmod(0o600)
    return key.export_public_key("openssh").decode().strip()


def unavailable_reason() -> str | None:
    """Why a real sshd cannot run here, or None if it can."""
    if not SSHD.exists():
        return f"{SSHD} is missing: apt-get install openssh-server"
    if os.geteuid() == 0:
        privsep = Path("/run/sshd")
        try:
            privsep.mkdir(mode=0o755, exist_ok=True)
        except OSError as exc:
            return f"cannot create sshd's privilege-separation folder {privsep}: {exc}"
    return None


class Sshd:
    """An sshd process for one test module; see the module docstring."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.user = getpass.getuser()
        self.port = free_port()
        self.read_only_port = free_port()
        self.client_key = workdir / "client_ed25519"
        self.other_key = workdir / "stranger_ed25519"
        self.known_hosts = workdir / "known_hosts"
        self.root = workdir / "sftp-root"
        self._proc: subprocess.Popen[bytes] | None = None
        self._host_public = ""

    def start(self) -> Sshd:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.root.mkdir(exist_ok=True)
        host_key = self.workdir / "host_ed25519"
        self._host_public = _write_key(host_key)
        authorized = self.workdir / "authorized_keys"
        authorized.write_text(_write_key(self.client_key) + "\n")
        _write_key(self.other_key)  # a key the server does not know
        self.known_hosts.write_text("")
        for port in self.ports:
            self.trust_port(port)
        config = self.workdir / "sshd_config"
        config.write_text(
            f"Port {self.port}\n"
            f"Port {self.read_only_port}\n"
            "ListenAddress 127.0.0.1\n"
            f"HostKey {host_key}\n"
            f"PidFile {self.workdir / 'sshd.pid'}\n"
            f"AuthorizedKeysFile {authorized}\n"
            "PubkeyAuthentication yes\n"
            "PasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\n"
            "UsePAM no\n"
            "StrictModes no\n"
            "PermitRootLogin prohibit-password\n"
            "MaxStartups 100\n"
            "LogLevel ERROR\n"
            "Subsystem sftp internal-sftp\n"
            f"Match LocalPort {self.read_only_port}\n"
            "    ForceCommand internal-sftp -R\n"
        )
        check = subprocess.run(
            [str(SSHD), "-t", "-f", str(config)], capture_output=True, text=True, check=False
        )
        if check.returncode != 0:
            raise RuntimeError(f"sshd rejected its test config: {check.stderr.strip()}")
        with open(self.workdir / "sshd.log", "wb") as log:
            self._proc = subprocess.Popen(
                [str(SSHD), "-D", "-e", "-f", str(config)], stdout=subprocess.DEVNULL, stderr=log
            )
        deadline = time.monotonic() + 30  # a loaded machine may be slow to start it
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                log = (self.workdir / "sshd.log").read_text(errors="replace")
                raise RuntimeError(f"sshd exited at start: {log.strip()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("sshd did not start listening within 30 s")

    def trust_port(self, port: int) -> None:
        """Accept this server's host key on ``port`` too (a proxy in front of it)."""
        with open(self.known_hosts, "a") as known:
            known.write(f"[127.0.0.1]:{port} {self._host_public}\n")

    @property
    def ports(self) -> tuple[int, int]:
        return (self.port, self.read_only_port)

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        shutil.rmtree(self.root, ignore_errors=True)
