"""The ``quickcam`` console script: what must happen before anything slow, then the command group.

Only the standard library is imported here. The command group (``commands.py``)
pulls in click and the config models, and the process subcommands OpenCV, ZeroMQ
and the back ends: half a second or more during which a SIGTERM would otherwise
kill the process outright (``stop_signals.hold``).
"""

from __future__ import annotations

import sys

from quickcam.common import stop_signals
from quickcam.common.std_streams import open_missing_std_streams

# The subcommands whose main loop stops on a ``StopSignals`` (detector/app.py, uploader/app.py).
# Named, not imported: common/ never imports either process.
PROCESS_COMMANDS = frozenset({"detector", "uploader"})


def main() -> None:
    """Console-script entry point."""
    open_missing_std_streams()  # before any file is opened: none may take descriptor 0, 1 or 2
    args = sys.argv[1:]
    if args[:1] and args[0] in PROCESS_COMMANDS:
        stop_signals.hold()  # a SIGTERM from here on is a clean stop once the process has set itself up
    from quickcam.common.commands import run

    run(args)
