"""What one ``quickcam view`` run holds in memory: the index, the key ring, and small caches
of decrypted footage (the last few events opened, the timeline's thumbnails).

Nothing here touches the disk; the caches are bounded so a long session over a large
store keeps a steady footprint.
"""

from __future__ import annotations

import io
import logging
import threading
import zipfile
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Generic, TypeVar

from quickcam.common.crypto_cli import output_name
from quickcam.common.cryptofile import Keyring
from quickcam.uploader.backends import Reader
from quickcam.uploader.viewer.footage import (
    EventSummary,
    JoinedVideo,
    OpenedItem,
    draw_faces,
    join_segments,
    open_item,
    summarize,
)
from quickcam.uploader.viewer.security import Gate
from quickcam.uploader.viewer.store import StoredEvent, StoreIndex
from quickcam.uploader.viewer.uplink import UplinkStatus

PAGE_SIZE = 24
log = logging.getLogger(__name__)
K = TypeVar("K")
V = TypeVar("V")


class LRU(Generic[K, V]):
    """A small thread-safe least-recently-used map (memory only)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._data: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                return self._data[key]
            return None

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)


@dataclass
class Snapshot:
    opened: OpenedItem
    drawn: bytes | None = field(repr=False)
    faces: int


ADOPTED_NOTE = ("event unknown: files adopted from the uploader's spool after its ledger was lost, whose spool "
                "files kept no record of their event; several events' files together, in time order")
# The ledger row of a file adopted from the spool after the ledger was lost, in mode 2 (uploader/adopt.py)
UNKNOWN_SHA256 = "not known (adopted from the spool after the uploader's ledger was lost)"


@dataclass
class FileRow:
    """One line of the event page's file table and of the ZIP's report."""

    kind: str
    seq: int
    item_id: str
    start: str
    stored_bytes: int
    sha256: str
    ledger: str  # "matches", "DIFFERS", UNKNOWN_SHA256 (adopted without it), or "" (no ledger here)
    problem: str


@dataclass
class EventFootage:
    event: StoredEvent
    snapshots: list[Snapshot]
    video: JoinedVideo
    rows: list[FileRow]


@dataclass
class Viewer:
    """Everything the pages need; one per ``quickcam view`` run."""

    index: StoreIndex
    reader: Reader
    keyring: Keyring
    gate: Gate
    destination: str
    uplink: UplinkStatus | None = None
    page_size: int = PAGE_SIZE
    summaries: LRU[str, EventSummary] = field(default_factory=lambda: LRU(4000))
    footage: LRU[str, EventFootage] = field(default_factory=lambda: LRU(4))
    _pool: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(4))

    def summary(self, event: StoredEvent) -> EventSummary:
        key = _fingerprint(event)
        found = self.summaries.get(key)
        if found is None:
            found = summarize(self.reader, event, self.keyring)
            if not found.transient:
                self.summaries.put(key, found)
        return found

    def summaries_for(self, events: list[StoredEvent]) -> list[EventSummary]:
        return list(self._pool.map(self.summary, events))

    def event_footage(self, event: StoredEvent) -> EventFootage:
        key = _fingerprint(event)
        found = self.footage.get(key)
        if found is None:
            found = self._load_footage(event)
            if not any(row.problem.startswith("unreadable") for row in found.rows):
                self.footage.put(key, found)  # a back-end hiccup is asked again on the next request
        return found

    def _load_footage(self, event: StoredEvent) -> EventFootage:
        snapshots = []
        for opened in self._pool.map(lambda i: open_item(self.reader, i, self.keyring), event.snapshots):
            drawn, faces = draw_faces(opened.plaintext) if opened.plaintext is not None else (None, 0)
            snapshots.append(Snapshot(opened, drawn, faces))
        segments = list(self._pool.map(lambda i: open_item(self.reader, i, self.keyring), event.segments))
        video = join_segments(segments)
        known = self.uplink.sha256_of([i.item_id for i in event.items]) if self.uplink else {}
        rows = []
        for opened in [s.opened for s in snapshots] + segments:
            item, digest = opened.item, opened.sha256
            left_out = video.left_out.get(item.key) if item.kind == "segment" else None
            problem = opened.problem or (left_out.reason if left_out else "")
            ledger = "" if item.item_id not in known or not digest else UNKNOWN_SHA256 if not known[item.item_id] \
                else "matches" if known[item.item_id] == digest else "DIFFERS"  # (before: '' was DIFFERS, DAMAGED)
            if ledger == "DIFFERS" and not problem:
                problem = "its SHA-256 differs from the one the detector sent (uploader ledger)"
            rows.append(FileRow(item.kind, item.seq, item.item_id, when(item.start_ms), item.size,
                                digest, ledger, problem))
            if problem:
                log.warning("event %s: %s %d (%s) not shown: %s", event.path, item.kind, item.seq, item.key, problem)
        return EventFootage(event, snapshots, video, rows)

    def foreign_keys(self, events: list[StoredEvent]) -> list[str]:
        """Key ids files were encrypted with that the key ring does not hold, as 'mode id'."""
        found = set()
        for event in events:
            for item in event.items:
                header = item.header
                if header is not None and self.keyring.get(header.mode, header.key_id) is None:
                    found.add(f"{header.mode_name} key id {header.key_id}")
        return sorted(found)


def _fingerprint(event: StoredEvent) -> str:
    """An event's cache key: its path and its files, so a new segment makes a new entry."""
    return event.path + "|" + ",".join(f"{i.key}:{i.size}" for i in event.items)


def when(ms: int | None) -> str:
    if ms is None:
        return "?"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def clock(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%H:%M:%S")


# -- pages ----------------------------------------------------------------------------------------



def event_zip(footage: EventFootage) -> bytes:
    """The snapshots as stored (no boxes drawn) and report.txt: camera, times, hashes, problems."""
    event = footage.event
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as archive:
        for snap in footage.snapshots:
            if snap.opened.plaintext is not None and snap.opened.item.header is not None:
                archive.writestr(output_name(snap.opened.item.header.context), snap.opened.plaintext)
        lines = [f"camera: {event.camera}", f"event: {event.event_id}"
                 + (f" ({ADOPTED_NOTE})" if event.adopted else ""), f"start: {when(event.start_ms)}",
                 f"video: {footage.video.duration_s:.1f} s from segments {footage.video.joined}",
                 *[f"video part {n}: {part.width}x{part.height}, {part.duration_s:.1f} s from segments {part.joined}"
                   for n, part in enumerate(footage.video.parts, 1) if len(footage.video.parts) > 1],
                 "", "kind      seq  id  sha256 (of the decrypted file)  status"]
        for row in footage.rows:
            status = row.problem or "authenticated" + (f", ledger sha256 {row.ledger}" if row.ledger else "")
            lines.append(f"{row.kind:<9}{row.seq:>4}  {row.item_id}  {row.sha256 or '-'}  {status}")
        archive.writestr("report.txt", "\n".join(lines) + "\n")
    return buf.getvalue()


