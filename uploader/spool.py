"""The spool: encrypted files waiting for upload, written durably before any ack.

The uploader encrypts straight from the received bytes; plaintext never
touches its disk. A file is written to ``<id>.qsc.part``, fsynced, renamed and
the folder fsynced, so a crash leaves either a whole file or a ``.part`` that
is removed at start-up (the detector still holds that message and re-sends it).

Room: an item is refused (``busy``) when it would take the spool over its cap,
unless the spool is empty (so an item larger than the cap cannot wait
forever). Credit pauses a little earlier, as soon as the largest item seen so
far would not fit, so a full spool says so in ``credit`` with its reason
instead of nacking every item it is offered.

Before an upload the shipper asks ``damage()`` whether a spool file is still
the whole file the spool wrote (its header parses, names the item, and the
size matches); a damaged one is moved to ``damaged/`` and never uploaded.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import threading
from pathlib import Path

from quickcam.common.cryptofile import Context, CryptoFileError, encrypt, read_header
from quickcam.common.durable import atomic_write, move_aside
from quickcam.uploader.spool_record import Keeper

log = logging.getLogger(__name__)


class Spool:
    def __init__(self, root: Path, max_bytes: int) -> None:
        self.root = root
        self.max_bytes = max_bytes
        self.damaged = root / "damaged"
        self.largest = 0  # bytes of the largest file stored since start: what the next one may need
        self._making = threading.Lock()  # the receiver and the main loop (uploader/app.py) both look
        self.records = Keeper()  # each file's ledger row kept on it, for an adoption after a lost ledger
        root.mkdir(parents=True, exist_ok=True)
        for part in root.glob("*.part"):
            log.warning("spool: removing incomplete %s left by a crash", part.name)
            part.unlink()

    def ensure_folder(self) -> None:
        """Make the spool folder again if something deleted it under the running uploader.

        What it held is gone (the shipper marks those uploads failed: "spool file is
        missing", in ``quickcam status``); what arrives from now on must still be
        stored, not refused until a restart. One error line per deletion. Looked at
        by the uploader's main loop too (each 0.2 s, before it takes the spool's lock
        again): made only at the next item or credit, the folder stood without its
        lock meanwhile, a second uploader free to take it.
        """
        if self.root.is_dir():
            return
        with self._making:
            if self.root.is_dir():
                return  # the other thread made it meanwhile
            aside = move_aside(self.root) if os.path.lexists(self.root) else None  # a file made in its place: kept
            self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        log.error("spool: the folder %s was deleted while the uploader ran; made it again%s (the encrypted files "
                  "waiting in it for upload went with it: quickcam status lists them as failed); footage is "
                  "stored again. Do not delete the spool of a running uploader: stop it first", self.root,
                  f" and moved the file put in its place to {aside.name}" if aside else "")

    def path_for(self, item_id: str) -> Path:
        return self.root / f"{item_id}.qsc"

    def store(self, item_id: str, plaintext: bytes, key: object, context: Context, record: bytes = b"") -> Path:
        """Encrypt ``plaintext`` into the spool durably, with its ledger ``record`` (``spool_record.py``) on it if
        the file system keeps one; returns the file's path."""
        final = self.path_for(item_id)
        self.ensure_folder()
        with atomic_write(final) as handle:
            encrypt(plaintext, handle, key, context)
            if record:
                self.records.keep(handle, record)
        self.largest = max(self.largest, final.stat().st_size)
        return final

    def used_bytes(self) -> int:
        total = 0
        for path in self.root.glob("*.qsc"):
            with contextlib.suppress(FileNotFoundError):  # uploaded and deleted by the shipper meanwhile
                total += path.stat().st_size
        return total

    def room_problem(self, incoming: int | None = None) -> str:
        """Why an item of ``incoming`` bytes should not be accepted now, or '' if there is room.

        Without ``incoming`` (the credit check) the largest item seen so far is assumed.
        """
        need = self.largest if incoming is None else incoming
        try:
            self.ensure_folder()
        except OSError as exc:  # its parent gone for good (the folder the uploader runs in deleted): a nack
            # `internal` with a traceback for every credit before (bench/outside/FINDINGS.md #55, cwd_gone.py)
            return (f"cannot make the spool folder {self.root} again ({exc.strerror or exc}): was the folder it is "
                    "in deleted? restart the uploader where its folders are")
        used = self.used_bytes()
        if used and used + need > self.max_bytes:
            return (f"the spool ({self.root}) has no room for another {_size(need)} item "
                    f"({_size(used)} of its {self.max_bytes / (1 << 20):g} MB cap used); waiting for uploads")
        free = shutil.disk_usage(self.root).free
        if free < need + 64 * (1 << 20):
            return f"disk holding {self.root} has only {free // (1 << 20)} MB free"
        files = files_left(self.root)
        if files is not None and files < FEW_FILES:
            return (f"disk holding {self.root} can make no more files (inodes: {files} left, though "
                    f"{free // (1 << 20)} MB are free): remove files on it (df -i)")
        return ""

    def damage(self, path: Path, item_id: str, plaintext_length: int) -> str:
        """What is wrong with the spool file of ``item_id``, or '' if it is whole."""
        try:
            with open(path, "rb") as src:
                header = read_header(src)
            size = path.stat().st_size
        except FileNotFoundError:
            moved = self.damaged / path.name
            return f"set aside earlier as damaged: {moved}" if moved.exists() else "spool file is missing"
        except (OSError, CryptoFileError) as exc:
            return f"spool file is unreadable or not an encrypted quickcam file: {exc}"
        if header.context.message_id != item_id:
            return f"spool file holds item {header.context.message_id!r}, not {item_id!r}"
        if header.context.plaintext_length != plaintext_length:
            return (f"spool file's header says {header.context.plaintext_length} bytes of footage, "
                    f"the ledger {plaintext_length}")
        if size != header.file_size:
            return f"spool file is {size} bytes, its header says {header.file_size}: cut short or padded"
        return ""

    def set_aside(self, path: Path) -> Path | None:
        """Move a damaged spool file to ``damaged/`` (kept for a person, never uploaded or deleted)."""
        if not path.exists():
            return None
        self.damaged.mkdir(exist_ok=True)
        target = self.damaged / path.name
        path.replace(target)
        return target


FEW_FILES = 8  # an item makes a spool file and its .part; the ledger's journal and the status file need their own


def files_left(folder: Path) -> int | None:
    """Inodes still free on ``folder``'s disk, or None where that is not counted (Windows, some file systems).

    A disk can run out of files with bytes free (`df -h` shows room, `df -i` none): every write then failed with
    `No space left on device`, the fix named being to check permissions (bench/outside/FINDINGS.md #34).
    """
    if not hasattr(os, "statvfs"):
        return None
    vfs = os.statvfs(folder)
    return vfs.f_favail if vfs.f_files else None


def _size(n: int) -> str:
    """Bytes for a person: MB from 0.1 MB up, KiB below (a 30 kB item is not "0.0 MB")."""
    return f"{n / (1 << 20):.1f} MB" if n >= (1 << 20) // 10 else f"{max(1, round(n / 1024))} KiB"
