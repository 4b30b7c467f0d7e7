"""A paused credit's reason is cut to the protocol's 1024 bytes: a long folder's name could break it.

The reason names the folder (the spool full, its disk low; the ledger locked): past 1024 bytes the
credit failed its own encoding, and every hello and status was answered with ``nack internal`` (a
traceback each) for as long as the pause lasted; the detectors counted rejected messages instead of
showing the pause's reason.
"""

from __future__ import annotations

import os
from pathlib import Path

from quickcam.common import protocol
from tests.test_curve import Client, running_uploader, snapshot


def test_a_pause_whose_reason_names_a_long_folder_is_still_a_credit(workdir: Path) -> None:
    # The reason names the spool's path: past the credit's 1024 bytes, the credit failed its own encoding and every
    # hello and status was answered with a nack internal (a traceback each) while the spool was full.
    spool = workdir / "/".join(["a-folder-with-a-rather-long-name-" + "x" * 60] * 12) / "spool"
    (workdir / "storage").write_text("a file where the storage folder should be")  # the item stays in the spool
    with running_uploader(workdir, {"QUICKCAM_UPLOADER__SPOOL_DIR": str(spool),
                                    "QUICKCAM_UPLOADER__SPOOL_MAX_MB": "0.0001"}) as up:
        client = Client(os.environ["QUICKCAM_LINK__ENDPOINT"])
        try:
            assert client.hello(["cam0"]).type == "credit"
            header, payload = snapshot()
            assert client.request(protocol.encode(protocol.Message(header, payload))).type == "ack"  # an empty spool
            credit = client.hello(["cam0"])  # ... now over its cap: paused, the spool named
        finally:
            client.close()
        output = up.output()
    assert (credit.type, credit.header.get("messages")) == ("credit", 0), credit.header
    assert len(credit.header["reason"].encode()) <= protocol.MAX_NACK_TEXT and credit.header["reason"].endswith("…")
    assert "Traceback" not in output, output[-3000:]
