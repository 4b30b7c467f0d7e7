"""Logging shared by both processes: readable on a terminal, one logfmt line per record in files.

A terminal gets ``12:03:35 detector INFO  camera cam0: motion ...``; files (and
stderr when it is not a terminal, e.g. under systemd or Docker) get one
``key=value`` line per record, which grep, journald and log shippers all read:
``ts=2026-11-25T12:03:35.120Z proc=detector level=info logger=quickcam.detector.camera msg="..."``.
"""

from __future__ import annotations

import collections
import logging
import logging.handlers
import os
import sys
import threading
import time
from pathlib import Path
from typing import TextIO

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
            stderr_line(f"log: writing {self.baseFilename} again")

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
            stderr_line(f"log: cannot write {self.baseFilename} ({sys.exc_info()[1]}); "
                        "the log goes to stderr only until it can")


class _StderrLines(logging.Handler):
    """Standard error written by a thread of its own: a reader that stops reading never stops the process.

    `scripts/run_all.sh` sends both processes' stderr through `tee` to a terminal; a terminal paused (Ctrl-S),
    an SSH session whose far end hangs, `run_all.sh | less` left on its first page, a log shipper that stalls:
    the pipe filled and every thread that logged blocked in its write, the capture and detection loops and the
    uploader's shipper among them: the camera blind, nothing stored, the health check green (FINDINGS #50,
    bench/outside/log_pipe_stalled.py). Lines wait here, up to ``CAPACITY``; beyond it they are left out of
    stderr (the log file keeps them), counted, and said once stderr takes lines again.
    """

    CAPACITY = 1000
    FLUSH_S = 2.0  # the stop's last lines: waited for this long, not for ever

    def __init__(self, stream: TextIO) -> None:
        super().__init__()
        self.stream = stream
        self.kept_in = "the log file"  # named by setup_logging once it has one
        self._lines: collections.deque[str] = collections.deque()
        self._ready = threading.Condition()
        self._left_out = 0
        self._said_full = False
        self._writing = False
        self._thread: threading.Thread | None = None

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:  # noqa: BLE001 - a record that cannot be formatted is logging's own error
            self.handleError(record)
            return
        self.put(line)

    def put(self, line: str) -> None:
        """Queue ``line`` for stderr, never waiting on its reader (a line that is no log record goes here too)."""
        with self._ready:
            if self._thread is None:
                self._thread = threading.Thread(target=self._write_lines, name="log-stderr", daemon=True)
                self._thread.start()
            full = len(self._lines) >= self.CAPACITY
            if full:
                self._left_out += 1
            else:
                self._lines.append(line)
                self._ready.notify_all()  # the writer (a flush may wait on it too)
            say = full and not self._said_full
            self._said_full = self._said_full or full
        if say:  # to the log file (this handler counts it with the rest): where a person looks next
            logging.getLogger(__name__).warning(
                "log: standard error is not being read (a terminal paused with Ctrl-S, a pipe nobody reads); its "
                "lines are left out until it is, %s keeps them; nothing else waits for it", self.kept_in)

    def _write_lines(self) -> None:
        while True:
            with self._ready:
                while not self._lines:
                    self._writing = False
                    self._ready.notify_all()
                    self._ready.wait()
                line = self._lines.popleft()
                self._writing = True
            try:
                self.stream.write(line + "\n")
                self.stream.flush()
            except (OSError, ValueError):  # closed or broken: the file keeps the line
                continue
            with self._ready:
                left_out, self._left_out = self._left_out, 0
                if not self._lines:
                    self._said_full = False
            if left_out:
                logging.getLogger(__name__).warning(
                    "log: standard error takes lines again; %d line(s) were left out of it while it was not read "
                    "(%s keeps them)", left_out, self.kept_in)

    def flush(self) -> None:
        """Waits, up to ``FLUSH_S``, until every line waiting is written (at the stop: its last lines)."""
        deadline = time.monotonic() + self.FLUSH_S
        with self._ready:
            while (self._lines or self._writing) and time.monotonic() < deadline:
                self._ready.wait(max(0.0, deadline - time.monotonic()))


_stderr_lines: _StderrLines | None = None  # the process's, once setup_logging made it


def stderr_line(text: str) -> None:
    """Write ``text`` on stderr as a line, through the log's writer thread once there is one (never blocking)."""
    if _stderr_lines is not None:
        _stderr_lines.put(text.rstrip("\n"))
        return
    try:
        sys.stderr.write(text if text.endswith("\n") else text + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


def flush_stderr() -> None:
    """Let the lines waiting for stderr out first (up to 2 s): a line written on stderr directly comes after them."""
    if _stderr_lines is not None:
        _stderr_lines.flush()


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
    global _stderr_lines
    console = _stderr_lines = _StderrLines(sys.stderr)
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
        console.kept_in = str(log_file)
    return log_file
