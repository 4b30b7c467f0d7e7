"""The index of one destination: cameras, days, events and their files, without any key.

Everything here comes from the back end's listing (names and sizes) and the
authenticated-later ``.qsc`` headers, read as the first bytes of each file: what a
timeline needs (times, kinds, key ids, damage the header already shows). The uploader
names files ``FOLDER/CAMERA/DAY/EVENT/KIND-SEQ-ID.qsc`` (``uploader/storing.py``); any
other name is not footage and is never served.

Listings are cached for ``ttl_s`` seconds; headers are cached for as long as the
file keeps its size (a stored file never changes), so a day with a thousand events
is read once and then shown from memory. Nothing is written to disk.
"""

from __future__ import annotations

import io
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, TypeVar

from quickcam.common.cryptofile import CryptoFileError, Header, check_file_size, read_header
from quickcam.uploader.adopt import ADOPTED_EVENT
from quickcam.uploader.backends import Reader, RemoteFile

# The largest version-1 header: 53 fixed bytes, three 255-byte texts, 80 HPKE bytes.
HEADER_PROBE_BYTES = 53 + 3 * 255 + 80
CAMERA_RE = re.compile(r"^(?!\.\.?$)[A-Za-z0-9_.-]{1,64}$")
DAY_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# KIND-SEQ-ID.qsc, or KIND-SEQ-ID.ORIGIN.qsc where another origin held the id first (docs/protocol.md section 7,
# uploader rule 4: 12 hex digits of its sender and camera); the header names ID either way.
_FILE_RE = re.compile(r"^(?P<kind>snapshot|segment)-(?P<seq>\d{1,10})-(?P<id>[A-Za-z0-9_-]{1,64})"
                      r"(?:\.(?P<origin>[0-9a-f]{12}))?\.qsc$")

T = TypeVar("T")


@dataclass(frozen=True)
class StoredItem:
    """One snapshot or segment file. ``problem`` is why it cannot be shown, '' if none known yet."""

    key: str
    kind: str
    seq: int
    item_id: str
    size: int
    header: Header | None
    problem: str = ""

    @property
    def start_ms(self) -> int | None:
        return self.header.context.start_ms if self.header else None


@dataclass
class StoredEvent:
    """The files of one motion event, as listed; snapshots and segments ordered by ``seq``."""

    camera: str
    day: str
    event_id: str
    snapshots: list[StoredItem] = field(default_factory=list)
    segments: list[StoredItem] = field(default_factory=list)

    @property
    def items(self) -> list[StoredItem]:
        return self.snapshots + self.segments

    @property
    def start_ms(self) -> int:
        times = [t for t in (item.start_ms for item in self.items) if t is not None]
        return min(times) if times else 0

    @property
    def key_ids(self) -> set[tuple[str, str]]:
        """(mode name, key id) of every file whose header could be read."""
        return {(item.header.mode_name, item.header.key_id) for item in self.items if item.header}

    @property
    def damaged(self) -> list[StoredItem]:
        return [item for item in self.items if item.problem]

    @property
    def path(self) -> str:
        return f"{self.camera}/{self.day}/{self.event_id}"

    @property
    def adopted(self) -> bool:
        """Files adopted from the spool after the uploader's ledger was lost, whose event id it kept nowhere
        (``uploader/adopt.py``): several events' files in one folder, not one event."""
        return self.event_id == ADOPTED_EVENT


class StoreIndex:
    """Lists a destination's footage through ``reader``, caching listings and headers."""

    def __init__(self, reader: Reader, folder: str, ttl_s: float = 30.0, workers: int = 8) -> None:
        self.reader = reader
        self.folder = folder.strip("/")
        self.ttl_s = ttl_s
        self.workers = workers
        self._lock = threading.Lock()
        self._listings: dict[tuple[str, ...], tuple[float, Any]] = {}
        self._headers: dict[tuple[str, int], tuple[Header | None, str]] = {}

    def cameras(self) -> list[str]:
        names = self._cached(("cameras",), lambda: self.reader.list_folders(self.folder))
        return [name for name in names if CAMERA_RE.match(name) and name != "logs"]

    def days(self, camera: str) -> list[str]:
        """Days with footage for ``camera``, newest first."""
        if not CAMERA_RE.match(camera):
            return []
        names = self._cached(("days", camera), lambda: self.reader.list_folders(f"{self.folder}/{camera}"))
        return sorted((name for name in names if DAY_RE.match(name)), reverse=True)

    def events(self, camera: str, day: str) -> list[StoredEvent]:
        """The events of one camera and day, newest first."""
        if not (CAMERA_RE.match(camera) and DAY_RE.match(day)):
            return []
        return self._cached(("events", camera, day), lambda: self._load_events(camera, day))

    def event(self, camera: str, day: str, event_id: str) -> StoredEvent | None:
        """The listed event with these names, or None: nothing outside the listing is served."""
        if not ID_RE.match(event_id):
            return None
        for event in self.events(camera, day):
            if event.event_id == event_id:
                return event
        return None

    def forget(self) -> None:
        """Drop cached listings (headers stay: a stored file never changes)."""
        with self._lock:
            self._listings.clear()

    # -- internals -------------------------------------------------------------------------
    def _cached(self, key: tuple[str, ...], load: Callable[[], T]) -> T:
        now = time.monotonic()
        with self._lock:
            hit = self._listings.get(key)
        if hit is not None and now - hit[0] < self.ttl_s:
            return hit[1]
        value = load()
        with self._lock:
            self._listings[key] = (now, value)
        return value

    def _load_events(self, camera: str, day: str) -> list[StoredEvent]:
        """The day's events, each whole: the uploader files an item under the UTC date of its own
        time, so an event running over midnight has items under the next date too. It is shown
        once, under the day it began, with the later days' items joined to it."""
        files = self._files(camera, day)
        days = set(self.days(camera))
        earlier = _shift(day, -1)
        if earlier in days:  # begun the day before: listed there, not here
            begun_before = {event_id for _, event_id, _ in self._files(camera, earlier)}
            files = [f for f in files if f[1] not in begun_before]
        wanted = {event_id for _, event_id, _ in files}
        later = _shift(day, 1)
        while wanted and later in days:
            carried = [f for f in self._files(camera, later) if f[1] in wanted]
            files += carried
            wanted = {event_id for _, event_id, _ in carried}
            later = _shift(later, 1)
        events: dict[str, StoredEvent] = {}
        headers = self._headers_for([remote for remote, _, _ in files])
        for (remote, event_id, match), (header, problem) in zip(files, headers, strict=True):
            event = events.setdefault(event_id, StoredEvent(camera, day, event_id))
            item = StoredItem(remote.key, match["kind"], int(match["seq"]), match["id"], remote.size,
                              header, problem or _mismatch(header, camera, match))
            (event.snapshots if item.kind == "snapshot" else event.segments).append(item)
        for event in events.values():
            if event.adopted:  # several events' files, each numbered from 0: in time order, not by number
                event.snapshots.sort(key=lambda i: (i.start_ms or 0, i.seq, i.item_id))
                event.segments.sort(key=lambda i: (i.start_ms or 0, i.seq, i.item_id))
                continue
            event.snapshots.sort(key=lambda i: (i.seq, i.item_id))
            event.segments.sort(key=lambda i: (i.seq, i.item_id))
        return sorted(events.values(), key=lambda e: (e.start_ms, e.event_id), reverse=True)

    def _files(self, camera: str, day: str) -> list[tuple[RemoteFile, str, re.Match[str]]]:
        """The footage files listed under one camera and day: (file, event id, name match)."""
        return self._cached(("files", camera, day), lambda: self._list_files(camera, day))

    def _list_files(self, camera: str, day: str) -> list[tuple[RemoteFile, str, re.Match[str]]]:
        prefix = f"{self.folder}/{camera}/{day}"
        files = []
        for remote in self.reader.list_files(prefix):
            rest = remote.key[len(prefix) + 1:] if remote.key.startswith(prefix + "/") else ""
            parts = rest.split("/")
            if len(parts) != 2 or not ID_RE.match(parts[0]):
                continue
            match = _FILE_RE.match(parts[1])
            if match:
                files.append((remote, parts[0], match))
        return files

    def _headers_for(self, remotes: list[RemoteFile]) -> list[tuple[Header | None, str]]:
        with self._lock:
            missing = [r for r in remotes if (r.key, r.size) not in self._headers]
        if missing:
            if len(missing) > 1 and self.workers > 1:
                with ThreadPoolExecutor(min(self.workers, len(missing))) as pool:
                    found = list(pool.map(self._read_header, missing))
            else:
                found = [self._read_header(r) for r in missing]
            with self._lock:
                for remote, result in zip(missing, found, strict=True):
                    self._headers[(remote.key, remote.size)] = result
        with self._lock:
            return [self._headers[(r.key, r.size)] for r in remotes]

    def _read_header(self, remote: RemoteFile) -> tuple[Header | None, str]:
        """The file's header and '' , or (None or the header, the reason it is damaged)."""
        try:
            head = self.reader.read(remote.key, 0, min(remote.size, HEADER_PROBE_BYTES))
            header = read_header(io.BytesIO(head))
        except CryptoFileError as exc:
            return None, str(exc)
        except Exception as exc:  # a back-end error on one file: that file is shown as unreadable
            return None, f"unreadable: {exc}"
        try:
            check_file_size(header, remote.size)
        except CryptoFileError as exc:
            return header, str(exc)
        return header, ""


def _shift(day: str, days: int) -> str:
    """The date ``days`` after ``day`` (both YYYY-MM-DD); '' for a folder name that is no date."""
    try:
        return (date.fromisoformat(day) + timedelta(days=days)).isoformat()
    except ValueError:
        return ""


def _mismatch(header: Header | None, camera: str, match: re.Match[str]) -> str:
    """A header must name the file it is stored as: else it was renamed or swapped."""
    if header is None:
        return ""
    ctx = header.context
    if (ctx.camera_id, ctx.message_id, ctx.sequence) != (camera, match["id"], int(match["seq"])):
        return (f"name mismatch: stored as {camera}/{match['id']} #{int(match['seq'])} but its header says "
                f"{ctx.camera_id}/{ctx.message_id} #{ctx.sequence}; it was renamed or swapped")
    return ""
