"""Saying how the writes of a status file go: one owner for the detector, the uploader and its alerts.

Each process rewrites its status file every second or two, and ``quickcam status`` and the health
check take its content as current until it ages out. A write that fails must therefore neither fill
the log (it fails again every second) nor go unseen (readers see the last content as current, then
call a running process dead): every failure is counted, and said once a streak.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

COUNTER = "status_write_failures"  # the count's name, in each status file (quickcam status shows it)


def note_status_write(logger: logging.Logger, who: str, path: Path, error: Exception | None,
                      counters: Counter[str], failing: bool, meanwhile: str = "",
                      moved: Sequence[Path] = ()) -> bool:
    """Count and say one write of a status file; return whether it failed (the next call's ``failing``).

    Every failed write is counted (``counters["status_write_failures"]``: in the file once a write gets
    through, and shown by ``quickcam status``), but said once a streak, not every second: one warning
    with the reason and what ``quickcam status`` shows ``meanwhile``, then one info line when it writes
    again. ``moved``: directories that stood in the file's way and were moved aside by this write
    (``common/durable.py``'s ``write_status``), one error line each, every time: someone put one there.
    An ``error`` that is not an ``OSError`` (a bug in building the status) is logged with its traceback.
    ``who`` starts each line (``status`` for the detector, ``receiver``, ``alerts``).
    """
    if error is not None:
        counters[COUNTER] += 1
        if not failing:
            reason = error.strerror if isinstance(error, OSError) and error.strerror else error
            logger.warning("%s: cannot write %s (%s); %s until it can", who, path, reason, meanwhile,
                           exc_info=error if not isinstance(error, OSError) else None)
        return True
    for aside in moved:
        logger.error("%s: a directory stood where the status file %s belongs; moved it to %s (its files kept) "
                     "and wrote the status again", who, path, aside.name)
    if failing:
        logger.info("%s: writing %s again (%d write(s) failed so far)", who, path, counters[COUNTER])
    return False
