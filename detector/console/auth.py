"""Who may open the console: passwords (scrypt), the loopback start token, sessions, failed-login limits.

- Passwords live hashed in ``[console] password_file`` (0600), one ``user:hash``
  a line, written by ``quickcam console-password`` which reads the password
  from a prompt or stdin, never from argv. The hash is scrypt (n=2^14, r=8,
  p=1, 16-byte salt), about 50 ms and 16 MB per try.
- On a loopback address a random token printed at start also logs in (as
  Jupyter does); it is never written to the log.
- A login gives a random session cookie that expires ``session_s`` after it
  was issued, whatever happens in between.
- A client address with ``max_failures`` failures within ``window_s`` is
  refused (HTTP 429) until the oldest failure leaves the window; every failure
  is logged with the address and user name (never the password).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

from quickcam.common.durable import atomic_write

SCRYPT_N, SCRYPT_R, SCRYPT_P = 1 << 14, 8, 1
MAX_ADDRESSES = 4096  # client addresses whose failed logins are remembered at once
USER_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


class AuthError(Exception):
    """The password file or a user name is unusable; the message names the fix."""


def hash_password(password: str, salt: bytes | None = None) -> str:
    """``scrypt$n$r$p$salt$hash`` (base64), the format of the password file."""
    salt = salt if salt is not None else os.urandom(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    b64 = base64.b64encode
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, encoded: str) -> bool:
    """Whether ``password`` matches ``encoded``, in time independent of where they differ."""
    try:
        scheme, n, r, p, salt, digest = encoded.split("$")
        if scheme != "scrypt":
            return False
        want = base64.b64decode(digest)
        got = hashlib.scrypt(password.encode("utf-8"), salt=base64.b64decode(salt), n=int(n), r=int(r),
                             p=int(p), dklen=len(want), maxmem=64 << 20)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, want)


def read_password_file(path: Path) -> dict[str, str]:
    """The users and their hashes; an absent file means no users."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise AuthError(f"cannot read the console password file {path} ({exc.strerror or exc}); "
                        "check its owner and mode (chmod 600)") from None
    users = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        user, sep, encoded = line.partition(":")
        if not sep or not encoded.startswith("scrypt$"):
            raise AuthError(f"{path} line {number} is not user:scrypt$...; set the password again with "
                            "quickcam console-password")
        users[user] = encoded.strip()
    return users


def set_password(path: Path, user: str, password: str) -> None:
    """Add or replace ``user`` in the password file (created 0600, replaced atomically)."""
    if not user or not set(user) <= USER_CHARS:
        raise AuthError(f"user name {user!r}: use letters, digits, '.', '_' or '-'")
    if len(password) < 8:
        raise AuthError("the password must have at least 8 characters")
    users = read_password_file(path)
    users[user] = hash_password(password)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write("".join(f"{u}:{h}\n" for u, h in sorted(users.items())).encode())


class Sessions:
    """Session cookies: random tokens with an absolute expiry (thread-safe)."""

    def __init__(self, lifetime_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.lifetime_s, self.clock = lifetime_s, clock
        self._lock = threading.Lock()
        self._sessions: dict[str, tuple[str, float]] = {}

    def open(self, user: str) -> str:
        token = secrets.token_urlsafe(32)
        with self._lock:
            now = self.clock()
            self._sessions = {t: s for t, s in self._sessions.items() if s[1] > now}  # forget expired ones
            self._sessions[token] = (user, now + self.lifetime_s)
        return token

    def user(self, token: str | None) -> str | None:
        """The user of a live session, or None (unknown or expired token)."""
        if not token:
            return None
        with self._lock:
            session = self._sessions.get(token)
            if session is None:
                return None
            if session[1] <= self.clock():
                del self._sessions[token]
                return None
            return session[0]

    def close(self, token: str | None) -> None:
        with self._lock:
            self._sessions.pop(token or "", None)


class LoginLimiter:
    """At most ``max_failures`` failed logins per client address within ``window_s`` (thread-safe)."""

    def __init__(self, max_failures: int, window_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_failures, self.window_s, self.clock = max_failures, window_s, clock
        self._lock = threading.Lock()
        self._failures: dict[str, deque[float]] = {}
        self.refused = 0  # attempts refused because of the limit (shown in the console's status)
        self.failures = 0  # failed logins since start

    def _recent(self, address: str) -> deque[float]:
        failures = self._failures.setdefault(address, deque())
        while failures and failures[0] <= self.clock() - self.window_s:
            failures.popleft()
        return failures

    def wait_s(self, address: str) -> float:
        """0 if ``address`` may try now, else how long until it may."""
        with self._lock:
            failures = self._recent(address)
            if len(failures) < self.max_failures:
                return 0.0
            self.refused += 1
            return max(0.1, failures[0] + self.window_s - self.clock())

    def failed(self, address: str) -> int:
        """Record a failure; returns the failures of ``address`` within the window."""
        with self._lock:
            if len(self._failures) >= MAX_ADDRESSES:  # many addresses: forget those with no recent failure
                self._failures = {a: f for a, f in self._failures.items() if self._recent(a)}
            failures = self._recent(address)
            failures.append(self.clock())
            self.failures += 1
            return len(failures)

    def succeeded(self, address: str) -> None:
        with self._lock:
            self._failures.pop(address, None)


def new_start_token() -> str:
    return secrets.token_urlsafe(24)


def same_token(given: str, expected: str) -> bool:
    return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())
