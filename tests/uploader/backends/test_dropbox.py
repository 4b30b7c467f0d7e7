"""The Dropbox back end, through the real SDK, against a fake Dropbox over TLS on 127.0.0.1.

The SDK reads DROPBOX_API_HOST / DROPBOX_API_CONTENT_HOST when it is first
imported, so the back end runs in a child process started with the fake's
hosts and CA bundle (REQUESTS_CA_BUNDLE); the test drives it line by line and
injects faults into the fake between calls.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from quickcam.uploader.backends import PermanentError, RetryableError
from tests.fakes import httpfake
from tests.fakes.backend_worker import BackendProcess
from tests.fakes.dropbox_server import FakeDropbox, content_hash, pkce_challenge, rate_limited

FACTORY = "quickcam.uploader.backends.dropbox_backend:DropboxBackend"
FOLDER = "/QuickSecurityCam"
# Small numbers so that a 100 kB file already goes through an upload session.
SESSION_THRESHOLD = 40_000
CHUNK = 16_384


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeDropbox]:
    fake = FakeDropbox(tmp_path_factory.mktemp("dropbox-tls")).start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def worker(server: FakeDropbox) -> Iterator[BackendProcess]:
    process = BackendProcess(server.sdk_environment())
    yield process
    process.close()


@pytest.fixture
def fake(server: FakeDropbox) -> Iterator[FakeDropbox]:
    server.faults.clear()
    server.calls.clear()
    yield server
    server.faults.clear()
    assert server.api.errors == server.content.errors == [], "the fake itself failed"


@pytest.fixture
def dropbox(fake: FakeDropbox, worker: BackendProcess) -> BackendProcess:
    """A fresh DropboxBackend (no access token yet) in the child process."""
    return new_backend(fake, worker)


def new_backend(fake: FakeDropbox, worker: BackendProcess, **options: object) -> BackendProcess:
    settings: dict[str, object] = {
        "app_key": fake.app_key,
        "app_secret": fake.app_secret,
        "refresh_token": fake.refresh_token,
        "folder": FOLDER,
        "session_threshold": SESSION_THRESHOLD,
        "chunk_size": CHUNK,
        "timeout": 3.0,  # 1 s timed out a plain request on a loaded machine (a clean clone, 429-on-token-refresh)
        **options,
    }
    return worker.new(FACTORY, **settings)


def stored(fake: FakeDropbox, key: str) -> bytes | None:
    found = fake.file(f"{FOLDER}/{key}")
    return None if found is None else found.data


def test_small_file_goes_in_one_request_after_fetching_a_token(
    fake: FakeDropbox, dropbox: BackendProcess, make_segment: Callable[..., Path],
    remote_key: Callable[[], str],
) -> None:
    segment, refreshes = make_segment(10_000), fake.refreshes

    location = dropbox.upload(segment, remote_key())

    assert location == f"{FOLDER}/{remote_key()}"
    assert stored(fake, remote_key()) == segment.read_bytes()
    assert fake.calls == ["files/upload"]
    assert fake.refreshes == refreshes + 1  # the refresh token bought the first access token


def test_large_file_goes_through_an_upload_session(
    fake: FakeDropbox, dropbox: BackendProcess, make_segment: Callable[..., Path],
    remote_key: Callable[[], str],
) -> None:
    segment = make_segment(100_000)

    dropbox.upload(segment, remote_key())

    assert stored(fake, remote_key()) == segment.read_bytes()
    assert fake.calls == [
        "files/upload_session/start",
        *["files/upload_session/append_v2"] * 5,
        "files/upload_session/finish",
    ]


def test_token_expiring_mid_session_is_refreshed_and_the_upload_completes(
    fake: FakeDropbox, dropbox: BackendProcess, make_segment: Callable[..., Path],
    remote_key: Callable[[], str],
) -> None:
    dropbox.upload(make_segment(1_000), remote_key("-warm-up"))
    refreshes = fake.refreshes
    segment = make_segment(100_000)
    # The third append finds its access token expired (401 expired_access_token).
    fake.faults.inject(httpfake.Fault("expire_token"), route="append_v2", after=2)

    dropbox.upload(segment, remote_key())

    assert stored(fake, remote_key()) == segment.read_bytes()
    assert fake.refreshes == refreshes + 1
    assert fake.calls.count("files/upload_session/append_v2") == 6  # one sent twice


def test_long_running_uploader_refreshes_whenever_a_token_expires(
    fake: FakeDropbox, dropbox: BackendProcess, make_segment: Callable[..., Path],
    remote_key: Callable[[], str],
) -> None:
    dropbox.upload(make_segment(), remote_key("-0"))
    refreshes = fake.refreshes
    for day in range(1, 4):  # as if hours passed between segments, tokens long dead
        fake.expire_tokens()
        dropbox.upload(make_segment(), remote_key(f"-{day}"))
    assert fake.refreshes == refreshes + 3
    assert all(stored(fake, remote_key(f"-{day}")) for day in range(4))


def test_same_bytes_uploaded_again_is_success_without_a_copy(
    fake: FakeDropbox, dropbox: BackendProcess, make_segment: Callable[..., Path],
    remote_key: Callable[[], str],
) -> None:
    small, large = make_segment(5_000), make_segment(60_000)
    assert dropbox.upload(small, remote_key("-s")) == dropbox.upload(small, remote_key("-s"))
    assert dropbox.upload(large, remote_key("-l")) == dropbox.upload(large, remote_key("-l"))
    assert not [p for p in fake.files if "(1)" in p]


def test_different_bytes_at_the_same_path_are_permanent_and_never_overwrite(
    fake: FakeDropbox, dropbox: BackendProcess, make_segment: Callable[..., Path],
    remote_key: Callable[[], str],
) -> None:
    fake.put_file(f"{FOLDER}/{remote_key()}", b"someone else's file")

    with pytest.raises(PermanentError, match="different file"):
        dropbox.upload(make_segment(), remote_key())
    with pytest.raises(PermanentError, match="different file"):
        dropbox.upload(make_segment(80_000), remote_key())
    assert stored(fake, remote_key()) == b"someone else's file"


@pytest.mark.parametrize(
    ("size", "route"), [(5_000, "files/upload"), (60_000, "finish")], ids=["upload", "session"]
)
def test_409_conflict_with_identical_content_is_success(
    fake: FakeDropbox, dropbox: BackendProcess, make_segment: Callable[..., Path],
    remote_key: Callable[[], str], size: int, route: str,
) -> None:
    segment = make_segment(size)
    dropbox.upload(segment, remote_key())
    # A stricter server than Dropbox: 409 path/conflict/file even for identical bytes.
    fake.faults.inject(httpfake.Fault("conflict"), route=route)

    assert dropbox.upload(segment, remote_key()) == f"{FOLDER}/{remote_key()}"
    assert "files/get_metadata" in fake.calls


def test_answer_lost_after_the_commit_is_retryable_and_the_retry_confirms(
    fake: FakeDropbox, dropbox: BackendProcess, make_segment: Callable[..., Path],
    remote_key: Callable[[], str],
) -> None:
    segment = make_segment(60_000)
    fake.faults.inject(httpfake.drop_after_commit(), route="finish")

    with pytest.raises(RetryableError, match="network error"):
        dropbox.upload(segment, remote_key())
    assert stored(fake, remote_key()) == segment.read_bytes()  # it did land
    dropbox.upload(segment, remote_key())
    assert [p for p in fake.files if remote_key().lower() in p] == [
        f"{FOLDER}/{remote_key()}".lower()
    ]


RETRYABLE_FAULTS = {
    "429-rate-limited": (rate_limited(), None),
    "500": (httpfake.status(500, "Internal Server Error"), None),
    "503": (httpfake.status(503, "Service Unavailable"), None),
    "timeout": (httpfake.delay(8.0), None),  # past the client's 3 s read timeout
    "disconnect-mid-upload": (httpfake.drop_mid_body(), "append_v2"),
    "429-on-token-refresh": (rate_limited(), "oauth2/token"),
    "503-on-token-refresh": (httpfake.status(503, "down"), "oauth2/token"),
}


@pytest.mark.parametrize(
    ("fault", "route"), RETRYABLE_FAULTS.values(), ids=RETRYABLE_FAULTS.keys()
)
def test_transient_failure_is_retryable_then_the_retry_uploads(
    fake: FakeDropbox, dropbox: BackendProcess, make_segment: Callable[..., Path],
    remote_key: Callable[[], str], fault: httpfake.Fault, route: str | None,
) -> None:
    segment = make_segment(60_000)
    fake.faults.inject(fault, route=route)

    with pytest.raises(RetryableError):
        dropbox.upload(segment, remote_key())
    dropbox.upload(segment, remote_key())

    assert stored(fake, remote_key()) == segment.read_bytes()


@pytest.mark.parametrize("host", ["api", "content"])
def test_refused_connection_is_retryable_then_the_retry_uploads(
    fake: FakeDropbox, dropbox: BackendProcess, make_segment: Callable[..., Path],
    remote_key: Callable[[], str], host: str,
) -> None:
    segment = make_segment()
    with getattr(fake, host).refusing(), pytest.raises(RetryableError, match="refused"):
        dropbox.upload(segment, remote_key())
    dropbox.upload(segment, remote_key())
    assert stored(fake, remote_key()) == segment.read_bytes()


PERMANENT_FAULTS = {
    "401-invalid-token": httpfake.status(
        401, {"error_summary": "invalid_access_token/..", "error": {".tag": "invalid_access_token"}}
    ),
    "401-missing-scope": httpfake.status(
        401,
        {
            "error_summary": "missing_scope/..",
            "error": {".tag": "missing_scope", "required_scope": "files.content.write"},
        },
    ),
    "403-no-access": httpfake.status(
        403, {"error_summary": "no_permission/..", "error": {".tag": "no_permission"}}
    ),
    "400-bad-input": httpfake.status(400, "Error in call to API function: bad path"),
    "409-insufficient-space": httpfake.status(
        409,
        {
            "error_summary": "path/insufficient_space/..",
            "error": {
                ".tag": "path",
                "reason": {".tag": "insufficient_space"},
                "upload_session_id": "x",
            },
        },
    ),
}


@pytest.mark.parametrize("fault", PERMANENT_FAULTS.values(), ids=PERMANENT_FAULTS.keys())
def test_auth_and_request_errors_are_permanent(
    fake: FakeDropbox, dropbox: BackendProcess, make_segment: Callable[..., Path],
    remote_key: Callable[[], str], fault: httpfake.Fault,
) -> None:
    fake.faults.inject(fault, route="files/upload")
    with pytest.raises(PermanentError):
        dropbox.upload(make_segment(), remote_key())
    assert stored(fake, remote_key()) is None


def test_revoked_refresh_token_is_permanent_and_says_to_run_dropbox_auth(
    fake: FakeDropbox, worker: BackendProcess, make_segment: Callable[..., Path],
    remote_key: Callable[[], str],
) -> None:
    backend = new_backend(fake, worker, refresh_token="refresh-token-revoked-by-the-user")
    with pytest.raises(PermanentError, match="quickcam dropbox-auth"):
        backend.upload(make_segment(), remote_key())


def test_wrong_app_secret_is_permanent(
    fake: FakeDropbox, worker: BackendProcess, make_segment: Callable[..., Path],
    remote_key: Callable[[], str],
) -> None:
    backend = new_backend(fake, worker, app_secret="not-the-secret")
    with pytest.raises(PermanentError):
        backend.upload(make_segment(), remote_key())


def test_from_config_takes_credentials_from_tokens_env(
    fake: FakeDropbox, worker: BackendProcess, make_segment: Callable[..., Path],
    remote_key: Callable[[], str],
) -> None:
    backend = worker.from_config(
        FACTORY,
        {"folder": "/from-config"},
        {
            "DROPBOX_APP_KEY": fake.app_key,
            "DROPBOX_APP_SECRET": fake.app_secret,
            "DROPBOX_REFRESH_TOKEN": fake.refresh_token,
        },
    )
    assert backend.upload(make_segment(), remote_key()) == f"/from-config/{remote_key()}"


def test_missing_credentials_are_permanent_at_construction(worker: BackendProcess) -> None:
    with pytest.raises(PermanentError, match="DROPBOX_REFRESH_TOKEN"):
        worker.new(FACTORY, app_key="key-only")


@pytest.mark.parametrize("size", [0, 1, 4 * 1024 * 1024, 4 * 1024 * 1024 + 1, 9_000_000])
def test_content_hash_matches_dropbox_definition(
    worker: BackendProcess, tmp_path: Path, size: int
) -> None:
    data = hashlib.shake_256(str(size).encode()).digest(size) if size else b""
    path = tmp_path / "blob"
    path.write_bytes(data)
    module = "quickcam.uploader.backends.dropbox_backend"
    assert worker.call(module, "file_content_hash", str(path)) == content_hash(data)


def test_dropbox_auth_prints_the_tokens_env_lines(fake: FakeDropbox, tmp_path: Path) -> None:
    result = run_dropbox_auth(fake, ["--app-key", fake.app_key], f"{fake.auth_code}\n")

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert f"DROPBOX_APP_KEY={fake.app_key}" in lines
    assert f"DROPBOX_REFRESH_TOKEN={fake.refresh_token}" in lines
    assert not any(line.startswith("DROPBOX_APP_SECRET=") for line in lines)
    url = next(line.strip() for line in lines if "/oauth2/authorize?" in line)
    assert "token_access_type=offline" in url and "code_challenge_method=S256" in url
    challenge = re.search(r"code_challenge=([^&]+)", url)
    assert challenge and fake.code_verifiers
    assert pkce_challenge(fake.code_verifiers[-1]) == challenge.group(1)


def test_dropbox_auth_includes_the_app_secret_when_given(fake: FakeDropbox) -> None:
    result = run_dropbox_auth(
        fake,
        ["--app-key", fake.app_key, "--app-secret", fake.app_secret, "--code", fake.auth_code],
        "",
    )
    assert result.returncode == 0, result.stderr
    assert f"DROPBOX_APP_SECRET={fake.app_secret}" in result.stdout.splitlines()


def test_dropbox_auth_with_a_wrong_code_fails_in_one_line(fake: FakeDropbox) -> None:
    result = run_dropbox_auth(fake, ["--app-key", fake.app_key], "not-the-code\n")

    assert result.returncode == 1
    assert "Dropbox did not accept the code" in result.stderr
    assert "Traceback" not in result.stderr
    assert "DROPBOX_REFRESH_TOKEN" not in result.stdout


def run_dropbox_auth(
    fake: FakeDropbox, args: list[str], stdin: str
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DROPBOX_")}
    env.update(fake.sdk_environment())
    command = (
        "from quickcam.uploader.dropbox_auth import dropbox_auth; "
        "dropbox_auth(prog_name='quickcam dropbox-auth')"
    )
    return subprocess.run(
        [sys.executable, "-c", command, *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
        check=False,
    )
