"""One process per folder: an ``flock`` on ``<folder>/.lock`` held for the process's life.

The detector holds its outbox's and the uploader its state folder's (the ledger's). Two of
either on one folder would each take the other's work for their own: a second detector
discarded the first one's open segment as "left by a crash"; a second uploader shipped the
same spool files from the same ledger, and reported as failed the uploads the other had done
(its spool file gone). The kernel drops an ``flock`` however the process ends, so a
SIGKILL leaves no stale lock. A lock file deleted under the running process (alone, or with its
folder: ``rm -rf`` of the outbox) locks nothing any more; ``FolderLock.keep`` takes it again.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import threading
from pathlib import Path

from quickcam.common.config import ConfigError

log = logging.getLogger(__name__)

LOCK_NAME = ".lock"


def cannot_make(path: Path, exc: OSError, key: str) -> str:
    """The one line for a configured folder that cannot be made (ENOENT under /proc, EACCES, EROFS): key and fix."""
    return (f"{key}: cannot make the folder {path} ({exc.strerror or exc}); set {key} to a folder this user may "
            "write in, or make that one writable for it")


def lock_unopenable(folder: Path, exc: OSError, key: str) -> str:
    """The one line for a lock file that cannot be opened: the OS's words and the fix, naming ``key`` (the
    folder's config key). The native detector's words (outbox.cpp ``lock_unopenable``); before, the line
    named no fix (``cannot open outbox/.lock: Permission denied``)."""
    if exc.errno in (errno.EACCES, errno.EPERM):
        fix = f"let this user write in {folder} (chown or chmod it)"
    elif exc.errno == errno.EROFS:
        fix = "its disk is mounted read-only: remount it read-write"
    elif exc.errno in (errno.ENOSPC, errno.EDQUOT):
        fix = "its disk is full: free some space"
    else:
        fix = "check that folder and its disk"
    where = f", or set {key} to a folder this user may write in" if key else ""
    return f"cannot open {exc.filename or folder / LOCK_NAME}: {exc.strerror or exc}; {fix}{where}"


def hold_folder_lock(folder: Path, note: str = "", key: str = "") -> int | str:
    """The lock's descriptor (keep it open), or the line written by the process that holds it.

    The line is the holder's pid and ``note`` (the uploader's: its state folder, so that a second one
    on its spool is told which uploader to stop).

    A folder this process may not write in (read-only, another user's) is a ConfigError in the
    native detector's words (it was a traceback), with the fix naming ``key``: nothing could be kept there.
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise ConfigError(lock_unopenable(folder, exc, key)) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 4096).decode(errors="replace").split("\n")[0].strip() or "?"
        os.close(fd)
        return holder
    try:  # the pid is for the person told "in use by pid N": on a full disk the lock holds without it
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}{note}\n".encode())
    except OSError as exc:
        log.warning("%s: cannot write this process's pid into %s (%s); the folder is locked all the same",
                    folder, folder / LOCK_NAME, exc.strerror or exc)
    return fd


class FolderLock:
    """A folder's lock, taken again by ``keep`` when its file is no longer the one this process locks.

    An outbox or state folder deleted while its process ran is made again by that process, but
    its ``.lock`` went with it: a second detector (uploader) started then took the folder beside
    the first one, until a restart (a second detector discards the first one's open segment).
    """

    def __init__(self, folder: Path, fd: int, whose: str, note: str = "", make: bool = False) -> None:
        self.folder, self.fd, self.whose, self.note = folder, fd, whose, note
        # Make the folder itself when it went (the uploader's state folder: what lives in it, the ledger, notices
        # its own file gone and says so): else only once what keeps it has made it, and a second process could
        # take it until then.
        self.make = make
        self.taken_by = ""  # the other process that holds it now ("" while this one does): said once
        self._keeping = threading.Lock()  # two threads taking it again at once would find each other holding it

    def held(self) -> bool:
        """Whether ``<folder>/.lock`` is still the file this process locks."""
        try:
            on_disk, ours = os.stat(self.folder / LOCK_NAME), os.fstat(self.fd)
        except OSError:
            return False
        return (on_disk.st_dev, on_disk.st_ino) == (ours.st_dev, ours.st_ino)

    def keep(self) -> None:
        """Take the lock again if its file was deleted (once the folder is made again, if it went too); one line."""
        with self._keeping:
            if not self.held():
                self._take_again()

    def _take_again(self) -> None:
        if not self.make and not self.folder.is_dir():  # what keeps the folder makes it again, and says what went
            return
        try:
            again = hold_folder_lock(self.folder, self.note)
        except ConfigError as exc:  # the folder cannot be made: what writes in it says so
            log.debug("%s: cannot take the lock again yet: %s", self.folder, exc)
            return
        if isinstance(again, str):
            if again != self.taken_by:
                log.error("%s: the lock %s was deleted while this %s ran, and another %s (pid %s) took the folder "
                          "since: two on one folder; stop that one", self.folder, self.folder / LOCK_NAME,
                          self.whose, self.whose, again)
            self.taken_by = again
            return
        os.close(self.fd)
        self.fd, self.taken_by = again, ""
        log.error("%s: the lock %s was deleted while this %s ran (with its folder?); took it again, so that a second "
                  "%s started on this folder refuses", self.folder, self.folder / LOCK_NAME, self.whose, self.whose)


def holder_pid(folder: Path) -> int | None:
    """The pid of the process that holds ``<folder>/.lock`` (None if none holds it, or this is not Linux).

    Read from ``/proc/locks``, not by taking the lock (a process starting at that moment would find it held
    and refuse): ``quickcam status`` tells a running process that could write no status file (its disk full
    from its start) from one that is not running.
    """
    try:
        st = os.stat(folder / LOCK_NAME)
    except OSError:
        return None
    file_id = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    return next((pid for pid, held in _flocks() if held == file_id), None)


def held_out_of_sight(folder: Path) -> bool:
    """Whether a process this one cannot see holds ``<folder>/.lock``: another pid namespace's (a container's).

    ``/proc/locks`` lists only the locks of processes in this pid namespace, so a process in another
    container that shares the folder's volume holds it unlisted, and its pid (its own namespace's) names
    nothing here. Asked as a second start asks, with a non-blocking try, but shared and dropped at once (a
    process starting in that instant finds it held and refuses), and only when ``/proc/locks`` names no holder.
    """
    if holder_pid(folder) is not None:
        return False
    try:
        fd = os.open(folder / LOCK_NAME, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:  # no lock file (never ran here), or not ours to read: nothing to tell
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        os.close(fd)  # drops the shared lock, if it was taken
    return False


def holds_a_lock(pid: int) -> bool:
    """Whether ``pid`` holds an ``flock`` (its folder's lock, for a quickcam process): it has not ended, however
    stale its status file (``common/health.py``: a process that hangs is not one that is not running)."""
    return any(holder == pid for holder, _ in _flocks())


def _flocks() -> list[tuple[int, str]]:
    """(pid, "major:minor:inode") of every ``flock`` held on this machine, from ``/proc/locks`` ([] elsewhere)."""
    try:
        locks = Path("/proc/locks").read_text()
    except OSError:
        return []
    held = []
    for line in locks.splitlines():  # "1: FLOCK  ADVISORY  WRITE 4242 00:2f:1234 0 EOF" ("->" marks a waiter)
        fields = line.split()
        if "FLOCK" in fields and "->" not in fields and len(fields) >= 6 and fields[4].isdigit():
            held.append((int(fields[4]), fields[5]))
    return held
