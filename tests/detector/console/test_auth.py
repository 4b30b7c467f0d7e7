"""Console authentication: scrypt hashes, the password file, session expiry, the failed-login limit."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from quickcam.detector.console.auth import (
    AuthError,
    LoginLimiter,
    Sessions,
    hash_password,
    read_password_file,
    same_token,
    set_password,
    verify_password,
)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_password_verifies_against_its_scrypt_hash_and_nothing_else() -> None:
    encoded = hash_password("correct horse")
    assert encoded.startswith("scrypt$16384$8$1$")
    assert verify_password("correct horse", encoded)
    assert not verify_password("correct hors", encoded)
    assert not verify_password("correct horse", "scrypt$garbage")
    assert hash_password("correct horse") != encoded  # a fresh salt every time


def test_the_password_file_is_private_and_keeps_other_users(tmp_path: Path) -> None:
    path = tmp_path / "console.passwd"
    set_password(path, "alice", "first password")
    set_password(path, "bob", "second password")
    set_password(path, "alice", "alice changed")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    users = read_password_file(path)
    assert set(users) == {"alice", "bob"}
    assert verify_password("alice changed", users["alice"])
    assert "alice changed" not in path.read_text()


def test_short_passwords_bad_user_names_and_damaged_files_are_refused_with_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "console.passwd"
    with pytest.raises(AuthError, match="at least 8"):
        set_password(path, "alice", "short")
    with pytest.raises(AuthError, match="user name"):
        set_password(path, "al:ice", "long enough")
    path.write_text("alice:plaintext\n")
    with pytest.raises(AuthError, match="console-password"):
        read_password_file(path)
    assert read_password_file(tmp_path / "absent") == {}


def test_a_session_expires_at_its_lifetime_whatever_happens_meanwhile() -> None:
    clock = Clock()
    sessions = Sessions(60.0, clock)
    token = sessions.open("alice")
    clock.now += 59
    assert sessions.user(token) == "alice"
    clock.now += 1
    assert sessions.user(token) is None
    assert sessions.user("made-up") is None and sessions.user(None) is None


def test_failed_logins_are_limited_per_address_until_the_window_passes() -> None:
    clock = Clock()
    limiter = LoginLimiter(3, 60.0, clock)
    for _ in range(3):
        assert limiter.wait_s("10.0.0.1") == 0
        limiter.failed("10.0.0.1")
    assert limiter.wait_s("10.0.0.1") == pytest.approx(60.0)
    assert limiter.wait_s("10.0.0.2") == 0  # another address is not punished
    clock.now += 61
    assert limiter.wait_s("10.0.0.1") == 0
    assert limiter.refused == 1


def test_tokens_compare_whole_and_an_empty_expected_token_matches_nothing() -> None:
    assert same_token("abc", "abc")
    assert not same_token("abd", "abc")
    assert not same_token("", "")
