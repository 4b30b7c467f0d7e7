"""The detector's status file comes back when something stands in its way.

A directory made at ``detector-status.json`` (a mistaken ``mkdir``, a bad volume
mount in a container) refused every write: the detector logged it once and never
wrote its status again, so ``quickcam status`` and the health check called a
recording detector stale. The writer now moves the directory aside (kept, with its
files) and writes the status again, with one error line naming where it went.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import pytest

from quickcam.detector.status_file import StatusFileWriter
from tests.own_logs import own_records
from tests.waiting import wait_until


@pytest.mark.parametrize("name", ["detector-status.json", "detector-status.json.part"])
def test_a_directory_in_the_status_files_way_is_moved_aside_kept_and_the_status_written_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, name: str,
) -> None:
    path = tmp_path / "detector-status.json"
    writes = []

    def collect(running: bool) -> dict[str, Any]:
        writes.append(running)
        return {"running": running, "writes": len(writes)}

    (tmp_path / name).mkdir()
    (tmp_path / name / "someones-file").write_text("kept")
    writer = StatusFileWriter(path, collect, interval_s=0.05)
    caplog.set_level(logging.INFO, logger="quickcam.detector.status_file")
    writer.start()
    try:
        # written, and a few intervals later still a file that readers parse
        assert wait_until(lambda: len(writes) > 3 and path.is_file(), 30), list(tmp_path.iterdir())
        assert json.loads(path.read_text())["running"] is True
    finally:
        writer.stop()
    assert json.loads(path.read_text())["running"] is False  # the last write, at stop
    moved = list(tmp_path.glob(f"{name}.replaced-*"))
    assert len(moved) == 1 and (moved[0] / "someones-file").read_text() == "kept", list(tmp_path.iterdir())
    lines = [r.getMessage() for r in own_records(caplog) if r.levelno >= logging.WARNING]
    assert lines == [f"status: a directory stood where the status file {path} belongs; moved it to "
                     f"{moved[0].name} (its files kept) and wrote the status again"], lines
    assert not list(tmp_path.glob("*.part")), list(tmp_path.iterdir())


def test_directories_at_both_the_status_file_and_its_temporary_name_are_moved_aside_in_one_write(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    """Both in the way: the first write moves both aside and writes the status (it took two writes, 2 s apart:
    the first moved the temporary name's directory, then failed on the file's)."""
    path = tmp_path / "detector-status.json"
    writes = []

    def collect(running: bool) -> dict[str, Any]:
        writes.append(running)
        return {"running": running, "writes": len(writes)}

    for name in ("detector-status.json", "detector-status.json.part"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "someones-file").write_text(name)
    writer = StatusFileWriter(path, collect, interval_s=60)  # one write at start, one at stop
    caplog.set_level(logging.INFO, logger="quickcam.detector.status_file")
    writer.start()
    try:
        assert wait_until(lambda: len(writes) >= 1 and path.is_file(), 30), list(tmp_path.iterdir())
        assert json.loads(path.read_text()) == {"running": True, "writes": 1, "status_write_failures": 0}  # the first
    finally:
        writer.stop()
    moved = {name: list(tmp_path.glob(f"{name}.replaced-*"))
             for name in ("detector-status.json", "detector-status.json.part")}
    for name, found in moved.items():
        assert len(found) == 1 and (found[0] / "someones-file").read_text() == name, list(tmp_path.iterdir())
    lines = [r.getMessage() for r in own_records(caplog) if r.levelno >= logging.WARNING]
    assert sorted(lines) == sorted(
        f"status: a directory stood where the status file {path} belongs; moved it to {found[0].name} (its files "
        "kept) and wrote the status again" for found in moved.values()), lines  # no "cannot write" between
    assert not list(tmp_path.glob("*.part")), list(tmp_path.iterdir())


@pytest.mark.parametrize("first_write", ["written", "failed"])
def test_what_the_write_mends_broken_again_during_the_write_is_written_again_within_a_poll(
        tmp_path: Path, first_write: str) -> None:
    """An outbox deleted, made again by a write and deleted again before that write ended: broken before the write
    and broken after it, which a comparison of states took for no change, and its lock waited for the next periodic
    write (2 s; seen on CI). Deleted before the file went in, that write failed too (its folder gone), and a failed
    write held the mending until the periodic one (seen on a clean clone after the first fix)."""
    path = tmp_path / "detector-status.json"
    outbox = {"intact": False}
    writes: list[float] = []

    def collect(running: bool) -> dict[str, Any]:
        writes.append(time.monotonic())
        outbox["intact"] = len(writes) > 1  # the first write mends it, and it is deleted again during that write
        if len(writes) == 1 and first_write == "failed":
            raise FileNotFoundError(2, "No such file or directory", str(path))
        return {"running": running}

    writer = StatusFileWriter(path, collect, interval_s=60, intact=lambda: outbox["intact"])
    writer.start()
    try:
        assert wait_until(lambda: len(writes) >= 2, 5), writes
    finally:
        writer.stop()
    assert writes[1] - writes[0] < 1.0, writes


def test_an_outbox_that_cannot_be_made_is_tried_again_at_a_pause_doubling_to_the_interval(tmp_path: Path) -> None:
    """Every write fails (the outbox's disk read-only): tried again after 0.25, 0.5, 1, 2 s..., not four times a
    second, and not only at the periodic write."""
    path = tmp_path / "missing" / "detector-status.json"  # never made: every write fails
    writes: list[float] = []

    def collect(running: bool) -> dict[str, Any]:
        writes.append(time.monotonic())
        return {"running": running}

    writer = StatusFileWriter(path, collect, interval_s=60, intact=lambda: False)
    writer.start()
    try:
        time.sleep(3.0)  # what is measured is how many writes fit in it (the test's point, not a wait)
    finally:
        writer.stop()
    gaps = [round(b - a, 2) for a, b in zip(writes, writes[1:-1], strict=False)]
    # 0.25, 0.5, 1 (each on the 0.25 s poll: one poll more on a loaded machine); four a second would be 11 or more
    assert 2 <= len(gaps) <= 5 and gaps[-1] >= 2 * gaps[0], gaps
