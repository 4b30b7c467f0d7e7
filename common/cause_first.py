"""A storage error shown short with its cause first, where ``quickcam status`` has a few dozen characters for it.

Every back end says ``<where>: <cause>`` (uploader/backends): the where is a remote URL or path, often
longer than the room, so a cut at the end kept the URL and lost "Read-only file system" or "No space
left on device". Cut short, the cause comes first and the where after it, cut in its middle. The
uploader's log lines put the cause first too, whole (``cause_then_where``): read from the start as
status is, they said the URL and the cause last.
"""

from __future__ import annotations

import re

from quickcam.common.protocol_schema import middle_cut

MIN_WHERE = 16  # less room than this for the where: the cause alone
# What comes before the first ": " of an error that names no where: a cause already (an OSError's own words,
# "[Errno 13] Permission denied: '/x'", or an exception's type, from a back end's bug): it was put last, in
# brackets, and the file name or the message first.
NOT_A_WHERE = re.compile(r"\[Errno -?\d+\].*|[A-Za-z_.]*(Error|Exception|Warning)")


def _where_and_cause(error: str) -> tuple[str, str] | None:
    """``error`` split at its first ": " (a cause may hold more), or None when it names no where."""
    where, sep, cause = error.partition(": ")
    return (where, cause) if sep and cause and where and not NOT_A_WHERE.fullmatch(where) else None


def cause_then_where(error: str) -> str:
    """``error`` whole, its cause first and ``(where)`` after it; one that names no where as it was."""
    split = _where_and_cause(error)
    return f"{split[1]} ({split[0]})" if split else error


def cause_first(error: str, width: int) -> str:
    """``error`` in at most ``width`` characters: whole if it fits, else its cause, then ``(where)`` cut to fit."""
    if len(error) <= width:
        return error
    split = _where_and_cause(error)
    if not split:
        return error[: width - 1] + "…"
    where, cause = split
    room = width - len(cause) - 3  # " (" and ")"
    if room < MIN_WHERE:
        return cause if len(cause) <= width else cause[: width - 1] + "…"
    return f"{cause} ({middle_cut(where, room)})"
