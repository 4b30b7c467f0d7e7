"""An outbox item the disk will not read holds up nothing: the items behind it leave, it waits and is sent later.

Before, the read error reached the link's loop, which started again and met the same item first
each time: nothing committed after a bad sector ever left the detector (docs/reliability.md).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from quickcam.common.config import LinkConfig
from quickcam.detector.link import UploaderLink
from quickcam.detector.outbox import Outbox
from quickcam.detector.status_file import link_status
from quickcam.uploader.cli import detector_line
from tests.test_curve import running_uploader, snapshot
from tests.waiting import wait_until

pytestmark = pytest.mark.realtime  # a real uploader, waited for on the wall clock


class _OutboxWithABadSector(Outbox):
    """An outbox whose reads of one item fail (EIO) until ``bad`` is emptied: the disk came back."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.bad: set[str] = set()
        self.tries = 0

    def load(self, message_id: str) -> tuple[dict, bytes]:
        if message_id in self.bad:
            self.tries += 1
            raise OSError(5, "Input/output error", str(self.root / f"{message_id}.bin"))
        return super().load(message_id)


def test_an_item_the_disk_will_not_read_is_skipped_and_counted_the_next_arrives_and_it_follows_once_it_reads(
    workdir: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="quickcam.detector.link")
    outbox = _OutboxWithABadSector(workdir / "outbox")
    link = UploaderLink(LinkConfig(endpoint=os.environ["QUICKCAM_LINK__ENDPOINT"], ack_timeout_s=3,
                                   heartbeat_s=0.5), outbox, ["cam0"], camera_status=dict)
    with running_uploader(workdir):
        for _ in range(2):
            outbox.commit_bytes(*snapshot())
        bad = outbox.pending()[0].id  # the first in the queue: the other waits behind it
        outbox.bad.add(bad)
        link.start()
        try:
            # The item behind the bad one leaves; the bad one stays, whole, in the outbox.
            assert wait_until(lambda: [i.id for i in outbox.pending()] == [bad], 30), caplog.text[-2000:]
            assert wait_until(lambda: outbox.tries >= 3, 30), caplog.text[-2000:]  # tried again, backing off
            assert (outbox.root / f"{bad}.bin").exists() and (outbox.root / f"{bad}.hdr").exists()
            status = link_status(link)
            assert status["unreadable"] == 1, status  # once for the streak, not once a try
            assert "the disk refuses to read it; check the disk" in status["last_error"], status
            assert "Input/output error (errno 5)" in status["last_error"], status
            assert not status["error_cleared_at"], "shown as standing while the item is unread"
            shown = detector_line({"link": status}, 0)
            assert "1 outbox item(s) the disk would not read" in shown, shown
            assert link.thread.is_alive()
            # The disk reads it again: it is sent within its back-off (at most 60 s; here a few s).
            outbox.bad.clear()
            assert wait_until(lambda: not outbox.pending(), 60), caplog.text[-2000:]
            assert wait_until(lambda: link.state.error_cleared_at > 0, 10), link.state
        finally:
            link.stop()
    assert caplog.text.count("the disk refuses to read it; check the disk") == 1, caplog.text[-3000:]
    assert "starting it again" not in caplog.text, "the link's loop was restarted for one item's error"
    assert f"{bad} reads again after" in caplog.text
