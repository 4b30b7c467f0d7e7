"""Stored names as docs/protocol.md section 7 (uploader rule 4) spells them, against ``storing.remote_key``.

A reader of the storage (a script, another viewer) builds paths from that sentence: which time
names the date folder, and what stands for a snapshot's absent ``seq``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from quickcam.uploader.storing import remote_key
from tests.conftest import REPO

SPEC = (REPO / "docs" / "protocol.md").read_text()
MIDNIGHT_MS = 1_580_083_200_000  # 2020-01-27 00:00:00 UTC


def _spec_name(header: dict, key: str) -> str:
    """The name the spec's pattern and its rules give ``header``."""
    pattern = re.search(r"names a stored file `(<remote_folder>/[^`]+\.qsc)`", SPEC)[1]
    day_field = re.search(r"`<YYYY-MM-DD>` is the UTC date of that message's own `(\w+)`", SPEC)[1]
    absent_seq = int(re.search(r"`<seq>` is (\d+) for a snapshot\s+without `seq`", SPEC)[1])
    day = datetime.fromtimestamp(header[day_field] / 1000, UTC).strftime("%Y-%m-%d")
    values = {"remote_folder": "footage", "camera": header["camera"], "YYYY-MM-DD": day, "event": header["event"],
              "type": header["type"], "seq, 4 digits": f"{header.get('seq', absent_seq):04d}", "key": key}
    return re.sub(r"<([^>]+)>", lambda m: values[m[1]], pattern)


def test_a_segment_made_after_utc_midnight_of_an_event_begun_before_it_is_named_as_the_spec_says() -> None:
    header = {"type": "segment", "id": "0190a4b1c2d3e8f00112233445", "camera": "cam0", "event": "ev1", "seq": 3,
              "time_ms": MIDNIGHT_MS + 1_000, "start_ms": MIDNIGHT_MS - 4_000, "end_ms": MIDNIGHT_MS - 1}
    assert remote_key("footage", header) == _spec_name(header, header["id"])


def test_a_snapshot_without_seq_is_named_as_the_spec_says() -> None:
    header = {"type": "snapshot", "id": "0190a4b1c2d3e8f00112233446", "camera": "cam0", "event": "ev1",
              "time_ms": MIDNIGHT_MS - 1}
    assert remote_key("footage", header, "0190a4b1c2d3e8f00112233446.4dd9486722a8") == \
        _spec_name(header, "0190a4b1c2d3e8f00112233446.4dd9486722a8")
