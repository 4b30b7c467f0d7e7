"""Spool files the ledger does not know, found at start: adopted for upload, never left in silence.

The ledger is the spool's index. Lost or replaced while the uploader was stopped
(``state/`` deleted, a damaged ledger moved aside as its error advises, a restore
from an old backup), it left every encrypted file waiting in the spool orphaned:
never uploaded, in no status row, no log line, the health check green. At start,
each ``<key>.qsc`` in the spool with no ledger row is adopted:

- from its ledger row as the spool kept it on the file (``spool_record.py``): event,
  sha256, sender and stored name as if the ledger had never been lost;
- else from what its own header tells (docs/encryption.md: camera, message id,
  sequence, start time, content type, length; no key is needed to read it), the
  sha256 recomputed by decrypting it where the uploader holds the key (mode 1; in
  mode 2 it holds only the public key: unknown, ''), stored as
  ``<remote_folder>/<camera>/<day of start_ms>/adopted/<kind>-<seq>-<key>.qsc``
  (the event id is not in the header; ``quickcam view`` says so on that folder).

A file whose header does not parse or whose size is not the header's is moved to
``spool/damaged/`` as the shipper would. The uploader says the counts in one log
line and in ``quickcam status``.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from quickcam.common.cryptofile import (
    LOG_CONTENT_TYPE,
    CryptoFileError,
    Header,
    Keyring,
    SymmetricKey,
    decrypt,
    read_header,
)
from quickcam.uploader import spool_record
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
    kept_row: int = 0  # of the adopted: from the ledger row kept on the file, stored as before the loss
    no_event: int = 0  # of the adopted: footage without that row, stored under .../adopted/
    no_sha256: int = 0  # of those: their sha256 not recomputed either (mode 2: the uploader cannot decrypt)

    def note(self) -> str:
        """The line for ``quickcam status`` ('' when the ledger knew every spool file)."""
        if not (self.adopted or self.set_aside or self.left):
            return ""
        parts = [f"adopted {self.adopted} spool file(s) the ledger did not know (queued for upload"
                 + (f"; {self.kept_row} with their event, as stored before" if self.kept_row else "")
                 + (f"; {self.no_event} WITHOUT their event id (the spool file kept no ledger row), stored under "
                    f".../{ADOPTED_EVENT}/" if self.no_event else "")
                 + (f"; {self.no_sha256} without the detector's sha256 (the uploader cannot decrypt them to "
                    "recompute it)" if self.no_sha256 else "") + ")"]
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


def adopted_item(path: Path, header: Header, remote_folder: str, key: object = None) -> Item:
    """The ledger row of a spool file known only by its header (event unknown; sender ''; sha256 recomputed if
    ``key`` decrypts it, else '')."""
    ctx = header.context
    kind = kind_of(ctx.content_type)
    if kind == "log":
        remote = f"{remote_folder}/logs/{ctx.camera_id}/adopted-{path.stem}.qsc"
    else:
        remote = remote_key(remote_folder, {"time_ms": ctx.start_ms, "camera": ctx.camera_id,
                                            "event": ADOPTED_EVENT, "type": kind, "seq": ctx.sequence}, path.stem)
    return Item(path.stem, plaintext_sha256(path, key), kind, ctx.camera_id, ADOPTED_EVENT, ctx.sequence,
                ctx.plaintext_length, str(path), remote, path.stat().st_mtime, message_id=ctx.message_id)


class _Hashing:
    """A write-only sink that hashes what ``decrypt`` releases (the plaintext never touches the disk)."""

    def __init__(self) -> None:
        self.digest = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        return len(data)


def plaintext_sha256(path: Path, key: object) -> str:
    """The sha256 of the footage in ``path`` (the detector's, checked at receipt), where the uploader's key opens it
    (mode 1); '' where it cannot (mode 2: a public key; a file of an older key)."""
    if not isinstance(key, SymmetricKey):
        return ""
    sink = _Hashing()
    try:
        with open(path, "rb") as src:
            decrypt(src, sink, Keyring([key]))  # type: ignore[arg-type]  # (a sink with write())
    except (OSError, CryptoFileError) as exc:
        log.warning("spool: cannot recompute the sha256 of %s to adopt it (%s); adopted without it", path.name, exc)
        return ""
    return sink.digest.hexdigest()


def adopt_orphans(spool: Spool, ledger: Ledger, destinations: list[str], remote_folder: str,
                  key: object = None) -> Adoption:
    """Give every spool file the ledger does not know a ledger row (or set it aside); what was done. ``key``: the
    uploader's encryption key, to recompute the sha256 of a file that kept no ledger row."""
    adopted = aside = left = kept_row = no_event = no_sha256 = 0
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
        kept = spool_record.read(path, header, remote_folder)
        item = kept or adopted_item(path, header, remote_folder, key)
        try:
            ledger.add(item, destinations)
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
        kept_row += kept is not None
        if kept is None and item.kind != "log":  # (a log has no event)
            no_event += 1
            no_sha256 += not item.sha256
    result = Adoption(adopted, aside, left, kept_row, no_event, no_sha256)
    if result.note():
        log.warning("spool: %s", result.note())
    return result
