"""The outbox: every snapshot and segment stays on disk until the uploader acks it.

Layout under the outbox folder::

    <id>.bin        the payload (JPEG or MP4), fsynced before its header exists
    <id>.hdr        the msgpack header; its presence is what commits the item
    .staging/       files being written (an encoder's open segment), and beside a finished
                    one being committed its header (<id>.hdr, until the commit is done)
    refused/        items the uploader refused permanently, or whose stored header
                    broke the protocol (edited on disk): kept for a person
    produced.jsonl  one line per item ever committed (id, type, size, sha256):
                    the detector's own record, which audits and the
                    reliability suite compare with what reached storage

A crash can leave only staging files and payloads without a header; both are
incomplete by construction and are cleared at start-up, but for a finished segment
whose commit was cut short (its header beside it in staging: a stop that ran out of
time on a disk that stopped answering, a SIGKILL): that one is committed at start-up
if its bytes are still the ones its header names, else moved to ``refused/``. Everything committed
is re-sent after a restart. A file of a committed item deleted by hand (its
``.bin`` or ``.hdr``) makes the item unsendable: what is left of it is moved to
``refused/``, said and counted, never deleted (``forget_missing``, and at
start-up a payload the journal names, whose header is gone).

Disk budget (docs/reliability.md): the outbox never deletes unsent footage.
When what waits for the uploader reaches ``recording.outbox_budget_mb`` (or the
disk has less than 256 MB free), new segments are recorded smaller: half the
width and height, at most ``recording.over_budget_fps`` frames a second.
Snapshots are unchanged. It is logged as an error on entry, every minute while
it lasts, and when it ends, and shown in ``quickcam status``.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgpack

from quickcam.common import protocol
from quickcam.common.config import ConfigError, RecordingConfig
from quickcam.common.durable import atomic_write, move_aside
from quickcam.common.folder_lock import FolderLock, cannot_make, hold_folder_lock

log = logging.getLogger(__name__)

JOURNAL_FIELDS = ("id", "type", "camera", "event", "seq", "time_ms", "start_ms", "end_ms", "frames", "size", "sha256")
MIB = 1 << 20
LOW_DISK_BYTES = 256 * MIB  # less free disk than this reduces new segments whatever the budget
BUDGET_REMINDER_S = 60.0
JOURNAL_NAME = "produced.jsonl"
JOURNAL_BLOCK = 1 << 16  # the journal is read back from its end in blocks this big, at start-up
STAGED_HEADER = ".hdr"  # a finished segment's header beside it in .staging/ while it is committed


MAX_REDUCED_SEGMENT_S = 60.0


@dataclass(frozen=True)
class SegmentFormat:
    """How a new segment is recorded."""

    width: int
    height: int
    fps: float
    seconds: float  # the segment is closed once it is this long
    reduced: bool = False  # by the disk budget: keep only one frame per 1/fps seconds


def budget_format(width: int, height: int, fps: float, segment_s: float, waiting_bytes: int,
                  budget_bytes: int, free_bytes: int, reduced_fps: float) -> SegmentFormat:
    """The disk budget policy for a new segment (no I/O; docs/reliability.md).

    Under the budget (0 = none) and with the disk not nearly full: the camera's
    own format. Otherwise half the width and height (even, for H.264), at most
    ``reduced_fps``, and as many frames per segment as a full one (up to 60 s),
    since every segment starts with a costly keyframe: the intruder is still on
    video, at a fraction of the bytes.
    """
    over = (budget_bytes > 0 and waiting_bytes >= budget_bytes) or free_bytes < LOW_DISK_BYTES
    if not over:
        return SegmentFormat(width, height, fps, segment_s)
    rate = min(fps, reduced_fps)
    seconds = max(segment_s, min(MAX_REDUCED_SEGMENT_S, segment_s * fps / rate))
    return SegmentFormat(max(16, width // 4 * 2), max(16, height // 4 * 2), rate, seconds, reduced=True)


@dataclass(frozen=True)
class OutboxItem:
    id: str
    type: str
    size: int

    @property
    def priority(self) -> tuple[int, str]:
        # Snapshots first (a face off the machine beats video), then oldest first.
        return (0 if self.type == "snapshot" else 1, self.id)


def lock_outbox(root: Path) -> FolderLock:
    """Hold ``<root>/.lock`` for the life of this process: one detector per outbox.

    A second detector started on the same outbox would discard the first one's open
    segment at its start-up as "left by a crash", and both would send, journal and
    report the same items (``common/folder_lock.py``). Raises ConfigError naming the holder.
    """
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # said as the native detector says it (detector/native/src/outbox.cpp)
        raise ConfigError(cannot_make(root, exc, "recording.outbox_dir")) from None
    held = hold_folder_lock(root, key="recording.outbox_dir")
    if isinstance(held, str):
        raise ConfigError(f"the outbox {root} is in use by another detector (pid {held}); stop that one, or give "
                          "each detector its own recording.outbox_dir")
    return FolderLock(root, held, "detector")


def _size(header: dict[str, Any]) -> int:
    """The size a header gives, 0 if it gives none or nonsense (its check when sent says what is wrong)."""
    size = header.get("size", 0)
    return size if isinstance(size, int) and not isinstance(size, bool) else 0


def _journal_id(line: bytes) -> str:
    """The id of one journal line; '' for a line cut short by a crash, or not ours."""
    try:
        return str(json.loads(line)["id"])
    except (ValueError, KeyError, TypeError):
        return ""


def _write_durably(path: Path, data: bytes) -> None:
    with atomic_write(path, f"{path.name}.tmp") as handle:  # *.tmp leftovers are cleared at start-up
        handle.write(data)


class Outbox:
    """A durable, thread-safe queue of messages waiting for an ack."""

    def __init__(self, root: Path, lock: FolderLock | None = None) -> None:
        self.lock = lock  # taken again by ensure_folders when its file went (with the folder, or alone)
        self.deleted = 0  # items forgotten because their files were deleted under the running detector
        self.undeleted = 0  # acknowledged items whose files the disk would not let us delete
        self.set_aside = 0  # items moved to refused/ at start-up, their header unreadable (status: refused)
        self.root = root
        self.staging = root / ".staging"
        self.refused = root / "refused"
        for folder in (self.root, self.staging, self.refused):
            folder.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._items: dict[str, OutboxItem] = {}
        self._listeners: list[Callable[[], None]] = []  # told of each new item (the link wakes on it)
        self.over_budget = ""  # why new segments are reduced, for the status file; "" when they are not
        self._reminded_at = 0.0
        self._recover()

    def _recover(self) -> None:
        for staged_header in sorted(self.staging.glob(f"*{STAGED_HEADER}")):
            self._commit_left(staged_header)
        for stale in self.staging.iterdir():
            log.warning("outbox: discarding incomplete file %s left by a crash", stale.name)
            stale.unlink()
        for leftover in self.root.glob("*.tmp"):
            leftover.unlink()
        headers = {p.stem for p in self.root.glob("*.hdr")}
        orphans = [payload for payload in self.root.glob("*.bin") if payload.stem not in headers]
        journaled = self._journaled({p.stem for p in orphans} | headers)
        for payload in orphans:
            if journaled is not None and payload.stem in journaled:  # committed: its header was deleted by hand
                log.error("outbox: %s is in the journal but its header %s.hdr is gone (deleted by hand?); it cannot "
                          "be sent without it: moved to refused/", payload.name, payload.stem)
                self.set_aside += 1
                os.replace(payload, self.refused / payload.name)
            else:
                log.warning("outbox: discarding uncommitted payload %s", payload.name)
                payload.unlink()
        for stem in sorted(headers):
            if not (self.root / f"{stem}.bin").exists():  # its payload deleted (or the last ack's remove cut short)
                log.error("outbox: item %s has a header but no payload %s.bin (deleted by hand, or the detector "
                          "stopped while it removed an acknowledged item); nothing to send: header moved to refused/",
                          stem, stem)
                self.set_aside += 1
                os.replace(self.root / f"{stem}.hdr", self.refused / f"{stem}.hdr")
                continue
            try:
                header = protocol.unpack_header((self.root / f"{stem}.hdr").read_bytes())
                self._items[stem] = OutboxItem(stem, str(header["type"]), _size(header))
            except (OSError, KeyError, protocol.ProtocolError) as exc:
                log.error("outbox: header %s.hdr is unreadable (%s); moved to refused/", stem, exc)
                self.set_aside += 1
                for suffix in (".hdr", ".bin"):
                    src = self.root / f"{stem}{suffix}"
                    if src.exists():
                        os.replace(src, self.refused / src.name)
                continue
            if journaled is not None and stem not in journaled:
                self._journal_late(header)
        if self._items:
            log.info("outbox: %d item(s) from an earlier run will be re-sent", len(self._items))

    def _commit_left(self, staged_header: Path) -> None:
        """A finished segment whose commit the last run did not finish (its header beside it in staging): committed
        now if its bytes are the ones the header names, else moved to ``refused/`` with it, said and counted.

        The last run's stop ran out of time while the disk took the segment (an fsync that did not return), or it
        was killed then. Before, the segment was discarded here as "left by a crash": lost, and the stop had said
        nothing of it (``tests/test_stop_slow_commit.py``).
        """
        stem = staged_header.name[: -len(STAGED_HEADER)]
        committed = self.root / f"{stem}.hdr"
        payloads = [p for p in self.staging.glob(f"{stem}.*") if p != staged_header] + [self.root / f"{stem}.bin"]
        payload = next((p for p in payloads if p.exists()), None)
        try:
            header = protocol.unpack_header(staged_header.read_bytes())
            if committed.exists():  # the commit was done but for removing this
                staged_header.unlink()
                return
            if payload is None:
                raise ValueError("its payload is gone")
            data = payload.read_bytes()
            if len(data) != header.get("size") or hashlib.sha256(data).hexdigest() != header.get("sha256"):
                raise ValueError("its bytes are not the ones its header names")
            with open(payload, "rb+") as handle:
                os.fsync(handle.fileno())
            os.replace(payload, self.root / f"{stem}.bin")
            self._commit_header(header)
            staged_header.unlink()
        except (OSError, ValueError, KeyError, protocol.ProtocolError) as exc:
            log.error("outbox: segment %s left in .staging/ by the last run (its commit cut short) cannot be "
                      "committed (%s); moved to refused/", stem, exc)
            self.set_aside += 1
            for path in (staged_header, *(p for p in payloads if p.exists())):
                with contextlib.suppress(OSError):
                    os.replace(path, self.refused / (path.name if path.parent == self.root else f"staged-{path.name}"))
            return
        log.warning("outbox: segment %s of event %s (%s frame(s)) was left in .staging/ by the last run, its commit "
                    "cut short (a stop on a disk that did not answer, or a kill); committed now", header.get("seq"),
                    header.get("event"), header.get("frames"))

    def _journal_late(self, header: dict[str, Any]) -> None:
        """The journal line of an item committed (payload and header durable) by a run stopped before it wrote
        that line (a SIGKILL between the two): written now, before the item is sent. Before, it was sent and
        stored with no line: the invariant's "invented" (bench/outside FINDINGS #10)."""
        try:
            self._journal({k: header.get(k) for k in JOURNAL_FIELDS})
        except OSError as exc:
            log.error("outbox: item %s was committed but not journaled, and the journal line cannot be written now "
                      "(%s); it is sent all the same", header.get("id"), exc.strerror or exc)
            return
        log.warning("outbox: item %s was committed but not journaled (the last run stopped between its header and "
                    "its journal line); journaled now", header.get("id"))

    def _journaled(self, ids: set[str]) -> set[str] | None:
        """Those of ``ids`` the journal names, read from its end back only as far as the oldest of them; None when
        it cannot be read (then nothing is journaled late and no payload is taken for committed).

        A payload it names was committed; a header it does not name was committed by a run stopped before its line.
        """
        missing = set(ids)
        try:
            with open(self.root / JOURNAL_NAME, "rb") as journal:
                end, carried = journal.seek(0, os.SEEK_END), b""
                while end > 0 and missing:
                    start = max(0, end - JOURNAL_BLOCK)
                    journal.seek(start)
                    lines = (journal.read(end - start) + carried).split(b"\n")
                    carried = lines.pop(0) if start > 0 else b""  # the line the block starts inside: read with the next
                    missing.difference_update(_journal_id(line) for line in lines)
                    end = start
        except FileNotFoundError:
            pass  # no journal (deleted by hand): every item found is journaled again
        except OSError:
            return None
        return ids - missing

    def forget_missing(self, message_id: str) -> bool:
        """An item the link could not load because a file of it is gone: True if it was deleted by hand, now said,
        counted (``deleted``) and forgotten, what is left of it moved to ``refused/``.

        False when it was acknowledged meanwhile (no longer waiting), or the whole outbox is gone
        (``ensure_folders`` says that). Before, such an item stayed waiting for ever, never said: every stop
        counted it as "sent on next start", and a ``.bin`` whose ``.hdr`` was deleted was deleted at the next
        start as an uncommitted payload though the journal names it.
        """
        header, payload = self.root / f"{message_id}.hdr", self.root / f"{message_id}.bin"
        with self._lock:
            if message_id not in self._items or not self.root.is_dir() or (header.exists() and payload.exists()):
                return False
            del self._items[message_id]
            self.deleted += 1
        left = [path for path in (payload, header) if path.exists()]
        for path in left:
            try:
                os.replace(path, self.refused / path.name)
            except OSError as exc:
                log.warning("outbox: cannot move %s to refused/ (%s)", path.name, exc.strerror or exc)
        gone = " and ".join(path.name for path in (payload, header) if path not in left)
        kept = f"; {left[0].name} moved to refused/" if left else ""
        log.error("outbox: %s of item %s deleted while the detector ran (by hand?); the item cannot be sent%s; "
                  "%d item(s) deleted so far (quickcam status)", gone, message_id, kept, self.deleted)
        return True

    def staging_path(self, name: str) -> Path:
        self.ensure_folders()
        return self.staging / name

    def ensure_folders(self) -> None:
        """Make the outbox's folders again if something deleted them under the running detector.

        A person or a clean-up job may ``rm -rf`` the outbox while the detector runs.
        What it held is gone; what is recorded from now on must not be lost too, nor
        must every write fail until a restart. Called before each new file (a segment, a
        snapshot) and with every status write, so a deletion is noticed within seconds:
        the folders are made again (0700), the items whose files went with them are
        forgotten and counted (``deleted``), and it is one error line. The lock is taken
        again, so that a detector started on this outbox now still refuses.
        """
        self._make_folders_again()
        if self.lock is not None:
            self.lock.keep()

    def intact(self) -> bool:
        """Its folders and lock as made (a few stats): looked at four times a second by the status writer, which
        calls ``ensure_folders`` at once when not, so a second detector has a quarter of a second, not the 2 s
        between two status writes, to take a deleted outbox."""
        return (all(folder.is_dir() for folder in (self.root, self.staging, self.refused))
                and (self.lock is None or self.lock.held()))

    def _make_folders_again(self) -> None:
        folders = (self.root, self.staging, self.refused)
        if all(folder.is_dir() for folder in folders):
            return
        with self._lock:
            if all(folder.is_dir() for folder in folders):
                return  # another thread made them meanwhile
            # Only its subfolders deleted (outbox/.staging, say): its items are safe, and said so.
            missing = [folder for folder in folders if not folder.is_dir()]
            # A file made where a folder was (mkdir failed on it, and every write with it): kept, beside.
            moved = [move_aside(folder) for folder in folders if os.path.lexists(folder) and not folder.is_dir()]
            for folder in folders:
                folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            gone = [item_id for item_id in self._items if not (self.root / f"{item_id}.hdr").exists()]
            for item_id in gone:
                del self._items[item_id]
            self.deleted += len(gone)
        replaced = "".join(f" and moved the file put in place of {m.name.split('.replaced-')[0]} to {m.name}"
                           for m in moved)
        if self.root in missing:
            log.error("outbox: the folder %s was deleted while the detector ran; made it again%s (the %d item(s) "
                      "waiting in it for the uploader, its journal %s and any open segment went with it); recording "
                      "goes on. Do not delete the outbox of a running detector: stop it first", self.root,
                      replaced, len(gone), JOURNAL_NAME)
            return
        lost = {self.staging: "any open segment", self.refused: "the items the uploader refused"}
        log.error("outbox: the folder %s was deleted while the detector ran (not %s: the %d item(s) waiting in it "
                  "are safe); made it again%s (%s went with it); recording goes on. Do not delete the outbox's "
                  "folders under a running detector: stop it first", " and ".join(map(str, missing)), self.root,
                  len(self._items), replaced, " and ".join(lost[folder] for folder in missing))

    def commit_file(self, header: dict[str, Any], staged: Path) -> None:
        """Take a fully written staging file as the payload of ``header``.

        Its header goes beside it in staging first (not fsynced: a plain write), so that a commit the process does
        not live to finish (a stop's time run out on a disk that stopped answering, a kill) is finished at the
        next start (``_commit_left``) instead of the segment being discarded.
        """
        staged_header = self.staged_header(header["id"])
        staged_header.write_bytes(msgpack.packb(header, use_bin_type=True))
        with open(staged, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(staged, self.root / f"{header['id']}.bin")
        self._commit_header(header)
        staged_header.unlink(missing_ok=True)

    def staged_header(self, item_id: str) -> Path:
        """Where a segment's header waits beside it in staging while it is committed."""
        return self.staging / f"{item_id}{STAGED_HEADER}"

    def commit_bytes(self, header: dict[str, Any], payload: bytes) -> None:
        """Write ``payload`` and commit it; on a write error nothing of it is left behind."""
        payload_path = self.root / f"{header['id']}.bin"
        self.ensure_folders()
        _write_durably(payload_path, payload)
        try:
            self._commit_header(header)
        except OSError:
            payload_path.unlink(missing_ok=True)  # the caller keeps the bytes and may try again
            raise

    def _commit_header(self, header: dict[str, Any]) -> None:
        """Header, then journal line; an item is committed only with both (a disk error undoes the header)."""
        header_path = self.root / f"{header['id']}.hdr"
        _write_durably(header_path, msgpack.packb(header, use_bin_type=True))
        try:
            self._journal({k: header.get(k) for k in JOURNAL_FIELDS})
        except OSError:
            header_path.unlink(missing_ok=True)  # not in the journal: not produced, not sent
            raise
        with self._lock:
            self._items[header["id"]] = OutboxItem(header["id"], header["type"], header.get("size", 0))
        for listener in self._listeners:
            listener()

    def on_new_item(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` (from the committing thread) after each new item: the link sends at once
        instead of looking for new items many times a second."""
        self._listeners.append(listener)

    def _journal(self, record: dict[str, Any]) -> None:
        """Append one line to produced.jsonl, whole or not at all (a full disk must not leave half a line)."""
        line = (json.dumps(record) + "\n").encode()
        fd = self._open_journal()
        try:
            size = os.fstat(fd).st_size
            try:
                if os.write(fd, line) != len(line):
                    raise OSError(errno.ENOSPC, "short write to the journal", JOURNAL_NAME)
            except OSError:
                os.ftruncate(fd, size)
                raise
        finally:
            os.close(fd)

    def _open_journal(self) -> int:
        """The journal, opened to append; a directory standing in its place is moved aside first.

        A directory made where the journal was (it was moved away, then a ``mkdir`` by mistake) refused
        every commit: each snapshot and segment was lost while it stood, the camera said ``ok`` (native)
        or its recording loop failed with a traceback. Kept, beside, as ``common/durable.py`` does for a
        status file; the journal begins again with the next item.
        """
        path, flags = self.root / JOURNAL_NAME, os.O_WRONLY | os.O_APPEND | os.O_CREAT
        try:
            return os.open(path, flags, 0o600)
        except IsADirectoryError:
            with self._lock:  # two cameras committing at once: one moves it
                aside = move_aside(path) if path.is_dir() else None
            if aside is not None:
                log.error("outbox: a directory stood where the journal %s belongs; moved it to %s (its files kept) "
                          "and began the journal again; recording goes on", path, aside.name)
            return os.open(path, flags, 0o600)

    def load(self, message_id: str) -> tuple[dict[str, Any], bytes]:
        """An item's header and payload; ProtocolError if its header was spoiled on disk (the link sets it aside).

        The header's id must be the item's (its file name): the uploader acks the header's id, so an
        item sent under another id would be sent again every ack timeout, for ever, never acked.
        """
        header = protocol.unpack_header((self.root / f"{message_id}.hdr").read_bytes())
        if header.get("id") != message_id:
            raise protocol.ProtocolError("bad_value", f"header id is not {message_id}, the item's file name")
        payload = (self.root / f"{message_id}.bin").read_bytes()
        return header, payload

    def pending(self) -> list[OutboxItem]:
        with self._lock:
            return sorted(self._items.values(), key=lambda item: item.priority)

    def remove(self, message_id: str, keep_copy_in: Path | None = None) -> None:
        """Forget an acknowledged item (header last, so a crash re-sends rather than loses)."""
        with self._lock:
            if self._items.pop(message_id, None) is None:
                return
        payload = self.root / f"{message_id}.bin"
        try:
            if keep_copy_in is not None:
                keep_copy_in.mkdir(parents=True, exist_ok=True)
                os.replace(payload, keep_copy_in / payload.name)
            else:
                payload.unlink(missing_ok=True)
            (self.root / f"{message_id}.hdr").unlink(missing_ok=True)
        except OSError as exc:
            # The uploader has it; left here it is only sent again after a restart (and acked as a duplicate).
            self.undeleted += 1
            if self.undeleted == 1 or self.undeleted % 100 == 0:
                log.error("outbox: cannot delete %s, which the uploader acknowledged (%s); %d such item(s) so "
                          "far; they are sent again after a restart and stored once. Give the detector write "
                          "access to %s", message_id, exc.strerror or exc, self.undeleted, self.root)

    def refuse(self, message_id: str) -> None:
        """Set an item aside that the uploader refused for good; it is never deleted."""
        with self._lock:
            self._items.pop(message_id, None)
        for suffix in (".bin", ".hdr"):
            src = self.root / f"{message_id}{suffix}"
            if src.exists():
                os.replace(src, self.refused / src.name)

    def depth(self) -> tuple[int, int]:
        """(items, bytes) waiting."""
        with self._lock:
            return len(self._items), sum(item.size for item in self._items.values())

    def oldest_s(self, now: float) -> float:
        """How long the oldest item has waited unsent as of ``now`` (wall clock), 0 when none: its id begins with
        its creation time in milliseconds (common/protocol.py's new_id). The health check reads it."""
        with self._lock:
            oldest = min(self._items, default=None)
        try:
            return round(max(0.0, now - int(oldest[:13], 16) / 1000), 1) if oldest else 0.0
        except ValueError:  # an id not made by new_id: its age is not known
            return 0.0

    def segment_format(self, width: int, height: int, fps: float, recording: RecordingConfig) -> SegmentFormat:
        """The format of a new segment under the disk budget; says so loudly when it changes."""
        self.ensure_folders()  # a deleted outbox has no free space to measure
        waiting = self.depth()[1]
        try:
            free = shutil.disk_usage(self.root).free
        except OSError:
            free = 0  # cannot tell: assume the worst
        budget = int(recording.outbox_budget_mb * MIB)
        chosen = budget_format(width, height, fps, recording.segment_s, waiting, budget, free,
                               recording.over_budget_fps)
        with self._lock:
            self._report_budget(chosen, waiting, budget, free)
        return chosen

    def recheck_budget(self, recording: RecordingConfig) -> str:
        """Re-evaluate the budget now (for the status file): a backlog that drained ends the reduced
        state even before the next segment is cut, so status never shows a stale OVER BUDGET."""
        if self.over_budget:
            waiting = self.depth()[1]
            try:
                free = shutil.disk_usage(self.root).free
            except OSError:
                free = 0
            budget = int(recording.outbox_budget_mb * MIB)
            still = budget_format(16, 16, 1.0, 1.0, waiting, budget, free, 1.0).reduced
            if not still:
                with self._lock:
                    self._report_budget(SegmentFormat(16, 16, 1.0, 1.0), waiting, budget, free)
        return self.over_budget

    def _report_budget(self, chosen: SegmentFormat, waiting: int, budget: int, free: int) -> None:
        now = time.monotonic()
        if not chosen.reduced:
            if self.over_budget:
                log.warning("outbox: back under its budget (%.1f MB waiting, %.0f MB free); new segments are "
                            "recorded in full again", waiting / MIB, free / MIB)
            self.over_budget = ""
            return
        why = (f"{waiting / MIB:.1f} MB waiting for the uploader, over the outbox budget of "
               f"{round(budget / MIB, 3):g} MB"
               if budget and waiting >= budget else f"only {free / MIB:.0f} MB free on the outbox's disk")
        first = not self.over_budget
        self.over_budget = f"{why}; new segments at {chosen.fps:g} fps, {chosen.width}x{chosen.height}"
        if first or now - self._reminded_at >= BUDGET_REMINDER_S:
            self._reminded_at = now
            log.error("outbox: %s%s; snapshots as before; nothing is deleted; full recording resumes once the "
                      "uploader takes the backlog", "" if first else "still ", self.over_budget)
