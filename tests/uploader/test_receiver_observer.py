"""The alerts observer hears every hello a detector sends, the first one on a connection included.

The first hello of a connection (a new detector, one back, one reconnected) is what
tells the alert rules a camera's heartbeat interval; it used to reach the observer
only when repeated on the same connection.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from quickcam.common.config import load_config
from quickcam.common.cryptofile import SymmetricKey
from quickcam.uploader.receiver import Receiver
from quickcam.uploader.spool import Spool
from tests.test_curve import Client
from tests.waiting import wait_until


def test_the_first_hello_of_a_connection_reaches_the_alerts_observer(workdir: Path, key: SymmetricKey) -> None:
    heard: list[tuple[str, dict[str, Any]]] = []
    config = load_config(None)
    config.uploader.state_dir.mkdir(parents=True)
    spool = Spool(config.uploader.spool_dir, 1 << 30)
    receiver = Receiver(config, key, spool, config.uploader.state_dir / "ledger.sqlite3", threading.Event(),
                        observer=lambda kind, header, payload: heard.append((kind, header)))
    receiver.open()
    thread = threading.Thread(target=receiver.serve, daemon=True)
    thread.start()
    client = Client(config.link.endpoint)
    try:
        assert client.hello(["garage"]).type == "credit"
        assert wait_until(lambda: any(kind == "hello" for kind, _ in heard), 30), heard
    finally:
        client.close()
        receiver.stop_event.set()
        thread.join(timeout=10)
    assert [header["cameras"] for kind, header in heard if kind == "hello"] == [["garage"]]
