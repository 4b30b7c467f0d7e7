"""A back end answering 429 with Retry-After for a while (docs/reliability.md, 16).

The real ``quickcam uploader`` stores to a local folder and to the Dropbox fake
(real SDK, TLS on 127.0.0.1). The fake answers every upload with Dropbox's 429
``too_many_requests`` and ``Retry-After`` while the test sends snapshots, then
answers again. The uploader must wait as asked (a request per Retry-After, not
one per file), keep everything in the spool, show the condition in ``quickcam
status``, and deliver everything once the server answers. The health check stays
green through a short rate limit and fails, naming it, once it has lasted longer
than ``alerts.storage_failing_after_s`` (the bound of the ``storage_failing`` alert).
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import QUICKCAM
from tests.fakes.dropbox_server import FakeDropbox, rate_limited
from tests.pipeline import Pipeline
from tests.test_curve import snapshots_to_uploader
from tests.waiting import wait_until

RETRY_AFTER_S = 2
FAILING_AFTER_S = 3  # alerts.storage_failing_after_s: rate limited longer than this, the health check fails
ITEMS = 6
UPLOAD_ROUTES = ("files/upload", "files/upload_session/start")


@pytest.fixture
def dropbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeDropbox]:
    fake = FakeDropbox(tmp_path_factory.mktemp("dropbox-tls")).start()
    yield fake
    fake.stop()


def _dropbox_row(pipe: Pipeline) -> dict:
    out = subprocess.run([QUICKCAM, "status", "--json"], cwd=pipe.root, env=pipe.env, capture_output=True,
                         text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return next(row for row in json.loads(out.stdout)["destinations"] if row["destination"] == "dropbox")


def _healthcheck(pipe: Pipeline) -> subprocess.CompletedProcess[str]:
    return subprocess.run([QUICKCAM, "status", "--healthcheck", "uploader"], cwd=pipe.root, env=pipe.env,
                          capture_output=True, text=True, timeout=30)


def _uploads(fake: FakeDropbox) -> int:
    return sum(call in UPLOAD_ROUTES for call in list(fake.calls))


@pytest.mark.realtime
def test_a_destination_answering_429_with_retry_after_is_asked_once_per_wait_and_gets_everything_after(
    tmp_path: Path, dropbox: FakeDropbox,
) -> None:
    pipe = Pipeline(tmp_path, QUICKCAM_UPLOADER__DESTINATIONS="local,dropbox",
                    QUICKCAM_STORAGE__LOCAL__PATH="storage", QUICKCAM_STORAGE__DROPBOX__FOLDER="/quickcam",
                    QUICKCAM_ALERTS__STORAGE_FAILING_AFTER_S=str(FAILING_AFTER_S), **dropbox.sdk_environment())
    with open(tmp_path / "tokens.env", "a") as tokens:
        tokens.write(f"DROPBOX_APP_KEY={dropbox.app_key}\nDROPBOX_APP_SECRET={dropbox.app_secret}\n"
                     f"DROPBOX_REFRESH_TOKEN={dropbox.refresh_token}\n")
    for route in UPLOAD_ROUTES:
        dropbox.faults.inject(rate_limited(RETRY_AFTER_S), route=route, times=10_000)
    client = None
    try:
        client = snapshots_to_uploader(pipe, ITEMS)
        assert wait_until(lambda: _uploads(dropbox) >= 1, 15), pipe.output("uploader")
        first = time.monotonic()
        health = _healthcheck(pipe)
        if time.monotonic() - first < FAILING_AFTER_S - 0.5:  # (a loaded machine may look too late: not judged)
            assert health.returncode == 0, f"a short rate limit failed the health check: {health.stderr}"
        # one wait and a half: the first request, and one more at most
        time.sleep(max(0.0, RETRY_AFTER_S * 1.5 - (time.monotonic() - first)))
        asked, elapsed = _uploads(dropbox), time.monotonic() - first
        row = _dropbox_row(pipe)
        # Before, each file was tried as soon as the last one failed: 6 requests at once, then one every backoff.
        assert asked <= 2, f"{asked} upload requests in {elapsed:.1f} s with Retry-After {RETRY_AFTER_S} s"
        assert row["pending"] == ITEMS and row["uploaded"] == 0, row
        assert f"rate limited (429); the server asks to wait {RETRY_AFTER_S} s" in row["last_error"], row
        assert len(list((tmp_path / "spool").glob("*.qsc"))) == ITEMS  # all of it waits in the spool
        assert wait_until(lambda: _healthcheck(pipe).returncode == 1, FAILING_AFTER_S + 15)
        unhealthy = _healthcheck(pipe).stderr
        assert "unhealthy: destination dropbox FAILING for " in unhealthy, unhealthy
        assert f"rate limited (429); the server asks to wait {RETRY_AFTER_S} s" in unhealthy, unhealthy
        dropbox.faults.clear()  # the server answers again
        assert wait_until(lambda: len(dropbox.files) == ITEMS, 20), pipe.output("uploader")[-3000:]
        assert wait_until(lambda: _dropbox_row(pipe)["uploaded"] == ITEMS, 10)
        assert wait_until(lambda: not list((tmp_path / "spool").glob("*.qsc")), 10)
        assert "dropbox: stored again after" in pipe.output("uploader")
        assert wait_until(lambda: _healthcheck(pipe).returncode == 0, 15), _healthcheck(pipe).stderr
    finally:
        if client is not None:
            client.close()
        pipe.close()
    assert "Traceback" not in pipe.output("uploader")
