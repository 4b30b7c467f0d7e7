"""The fsspec back end on SFTP: sshfs/asyncssh against a real OpenSSH sshd on 127.0.0.1.

SSH has no HTTP statuses; its failures are refused or stalled connections, a
connection cut mid-transfer (through a TCP proxy), an unknown client key or
host key, and a server that refuses writes (a read-only SFTP port).
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from quickcam.uploader.backends import PermanentError, RetryableError
from quickcam.uploader.backends.fsspec_backend import FsspecBackend
from tests.fakes.fault_proxy import TcpFaultProxy
from tests.fakes.sshd import Sshd, unavailable_reason


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    reason = unavailable_reason()
    if reason:
        pytest.skip(f"no real sshd to test SFTP against: {reason}")
    server = Sshd(tmp_path_factory.mktemp("sshd")).start()
    yield server
    server.stop()


@pytest.fixture
def proxy(sshd: Sshd) -> Iterator[TcpFaultProxy]:
    relay = TcpFaultProxy(sshd.port)
    sshd.trust_port(relay.port)
    yield relay
    relay.close()


def backend_for(sshd: Sshd, port: int | None = None, **options: Any) -> FsspecBackend:
    storage_options = {
        "client_keys": [str(sshd.client_key)],
        "known_hosts": str(sshd.known_hosts),
        "timeout": 2,  # connection set-up
        **options,
    }
    return FsspecBackend(
        f"sftp://{sshd.user}@127.0.0.1:{port or sshd.port}{sshd.root}/footage",
        storage_options=storage_options,
        timeout=3,
    )


def remote_file(sshd: Sshd, key: str) -> Path:
    return sshd.root / "footage" / key


def leftovers(sshd: Sshd, key: str) -> list[str]:
    folder = remote_file(sshd, key).parent
    return sorted(p.name for p in folder.glob(".*.part")) if folder.exists() else []


def test_file_is_written_under_a_temporary_name_then_moved_into_place(
    sshd: Sshd, make_segment: Callable[..., Path], remote_key: Callable[[], str]
) -> None:
    backend, segment = backend_for(sshd), make_segment(300_000)
    assert backend.atomic_rename is True

    location = backend.upload(segment, remote_key())

    assert location == f"sftp://{sshd.user}@127.0.0.1:{sshd.port}{sshd.root}/footage/{remote_key()}"
    assert remote_file(sshd, remote_key()).read_bytes() == segment.read_bytes()
    assert leftovers(sshd, remote_key()) == []


def test_same_key_uploaded_again_is_success(
    sshd: Sshd, make_segment: Callable[..., Path], remote_key: Callable[[], str]
) -> None:
    backend, segment = backend_for(sshd), make_segment()
    assert backend.upload(segment, remote_key()) == backend.upload(segment, remote_key())
    assert remote_file(sshd, remote_key()).read_bytes() == segment.read_bytes()


def test_same_key_with_different_bytes_is_permanent_and_keeps_the_original(
    sshd: Sshd, make_segment: Callable[..., Path], remote_key: Callable[[], str]
) -> None:
    backend, original = backend_for(sshd), make_segment()
    backend.upload(original, remote_key())
    with pytest.raises(PermanentError, match="already holds a different file"):
        backend.upload(make_segment(), remote_key())
    assert remote_file(sshd, remote_key()).read_bytes() == original.read_bytes()
    assert leftovers(sshd, remote_key()) == []


def test_connection_cut_mid_upload_is_retryable_then_the_retry_uploads(
    sshd: Sshd, proxy: TcpFaultProxy, make_segment: Callable[..., Path],
    remote_key: Callable[[], str],
) -> None:
    segment = make_segment(600_000)
    proxy.cut_after_bytes = 200_000  # past the SSH handshake, inside the file

    with pytest.raises(RetryableError):
        backend_for(sshd, proxy.port).upload(segment, remote_key())
    assert proxy.cuts == 1
    assert not remote_file(sshd, remote_key()).exists()  # never half a file at the key

    proxy.cut_after_bytes = None
    backend = backend_for(sshd, proxy.port)
    backend.upload(segment, remote_key())
    assert remote_file(sshd, remote_key()).read_bytes() == segment.read_bytes()


def test_same_backend_reconnects_after_its_connection_dropped(
    sshd: Sshd, proxy: TcpFaultProxy, make_segment: Callable[..., Path],
    remote_key: Callable[[], str],
) -> None:
    backend = backend_for(sshd, proxy.port)
    backend.upload(make_segment(), remote_key("-1"))
    proxy.sever()  # the idle SSH connection dies (NAT timeout, server restart)

    with pytest.raises(RetryableError):
        backend.upload(make_segment(), remote_key("-2"))
    segment = make_segment()
    backend.upload(segment, remote_key("-2"))  # a new connection

    assert remote_file(sshd, remote_key("-2")).read_bytes() == segment.read_bytes()


def test_stalled_server_times_out_as_retryable(
    sshd: Sshd, proxy: TcpFaultProxy, make_segment: Callable[..., Path],
    remote_key: Callable[[], str],
) -> None:
    proxy.blackhole = True
    with pytest.raises(RetryableError, match="Timeout"):
        backend_for(sshd, proxy.port).upload(make_segment(), remote_key())
    proxy.blackhole = False
    backend_for(sshd, proxy.port).upload(make_segment(), remote_key())


def test_refused_connection_is_retryable(
    sshd: Sshd, make_segment: Callable[..., Path], remote_key: Callable[[], str]
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    with pytest.raises(RetryableError, match="Connect call failed|refused"):
        backend_for(sshd, closed_port).upload(make_segment(), remote_key())


def test_unknown_client_key_is_permanent(
    sshd: Sshd, make_segment: Callable[..., Path], remote_key: Callable[[], str]
) -> None:
    backend = backend_for(sshd, client_keys=[str(sshd.other_key)])
    with pytest.raises(PermanentError, match="Permission denied"):
        backend.upload(make_segment(), remote_key())


def test_wrong_host_key_is_permanent(
    sshd: Sshd, tmp_path: Path, make_segment: Callable[..., Path],
    remote_key: Callable[[], str],
) -> None:
    import asyncssh

    impostor = asyncssh.generate_private_key("ssh-ed25519").export_public_key("openssh")
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(f"[127.0.0.1]:{sshd.port} {impostor.decode().strip()}\n")
    with pytest.raises(PermanentError, match="HostKeyNotVerifiable|host key"):
        backend_for(sshd, known_hosts=str(known_hosts)).upload(make_segment(), remote_key())


def test_server_refusing_writes_is_permanent(
    sshd: Sshd, make_segment: Callable[..., Path], remote_key: Callable[[], str]
) -> None:
    with pytest.raises(PermanentError, match="Permission denied"):
        backend_for(sshd, sshd.read_only_port).upload(make_segment(), remote_key())


def test_sftp_without_known_hosts_is_refused_at_construction(
    sshd: Sshd, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.ssh/known_hosts to fall back on
    with pytest.raises(PermanentError, match="known_hosts"):
        FsspecBackend(f"sftp://{sshd.user}@127.0.0.1:{sshd.port}/x", storage_options={})
