"""The log records a test's own threads wrote, not those of threads an earlier test left running.

pytest's ``caplog`` takes every logger's records from every thread of the worker. A thread an
earlier test left behind (an alert delivery that outlives ``stop()``'s bounded wait, a link or a
fake server still winding down) may log into a later test's ``caplog``: CI failed on that once,
under load (8ba6cc6). A test that asserts on every record, or on the absence of any (no
traceback, exactly these warnings, the last record), takes them through ``own_records(caplog)``.

Each record is marked when it is made, in the thread that logs it: a thread that was already
running when the test's function-scoped fixtures began is not the test's (the worker's main
thread, which runs the test, excepted). A module- or session-scoped fixture's threads therefore
count as not the test's own either: a test that expects records from them reads ``caplog`` as is.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable, Iterator

import pytest

_earlier: weakref.WeakSet[threading.Thread] = weakref.WeakSet()
_ATTRIBUTE = "quickcam_earlier_thread"


def own_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """``caplog.records`` less those logged by threads running before this test began."""
    return [r for r in caplog.records if not getattr(r, _ATTRIBUTE, False)]


def _marking_factory(make: Callable[..., logging.LogRecord]) -> Callable[..., logging.LogRecord]:
    def factory(*args: object, **kwargs: object) -> logging.LogRecord:
        record = make(*args, **kwargs)
        setattr(record, _ATTRIBUTE, threading.current_thread() in _earlier)
        return record

    return factory


def pytest_configure(config: pytest.Config) -> None:
    logging.setLogRecordFactory(_marking_factory(logging.getLogRecordFactory()))


@pytest.fixture(autouse=True)
def _note_the_threads_already_running() -> Iterator[None]:
    testing = threading.current_thread()
    _earlier.clear()
    _earlier.update(t for t in threading.enumerate() if t is not testing)
    yield
