"""The native detector's log lines are the Python processes' (common/logs.py): logfmt, unless on a terminal.

Under a service manager, Docker or a pipe each record is one ``key=value`` line with the
Python detector's keys in its order (``ts proc level logger msg``; no ``ts`` under systemd,
whose journal stamps lines itself), the message quoted as ``LogfmtFormatter`` quotes it, so
one grep or log shipper reads both detectors. Before, native lines were the terminal's
``12:03:35 native-detector ERROR   camera cam0: ...`` wherever they went.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
from pathlib import Path

from quickcam.common.logs import LogfmtFormatter
from tests.native_build import native_detector

LINE = re.compile(r'(?:ts=(?P<ts>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) )?proc=(?P<proc>\S+) level=(?P<level>\S+) '
                  r'logger=(?P<logger>\S+) msg=(?P<msg>"(?:[^"\\]|\\.)*")')


def _python_line(level: int, message: str) -> re.Match:
    record = logging.LogRecord("quickcam.detector.pipeline.capture", level, __file__, 1, message, None, None)
    return LINE.fullmatch(LogfmtFormatter("detector").format(record))


def _run(tmp_path: Path, **extra: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUICKCAM_") and k != "JOURNAL_STREAM"} | extra
    return subprocess.run([str(native_detector()), "--config", "quickcam.toml", "--seconds", "5"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=60)


def test_native_log_lines_are_logfmt_with_the_python_detectors_keys_and_quoting(tmp_path: Path) -> None:
    # a missing file whose name holds quotes, a backslash, a carriage return and a terminal's escape, analysed as
    # fast as possible: one error, exit 3 (control characters were written as they were: a line could be rewritten
    # on a terminal, or hide what came before it)
    (tmp_path / "quickcam.toml").write_text(
        '[camera]\nsource = "file"\npath = "yard \\"north\\" \\\\ cam\\r\\u001b[2J.mp4"\nrealtime = false\n'
        '[link]\nendpoint = "ipc://link/uploader.sock"\n')
    run = _run(tmp_path)
    assert run.returncode == 3, run.stderr
    lines = run.stderr.splitlines()
    parsed = [LINE.fullmatch(line) for line in lines]
    assert lines and all(parsed), [line for line, match in zip(lines, parsed, strict=True) if not match]
    error = next(m for m in parsed if m["level"] == "error" and "no such file" in m["msg"])
    message = 'camera cam0: cannot open yard "north" \\ cam\r\x1b[2J.mp4 — no such file; check [camera] path'
    python = _python_line(logging.ERROR, message)
    assert '\\x0d\\x1b[2J' in python["msg"] and "\r" not in python["msg"], python["msg"]
    assert error["msg"].startswith(python["msg"][:-1]), (error["msg"], python["msg"])  # quoted alike
    assert (error["proc"], error["logger"]) == (python["proc"], "quickcam.native.camera")
    assert {m["level"] for m in parsed} <= {"debug", "info", "warning", "error"}
    assert all(m["ts"] for m in parsed)

    journald = _run(tmp_path, JOURNAL_STREAM="8:1234")  # journald stamps lines itself, as for Python's
    assert journald.stderr and all(LINE.fullmatch(line) and line.startswith("proc=detector ")
                                   for line in journald.stderr.splitlines()), journald.stderr
