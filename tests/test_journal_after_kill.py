"""An item committed by a run killed before its journal line is journaled at the next start, before it is sent.

A detector commits an item as payload, header, then its line in ``produced.jsonl``. A SIGKILL between the header
and the line (seen once in ~100 kills: bench/outside FINDINGS #10, ``kill_storm.py``) left an item the next start
found committed and sent: stored, with no journal line, the invariant's "invented". The state such a kill leaves
is made here exactly: a run with no uploader commits items, and the journal loses its last lines (items whose
payload and header are durable). The next run, with an uploader, must journal them (one line each, said) before
it sends them: every item the uploader received is in the journal, once.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from quickcam.common import protocol
from tests.conftest import QUICKCAM, private_endpoint
from tests.fakes.uploader_peer import UploaderPeer, credit

DROPPED = 2  # journal lines lost with the kill


class _Receiver(UploaderPeer):
    """Acks every snapshot and segment; keeps their ids."""

    def __init__(self, endpoint: str) -> None:
        self.ids: list[str] = []
        super().__init__(endpoint)

    def answer(self, peer: bytes, message: protocol.Message) -> dict[str, Any] | None:
        if message.type in ("snapshot", "segment"):
            self.ids.append(message.header["id"])
            return protocol.make_header("ack", ref=message.header["id"])
        return credit()


def _journal(outbox: Path) -> list[str]:
    return [json.loads(line)["id"] for line in (outbox / "produced.jsonl").read_text().splitlines()]


@pytest.mark.realtime
@pytest.mark.slow  # 15-21 s a case: in the slow unit (tests/realtime_group.py)
@pytest.mark.parametrize("detector", ["python", "native"])
def test_an_item_committed_without_its_journal_line_is_journaled_at_the_next_start(tmp_path: Path,
                                                                                   detector: str) -> None:
    from tests.native_build import native_detector

    command = [str(native_detector())] if detector == "native" else [QUICKCAM, "detector"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUICKCAM_")}
    env |= {"QUICKCAM_LINK__ENDPOINT": private_endpoint(tmp_path), "QUICKCAM_RECORDING__SEGMENT_S": "1.0",
            "QUICKCAM_CAMERA__DEMO_START_S": "3"}  # the walker from 1 s in: a snapshot and 1 s segments
    outbox, journal = tmp_path / "outbox", tmp_path / "outbox" / "produced.jsonl"
    first = subprocess.run([*command, "--seconds", "5"], cwd=tmp_path, env=env, capture_output=True, text=True,
                           timeout=90)
    assert first.returncode == 0, first.stderr[-3000:]
    lines = journal.read_text().splitlines(keepends=True)
    assert len(lines) > DROPPED + 1, lines
    dropped = [json.loads(line)["id"] for line in lines[-DROPPED:]]
    assert all((outbox / f"{i}.hdr").exists() and (outbox / f"{i}.bin").exists() for i in dropped)
    journal.write_text("".join(lines[:-DROPPED]))  # the kill's state: committed, not journaled

    uploader = _Receiver(env["QUICKCAM_LINK__ENDPOINT"])
    try:
        # no walker in its 2 s (the script from its start): it sends what it found, acked in the stop's drain
        second = subprocess.run([*command, "--seconds", "2"], cwd=tmp_path,
                                env=env | {"QUICKCAM_CAMERA__DEMO_START_S": "0"}, capture_output=True, text=True,
                                timeout=90)
    finally:
        uploader.close()
    text = second.stdout + second.stderr
    assert second.returncode == 0, text[-3000:]
    for item in dropped:
        assert f"item {item} was committed but not journaled" in text, text[-3000:]
    journaled = _journal(outbox)
    assert set(dropped) <= set(uploader.ids), (dropped, uploader.ids)  # sent
    assert not set(uploader.ids) - set(journaled), set(uploader.ids) - set(journaled)  # nothing "invented"
    assert len(journaled) == len(set(journaled)), journaled  # each line once
