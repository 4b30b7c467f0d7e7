"""Where the link listens, and why only the real uploader and detectors can use it.

One owner for the link's security policy (docs/protocol.md, section 10), used by
the uploader, the detector and ``quickcam doctor``:

- The default endpoint is a Unix socket, ``ipc://link/uploader.sock``, inside a
  folder only this user can enter (0700, owned by this user). The kernel then
  does the authentication: another local user can neither bind the socket (to
  pose as the uploader) nor connect to it (to pose as a detector). Both sides
  refuse a socket folder that another user owns or can enter, naming the fix.
- ``tcp://`` needs CURVE (a TCP port on 127.0.0.1 is open to every local
  process), unless ``link.allow_plain_tcp`` is set, which both sides then log as
  a warning at every start.
- A busy endpoint is one line: the TCP port with the pid holding it when this
  user may see it, or the other uploader's pid for an ipc socket (libzmq would
  silently take the socket file over, so a lock file next to it decides).
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import logging
import os
from pathlib import Path
from typing import IO

from quickcam.common.config import ConfigError, LinkConfig

log = logging.getLogger(__name__)

DEFAULT_ENDPOINT = "ipc://link/uploader.sock"
LOCK_NAME = "uploader.lock"


def ipc_path(endpoint: str) -> Path | None:
    """The socket file of an ``ipc://`` endpoint, else None."""
    return Path(endpoint[len("ipc://"):]) if endpoint.startswith("ipc://") else None


def is_loopback_endpoint(endpoint: str) -> bool:
    """True for ipc://, inproc:// and TCP on a loopback address: nothing another machine reaches."""
    if not endpoint.startswith("tcp://"):
        return True
    host = endpoint[len("tcp://"):].rsplit(":", 1)[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # "*" or an interface name: reachable from outside


def check_plain_tcp(link: LinkConfig, curve: bool) -> None:
    """ConfigError for tcp:// without CURVE unless the person accepted the risk explicitly."""
    if curve or not link.endpoint.startswith("tcp://") or link.allow_plain_tcp:
        return
    raise ConfigError(
        f"link.endpoint: {link.endpoint} without CURVE lets any program on "
        f"{'this machine' if is_loopback_endpoint(link.endpoint) else 'the network'} pose as the uploader "
        f"or a detector; remove link.endpoint to use the private socket {DEFAULT_ENDPOINT} (one machine), "
        "turn CURVE on (docs/deploy.md, Two machines), or set link.allow_plain_tcp = true to accept the risk")


def plain_tcp_warning(link: LinkConfig, curve: bool) -> str:
    """The warning both sides log at start when they run tcp:// without CURVE, or ''."""
    if curve or not link.endpoint.startswith("tcp://"):
        return ""
    who = "any local program" if is_loopback_endpoint(link.endpoint) else "any host"
    return (f"{link.endpoint} WITHOUT CURVE (link.allow_plain_tcp = true): {who} can pose as the uploader "
            "or a detector and read the footage")


def private_folder(endpoint: str) -> Path | None:
    """Create or check the folder of an ipc:// socket: 0700 and ours, else a ConfigError naming the fix."""
    path = ipc_path(endpoint)
    if path is None or os.name != "posix":
        return None  # Windows: the folder's ACL is the owner's business (docs/deploy.md)
    folder = path.parent
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = folder.stat()
    except OSError as exc:
        raise ConfigError(f"link.endpoint: cannot create the socket folder {folder}: "
                          f"{exc.strerror or exc}; choose another path in link.endpoint") from None
    if not folder.is_dir():
        raise ConfigError(f"link.endpoint: {folder} is not a folder; choose another path in link.endpoint")
    if info.st_uid != os.geteuid():
        raise ConfigError(f"link.endpoint: the socket folder {folder} belongs to uid {info.st_uid}, not to this "
                          f"user (uid {os.geteuid()}), so that user could pose as the uploader; remove it "
                          "or choose another path in link.endpoint")
    parent = folder.absolute().parent.stat()
    if parent.st_mode & 0o002 and not parent.st_mode & 0o1000:
        raise ConfigError(f"link.endpoint: the socket folder {folder} sits in a folder every user may write to "
                          "(without the sticky bit), so another user could swap it; choose another path in "
                          "link.endpoint")
    if info.st_mode & 0o077:
        raise ConfigError(f"link.endpoint: the socket folder {folder} is open to other users "
                          f"(mode {info.st_mode & 0o777:o}), so they could pose as the uploader or a "
                          f"detector; chmod 700 {folder}")
    return folder


class EndpointLock:
    """Held by the uploader while it serves an ipc:// socket, so a second one refuses instead of stealing it."""

    def __init__(self, handle: IO[str]) -> None:
        self._handle = handle

    def release(self) -> None:
        self._handle.close()  # closing drops the flock


def lock_endpoint(endpoint: str, note: str = "") -> EndpointLock | None:
    """Take ``uploader.lock`` beside an ipc:// socket; ConfigError naming the holder if taken.

    The file holds the holder's pid and ``note`` (its state folder): the line of a second uploader names both.
    """
    path = ipc_path(endpoint)
    if path is None or os.name != "posix":
        return None
    import fcntl  # POSIX only, like the check above

    lock_file = path.parent / LOCK_NAME
    handle = open(lock_file, "a+", encoding="ascii")  # noqa: SIM115 - held for the process's life
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().split("\n")[0].strip() or "unknown"
        handle.close()
        raise ConfigError(f"link.endpoint: another uploader (pid {holder}) already serves {endpoint}; "
                          "stop it first, or give this one its own [link] endpoint") from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}{note}\n")
    handle.flush()
    return EndpointLock(handle)


def bind_error(endpoint: str, exc: Exception) -> ConfigError:
    """The one line for an endpoint the uploader cannot bind (``exc``: a ZMQError or OSError)."""
    code, text = getattr(exc, "errno", None), getattr(exc, "strerror", None) or str(exc)
    if code == errno.EADDRINUSE and endpoint.startswith("tcp://"):
        port = endpoint.rsplit(":", 1)[-1]
        pid = _pid_listening_on(int(port)) if port.isdigit() else None
        holder = f"pid {pid}" if pid else "pid unknown: not visible to this user"
        return ConfigError(f"port {port} is in use by another program ({holder}); stop it or set "
                           "[link] endpoint to a free port on both sides")
    return ConfigError(f"cannot listen on {endpoint}: {text}; set [link] endpoint")


def _pid_listening_on(port: int) -> int | None:
    """The pid of the process listening on TCP ``port`` (Linux /proc; None when unknown or not ours to see)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if len(fields) > 9 and fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(fields[9])
    if not inodes:
        return None
    wanted = {f"socket:[{inode}]" for inode in inodes}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            for fd in (proc / "fd").iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(fd) in wanted:
                        return int(proc.name)
    return None
