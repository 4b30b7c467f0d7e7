"""The uploader's own slow ledger write (a slow disk) is not another program's lock.

With a detector's heartbeat of 100 ms the receiver waits at most 100 ms for the ledger's write lock before it
nacks an item ``busy`` (another program may hold it for ever: uploader/ledger_locked.py). On a slow disk the
shipper's own commit (its fsync) held that lock longer: the receiver called it ``locked by another program``
(a warning, the status file's fault, the health check red, ``ledger_locked`` counted) and nacked the item, which
the detector sent again after its ack timeout. The slow disk is an LD_PRELOAD shim (``tests/fakes/slow_fsync.c``)
that makes each fsync of the ledger's files take 250 ms more.

The stop's queuing of the uploader's own log gets what is left of ``stop_upload_s`` for another program's lock:
with ``stop_upload_s = 0`` it did not wait for the shipper's own commit either, so the stop's log was not queued
whenever the shipper was writing (`could not queue the log file … (database is locked)`), its lines left for the
next start, after a run whose last lines matter most.
"""

from __future__ import annotations

import io
import os
import time
from pathlib import Path

import pytest

from quickcam.common import protocol
from quickcam.common.cryptofile import Keyring, SymmetricKey, decrypt
from quickcam.uploader.ledger_reader import read_summary
from tests.fakes.shims import preload_shim
from tests.test_curve import Client, running_uploader, snapshot, stored_ids
from tests.waiting import wait_until

ITEMS = 12


@pytest.mark.slow
@pytest.mark.beside_others  # every wait polled: a busy machine only waits longer
def test_the_shippers_own_slow_ledger_write_is_waited_for_not_called_another_programs_lock(workdir: Path) -> None:
    env = {"LD_PRELOAD": str(preload_shim("slow_fsync", workdir)),
           "QC_SLOW_FSYNC_PREFIX": str(workdir / "state" / "ledger.sqlite3"), "QC_SLOW_FSYNC_MS": "250",
           "QUICKCAM_UPLOADER__RETRY_BASE_S": "0.01", "QUICKCAM_UPLOADER__RETRY_MAX_S": "0.05"}
    # Uploads fail and are retried at once while the items come: the shipper writes each outcome (two commits of
    # 250 ms), so each item's write meets one of them.
    (workdir / "storage").write_text("a file where the storage folder should be")
    sent, replies, faults = [], [], set()
    with running_uploader(workdir, env) as up:
        client = Client(os.environ["QUICKCAM_LINK__ENDPOINT"])
        try:
            hello = protocol.make_header("hello", detector="test", detector_version="0", cameras=["cam0"],
                                         heartbeat_ms=100)
            assert client.request(protocol.encode(protocol.Message(hello))).type == "credit"
            for _ in range(ITEMS):
                header, payload = snapshot()
                sent.append(header["id"])
                frames = protocol.encode(protocol.Message(header, payload))
                for _attempt in range(3):  # a nacked item is sent again, as a detector does
                    replies.append(client.request(frames, timeout=30))
                    faults.add(up.status().get("fault", ""))
                    if replies[-1].type == "ack":
                        break
                    time.sleep(0.5)
            output, counters = up.output(), up.status()["counters"]
            assert "locked by another program" not in output, output[-3000:]
            assert faults == {""}, faults
            assert counters.get("ledger_locked", 0) == 0, counters
            nacks = [reply.header for reply in replies if reply.type != "ack"]
            assert nacks == [], nacks  # before: nacked busy, sent again after the detector's ack timeout
            (workdir / "storage").unlink()
            assert wait_until(lambda: stored_ids(workdir) == set(sent), 60), up.output()[-3000:]
        finally:
            client.close()


@pytest.mark.slow
@pytest.mark.beside_others  # every wait polled: a busy machine only waits longer
def test_a_stop_with_no_time_for_uploads_still_queues_its_log_while_the_shipper_writes(
        workdir: Path, key: SymmetricKey) -> None:
    env = {"LD_PRELOAD": str(preload_shim("slow_fsync", workdir)),
           "QC_SLOW_FSYNC_PREFIX": str(workdir / "state" / "ledger.sqlite3"), "QC_SLOW_FSYNC_MS": "250",
           "QUICKCAM_UPLOADER__RETRY_BASE_S": "0.01", "QUICKCAM_UPLOADER__RETRY_MAX_S": "0.05",
           "QUICKCAM_UPLOADER__STOP_UPLOAD_S": "0"}
    (workdir / "storage").write_text("a file where the storage folder should be")  # the shipper writes on and on
    with running_uploader(workdir, env) as up:
        client = Client(os.environ["QUICKCAM_LINK__ENDPOINT"])
        try:
            assert client.hello(["cam0"]).type == "credit"
            header, payload = snapshot()
            assert client.request(protocol.encode(protocol.Message(header, payload)), timeout=30).type == "ack"
            # Each failure's outcome written (two commits of 250 ms), counted in the ledger (`quickcam status`):
            assert wait_until(lambda: _failed_tries(workdir) >= 3, 60), up.output()[-3000:]
        finally:
            client.close()
        assert up.stop() == 0
        first_run = up.output()
    assert "could not queue the log file" not in first_run, first_run[-3000:]
    (workdir / "storage").unlink()
    with running_uploader(workdir) as up:  # its uploads at the next start
        up.wait_for("uploaded log", timeout=30)
    logs = b"".join(_decrypted(path, key) for path in sorted((workdir / "storage").rglob("logs/**/*.qsc")))
    assert b"uploader: stopping; no new footage accepted" in logs, logs[-3000:]


def _failed_tries(workdir: Path) -> int:
    """The failed upload attempts the ledger holds, as `quickcam status` shows them (0 while it cannot be read)."""
    try:
        return sum(row["failed_tries"] for row in read_summary(workdir / "state" / "ledger.sqlite3"))
    except Exception:  # (not written yet, or locked a moment)
        return 0


def _decrypted(path: Path, key: SymmetricKey) -> bytes:
    out = io.BytesIO()
    with path.open("rb") as src:
        decrypt(src, out, Keyring([key]))
    return out.getvalue()
