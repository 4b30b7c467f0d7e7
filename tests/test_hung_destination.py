"""A destination whose server takes an upload and never finishes answering holds only its own copies.

The real uploader stores to a local folder and to Cloudinary (the real SDK, ``upload_prefix`` on
127.0.0.1). That server reads each upload whole, then answers one byte a second and never ends (a
broken proxy or load balancer): no read timeout ever fires. Before, the shipper uploaded one file at
a time to each destination in turn, so the first cloud upload held every later local copy for good
(bench/outside/hung_destination.py: 75 of 76 items journaled in 90 s not stored locally, the health
check green). Now the local copies arrive, and the hung upload is said and fails the health check
after ``alerts.storage_failing_after_s``.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import QUICKCAM, free_port
from tests.fakes.hanging_http import HangingHttpServer
from tests.pipeline import Pipeline
from tests.test_curve import snapshots_to_uploader
from tests.waiting import wait_until

ITEMS = 3
BACKLOG = 60  # over the 50 deliveries the shipper lists at a time
FAILING_AFTER_S = 3


def _health(pipe: Pipeline) -> subprocess.CompletedProcess[str]:
    return subprocess.run([QUICKCAM, "status", "--healthcheck", "uploader"], cwd=pipe.root, env=pipe.env,
                          capture_output=True, text=True, timeout=30)


@pytest.mark.realtime
def test_a_hung_destination_holds_only_its_own_copies_and_is_said(tmp_path: Path) -> None:
    server = HangingHttpServer()
    pipe = Pipeline(tmp_path, secrets={"CLOUDINARY_URL": "cloudinary://123456:secretsecret@democloud"},
                    QUICKCAM_UPLOADER__DESTINATIONS="cloud,local", QUICKCAM_STORAGE__LOCAL__PATH="storage",
                    QUICKCAM_STORAGE__CLOUD__KIND="cloudinary",
                    QUICKCAM_STORAGE__CLOUD__UPLOAD_PREFIX=f"http://127.0.0.1:{server.port}",
                    QUICKCAM_ALERTS__STORAGE_FAILING_AFTER_S=str(FAILING_AFTER_S),
                    QUICKCAM_UPLOADER__STOP_UPLOAD_S="1")
    client = None
    try:
        client = snapshots_to_uploader(pipe, ITEMS)
        stored = lambda: [p for p in (tmp_path / "storage").rglob("*.qsc")]  # noqa: E731
        assert wait_until(lambda: len(stored()) == ITEMS, 30), \
            f"{len(stored())} of {ITEMS} local copies, cloud requests {server.requests}:\n" \
            + pipe.output("uploader")[-2000:]
        assert server.requests == 1  # one upload at a time to the hung destination
        assert wait_until(lambda: "without an answer" in pipe.output("uploader"), 30), pipe.output("uploader")[-2000:]
        assert wait_until(lambda: _health(pipe).returncode == 1, 30), _health(pipe).stderr
        assert "destination cloud FAILING" in _health(pipe).stderr
    finally:
        if client is not None:
            client.close()
        pipe.close()
        server.close()
    assert "Traceback" not in pipe.output("uploader")


@pytest.mark.realtime
def test_a_destination_down_with_a_long_backlog_does_not_starve_the_others(tmp_path: Path) -> None:
    """The shipper listed 50 due deliveries, oldest first: once a paused destination had 50 older ones
    waiting, the list held only its rows, and the local copies of every newer item waited for the outage
    to end (bench/outside/hung_destination.py, after the fix above: local stalled at 53 of 64)."""
    pipe = Pipeline(tmp_path, secrets={"CLOUDINARY_URL": "cloudinary://123456:secretsecret@democloud"},
                    QUICKCAM_UPLOADER__DESTINATIONS="cloud,local", QUICKCAM_STORAGE__LOCAL__PATH="storage",
                    QUICKCAM_STORAGE__CLOUD__KIND="cloudinary",
                    QUICKCAM_STORAGE__CLOUD__UPLOAD_PREFIX=f"http://127.0.0.1:{free_port()}",  # refused
                    QUICKCAM_UPLOADER__RETRY_BASE_S="30", QUICKCAM_UPLOADER__RETRY_MAX_S="30",
                    QUICKCAM_UPLOADER__STOP_UPLOAD_S="1")
    client = None
    try:
        client = snapshots_to_uploader(pipe, BACKLOG)
        stored = lambda: list((tmp_path / "storage").rglob("*.qsc"))  # noqa: E731
        assert wait_until(lambda: len(stored()) == BACKLOG, 30), \
            f"{len(stored())} of {BACKLOG} local copies:\n" + pipe.output("uploader")[-1500:]
    finally:
        if client is not None:
            client.close()
        pipe.close()
    assert "Traceback" not in pipe.output("uploader")
    # The shipper says a failing destination (a line a minute); urllib3 said each of its own tries too, three
    # lines per attempt, unthrottled (bench/outside/tls_destination.py: 36 of 70 lines in 20 s; FINDINGS #44)
    assert "Retrying (Retry(" not in pipe.output("uploader")
