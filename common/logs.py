"""Logging shared by both processes: readable on a terminal, one logfmt line per record in files.

A terminal gets ``12:03:35 detector INFO  camera cam0: motion ...``; files (and
stderr when it is not a terminal, e.g. under systemd or Docker) get one
``key=value`` line per record, which grep, journald and log shippers all read:
``ts=2026-11-25T12:03:35.120Z proc=detector level=info logger=quickcam.detector.camera msg="..."``.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
import time
from pathlib import Path

NOISY_LIBRARIES = ("asyncssh", "dropbox", "urllib3", "botocore", "aiobotocore", "s3fs", "fsspec", "cloudinary")


class LogfmtFormatter(logging.Formatter):
    """One ``key=value`` line per record; quoting keeps each record on one line."""

    def __init__(self, process: str, with_time: bool = True) -> None:
        super().__init__()
        self.process = process
        self.with_time = with_time

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.exc_info:
            message += " | " + self.formatException(record.exc_info).replace("\n", " | ")
        fields = []
        if self.with_time:
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            fields.append(f"ts={stamp}.{int(record.msecs):03d}Z")
        fields += [f"proc={self.process}", f"level={record.levelname.lower()}", f"logger={record.name}",
                   f"msg={_quote(message)}"]
        return " ".join(fields)


def _quote(text: str) -> str:
    """Quoted on one line, with no control character left (a carriage return, a terminal's escape sequence) in
    words that may be a peer's (a detector's name, a nack's text): each as ``\\xNN``, a newline as ``\\n``."""
    return '"' + text.translate(_ESCAPES) + '"'


_ESCAPES = {**{c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F)}, ord("\n"): "\\n", ord("\\"): "\\\\",
            ord('"'): '\\"'}


class _LogFile(logging.handlers.RotatingFileHandler):
    """The log file, which may stop taking writes (a full disk): said once on stderr, not a traceback a line.

    A file renamed or removed from outside (logrotate's default, an `rm run.*.log`) is opened again at its name,
    as logging's WatchedFileHandler does: the lines went on into the renamed or deleted file, the one a person
    reads stayed empty, and the uploader's log uploads (read at the name) carried nothing more
    (bench/outside/log_files_moved.py).
    """

    _failing = False
    _error = False

    def emit(self, record: logging.LogRecord) -> None:
        self._error = False
        self._reopen_if_moved()
        super().emit(record)
        if self._failing and not self._error:
            self._failing = False
            sys.stderr.write(f"log: writing {self.baseFilename} again\n")

    def _reopen_if_moved(self) -> None:
        """Close the stream when the name no longer leads to its file; the write then opens the name again."""
        if self.stream is None or os.name == "nt":  # (Windows refuses to rename or remove an open file)
            return
        try:
            named = os.stat(self.baseFilename)
        except FileNotFoundError:
            named = None
        except OSError:
            return
        opened = os.fstat(self.stream.fileno())
        if named is None or (named.st_dev, named.st_ino) != (opened.st_dev, opened.st_ino):
            self.stream.close()
            self.stream = None  # type: ignore[assignment]  # logging's own way to open it at the next write

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - logging's name
        self._error = True
        if not self._failing:
            self._failing = True
            sys.stderr.write(f"log: cannot write {self.baseFilename} ({sys.exc_info()[1]}); "
                             "the log goes to stderr only until it can\n")


def setup_logging(process: str, log_file: Path | None, level: str = "INFO") -> Path | None:
    """Log to stderr and to ``<log_file stem>.<process><suffix>`` (rotated at 10 MB, 5 kept).

    Returns the path of the process's log file, which the uploader uploads.
    """
    root = logging.getLogger()
    root.handlers.clear()
    root.setLevel(level)
    # Libraries under the back ends log every request at INFO; the log is
    # uploaded with the footage, so only their warnings belong in it.
    for chatty in NOISY_LIBRARIES:
        logging.getLogger(chatty).setLevel(max(logging.WARNING, logging.getLevelName(level)))
    # urllib3 warns of each of its own tries ("Retrying (Retry(total=2 …)) after connection broken by …"),
    # three a failed upload, unthrottled; the shipper says the failure, its cause and its count itself.
    logging.getLogger("urllib3.connectionpool").setLevel(max(logging.ERROR, logging.getLevelName(level)))
    console = logging.StreamHandler(sys.stderr)
    if sys.stderr.isatty():
        console.setFormatter(logging.Formatter(f"%(asctime)s {process} %(levelname)-7s %(message)s", "%H:%M:%S"))
    else:
        # journald stamps lines itself (JOURNAL_STREAM is set under systemd).
        console.setFormatter(LogfmtFormatter(process, with_time="JOURNAL_STREAM" not in os.environ))
    root.addHandler(console)
    if log_file is not None:
        # One file per process: two processes rotating one file would race.
        log_file = log_file.with_name(f"{log_file.stem}.{process}{log_file.suffix}")
        try:
            log_file.parent.mkdir(parents=True, exist_ok=True)
            handler = _LogFile(log_file, maxBytes=10 * 1024 * 1024, backupCount=5, encoding="utf-8",
                               errors="backslashreplace")  # a path's bytes that are not UTF-8: \udcff, not a lost line
        except OSError as exc:
            # A file where its folder goes, a folder this user may not write in: it was a traceback, and the camera
            # was not watched. The log matters less than the footage: stderr (the journal, docker logs) keeps it.
            logging.getLogger(__name__).error(
                "log: cannot write %s (%s%s); the log goes to stderr only: fix or change [logging] file", log_file,
                f"{exc.filename}: " if exc.filename and Path(exc.filename) != log_file.absolute() else "",
                exc.strerror or exc)
            return None
        handler.setFormatter(LogfmtFormatter(process))
        root.addHandler(handler)
    return log_file
