"""``own_records`` leaves out what a thread running before the test logs (tests/own_logs.py)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator

import pytest

from tests.own_logs import own_records

log = logging.getLogger("quickcam.tests.own_logs")


@pytest.fixture(scope="module")
def leftover() -> Iterator[threading.Event]:
    """A thread already running when the test begins, as an earlier test's leftover is; it logs when told."""
    say = threading.Event()
    thread = threading.Thread(target=lambda: say.wait(30) and log.warning("an earlier test's delivery failed"))
    thread.start()
    yield say
    say.set()
    thread.join(30)


def test_a_thread_running_before_the_test_is_not_the_tests_own_but_its_new_threads_are(
        leftover: threading.Event, caplog: pytest.LogCaptureFixture) -> None:
    log.warning("the test's own line")
    leftover.set()
    started = threading.Thread(target=log.warning, args=("a line from a thread the test started",))
    started.start()
    started.join()
    assert wait_for_three(caplog)  # pytest takes all three
    assert [r.getMessage() for r in own_records(caplog)] == [
        "the test's own line", "a line from a thread the test started"]


def wait_for_three(caplog: pytest.LogCaptureFixture) -> bool:
    deadline = time.monotonic() + 30
    while len(caplog.records) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    return len(caplog.records) == 3
