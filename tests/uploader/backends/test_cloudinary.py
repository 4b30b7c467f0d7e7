"""The Cloudinary back end, through the real SDK, against a fake Upload API on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from quickcam.uploader.backends import Backend, PermanentError, RetryableError
from quickcam.uploader.backends.cloudinary_backend import CloudinaryBackend
from tests.fakes import httpfake
from tests.fakes.cloudinary_server import FakeCloudinary, sign, string_to_sign

FOLDER = "quickcam"


@pytest.fixture(scope="module")
def server() -> Iterator[FakeCloudinary]:
    fake = FakeCloudinary().start()
    yield fake
    fake.stop()


@pytest.fixture
def fake(server: FakeCloudinary) -> Iterator[FakeCloudinary]:
    server.faults.clear()
    server.received.clear()
    server.signature_failures = 0
    yield server
    server.faults.clear()
    server.halve_next, server.etag_not_md5 = 0, False  # the module's server: a test's quirks end with it
    assert server.server.errors == [], "the fake itself failed"


def backend_for(fake: FakeCloudinary, **options: object) -> CloudinaryBackend:
    settings: dict[str, object] = {
        "cloudinary_url": fake.cloudinary_url,
        "upload_prefix": fake.upload_prefix,
        "folder": FOLDER,
        "timeout": 3.0,  # 1 s timed out a plain request on a loaded machine (a clean clone, 429-on-token-refresh)
        **options,
    }
    return CloudinaryBackend(**settings)  # type: ignore[arg-type]


@pytest.fixture
def backend(fake: FakeCloudinary) -> CloudinaryBackend:
    return backend_for(fake)


def test_is_a_backend(backend: CloudinaryBackend) -> None:
    assert isinstance(backend, Backend)
    assert backend.name == "cloudinary"


def test_small_file_becomes_a_signed_raw_asset_under_the_folder(
    fake: FakeCloudinary, backend: CloudinaryBackend, make_segment: Callable[..., Path],
    remote_key: Callable[[], str],
) -> None:
    segment, key = make_segment(50_000), remote_key()

    location = backend.upload(segment, key)

    asset = fake.asset(f"{FOLDER}/{key}", "raw")
    assert asset is not None and asset.data == segment.read_bytes()
    assert location.startswith("https://res.cloudinary.com/")
    assert location.endswith(f"/raw/upload/v{asset.version}/{FOLDER}/{key}")
    [request] = fake.received
    assert request.path == f"/v1_1/{fake.cloud_name}/raw/upload"
    assert request.fields["public_id"] == f"{FOLDER}/{key}"
    assert request.fields["overwrite"] == "0"
    assert fake.signature_failures == 0


def test_large_file_goes_in_chunks_that_the_server_reassembles(
    fake: FakeCloudinary, make_segment: Callable[..., Path], remote_key: Callable[[], str]
) -> None:
    backend = backend_for(fake, large_threshold=40_000, chunk_size=16_384)
    segment, key = make_segment(100_000), remote_key()

    backend.upload(segment, key)

    asset = fake.asset(f"{FOLDER}/{key}")
    assert asset is not None and asset.data == segment.read_bytes()
    assert len(fake.received) == 7  # ceil(100_000 / 16_384)
    upload_ids = {r.headers["X-Unique-Upload-Id"] for r in fake.received}
    assert len(upload_ids) == 1
    assert fake.received[0].headers["Content-Range"] == "bytes 0-16383/100000"
    assert fake.received[-1].headers["Content-Range"] == "bytes 98304-99999/100000"
    assert all(r.fields["public_id"] == f"{FOLDER}/{key}" for r in fake.received)


def test_sha256_signatures_work_for_accounts_restricted_to_sha256(
    make_segment: Callable[..., Path], remote_key: Callable[[], str]
) -> None:
    fake = FakeCloudinary(signature_algorithms=("sha256",)).start()
    try:
        with pytest.raises(PermanentError, match="Invalid Signature"):
            backend_for(fake).upload(make_segment(), remote_key())
        backend_for(fake, signature_algorithm="sha256").upload(make_segment(), remote_key())
        assert fake.signature_failures == 1 and len(fake.assets) == 1
    finally:
        fake.stop()


def test_fake_signs_as_cloudinary_documents() -> None:
    # Cloudinary's published sanity checks, API secret "abcd".
    assert sign({"public_id": "sample_image", "timestamp": "1315060510"}, "abcd") == (
        "b4ad47fb4e25c7bf5f92a20089f9db59bc302313"
    )
    params = {
        "eager": "w_400,h_300,c_pad|w_260,h_200,c_crop",
        "public_id": "sample_image",
        "timestamp": "1315060510",
        "file": "ignored",
        "api_key": "ignored",
    }
    assert string_to_sign(params) == (
        "eager=w_400,h_300,c_pad|w_260,h_200,c_crop&public_id=sample_image&timestamp=1315060510"
    )
    assert sign(params, "abcd") == "bfd09f95f331f558cbd1320e67aa8d488770583e"


def test_wrong_secret_fails_the_signature_check_and_is_permanent(
    fake: FakeCloudinary, make_segment: Callable[..., Path], remote_key: Callable[[], str]
) -> None:
    backend = backend_for(fake, api_secret="not-the-secret")

    with pytest.raises(PermanentError, match="credentials rejected"):
        backend.upload(make_segment(), remote_key())
    assert fake.signature_failures == 1 and fake.asset(f"{FOLDER}/{remote_key()}") is None


def test_same_key_uploaded_again_with_same_bytes_is_success(
    fake: FakeCloudinary, backend: CloudinaryBackend, make_segment: Callable[..., Path],
    remote_key: Callable[[], str],
) -> None:
    segment = make_segment()
    first = backend.upload(segment, remote_key())
    assert backend.upload(segment, remote_key()) == first


def test_same_key_with_different_bytes_is_permanent_and_keeps_the_original(
    fake: FakeCloudinary, backend: CloudinaryBackend, make_segment: Callable[..., Path],
    remote_key: Callable[[], str],
) -> None:
    original = make_segment()
    backend.upload(original, remote_key())

    with pytest.raises(PermanentError, match="different file"):
        backend.upload(make_segment(), remote_key())
    asset = fake.asset(f"{FOLDER}/{remote_key()}")
    assert asset is not None and asset.data == original.read_bytes()


def test_an_upload_the_server_kept_short_is_not_counted_and_the_retry_replaces_it(
    fake: FakeCloudinary, backend: CloudinaryBackend, make_segment: Callable[..., Path],
    remote_key: Callable[[], str],
) -> None:
    """A 200 whose answer describes half the file (a proxy cut the body) is not success; the retry finds
    that copy existing, sees it is this file's first half (etag = MD5 of that prefix) and uploads over it.
    Before, the half was counted stored (FINDINGS #41)."""
    segment = make_segment(30_000)
    fake.halve_next = 1

    with pytest.raises(RetryableError, match="stored 15000 bytes of 30000"):
        backend.upload(segment, remote_key())
    backend.upload(segment, remote_key())

    asset = fake.asset(f"{FOLDER}/{remote_key()}")
    assert asset is not None and asset.data == segment.read_bytes()


def test_the_right_size_with_an_etag_that_is_no_md5_is_counted_stored_and_said_once(
    fake: FakeCloudinary, backend: CloudinaryBackend, make_segment: Callable[..., Path],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The size decides: a server whose etag is not the MD5 (another implementation, a proxy) would answer
    the same to every retry, and footage held back for ever is worse than an etag not understood."""
    fake.etag_not_md5 = True
    with caplog.at_level("WARNING", logger="quickcam.uploader.backends.cloudinary_backend"):
        for n in range(2):
            segment = make_segment(10_000 + n)
            backend.upload(segment, f"etag-{n}.bin")
            asset = fake.asset(f"{FOLDER}/etag-{n}.bin")
            assert asset is not None and asset.data == segment.read_bytes()
    said = [r.getMessage() for r in caplog.records if "not the file's MD5" in r.getMessage()]
    assert len(said) == 1 and "counted stored" in said[0], said
    backend.upload(segment, "etag-1.bin")  # sent again (its answer lost): the asset there is it, by its size


def test_a_certificate_this_machine_does_not_trust_is_said_in_words_and_retried(
    make_segment: Callable[..., Path], remote_key: Callable[[], str]
) -> None:
    """The Upload API over TLS with a certificate from a CA nobody trusts (a proxy intercepting TLS, a server
    of one's own): retryable, said as the certificate with its fixes. Before, the status row showed
    `Unexpected error - MaxRetryError("TCPKeepAliveHTTPSConnectionPool(host='127.0.0.…` (FINDINGS #43)."""
    import ssl

    import trustme

    from tests.fakes.cloudinary_server import _CloudinaryHandler

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    trustme.CA().issue_cert("127.0.0.1").configure_cert(context)
    fake = FakeCloudinary()
    fake.server = httpfake.LoopbackServer(_CloudinaryHandler, fake, ssl_context=context)
    fake.start()
    try:
        with pytest.raises(RetryableError, match=r"^Cloudinary upload of .*: the server's TLS certificate is not "
                                                 r"trusted \(unable to get local issuer certificate\): check this "
                                                 r"machine's clock"):
            backend_for(fake).upload(make_segment(), remote_key())
        assert fake.assets == {}
    finally:
        fake.stop()


RETRYABLE_FAULTS = {
    "420-rate-limited": httpfake.status(420, {"error": {"message": "Rate Limit Exceeded"}}),
    "429-too-many": httpfake.status(429, {"error": {"message": "Too many requests"}}),
    "500-json": httpfake.status(500, {"error": {"message": "General Error"}}),
    "503-json": httpfake.status(503, {"error": {"message": "Service Unavailable"}}),
    "502-html-page": httpfake.status(502, "<html>Bad Gateway</html>", Content_Type="text/html"),
    "timeout": httpfake.delay(8.0),  # past the client's 3 s read timeout
    "disconnect-mid-upload": httpfake.drop_mid_body(),
    "answer-lost-after-store": httpfake.drop_after_commit(),
}


@pytest.mark.parametrize("fault", RETRYABLE_FAULTS.values(), ids=RETRYABLE_FAULTS.keys())
def test_transient_failure_is_retryable_then_the_retry_uploads(
    fake: FakeCloudinary, backend: CloudinaryBackend, make_segment: Callable[..., Path],
    remote_key: Callable[[], str], fault: httpfake.Fault,
) -> None:
    segment = make_segment()
    fake.faults.inject(fault)

    with pytest.raises(RetryableError):
        backend.upload(segment, remote_key())
    backend.upload(segment, remote_key())

    asset = fake.asset(f"{FOLDER}/{remote_key()}")
    assert asset is not None and asset.data == segment.read_bytes()


def test_fault_on_one_chunk_is_retryable_then_the_whole_file_goes_again(
    fake: FakeCloudinary, make_segment: Callable[..., Path], remote_key: Callable[[], str]
) -> None:
    backend = backend_for(fake, large_threshold=20_000, chunk_size=10_000)
    segment = make_segment(45_000)
    fake.faults.inject(httpfake.drop_mid_body(), after=2)

    with pytest.raises(RetryableError):
        backend.upload(segment, remote_key())
    assert fake.asset(f"{FOLDER}/{remote_key()}") is None
    backend.upload(segment, remote_key())

    asset = fake.asset(f"{FOLDER}/{remote_key()}")
    assert asset is not None and asset.data == segment.read_bytes()


def test_refused_connection_is_retryable_then_the_retry_uploads(
    fake: FakeCloudinary, backend: CloudinaryBackend, make_segment: Callable[..., Path],
    remote_key: Callable[[], str],
) -> None:
    segment = make_segment()
    with fake.server.refusing(), pytest.raises(RetryableError, match="refused"):
        backend.upload(segment, remote_key())
    backend.upload(segment, remote_key())
    assert fake.asset(f"{FOLDER}/{remote_key()}") is not None


PERMANENT_FAULTS = {
    "401-invalid-key": httpfake.status(401, {"error": {"message": "Invalid api_key"}}),
    "403-not-allowed": httpfake.status(403, {"error": {"message": "Account suspended"}}),
    "400-bad-request": httpfake.status(400, {"error": {"message": "Invalid public_id"}}),
    "401-html-page": httpfake.status(401, "<html>Unauthorized</html>", Content_Type="text/html"),
}


@pytest.mark.parametrize("fault", PERMANENT_FAULTS.values(), ids=PERMANENT_FAULTS.keys())
def test_auth_and_request_errors_are_permanent(
    fake: FakeCloudinary, backend: CloudinaryBackend, make_segment: Callable[..., Path],
    remote_key: Callable[[], str], fault: httpfake.Fault,
) -> None:
    fake.faults.inject(fault)
    with pytest.raises(PermanentError):
        backend.upload(make_segment(), remote_key())
    assert fake.asset(f"{FOLDER}/{remote_key()}") is None


def test_unknown_cloud_name_is_permanent(
    fake: FakeCloudinary, make_segment: Callable[..., Path], remote_key: Callable[[], str]
) -> None:
    backend = backend_for(fake, cloud_name="someone-else")
    with pytest.raises(PermanentError, match="Invalid cloud_name"):
        backend.upload(make_segment(), remote_key())


def test_from_config_takes_separate_credentials_from_tokens_env(
    fake: FakeCloudinary, make_segment: Callable[..., Path], remote_key: Callable[[], str]
) -> None:
    backend = CloudinaryBackend.from_config(
        {"upload_prefix": fake.upload_prefix},
        {
            "CLOUDINARY_CLOUD_NAME": fake.cloud_name,
            "CLOUDINARY_API_KEY": fake.api_key,
            "CLOUDINARY_API_SECRET": fake.api_secret,
        },
    )
    backend.upload(make_segment(), remote_key())
    assert fake.asset(remote_key()) is not None  # no folder: the key is the public id


def test_from_config_takes_cloudinary_url_from_tokens_env(
    fake: FakeCloudinary, make_segment: Callable[..., Path], remote_key: Callable[[], str]
) -> None:
    backend = CloudinaryBackend.from_config(
        {"upload_prefix": fake.upload_prefix, "folder": "cfg"},
        {"CLOUDINARY_URL": fake.cloudinary_url},
    )
    backend.upload(make_segment(), remote_key())
    assert fake.asset(f"cfg/{remote_key()}") is not None


def test_missing_credentials_name_what_to_set() -> None:
    with pytest.raises(PermanentError, match="CLOUDINARY_API_SECRET"):
        CloudinaryBackend(cloud_name="demo", api_key="123")


def test_malformed_cloudinary_url_is_permanent() -> None:
    with pytest.raises(PermanentError, match="cloudinary://"):
        CloudinaryBackend(cloudinary_url="https://api.cloudinary.com/demo")


def test_key_escaping_the_folder_is_refused(backend: CloudinaryBackend, tmp_path: Path) -> None:
    with pytest.raises(PermanentError, match="not a relative path"):
        backend.upload(tmp_path / "x.qsc", "../outside.qsc")
