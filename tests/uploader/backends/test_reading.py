"""The read side of the back-end interface (``Reader``), which ``quickcam view`` lists and reads
through: the same contract checked on the local folder, fsspec ``file://``, S3 (s3fs against
moto's server on 127.0.0.1), SFTP (sshfs against a real sshd) and Dropbox (the SDK, in a
child process, against tests/fakes/dropbox_server.py), each then read by the viewer's index
from what the back end itself uploaded."""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from quickcam.common.cryptofile import Context, Keyring, SymmetricKey, encrypt
from quickcam.uploader.backends import BackendError, PermanentError, Reader
from quickcam.uploader.backends.cloudinary_backend import CloudinaryBackend
from quickcam.uploader.backends.fsspec_backend import FsspecBackend
from quickcam.uploader.backends.local import LocalBackend
from quickcam.uploader.viewer.footage import open_item
from quickcam.uploader.viewer.store import StoreIndex
from tests.fakes.backend_worker import BackendProcess
from tests.fakes.cloudinary_server import FakeCloudinary
from tests.fakes.dropbox_server import FakeDropbox
from tests.fakes.sshd import Sshd, unavailable_reason

BUCKET = "quickcam-reading"
KEY_ID, SECRET, REGION = "AKIAQUICKCAMTEST0002", "quickcam-test-secret-key", "eu-west-1"
DAY = "2026-12-04"


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{server.get_host_and_port()[1]}"
    import s3fs

    s3fs.S3FileSystem(key=KEY_ID, secret=SECRET, endpoint_url=endpoint, client_kwargs={"region_name": REGION},
                      skip_instance_cache=True).mkdir(BUCKET)
    yield endpoint
    server.stop()


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    reason = unavailable_reason()
    if reason:
        pytest.skip(f"no real sshd to test SFTP against: {reason}")
    server = Sshd(tmp_path_factory.mktemp("sshd")).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def dropbox_worker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FakeDropbox, BackendProcess]]:
    fake = FakeDropbox(tmp_path_factory.mktemp("dropbox-tls")).start()
    worker = BackendProcess(fake.sdk_environment())
    yield fake, worker
    worker.close()
    fake.stop()


@pytest.fixture(scope="module")
def cloudinary_fake() -> Iterator[FakeCloudinary]:
    fake = FakeCloudinary().start()
    fake.delivery_prefix = fake.upload_prefix  # the CDN is the fake too
    yield fake
    fake.stop()


def _local(tmp_path: Path, request: pytest.FixtureRequest) -> Any:
    return LocalBackend(tmp_path / "store")


def _file_url(tmp_path: Path, request: pytest.FixtureRequest) -> Any:
    return FsspecBackend(f"file://{tmp_path / 'store'}")


def _s3(tmp_path: Path, request: pytest.FixtureRequest) -> Any:
    endpoint = request.getfixturevalue("moto_endpoint")
    return FsspecBackend(f"s3://{BUCKET}/{tmp_path.name}", storage_options={
        "endpoint_url": endpoint, "key": KEY_ID, "secret": SECRET, "client_kwargs": {"region_name": REGION}})


def _sftp(tmp_path: Path, request: pytest.FixtureRequest) -> Any:
    sshd = request.getfixturevalue("sshd")
    return FsspecBackend(f"sftp://{sshd.user}@127.0.0.1:{sshd.port}{sshd.root}/{tmp_path.name}",
                         storage_options={"client_keys": [str(sshd.client_key)], "known_hosts": str(sshd.known_hosts)})


def _dropbox(tmp_path: Path, request: pytest.FixtureRequest) -> Any:
    fake, worker = request.getfixturevalue("dropbox_worker")
    return worker.new("quickcam.uploader.backends.dropbox_backend:DropboxBackend", app_key=fake.app_key,
                      app_secret=fake.app_secret, refresh_token=fake.refresh_token,
                      folder=f"/QuickSecurityCam/{tmp_path.name}", timeout=5.0)


def _cloudinary(tmp_path: Path, request: pytest.FixtureRequest) -> Any:
    fake = request.getfixturevalue("cloudinary_fake")
    return CloudinaryBackend(cloudinary_url=fake.cloudinary_url, upload_prefix=fake.upload_prefix,
                             folder=f"home-cam/{tmp_path.name}", timeout=5.0)


MAKERS: dict[str, Callable[[Path, pytest.FixtureRequest], Any]] = {
    "local": _local, "fsspec-file": _file_url, "fsspec-s3": _s3, "fsspec-sftp": _sftp, "dropbox": _dropbox,
    "cloudinary": _cloudinary}


@pytest.fixture(params=sorted(MAKERS))
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    return MAKERS[request.param](tmp_path, request)


def _upload(backend: Any, tmp_path: Path, key: str, data: bytes) -> None:
    source = tmp_path / "upload.bin"
    source.write_bytes(data)
    backend.upload(source, key)


def test_lists_folders_and_files_and_reads_ranges(backend: Any, tmp_path: Path) -> None:
    assert isinstance(backend, Reader)
    _upload(backend, tmp_path, f"footage/cam0/{DAY}/e1/a.qsc", b"0123456789")
    _upload(backend, tmp_path, f"footage/cam0/{DAY}/e2/b.qsc", b"abc")
    _upload(backend, tmp_path, "footage/porch/2026-12-03/e3/c.qsc", b"xyz!")
    assert backend.list_folders("footage") == ["cam0", "porch"]
    assert backend.list_folders("footage/cam0") == [DAY]
    listed = backend.list_files(f"footage/cam0/{DAY}")
    expected = [(f"footage/cam0/{DAY}/e1/a.qsc", 10), (f"footage/cam0/{DAY}/e2/b.qsc", 3)]
    assert [(f.key, f.size) for f in listed] == expected
    assert backend.read(f"footage/cam0/{DAY}/e1/a.qsc") == b"0123456789"
    assert backend.read(f"footage/cam0/{DAY}/e1/a.qsc", 2, 5) == b"234"
    assert backend.read(f"footage/cam0/{DAY}/e1/a.qsc", 8, 100) == b"89"


def test_a_missing_prefix_is_empty_and_a_missing_file_an_error(backend: Any) -> None:
    assert backend.list_folders("nothing/here") == []
    assert backend.list_files("nothing/here") == []
    with pytest.raises(BackendError):
        backend.read("nothing/here.qsc")


def test_keys_leaving_the_root_are_refused(backend: Any) -> None:
    for key in ("../outside", "footage/../../etc/passwd"):
        with pytest.raises(PermanentError):
            backend.read(key)
        with pytest.raises(PermanentError):
            backend.list_files(key)


def test_the_viewer_index_reads_what_the_back_end_uploaded(backend: Any, tmp_path: Path) -> None:
    key = SymmetricKey.generate()
    plaintext = b"a snapshot" * 100
    context = Context(camera_id="cam0", message_id="id0001", sequence=0, start_ms=1_764_849_600_000,
                      content_type="image/jpeg", plaintext_length=len(plaintext))
    buf = io.BytesIO()
    encrypt(plaintext, buf, key, context)
    _upload(backend, tmp_path, "webcam_captures/cam0/2025-12-04/ev1/snapshot-0000-id0001.qsc", buf.getvalue())
    _upload(backend, tmp_path, "webcam_captures/cam0/2025-12-04/ev1/.snapshot-0001-x.qsc.part", b"half")
    index = StoreIndex(backend, "webcam_captures")
    assert index.cameras() == ["cam0"] and index.days("cam0") == ["2025-12-04"]
    [event] = index.events("cam0", "2025-12-04")
    [item] = event.items
    assert item.header is not None and item.problem == ""
    assert open_item(backend, item, Keyring([key])).plaintext == plaintext


def test_dropbox_listing_follows_every_page(dropbox_worker: tuple[FakeDropbox, BackendProcess],
                                            tmp_path: Path, request: pytest.FixtureRequest) -> None:
    fake, _ = dropbox_worker
    backend = _dropbox(tmp_path, request)
    for n in range(5):
        _upload(backend, tmp_path, f"footage/cam0/{DAY}/e{n}/f.qsc", bytes(n))
    fake.list_page_size = 2
    try:
        assert [f.size for f in backend.list_files("footage")] == [0, 1, 2, 3, 4]
        assert fake.calls.count("files/list_folder/continue") >= 2
    finally:
        fake.list_page_size = 2000


def test_cloudinary_listing_follows_every_page(cloudinary_fake: FakeCloudinary, tmp_path: Path,
                                               request: pytest.FixtureRequest) -> None:
    backend = _cloudinary(tmp_path, request)
    for n in range(5):
        _upload(backend, tmp_path, f"footage/cam0/{DAY}/e{n}/f.qsc", bytes(n))
    cloudinary_fake.list_page_size = 2
    try:
        assert [f.size for f in backend.list_files("footage")] == [0, 1, 2, 3, 4]
    finally:
        cloudinary_fake.list_page_size = 500
    fresh = _cloudinary(tmp_path, request)  # no listing yet: the URL comes from the Admin API
    assert fresh.read(f"footage/cam0/{DAY}/e4/f.qsc") == bytes(4)
