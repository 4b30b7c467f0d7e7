"""One received snapshot or segment: de-duplicated, encrypted into the spool, recorded, then answered.

The receiver (``receiver.py``) owns the socket, decodes the message and checks
the sender's rights; this is what happens to the item after that, and what the
answer must be. It is ``stored`` (ack) only once the spool file is fsynced and
renamed and the ledger row committed; the same item again (same sender, camera,
id and sha256) is a ``duplicate`` (acked again, never stored twice); anything
else is a nack code with its reason, and the detector keeps the item.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from quickcam.common.config import UploaderConfig
from quickcam.common.cryptofile import Context
from quickcam.uploader import spool_record
from quickcam.uploader.ledger import Item, Ledger
from quickcam.uploader.spool import Spool

log = logging.getLogger("quickcam.uploader.receiver")  # the receiver's lines, under the receiver's name

STORED, DUPLICATE = "stored", "duplicate"
CANNOT_STORE = "cannot store"  # a busy nack's text from a spool or ledger write that failed (not the room check)


def remote_key(folder: str, header: dict[str, Any], key: str | None = None) -> str:
    """Where an item lands in storage: folder/camera/date/event/kind-seq-KEY.qsc (KEY: the ledger key)."""
    day = datetime.fromtimestamp(header["time_ms"] / 1000, UTC).strftime("%Y-%m-%d")
    seq = header.get("seq", 0)
    return (f"{folder}/{header['camera']}/{day}/{header['event']}/"
            f"{header['type']}-{seq:04d}-{key or header['id']}.qsc")


@dataclass(frozen=True)
class Outcome:
    """``STORED``, ``DUPLICATE``, or the nack code (``conflict``, ``busy``, ``bad_value``) with its reason."""

    code: str
    text: str = ""


class ItemStore:
    """Stores items into the spool and the ledger for every destination in ``config``."""

    def __init__(self, config: UploaderConfig, key: object, spool: Spool) -> None:
        self.config = config
        self.key = key
        self.spool = spool

    def store(self, ledger: Ledger, header: dict[str, Any], payload: bytes, public_key: str,
              problem: str = "") -> Outcome:
        """Store one decoded item from the sender ``public_key``; ``problem``: why nothing may be stored now."""
        item_id, camera = header["id"], header["camera"]
        known = ledger.sha256_of(item_id, camera, public_key)
        if known is not None:
            if known == header["sha256"]:
                return Outcome(DUPLICATE)
            return Outcome("conflict", f"id {item_id} for camera {camera} was stored before with a different sha256")
        problem = problem or self.spool.room_problem(len(payload))
        if problem:
            return Outcome("busy", problem)
        try:
            context = Context(
                camera_id=camera, message_id=item_id, sequence=header.get("seq", 0),
                start_ms=header.get("start_ms", header["time_ms"]), content_type=header["content_type"],
                plaintext_length=len(payload),
            )
        except ValueError as exc:
            return Outcome("bad_value", str(exc))
        key = ledger.key_for(item_id, camera, public_key)
        if key != item_id:
            log.info("receiver: id %s was stored before for another camera or detector; "
                     "this one is stored as %s", item_id, key)
        item = Item(key, header["sha256"], header["type"], camera, header["event"], header.get("seq", 0),
                    len(payload), str(self.spool.path_for(key)), remote_key(self.config.remote_folder, header, key),
                    time.time(), message_id=item_id, sender=public_key)
        path = None
        try:
            path = self.spool.store(key, payload, self.key, context, spool_record.encode(item,
                                                                                       self.config.remote_folder))
            ledger.add(item, self.config.destinations)
        except (OSError, sqlite3.Error) as exc:
            if path is not None:
                self._forget(ledger, path, header, public_key)
            reason = getattr(exc, "strerror", None) or str(exc)
            return Outcome("busy", f"{CANNOT_STORE}: {reason}")
        return Outcome(STORED)

    @staticmethod
    def _forget(ledger: Ledger, path: Path, header: dict[str, Any], public_key: str) -> None:
        """Remove the spool file of an item the ledger did not take (nacked ``busy``: the detector sends it again).

        It stayed, counted in the spool's bytes (and its cap), until the item came again; it is kept if the ledger
        has the item's row after all (a commit that failed late) or cannot say.
        """
        with contextlib.suppress(sqlite3.Error):
            if ledger.sha256_of(header["id"], header["camera"], public_key) is None:
                path.unlink(missing_ok=True)
