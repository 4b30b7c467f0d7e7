"""The fsspec back end on a local folder (``file://``), and how it sorts errors."""

from __future__ import annotations

import errno
from collections.abc import Callable
from pathlib import Path

import pytest

from quickcam.uploader.backends import PermanentError, RetryableError
from quickcam.uploader.backends.fsspec_backend import FsspecBackend, classify_error


def test_file_url_writes_through_a_temporary_name_and_creates_folders(
    tmp_path: Path, make_segment: Callable[..., Path], remote_key: Callable[[], str]
) -> None:
    backend = FsspecBackend(f"file://{tmp_path}/nas")
    segment = make_segment()

    location = backend.upload(segment, remote_key())

    target = tmp_path / "nas" / remote_key()
    assert location == f"file://{tmp_path}/nas/{remote_key()}"
    assert target.read_bytes() == segment.read_bytes()
    assert [p.name for p in target.parent.iterdir()] == [target.name]  # no .part left


def test_same_key_uploaded_again_with_the_same_bytes_is_success(
    tmp_path: Path, make_segment: Callable[..., Path], remote_key: Callable[[], str]
) -> None:
    backend, segment = FsspecBackend(f"file://{tmp_path}"), make_segment()
    assert backend.upload(segment, remote_key()) == backend.upload(segment, remote_key())
    assert (tmp_path / remote_key()).read_bytes() == segment.read_bytes()


def test_same_key_with_different_bytes_is_permanent_and_keeps_the_original(
    tmp_path: Path, make_segment: Callable[..., Path], remote_key: Callable[[], str]
) -> None:
    backend, original = FsspecBackend(f"file://{tmp_path}"), make_segment()
    backend.upload(original, remote_key())
    with pytest.raises(PermanentError, match="already holds a different file"):
        backend.upload(make_segment(), remote_key())
    assert (tmp_path / remote_key()).read_bytes() == original.read_bytes()


def test_a_copy_cut_short_by_an_earlier_try_is_stored_again_whole(
    tmp_path: Path, make_segment: Callable[..., Path], remote_key: Callable[[], str]
) -> None:
    """The size check after a store found it short (an SFTP server or NAS that kept part of it) and the upload
    was retried: the retry replaces that prefix of this very file. Before, it was "already holds a different
    file", failed for good, and `quickcam retry` said the same (FINDINGS #42)."""
    backend, segment = FsspecBackend(f"file://{tmp_path}"), make_segment(30_000)
    target = tmp_path / remote_key()
    target.parent.mkdir(parents=True)
    target.write_bytes(segment.read_bytes()[:12_000])

    backend.upload(segment, remote_key())

    assert target.read_bytes() == segment.read_bytes()


def test_target_folder_blocked_by_a_file_is_permanent(
    tmp_path: Path, make_segment: Callable[..., Path]
) -> None:
    (tmp_path / "cam0").write_text("a file where a folder should be")
    with pytest.raises(PermanentError):
        FsspecBackend(f"file://{tmp_path}").upload(make_segment(), "cam0/x.qsc")


def test_missing_local_file_is_permanent(tmp_path: Path) -> None:
    with pytest.raises(PermanentError, match="cannot read"):
        FsspecBackend(f"file://{tmp_path}").upload(tmp_path / "gone.qsc", "cam0/x.qsc")


def test_key_escaping_the_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PermanentError, match="not a relative path"):
        FsspecBackend(f"file://{tmp_path}").upload(tmp_path / "x.qsc", "../x.qsc")


def test_unknown_protocol_is_permanent_at_construction() -> None:
    with pytest.raises(PermanentError, match="no fsspec implementation for nosuchstore://"):
        FsspecBackend("nosuchstore://bucket/x")


def test_object_stores_are_written_directly(tmp_path: Path) -> None:
    assert FsspecBackend("memory://footage").atomic_rename is False
    assert FsspecBackend(f"file://{tmp_path}").atomic_rename is True
    assert FsspecBackend(f"file://{tmp_path}", atomic_rename=False).atomic_rename is False


class _FakeClientError(Exception):
    """Shaped like botocore's ClientError: the HTTP status sits in ``response``."""

    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.response = {"Error": {"Code": "X"}, "ResponseMetadata": {"HTTPStatusCode": status}}


class DisconnectError(Exception):
    """Named like asyncssh's: a lost connection."""


class PermissionDenied(DisconnectError):
    """Named like asyncssh's: authentication failed (a DisconnectError too)."""


def _caused_by(cause: BaseException) -> OSError:
    try:
        raise OSError(errno.EIO, "wrapped") from cause
    except OSError as exc:
        return exc


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (TimeoutError("timed out"), RetryableError),
        (ConnectionRefusedError(errno.ECONNREFUSED, "refused"), RetryableError),
        (ConnectionResetError(errno.ECONNRESET, "reset"), RetryableError),
        (OSError(errno.EBUSY, "busy"), RetryableError),
        (PermissionError(errno.EACCES, "denied"), PermanentError),
        (FileNotFoundError(errno.ENOENT, "no bucket"), PermanentError),
        (_caused_by(_FakeClientError(503)), RetryableError),
        (_caused_by(_FakeClientError(429)), RetryableError),
        (_caused_by(_FakeClientError(401)), PermanentError),
        (_caused_by(_FakeClientError(403)), PermanentError),
        (DisconnectError("connection lost"), RetryableError),
        (PermissionDenied("auth failed"), PermanentError),
        (RuntimeError("something unforeseen"), RetryableError),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, BaseException) else "",
)
def test_errors_are_sorted_by_status_then_type(error: BaseException, kind: type) -> None:
    classified = classify_error(error, "file:///x")
    assert type(classified) is kind
    assert "file:///x" in str(classified)
