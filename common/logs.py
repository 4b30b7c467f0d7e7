"""Logging set-up shared by both processes: one line per record, a rotating file."""

from __future__ import annotations

import logging
import logging.handlers
import sys
from pathlib import Path


def setup_logging(process: str, log_file: Path | None, level: str = "INFO") -> Path | None:
    """Log to stderr and to ``<log_file stem>.<process><suffix>`` (rotated at 10 MB, 5 kept).

    Returns the path of the process's log file, which the uploader uploads.
    """
    root = logging.getLogger()
    root.handlers.clear()
    root.setLevel(level)
    fmt = logging.Formatter(f"%(asctime)s {process} %(levelname)-7s %(name)s: %(message)s")
    console = logging.StreamHandler(sys.stderr)
    console.setFormatter(fmt)
    root.addHandler(console)
    if log_file is not None:
        # One file per process: two processes rotating one file would race.
        log_file = log_file.with_name(f"{log_file.stem}.{process}{log_file.suffix}")
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(
            log_file, maxBytes=10 * 1024 * 1024, backupCount=5, encoding="utf-8"
        )
        handler.setFormatter(fmt)
        root.addHandler(handler)
    return log_file
