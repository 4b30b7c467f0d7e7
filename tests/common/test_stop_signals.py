"""SIGTERM stops a process whatever its main thread was doing (common/stop_signals.py)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

# The main thread holds ``stop``'s own lock, as it does for a few bytecodes inside ``stop.wait()``,
# when SIGTERM comes: the handler runs right there. A handler calling ``stop.set()`` waited for that
# lock for ever (the detector hung at stop); run in a child so that a regression fails, not hangs.
CHILD = textwrap.dedent("""
    import signal, threading
    from quickcam.common.stop_signals import StopSignals

    stop = threading.Event()
    signals = StopSignals(stop)
    with stop._cond:
        signal.raise_signal(signal.SIGTERM)
        signal.raise_signal(signal.SIGINT)
    assert signals.wait(0.01) and stop.is_set(), signals.received
    assert signals.received == [signal.SIGTERM, signal.SIGINT], signals.received
    print("stopped")
""")

# The pattern it replaced, checked the same way: the child hangs (the test would catch a Python where it
# no longer does, and the module's reason would be gone).
OLD = textwrap.dedent("""
    import signal, threading

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with stop._cond:
        signal.raise_signal(signal.SIGTERM)
    print("stopped")
""")


def _run(code: str, timeout: float) -> str | None:
    try:
        return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout,
                              check=True).stdout
    except subprocess.TimeoutExpired:
        return None


def test_a_stop_signal_handled_while_the_main_thread_holds_the_events_lock_stops_the_process() -> None:
    assert _run(CHILD, 30) == "stopped\n"


def test_a_handler_that_sets_the_event_itself_deadlocks_there() -> None:
    assert _run(OLD, 3) is None  # a hang is all it can do: 3 s is plenty
