"""The native detector's threads sleep while idle, as the Python detector's (tests/test_link_liveness.py).

The link sleeps in its poll until the next heartbeat, re-knock or retransmission is due (a second
at most); the uploader's messages wake it, and so does a new outbox item, which leaves at once.
Before, it polled every 50 ms: 20 wake-ups a second on an idle camera. The main thread sleeps
until the status file is due (every 2 s) or a stop, the recorder until capture hands it an item:
before, they woke every 100 ms. SIGTERM still stops it at once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from quickcam.common import protocol
from tests.conftest import private_endpoint
from tests.fakes.uploader_peer import UploaderPeer, credit
from tests.native_build import native_detector
from tests.waiting import wait_until

IDLE_S = 2.0
WALK_S = 4.0  # the demo's walker enters this long after the start (its scene clock starts at 14 s)


class _AckingUploader(UploaderPeer):
    """Credit for every hello and status, an ack for every item; how long each item took to come.

    Timed from the item's commit, the rename of its header into the outbox (the file's ctime; its
    journal line and that line's fsync follow, then the wake): not from its frame's capture time, as
    before. On a loaded machine detection, the JPEG and the commit's fsyncs took 3.3 s once in CI
    (load ~8) and 0.4 s here with four busy loops on the 2 cores: none of it is the link's doing.
    """

    def __init__(self, endpoint: str, outbox: Path) -> None:
        self.items: list[tuple[float, dict]] = []  # seconds from commit to receipt, header
        self.outbox = outbox
        self.credited = threading.Event()  # the link is connected once it has this credit
        super().__init__(endpoint)

    def answer(self, peer: bytes, message: protocol.Message) -> dict | None:
        if message.type in ("snapshot", "segment"):
            received = time.time()
            committed = (self.outbox / f"{message.header['id']}.hdr").stat().st_ctime  # removed only once acked
            self.items.append((received - committed, message.header))
            return protocol.make_header("ack", ref=message.header["id"])
        return credit()

    def send(self, peer: bytes, header: dict) -> None:
        super().send(peer, header)
        self.credited.set()


IDLE_THREADS = ("qc-link", "main", "recording-cam0")


def _wakeups(pid: int) -> dict[str, int]:
    """Voluntary context switches of each idle thread (one per sleep it wakes from), by name ("main": the process)."""
    counts = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        name = "main" if task.name == str(pid) else (task / "comm").read_text().strip()
        if name in IDLE_THREADS:
            counts[name] = int((task / "status").read_text().split("voluntary_ctxt_switches:")[1].split()[0])
    assert set(counts) == set(IDLE_THREADS), f"threads missing: {set(IDLE_THREADS) - set(counts)}"
    return counts


@pytest.mark.realtime  # wake-ups counted over wall-clock seconds
def test_the_native_detectors_threads_sleep_while_idle_a_new_item_leaves_at_once_and_sigterm_stops_it(
        tmp_path: Path) -> None:
    endpoint = private_endpoint(tmp_path)
    Path(endpoint.removeprefix("ipc://")).parent.mkdir(mode=0o700, exist_ok=True)  # the peer binds first
    (tmp_path / "quickcam.toml").write_text(f'[link]\nendpoint = "{endpoint}"\nheartbeat_s = 30\n'
                                            f'[camera]\ndemo_start_s = {18 - WALK_S}\n'  # walks at 18-23 s
                                            f'[recording]\noutbox_dir = "{tmp_path / "outbox"}"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUICKCAM_")}
    peer = _AckingUploader(endpoint, tmp_path / "outbox")
    started = time.monotonic()
    detector = subprocess.Popen([str(native_detector()), "--config", "quickcam.toml", "--seconds", "60"],
                                cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert peer.credited.wait(20)
        time.sleep(0.5)  # past the first status after connecting: then nothing is due for 30 s
        before = _wakeups(detector.pid)
        time.sleep(IDLE_S)
        after = _wakeups(detector.pid)
        wakeups = {name: after[name] - before[name] for name in IDLE_THREADS}
        idle_ended = time.monotonic() - started
        # the event's first snapshot, then its first segment (the 2 s pre-roll: about half a second later)
        assert wait_until(lambda: {"snapshot", "segment"} <= {h["type"] for _, h in peer.items}, 30)
    finally:
        signalled = time.monotonic()
        detector.send_signal(signal.SIGTERM)
        detector.communicate(timeout=60)
        stopped_s = time.monotonic() - signalled
        peer.close()
    if idle_ended < WALK_S:  # measured before the walk began (a slow start may leave no idle window: not judged)
        # about once a second for the link (it was 20 a second); the main thread hardly (it was 10 a second, then
        # once per status write: the status file has its own thread now); the recorder not at all (10 a second)
        assert wakeups["qc-link"] <= 4 * IDLE_S and wakeups["main"] <= 4 * IDLE_S, wakeups
        assert wakeups["recording-cam0"] <= 2, wakeups
    # SIGTERM during the walk: the event's open segment closed and acknowledged, within a few seconds
    assert detector.returncode == 0 and stopped_s < 10, (detector.returncode, stopped_s)
    # Woken by the commit. Without that wake an item waits for the link's next timed look (once a second,
    # link.cpp's kIdleMaxMs): either item has about even odds of taking more than 0.5 s, the two together
    # (committed some 0.4-0.7 s apart) about 9 in 10. Measured: 0.01-0.06 s, 0.07 s with four busy loops.
    delays = {h["type"]: delay for delay, h in reversed(peer.items)}  # each type's first
    assert delays["snapshot"] < 0.5 and delays["segment"] < 0.5, delays
