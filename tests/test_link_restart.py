"""The detector's link thread survives an unexpected error: it starts its loop again, footage still leaves.

The link is the only way footage leaves the detector; an exception that ended its
thread (an acknowledged item the disk would not let it delete did, docs/reliability.md
scenario 11) left the detector recording into its outbox for ever.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from quickcam.common.config import LinkConfig
from quickcam.detector.link import UploaderLink
from quickcam.detector.outbox import Outbox, OutboxItem
from tests.test_curve import running_uploader, snapshot
from tests.waiting import wait_until

pytestmark = pytest.mark.realtime  # a real uploader, waited for on the wall clock


class _OutboxOnAFailingDisk(Outbox):
    """An outbox whose first listings fail as a disk refusing them would (EACCES), then work.

    Not an item's read: that is the item's trouble (skipped and tried again, ``test_link_unreadable.py``),
    not the link's. An error that is no item's still starts the link's loop again.
    """

    def __init__(self, root: Path, failures: int) -> None:
        super().__init__(root)
        self.failures = failures

    def pending(self) -> list[OutboxItem]:
        if self.failures and threading.current_thread().name == "uploader-link":  # the test's own looks work
            self.failures -= 1
            raise PermissionError(13, "Permission denied", str(self.root))
        return super().pending()


@contextmanager
def _link_on_a_failing_disk(workdir: Path, failures: int) -> Iterator[tuple[Outbox, UploaderLink]]:
    """A real uploader, and a started link whose outbox refuses its first ``failures`` listings; one item in it."""
    outbox = _OutboxOnAFailingDisk(workdir / "outbox", failures=failures)
    link = UploaderLink(LinkConfig(endpoint=os.environ["QUICKCAM_LINK__ENDPOINT"], ack_timeout_s=3,
                                   heartbeat_s=0.5), outbox, ["cam0"], camera_status=dict)
    with running_uploader(workdir):
        outbox.commit_bytes(*snapshot())
        link.start()
        try:
            yield outbox, link
        finally:
            link.stop()


def test_an_error_in_the_link_thread_restarts_it_and_the_item_still_arrives(
    workdir: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    # Before, the first such error ended the link thread: the detector recorded on, nothing left it.
    caplog.set_level(logging.INFO, logger="quickcam.detector.link")
    with _link_on_a_failing_disk(workdir, failures=2) as (outbox, link):
        assert wait_until(lambda: not outbox.pending(), 60), caplog.text[-2000:]
        assert link.thread.is_alive()
    assert caplog.text.count("starting it again, footage stays in the outbox") == 1  # the traceback once
    assert "link failing (PermissionError" in link.state.last_error


def test_after_a_restart_the_link_still_wakes_on_its_own_pipe_and_delivers_the_next_item(
    workdir: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    # The loop used to close its wake-up pipe on the error and poll the closed number again; the next
    # socket's own eventfd took that number, the loop drained ZeroMQ's signal and heard nothing more.
    caplog.set_level(logging.INFO, logger="quickcam.detector.link")
    with _link_on_a_failing_disk(workdir, failures=1) as (outbox, link):
        assert wait_until(lambda: not outbox.pending(), 60), caplog.text[-2000:]
        assert "starting it again" in caplog.text
        polled = os.readlink(f"/proc/self/fd/{link._wakeup.fd}") if link._wakeup.fd >= 0 else "closed"
        assert polled.startswith("pipe:"), f"the loop polls {polled} for its wake-ups, not its pipe"
        outbox.commit_bytes(*snapshot())
        assert wait_until(lambda: not outbox.pending(), 30), caplog.text[-2000:]
    assert not link.thread.is_alive()
