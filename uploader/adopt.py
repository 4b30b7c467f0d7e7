"""Spool files the ledger does not know, found at start: adopted for upload, never left in silence.

The ledger is the spool's index. Lost or replaced while the uploader was stopped
(``state/`` deleted, a damaged ledger moved aside as its error advises, a restore
from an old backup), it left every encrypted file waiting in the spool orphaned:
never uploaded, in no status row, no log line, the health check green. At start,
each ``<key>.qsc`` in the spool with no ledger row is now adopted from what its
own header tells (docs/encryption.md: camera, message id, sequence, start time,
content type, length; no key is needed to read it): a new ledger row, pending for
every configured destination, stored as
``<remote_folder>/<camera>/<day of start_ms>/adopted/<kind>-<seq>-<key>.qsc``
(the event id is not in the header). A file whose header does not parse or whose
size is not the header's is moved to ``spool/damaged/`` as the shipper would.
The uploader says the count in one log line and in ``quickcam status``.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from quickcam.common.cryptofile import LOG_CONTENT_TYPE, CryptoFileError, Header, read_header
from quickcam.uploader.ledger import Item, Ledger
from quickcam.uploader.spool import Spool
from quickcam.uploader.storing import remote_key

log = logging.getLogger(__name__)

ADOPTED_EVENT = "adopted"  # the event folder of adopted items: their event id was only in the lost ledger


@dataclass(frozen=True)
class Adoption:
    """What the start-up found in the spool that its ledger did not know."""

    adopted: int = 0
    set_aside: int = 0
    left: int = 0  # not adopted (the same origin known under another key, or the ledger refused): in place, said

    def note(self) -> str:
        """The line for ``quickcam status`` ('' when the ledger knew every spool file)."""
        if not (self.adopted or self.set_aside or self.left):
            return ""
        parts = [f"adopted {self.adopted} spool file(s) the ledger did not know (queued for upload, "
                 f"stored under .../{ADOPTED_EVENT}/)"]
        if self.set_aside:
            parts.append(f"{self.set_aside} unreadable one(s) moved to spool/damaged/")
        if self.left:
            parts.append(f"{self.left} left in the spool (see the uploader's log)")
        return "; ".join(parts) + " at start: was the ledger (uploader.state_dir) deleted or replaced?"


def kind_of(content_type: str) -> str:
    """The stored kind for a file's content type: ``log``, ``snapshot`` (a picture) or ``segment``."""
    if content_type == LOG_CONTENT_TYPE:
        return "log"
    return "snapshot" if content_type.startswith("image/") else "segment"


def adopted_item(path: Path, header: Header, remote_folder: str) -> Item:
    """The ledger row of a spool file known only by its header (sha256 and sender unknown: '')."""
    ctx = header.context
    kind = kind_of(ctx.content_type)
    if kind == "log":
        remote = f"{remote_folder}/logs/{ctx.camera_id}/adopted-{path.stem}.qsc"
    else:
        remote = remote_key(remote_folder, {"time_ms": ctx.start_ms, "camera": ctx.camera_id,
                                            "event": ADOPTED_EVENT, "type": kind, "seq": ctx.sequence}, path.stem)
    return Item(path.stem, "", kind, ctx.camera_id, ADOPTED_EVENT, ctx.sequence, ctx.plaintext_length, str(path),
                remote, path.stat().st_mtime, message_id=ctx.message_id)


def adopt_orphans(spool: Spool, ledger: Ledger, destinations: list[str], remote_folder: str) -> Adoption:
    """Give every spool file the ledger does not know a ledger row (or set it aside); what was done."""
    adopted = aside = left = 0
    for path in sorted(spool.root.glob("*.qsc")):
        if ledger.db.execute("SELECT 1 FROM items WHERE id=?", (path.stem,)).fetchone():
            continue
        try:
            with open(path, "rb") as src:
                header = read_header(src)
        except (OSError, CryptoFileError) as exc:
            damage = f"not an encrypted quickcam file: {exc}"
        else:
            damage = spool.damage(path, header.context.message_id, header.context.plaintext_length)
        if damage:
            moved = spool.set_aside(path)
            log.error("spool: %s is in no ledger row and cannot be adopted (%s); moved to %s", path.name, damage,
                      moved)
            aside += 1
            continue
        try:
            ledger.add(adopted_item(path, header, remote_folder), destinations)
        except sqlite3.IntegrityError:  # its origin is in the ledger under another key
            log.warning("spool: %s is in no ledger row, but item %s of camera %s is; left in place", path.name,
                        header.context.message_id, header.context.camera_id)
            left += 1
            continue
        except (sqlite3.Error, OSError) as exc:  # the ledger's disk full or locked: the next start tries again
            log.warning("spool: cannot adopt %s now (%s); tried again at the next start", path.name, exc)
            left += 1
            continue
        adopted += 1
    result = Adoption(adopted, aside, left)
    if result.note():
        log.warning("spool: %s", result.note())
    return result
