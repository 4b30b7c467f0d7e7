"""Polling for something a real process or thread does in its own time."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_until(predicate: Callable[[], object], seconds: float = 10.0, every: float = 0.05) -> bool:
    """True once ``predicate()`` is true, looking every ``every`` s for up to ``seconds``; a passing test
    waits no longer than it must, so ``seconds`` can be generous for a loaded machine."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every)
    return bool(predicate())
