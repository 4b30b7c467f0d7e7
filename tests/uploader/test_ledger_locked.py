"""The ledger held locked by another program under the running uploader: said within seconds, not after 30 s.

Before, an item's ledger write waited in SQLite's busy handler for 30 s without a word, the receiver answering
nothing meanwhile (its status file not written either); the first line was the nack ``busy … database is locked``.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

from quickcam.common import protocol
from quickcam.uploader.cli import uploader_line
from tests.test_curve import Client, running_uploader, snapshot
from tests.waiting import wait_until


def test_a_locked_ledger_is_said_after_a_few_seconds_in_the_log_and_status_and_the_item_is_stored_after(
        workdir: Path) -> None:
    with running_uploader(workdir) as up:
        client = Client(os.environ["QUICKCAM_LINK__ENDPOINT"])
        holder = sqlite3.connect(workdir / "state" / "ledger.sqlite3", isolation_level=None)
        try:
            assert client.hello(["cam0"]).type == "credit"
            holder.execute("BEGIN EXCLUSIVE")  # as `sqlite3 ledger.sqlite3 'BEGIN EXCLUSIVE; ...'` by hand
            header, payload = snapshot()
            locked_at = time.monotonic()
            client.send(protocol.encode(protocol.Message(header, payload)))
            up.wait_for("has been locked by another program for", timeout=10)
            said_after = time.monotonic() - locked_at
            assert wait_until(lambda: "locked by another program" in up.status().get("fault", ""), 5), up.status()
            line = uploader_line(up.status(), time.time())
            holder.execute("ROLLBACK")
            reply = client.reply(timeout=30)
            assert wait_until(lambda: not up.status().get("fault"), 10), up.status()
        finally:
            holder.close()
            client.close()
        output = up.output()
    assert said_after < 8, said_after  # SQLite's own wait: 30 s
    assert "FAULT: the ledger " in line and "new footage waits in the detectors' outboxes" in line, line
    assert (reply.type, reply.header.get("ref")) == ("ack", header["id"]), reply.header  # waited, then stored
    assert output.count("has been locked by another program") == 1, output  # once a streak
    assert "the ledger " in output and " takes writes again" in output, output
    assert up.status()["counters"]["ledger_locked"] == 1


