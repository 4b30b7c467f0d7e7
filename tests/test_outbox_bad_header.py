"""An outbox item whose stored header fails the protocol's own check is set aside; every other item leaves.

A fault script (or a person) may edit an item's ``.hdr`` in the outbox between runs or while the detector
runs: bytes that are not msgpack, a msgpack value that is not a map, a map with a key that is not text,
a field out of range, an id that is not the item's. Each such item is moved to ``outbox/refused/``, said
in one line naming what was wrong, counted (``quickcam status``: refused), and the items behind it are
delivered. The same for the native detector (``detector_command``).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import msgpack

from quickcam.common import protocol
from quickcam.detector.outbox import Outbox
from tests.conftest import QUICKCAM
from tests.pipeline import Pipeline
from tests.test_curve import snapshot
from tests.waiting import wait_until

# What the fault script writes over an item's header: between runs (before the detector starts) ...
BEFORE_START = {
    "not msgpack": b"\xc1 not msgpack",
    "not a map": msgpack.packb(5),
    "a field out of range": None,  # width -1, below
    "a wrong type": None,  # size as text
    "another item's id": None,  # a valid id, not the file's
    "nil in an unknown key": None,  # never sent (docs/protocol.md section 3): Python sent it, native set it aside
}
# ... and while it runs (the uploader not yet there, so nothing has been sent).
WHILE_RUNNING = {
    "not msgpack, edited": b"\xc1 garbage",
    "an int, edited": msgpack.packb(7),
    "a key that is not text": msgpack.packb({1: "x", "type": "snapshot"}),
    "a list, edited": msgpack.packb(["type", "snapshot"]),
}
GOOD = 3


def _seed(outbox: Path, count: int) -> list[tuple[str, dict]]:
    box = Outbox(outbox)
    items = []
    for _ in range(count):
        header, payload = snapshot()
        box.commit_bytes(header, payload)
        items.append((header["id"], header))
    return items


def _spoil(outbox: Path, item_id: str, header: dict, how: str, raw: bytes | None) -> None:
    if raw is None:
        header = dict(header)
        if how == "a field out of range":
            header["width"] = -1
        elif how == "a wrong type":
            header["size"] = "big"
        elif how == "nil in an unknown key":
            header["x_added_by_a_script"] = [1, {"deep": None}]
        elif how == "an unknown key":
            header["x_added_by_a_script"] = [1, {"deep": "yes"}]  # allowed by the protocol: delivered as it is
        else:
            header["id"] = protocol.new_message_id()
        raw = msgpack.packb(header)
    (outbox / f"{item_id}.hdr").write_bytes(raw)


def _refused_in_status(outbox: Path) -> int | None:
    try:
        return json.loads((outbox / "detector-status.json").read_text())["outbox"]["refused"]
    except (OSError, ValueError, KeyError):
        return None  # not written yet, or caught mid-replace


def _refused_on_the_wire(root: Path) -> int | None:
    """The ``refused`` of the detector's last ``status`` message, as the uploader's status file keeps it."""
    try:
        detectors = json.loads((root / "state" / "status.json").read_text())["detectors"]
        return detectors[0]["status"]["refused"]
    except (OSError, ValueError, KeyError, IndexError):
        return None


def test_items_with_spoiled_headers_are_set_aside_said_counted_and_the_others_delivered(
    tmp_path: Path, detector_command: list[str] | None,
) -> None:
    pipe = Pipeline(tmp_path, detector=detector_command, QUICKCAM_CAMERA__DEMO_START_S="29")
    outbox = tmp_path / "outbox"
    seeded = _seed(outbox, GOOD + len(BEFORE_START) + len(WHILE_RUNNING))
    spoiled_before = seeded[:len(BEFORE_START)]
    spoiled_later = seeded[len(BEFORE_START):len(BEFORE_START) + len(WHILE_RUNNING)]
    for (item_id, header), (how, raw) in zip(spoiled_before, BEFORE_START.items(), strict=True):
        _spoil(outbox, item_id, header, how, raw)
    bad = {item_id for item_id, _ in spoiled_before + spoiled_later}
    unknown_key, header = seeded[-1]
    _spoil(outbox, unknown_key, header, "an unknown key", None)
    try:
        pipe.start("detector")
        assert pipe.wait_for("detector", "from an earlier run will be re-sent", 30), pipe.output("detector")[-3000:]
        for (item_id, header), (how, raw) in zip(spoiled_later, WHILE_RUNNING.items(), strict=True):
            _spoil(outbox, item_id, header, how, raw)
        pipe.start_uploader_listening()
        assert pipe.wait_drained(30, set_aside=bad), pipe.output("detector")[-3000:]
        refused = {p.stem for p in (outbox / "refused").glob("*.hdr")}
        assert refused == bad, (refused, bad, pipe.output("detector")[-3000:])
        assert {p.stem for p in (outbox / "refused").glob("*.bin")} == bad  # the footage kept for a person
        assert wait_until(lambda: _refused_in_status(outbox) == len(bad), 10), _refused_in_status(outbox)
        # The wire status says the same count (before, it left out the items set aside at start)
        assert wait_until(lambda: _refused_on_the_wire(tmp_path) == len(bad), 10), _refused_on_the_wire(tmp_path)
        shown = subprocess.run([QUICKCAM, "status"], cwd=tmp_path, env=pipe.env, capture_output=True, text=True,
                               timeout=30).stdout
        status = json.loads((outbox / "detector-status.json").read_text())
        assert pipe.stop("detector") == 0
        pipe.stop("uploader")
    finally:
        pipe.close()
    log = pipe.output("detector")
    assert "Traceback" not in log and "starting it again" not in log, log[-3000:]
    for item_id in bad:
        assert sum(item_id in line and "refused" in line for line in log.splitlines()) == 1, (item_id, log[-3000:])
    assert status["outbox"]["refused"] == len(bad), status["outbox"]
    assert f"{len(bad)} refused (kept in outbox/refused)" in shown, shown
    pipe.check_invariant(set_aside=bad)
