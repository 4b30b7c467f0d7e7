"""The uploader's status file, ``<state_dir>/status.json``: what ``quickcam status`` shows about this side.

The receiver writes it every housekeeping second (temp file + rename, so a reader
never sees half of it) and once more at stop with ``running`` false. At start it
is read back for the detectors it listed, so one that went silent before a
restart is still reported silent rather than forgotten.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from quickcam.common import durable
from quickcam.uploader.detectors import DetectorTable

log = logging.getLogger("quickcam.uploader.receiver")  # the receiver's lines, under the receiver's name

STATUS_FILE_NAME = "status.json"  # uploader/cli.py reads it by this name


def write_status(path: Path, status: dict[str, Any]) -> None:
    """Replace ``path`` with ``status`` as JSON, in place when the disk is full (``common/durable.py``).

    A failure is only logged: the next second tries again.
    """
    try:
        moved = durable.write_status(path, status)
    except OSError as exc:
        log.debug("receiver: cannot write status file: %s", exc)
    else:
        for aside in moved:
            log.error("receiver: a directory stood where the status file %s belongs; moved it to %s (its files "
                      "kept) and wrote the status again", path, aside.name)


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
