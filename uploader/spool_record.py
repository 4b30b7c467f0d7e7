"""A spool file's ledger row, kept on the file itself: what adoption needs when the ledger is lost.

The encrypted header (docs/encryption.md) names the camera, the message id, the sequence, the start
time and the content type, and nothing else: the event id, the detector's sha256, the sender and the
stored name were only in the ledger. A spool file adopted after the ledger was lost (``adopt.py``)
went to ``…/<day>/adopted/``, out of its event, with an empty sha256 and sender. So the spool writes
the row as an extended attribute of the file (``user.quickcam.item``, JSON), set before the fsync
that makes the file durable, and moved with it by every rename (into place, into ``damaged/``).

A file system that keeps no user attributes (some FUSE and network ones), a spool copied without
them (``cp`` without ``--preserve=xattr``) and files of an older uploader have none: adoption then
falls back to the header, said as such in ``quickcam status`` and ``quickcam view``. The attribute
is the uploader's own note, not authenticated: it is taken only if it names this very file.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from quickcam.common.cryptofile import Header
from quickcam.uploader.ledger import Item

log = logging.getLogger(__name__)

ATTRIBUTE = "user.quickcam.item"
VERSION = 1
_FIELDS = {"sha256": str, "kind": str, "event": str, "seq": int, "sender": str, "remote": str, "received_at": float}


def encode(item: Item, remote_folder: str) -> bytes:
    """The attribute's bytes for ``item`` (its stored name kept relative to ``remote_folder``)."""
    remote = item.remote_key.removeprefix(f"{remote_folder}/")
    return json.dumps({"v": VERSION, "sha256": item.sha256, "kind": item.kind, "event": item.event, "seq": item.seq,
                       "sender": item.sender, "remote": remote, "received_at": item.received_at},
                      separators=(",", ":")).encode()


class Keeper:
    """Writes the attribute on spool files; says once if this file system keeps none."""

    def __init__(self) -> None:
        self.unsupported = ""  # why the file system refused the first one ('' while it keeps them)

    def keep(self, handle: BinaryIO, record: bytes) -> None:
        try:
            if not hasattr(os, "setxattr"):  # Python has them on Linux only
                raise OSError("this system's Python has no extended attributes")
            os.setxattr(handle.fileno(), ATTRIBUTE, record)
        except OSError as exc:  # ENOTSUP, EPERM (a FUSE), ENOSPC: the footage is stored all the same
            if not self.unsupported:
                self.unsupported = exc.strerror or str(exc)
                log.warning("spool: cannot keep the ledger row on the spool file as an extended attribute (%s); "
                            "if the ledger is ever lost, such files are adopted without their event id (and, in "
                            "mode 2, their sha256)", self.unsupported)


def read(path: Path, header: Header, remote_folder: str) -> Item | None:
    """The ledger row the attribute of ``path`` holds, if it has one naming this file and this header's item."""
    try:
        raw = os.getxattr(path, ATTRIBUTE)
    except (OSError, AttributeError):  # none kept, or none on this system (Python has them on Linux only)
        return None
    try:
        record = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(record, dict) or record.get("v") != VERSION:
        return None
    for name, kind in _FIELDS.items():
        value = record.get(name)
        if isinstance(value, int) and kind is float and not isinstance(value, bool):
            record[name] = value = float(value)
        if not isinstance(value, kind) or isinstance(value, bool):
            return None
    remote = PurePosixPath(record["remote"])
    ctx = header.context
    # Every stored name ends in "-<spool file name>" (storing.remote_key, the uploader's logs)
    if remote.is_absolute() or ".." in remote.parts or not remote.name.endswith(f"-{path.name}") \
            or record["seq"] != ctx.sequence or record["kind"] not in ("snapshot", "segment", "log"):
        return None
    return Item(path.stem, record["sha256"], record["kind"], ctx.camera_id, record["event"], record["seq"],
                ctx.plaintext_length, str(path), f"{remote_folder}/{record['remote']}", record["received_at"],
                message_id=ctx.message_id, sender=record["sender"])
