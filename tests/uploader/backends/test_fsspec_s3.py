"""The fsspec back end on S3: the real s3fs against moto's S3 server on 127.0.0.1.

Faults come from an HTTP proxy between s3fs and moto that answers with S3's
XML errors, stalls, or drops connections when the test says so. s3fs itself
retries throttling and dropped connections a few times (5 tries, about 2 s)
before giving up; the backend here is set to one try (the back end's own
``retries`` option, as a user may set it: the uploader owns the retries), and
``test_s3fs_retries_on_its_own_unless_retries_says_otherwise`` runs s3fs's
default. The faults are injected for more requests than s3fs makes either way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from quickcam.uploader.backends import Backend, PermanentError, RetryableError
from quickcam.uploader.backends.fsspec_backend import FsspecBackend
from tests.fakes import httpfake
from tests.fakes.fault_proxy import HttpFaultProxy, s3_error

BUCKET = "quickcam-footage"
PREFIX = "nas"
KEY_ID, SECRET = "AKIAQUICKCAMTEST0001", "quickcam-test-secret-key"
PERSISTENT = 50  # more attempts than s3fs makes on its own
REGION = "eu-west-1"  # us-east-1 takes no LocationConstraint, which s3fs always sends


@pytest.fixture(scope="module")
def moto_port() -> Iterator[int]:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    yield server.get_host_and_port()[1]
    server.stop()


@pytest.fixture(scope="module")
def moto_s3(moto_port: int) -> Any:
    """s3fs straight to moto (no proxy), to set up and check what landed."""
    import s3fs

    s3 = s3fs.S3FileSystem(
        key=KEY_ID,
        secret=SECRET,
        endpoint_url=f"http://127.0.0.1:{moto_port}",
        client_kwargs={"region_name": REGION},
        skip_instance_cache=True,
    )
    s3.mkdir(BUCKET)
    return s3


@pytest.fixture(scope="module")
def proxy(moto_port: int, moto_s3: Any) -> Iterator[HttpFaultProxy]:
    fault_proxy = HttpFaultProxy(moto_port).start()
    yield fault_proxy
    fault_proxy.stop()


@pytest.fixture
def faults(proxy: HttpFaultProxy) -> Iterator[httpfake.FaultPlan]:
    proxy.faults.clear()
    yield proxy.faults
    proxy.faults.clear()
    assert proxy.server.errors == [], "the fault proxy itself failed"


def storage_options(endpoint: str, **extra: Any) -> dict[str, Any]:
    return {
        "endpoint_url": endpoint,
        "key": KEY_ID,
        "secret": SECRET,
        "client_kwargs": {"region_name": REGION},
        # One attempt per s3fs try, short timeouts: the uploader owns retries. Not too short: with one try
        # (``retries=1``) nothing rides out a slow answer, and moto answers from a thread of this test's own
        # process; at 0.3 s a loaded machine timed out a good upload (twice in a session's suites).
        # The ``timeout`` fault stalls 2 s, past it.
        "config_kwargs": {
            "retries": {"total_max_attempts": 1},
            "connect_timeout": 1,
            "read_timeout": 3.0,  # 1.5 s is a plain request's time on a loaded machine
        },
        **extra,
    }


@pytest.fixture
def backend(proxy: HttpFaultProxy, faults: httpfake.FaultPlan) -> FsspecBackend:
    """One try a request (``retries = 1``): each fault below reaches the backend at once, not after s3fs's
    5 tries and their back-off (about 2 s a case; its own tries are tested once, below)."""
    return FsspecBackend(f"s3://{BUCKET}/{PREFIX}", storage_options=storage_options(proxy.url), retries=1)


def stored(moto_s3: Any, key: str) -> bytes | None:
    path = f"{BUCKET}/{PREFIX}/{key}"
    moto_s3.invalidate_cache()
    return moto_s3.cat_file(path) if moto_s3.exists(path) else None


def test_is_a_backend_writing_objects_directly(backend: FsspecBackend) -> None:
    assert isinstance(backend, Backend)
    assert backend.atomic_rename is False  # an S3 PUT is already all-or-nothing


def test_file_lands_under_the_prefix_with_exact_bytes(
    backend: FsspecBackend, moto_s3: Any, make_segment: Callable[..., Path],
    remote_key: Callable[[], str],
) -> None:
    segment = make_segment(300_000)

    location = backend.upload(segment, remote_key())

    assert location == f"s3://{BUCKET}/{PREFIX}/{remote_key()}"
    assert stored(moto_s3, remote_key()) == segment.read_bytes()


def test_an_object_cut_short_by_an_earlier_try_is_replaced_whole(
    backend: FsspecBackend, moto_s3: Any, make_segment: Callable[..., Path], remote_key: Callable[[], str]
) -> None:
    """The size check after a PUT found the object short (a server or proxy that kept part of it) and the
    upload was retried: the object that is the file's own first bytes is replaced. Before: `already holds a
    different file`, failed for good (FINDINGS #42)."""
    segment = make_segment(30_000)
    moto_s3.pipe_file(f"{BUCKET}/{PREFIX}/{remote_key()}", segment.read_bytes()[:8_000])

    backend.upload(segment, remote_key())

    assert stored(moto_s3, remote_key()) == segment.read_bytes()


def test_same_key_uploaded_again_with_the_same_bytes_is_success(
    backend: FsspecBackend, moto_s3: Any, make_segment: Callable[..., Path], remote_key: Callable[[], str]
) -> None:
    segment = make_segment()
    assert backend.upload(segment, remote_key()) == backend.upload(segment, remote_key())
    assert stored(moto_s3, remote_key()) == segment.read_bytes()


def test_same_key_with_different_bytes_is_permanent_and_keeps_the_original(
    backend: FsspecBackend, moto_s3: Any, make_segment: Callable[..., Path], remote_key: Callable[[], str]
) -> None:
    original = make_segment()
    backend.upload(original, remote_key())
    with pytest.raises(PermanentError, match="already holds a different file"):
        backend.upload(make_segment(), remote_key())
    assert stored(moto_s3, remote_key()) == original.read_bytes()


RETRYABLE_FAULTS = {
    "503-slow-down": s3_error(503, "SlowDown", "Please reduce your request rate."),
    "500-internal": s3_error(500, "InternalError", "We encountered an internal error."),
    "429-too-many": s3_error(429, "TooManyRequests", "Too many requests"),
    "420-enhance-your-calm": s3_error(420, "EnhanceYourCalm", "Slow down"),
    "timeout": httpfake.delay(8.0),  # past the 3 s read timeout
    "disconnect-mid-upload": httpfake.drop_mid_body(),
    "answer-lost-after-store": httpfake.drop_after_commit(),
}


@pytest.mark.parametrize("fault", RETRYABLE_FAULTS.values(), ids=RETRYABLE_FAULTS.keys())
def test_transient_failure_is_retryable_then_the_retry_uploads(
    backend: FsspecBackend, faults: httpfake.FaultPlan, moto_s3: Any,
    make_segment: Callable[..., Path], remote_key: Callable[[], str], fault: httpfake.Fault,
) -> None:
    segment = make_segment()
    faults.inject(fault, route="PUT", times=PERSISTENT)

    with pytest.raises(RetryableError):
        backend.upload(segment, remote_key())
    faults.clear()
    backend.upload(segment, remote_key())

    assert stored(moto_s3, remote_key()) == segment.read_bytes()


def test_refused_connection_is_retryable_then_the_retry_uploads(
    backend: FsspecBackend, proxy: HttpFaultProxy, moto_s3: Any,
    make_segment: Callable[..., Path], remote_key: Callable[[], str],
) -> None:
    segment = make_segment()
    with proxy.server.refusing(), pytest.raises(RetryableError, match="connect"):
        backend.upload(segment, remote_key())
    backend.upload(segment, remote_key())
    assert stored(moto_s3, remote_key()) == segment.read_bytes()


PERMANENT_FAULTS = {
    "403-access-denied": s3_error(403, "AccessDenied", "Access Denied"),
    "403-bad-key-id": s3_error(403, "InvalidAccessKeyId", "The key id does not exist"),
    "403-bad-signature": s3_error(403, "SignatureDoesNotMatch", "Signature mismatch"),
    "401-unauthorized": s3_error(401, "Unauthorized", "Unauthorized"),
    "400-bad-request": s3_error(400, "InvalidArgument", "Invalid argument"),
}


@pytest.mark.parametrize("fault", PERMANENT_FAULTS.values(), ids=PERMANENT_FAULTS.keys())
def test_auth_and_request_errors_are_permanent(
    backend: FsspecBackend, faults: httpfake.FaultPlan, moto_s3: Any,
    make_segment: Callable[..., Path], remote_key: Callable[[], str], fault: httpfake.Fault,
) -> None:
    faults.inject(fault, route="PUT", times=PERSISTENT)
    with pytest.raises(PermanentError):
        backend.upload(make_segment(), remote_key())
    assert stored(moto_s3, remote_key()) is None


def test_s3fs_retries_on_its_own_unless_retries_says_otherwise(
    proxy: HttpFaultProxy, faults: httpfake.FaultPlan, moto_s3: Any,
    make_segment: Callable[..., Path], remote_key: Callable[[], str],
) -> None:
    """s3fs's default (5 tries) rides out one 503 and classifies a persistent one as retryable after its tries;
    ``retries = 1`` hands the first 503 to the uploader."""
    url, options = f"s3://{BUCKET}/{PREFIX}", storage_options(proxy.url)
    slow_down = RETRYABLE_FAULTS["503-slow-down"]
    segment, fired = make_segment(), len(faults.fired)
    faults.inject(slow_down, route="PUT", times=1)
    with pytest.raises(RetryableError, match="503"):
        FsspecBackend(url, storage_options=options, retries=1).upload(segment, remote_key())
    assert len(faults.fired) == fired + 1 and stored(moto_s3, remote_key()) is None
    faults.inject(slow_down, route="PUT", times=1)
    FsspecBackend(url, storage_options=options).upload(segment, remote_key())  # s3fs's 2nd try stores it
    assert len(faults.fired) == fired + 2 and stored(moto_s3, remote_key()) == segment.read_bytes()
    faults.inject(slow_down, route="PUT", times=PERSISTENT)
    with pytest.raises(RetryableError, match="503"):
        FsspecBackend(url, storage_options=options).upload(make_segment(), remote_key("-2"))
    assert len(faults.fired) == fired + 2 + 5, faults.fired[fired:]  # s3fs's own 5 tries, then the backend's verdict


def test_retries_is_refused_where_the_implementation_has_none(tmp_path: Path) -> None:
    with pytest.raises(PermanentError, match=r"applies to s3:// \(s3fs\) only"):
        FsspecBackend(f"file://{tmp_path}", retries=1)
    with pytest.raises(PermanentError, match="at least 1"):
        FsspecBackend(f"s3://{BUCKET}/{PREFIX}", retries=0)


def test_missing_bucket_is_permanent(
    proxy: HttpFaultProxy, make_segment: Callable[..., Path], remote_key: Callable[[], str]
) -> None:
    backend = FsspecBackend("s3://no-such-bucket/x", storage_options=storage_options(proxy.url))
    with pytest.raises(PermanentError, match="bucket does not exist"):
        backend.upload(make_segment(), remote_key())


def test_secrets_from_tokens_env_fill_storage_options(
    proxy: HttpFaultProxy, moto_s3: Any, make_segment: Callable[..., Path],
    remote_key: Callable[[], str],
) -> None:
    options = storage_options(proxy.url, key="${S3_KEY_ID}", secret="${S3_SECRET}")
    backend = FsspecBackend.from_config(
        {"url": f"s3://{BUCKET}/{PREFIX}", "storage_options": options},
        {"S3_KEY_ID": KEY_ID, "S3_SECRET": SECRET},
    )
    segment = make_segment()
    backend.upload(segment, remote_key())
    assert stored(moto_s3, remote_key()) == segment.read_bytes()


def test_secret_missing_from_tokens_env_is_permanent() -> None:
    with pytest.raises(PermanentError, match="S3_SECRET"):
        FsspecBackend(
            f"s3://{BUCKET}/{PREFIX}", storage_options={"secret": "${S3_SECRET}"}, secrets={}
        )
