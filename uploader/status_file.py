"""The uploader's status file, ``<state_dir>/status.json``: what ``quickcam status`` shows about this side.

The receiver writes it every housekeeping second (temp file + rename, so a reader
never sees half of it) and once more at stop with ``running`` false. At start it
is read back for the detectors it listed, so one that went silent before a
restart is still reported silent rather than forgotten.

A write that fails is counted and said once a streak (``note_status_write``), as for
the alerts service's ``alerts-status.json``: a status file rewritten every second
must not fill the log, nor fail unseen while readers take its last content as current.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from pathlib import Path
from typing import Any

from quickcam.common import durable
from quickcam.uploader.detectors import DetectorTable

log = logging.getLogger("quickcam.uploader.receiver")  # the receiver's lines, under the receiver's name

STATUS_FILE_NAME = "status.json"  # uploader/cli.py reads it by this name


def note_status_write(logger: logging.Logger, who: str, path: Path, error: OSError | None,
                      counters: Counter[str], failing: bool, meanwhile: str = "") -> bool:
    """Count and say one write of a status file; return whether it failed (the next call's ``failing``).

    Every failed write is counted (``counters["status_write_failures"]``: in the file once a write gets
    through, and shown by ``quickcam status``), but said once a streak, not every second: one warning
    with the reason and what ``quickcam status`` shows ``meanwhile``, then one info line when it writes
    again. ``who`` starts each line (``receiver``, ``alerts``).
    """
    if error is not None:
        counters["status_write_failures"] += 1
        if not failing:
            logger.warning("%s: cannot write %s (%s); %s until it can", who, path, error.strerror or error, meanwhile)
        return True
    if failing:
        logger.info("%s: writing %s again (%d write(s) failed so far)", who, path, counters["status_write_failures"])
    return False


def write_status(path: Path, status: dict[str, Any], counters: Counter[str], failing: bool) -> bool:
    """Replace ``path`` with ``status`` as JSON, in place when the disk is full (``common/durable.py``).

    Returns whether the write failed: counted in ``counters`` and said once a streak
    (``note_status_write``, ``failing``: the last write failed); the next second tries again.
    """
    try:
        moved = durable.write_status(path, status)
    except OSError as exc:
        return note_status_write(log, "receiver", path, exc, counters, failing,
                                 "quickcam status shows the uploader as of the last write, then as NOT RUNNING "
                                 "(and the health check fails)")
    for aside in moved:
        log.error("receiver: a directory stood where the status file %s belongs; moved it to %s (its files "
                  "kept) and wrote the status again", path, aside.name)
    return note_status_write(log, "receiver", path, None, counters, failing)


def restore_detectors(table: DetectorTable, path: Path) -> None:
    """Know again the detectors of the last run's status file (a silent one must stay reported)."""
    try:
        last = json.loads(path.read_text())
        restored = table.restore(list(last["detectors"]), float(last["time"]))
    except FileNotFoundError:
        return
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.info("receiver: the last status file %s is unreadable (%s); no detector restored", path, exc)
        return
    if restored:
        log.info("receiver: %d detector(s) known from the last run, waiting for them to reconnect", restored)
