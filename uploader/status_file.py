"""The uploader's status file, ``<state_dir>/status.json``: what ``quickcam status`` shows about this side.

The receiver writes it every housekeeping second (temp file + rename, so a reader
never sees half of it) and once more at stop with ``running`` false. At start it
is read back for the detectors it listed, so one that went silent before a
restart is still reported silent rather than forgotten.

A write that fails is counted and said once a streak (``common/status_writes.py``), as for
the alerts service's ``alerts-status.json`` and the detector's ``detector-status.json``: a
status file rewritten every second must not fill the log, nor fail unseen while readers
take its last content as current.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from pathlib import Path
from typing import Any

from quickcam.common import durable
from quickcam.common.status_writes import note_status_write
from quickcam.uploader.detectors import DetectorTable

log = logging.getLogger("quickcam.uploader.receiver")  # the receiver's lines, under the receiver's name

STATUS_FILE_NAME = "status.json"  # uploader/cli.py reads it by this name


def write_status(path: Path, status: dict[str, Any], counters: Counter[str], failing: bool) -> bool:
    """Replace ``path`` with ``status`` as JSON, in place when the disk is full (``common/durable.py``).

    Returns whether the write failed: counted in ``counters`` and said once a streak
    (``note_status_write``, ``failing``: the last write failed); the next second tries again.
    """
    try:
        moved = durable.write_status(path, status)
    except OSError as exc:
        return note_status_write(log, "receiver", path, exc, counters, failing,
                                 "quickcam status shows the uploader as of the last write, then as NOT ANSWERING "
                                 "(and the health check fails)")
    return note_status_write(log, "receiver", path, None, counters, failing, moved=moved)


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
