"""The open-files limit (RLIMIT_NOFILE), checked at each process's start.

Under ``ulimit -n 20`` the uploader's threads could not open the ledger, died with a traceback blaming
permissions, and the process ended before its first status write: ``quickcam status`` then said
``uploader: not on this machine`` and the health check stayed green (bench/outside/FINDINGS.md #22).
A soft limit below what a process needs is raised to the hard limit (as many daemons do), said once; a hard
limit below it ends the start on one line naming the fix (exit 2, as any config error).
"""

from __future__ import annotations

import errno
import logging
import os
import resource

from quickcam.common.config_errors import ConfigError

NEEDED = 64  # descriptors a process needs: 16 cameras ran in 64, 20 ended the uploader (FINDINGS.md #22)
FIX = "raise it (ulimit -n, LimitNOFILE= in systemd, docker's --ulimit nofile)"

log = logging.getLogger(__name__)


def ensure_open_files(process: str, needed: int = NEEDED) -> None:
    """Raise the soft open-files limit to the hard one when it is below ``needed`` (one warning); a hard
    limit below ``needed`` is a ConfigError naming the fix."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return
    if hard != resource.RLIM_INFINITY and hard < needed:
        raise ConfigError(f"{process}: too few open files allowed (limit {hard}, it needs {needed}): {FIX}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    log.warning("%s: the open-files limit was %d, below the %d it needs; raised to the hard limit %s", process, soft,
                needed, "unlimited" if hard == resource.RLIM_INFINITY else hard)


def out_of_files() -> str:
    """``too many open files (limit N): …`` when this process has no descriptor left, else "": SQLite says only
    ``unable to open database file`` for EMFILE, which read as a permissions problem."""
    try:
        os.close(os.open(os.devnull, os.O_RDONLY))
    except OSError as exc:
        if exc.errno == errno.EMFILE:
            return f"too many open files (limit {resource.getrlimit(resource.RLIMIT_NOFILE)[0]}): {FIX}"
    return ""
