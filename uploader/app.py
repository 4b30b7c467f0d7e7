"""The uploader process: receiver + shipper threads, until told to stop."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import re
import signal
import socket
import sqlite3
import threading
import time
from pathlib import Path

from quickcam.common.config import Config, ConfigError
from quickcam.common.cryptofile import LOG_CONTENT_TYPE, Context, KeyFormatError, RecipientPublicKey, SymmetricKey
from quickcam.common.folder_lock import FolderLock, cannot_make, hold_folder_lock
from quickcam.common.protocol import new_message_id
from quickcam.common.secrets import load_secrets
from quickcam.common.stop_signals import StopSignals, say_stray, stray_notes
from quickcam.uploader import spool_record
from quickcam.uploader.adopt import adopt_orphans
from quickcam.uploader.backends import Backend, BackendError, RetryableError, create_backend
from quickcam.uploader.key_change import key_change_note
from quickcam.uploader.ledger import LOCKED_SAY_AFTER_S, Item, Ledger
from quickcam.uploader.ledger_holder import is_busy, locked_out
from quickcam.uploader.ledger_reader import READ_WAIT_S
from quickcam.uploader.log_cursor import LogCursor
from quickcam.uploader.receiver import Receiver
from quickcam.uploader.shipper import Shipper
from quickcam.uploader.spool import Spool
from quickcam.uploader.tokens_watch import TokensWatch

log = logging.getLogger(__name__)


def encryption_key(secrets: dict[str, str], env_file: Path | None = None) -> SymmetricKey | RecipientPublicKey:
    """Mode 2 if ENCRYPTION_RECIPIENT is set (it wins over ENCRYPTION_KEY), else mode 1.

    ENCRYPTION_RECIPIENT is the recipient's public key as 64 hex characters, or the
    path of the ``.pub`` file ``quickcam keygen --recipient`` wrote (docs/encryption.md).
    Neither set: the fix names ``env_file`` (the config's), and first that it is missing if it is
    (a misspelled ``env_file`` was told to put the key in tokens.env).
    """
    try:
        recipient = secrets.get("ENCRYPTION_RECIPIENT", "").strip()
        if recipient:
            if _HEX64.fullmatch(recipient) or (len(recipient) == 64 and not Path(recipient).exists()):
                return RecipientPublicKey.from_hex(recipient)
            return RecipientPublicKey.load(recipient)
        key = secrets.get("ENCRYPTION_KEY", "").strip()
        if not key:
            if env_file is not None and not env_file.exists():
                raise ConfigError(f"env_file {env_file} does not exist, so ENCRYPTION_KEY is not set; fix env_file "
                                  "in the config (or QUICKCAM_ENV_FILE), or make the file: quickcam keygen > "
                                  f"{env_file} && chmod 600 {env_file}")
            raise ConfigError("ENCRYPTION_KEY is not set; create one with `quickcam keygen` and put the line in "
                              f"{env_file or 'tokens.env'}")
        return SymmetricKey.from_hex(key)
    except KeyFormatError as exc:
        raise ConfigError(str(exc)) from None
    except OSError as exc:
        raise ConfigError(f"ENCRYPTION_RECIPIENT: cannot read {recipient}: {exc.strerror or exc}; set it to the "
                          "PATH.pub file `quickcam keygen --recipient PATH` wrote, or its 64 hex characters") from None


_HEX64 = re.compile(r"[0-9a-fA-F]{64}")


def build_backends(config: Config, secrets: dict[str, str]) -> dict[str, Backend]:
    backends = {}
    for name in config.uploader.destinations:
        options = dict(config.storage.get(name, {}))
        kind = options.pop("kind", name)
        try:
            backends[name] = create_backend(kind, options, secrets)
        except BackendError as exc:
            raise ConfigError(f"storage.{name}: {exc}") from None
        guard = getattr(backends[name], "mount_guard", None)  # its folder found empty: a NAS not mounted?
        if guard is not None:  # (backends/mount_guard.py: local, fsspec file://)
            guard.stored_before = functools.partial(stored_to, config.uploader.state_dir / "ledger.sqlite3", name)
    return backends


def move_to_configured(ledger: Ledger, destinations: list[str]) -> str:
    """Uploads left for a destination no longer configured (renamed, removed) go to the configured ones; said."""
    moved, done = ledger.move_to(destinations)
    for path in done:  # uploaded to every destination still configured
        Path(path).unlink(missing_ok=True)
    if not moved:
        return ""
    note = (f"{sum(moved.values())} upload(s) for destination(s) no longer configured "
            f"({', '.join(sorted(moved))}) moved to {', '.join(destinations)}"
            + (f"; {len(done)} of their item(s) were stored by those already" if done else ""))
    log.warning("uploader: %s", note)
    return note


def stored_to(ledger_path: Path, destination: str) -> bool:
    """Whether the ledger records an upload to ``destination``; read only (``quickcam doctor`` asks it too).

    A lock that keeps readers out is ``RetryableError`` naming its holder after about a second (it was SQLite's 30 s,
    doctor's storage row then "no answer"): the folder is not written into while that cannot be told.
    """
    if not ledger_path.is_file():
        return False
    try:
        db = sqlite3.connect(f"{ledger_path.resolve().as_uri()}?mode=ro", uri=True, timeout=READ_WAIT_S)
        try:
            return db.execute("SELECT 1 FROM deliveries WHERE destination=? AND state='uploaded' LIMIT 1",
                              (destination,)).fetchone() is not None
        finally:
            db.close()
    except sqlite3.Error as exc:  # a new or damaged ledger cannot tell (the marker seen since start still guards)
        if is_busy(exc):
            raise LedgerLockedOut(f"{locked_out(ledger_path)}, so whether footage was stored in this folder before "
                                  "cannot be told and it is not written into",
                                  "end its transaction or stop that program") from None
        return False


class LedgerLockedOut(RetryableError):
    """``stored_to`` could not read the ledger: ``why`` and ``fix`` apart for doctor's row, whole in the log's line."""

    def __init__(self, why: str, fix: str) -> None:
        super().__init__(f"{why}; {fix}")
        self.why, self.fix = why, fix


def folder(path: Path, key: str) -> Path:
    """``path`` made as a folder if missing; a file in its place is one line naming the fix (it was a traceback)."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        in_the_way = next(p for p in (path, *path.parents) if p.exists())
        raise ConfigError(f"{key}: {in_the_way} is a file, not a folder; move it aside (mv {in_the_way} "
                          f"{in_the_way}.old) or set {key} to another folder") from None
    except OSError as exc:  # ENOENT (under /proc), EACCES, EROFS: it was a traceback
        raise ConfigError(cannot_make(path, exc, key)) from None
    return path


def lock_folders(config: Config) -> list[FolderLock]:
    """One uploader per state folder (the ledger) and per spool, whatever its endpoint (common/folder_lock.py).

    A second uploader on the spool alone (its own state folder) removed the first one's ``.part`` files at
    its start (the writes in flight) and shared its cap; it is refused in one line naming the running one's
    state folder (the lock's note), so that the person knows which uploader to stop.
    """
    state = folder(config.uploader.state_dir, "uploader.state_dir")
    held = hold_folder_lock(state, key="uploader.state_dir")
    if isinstance(held, str):
        raise ConfigError(f"the state folder {state} is in use by another uploader (pid {held}); stop that one, or "
                          "give each uploader its own uploader.state_dir")
    locks = [FolderLock(state, held, "uploader", make=True)]  # the ledger's rescue then finds its file gone
    spool = folder(config.uploader.spool_dir, "uploader.spool_dir")
    if spool.resolve() != state.resolve():  # one folder for both: its lock is the state folder's
        note = f", state folder {state.resolve()}"  # the same note as the endpoint's lock (uploader/receiver.py)
        held = hold_folder_lock(spool, note, key="uploader.spool_dir")
        if isinstance(held, str):
            raise ConfigError(f"the spool {spool} is in use by another uploader (pid {held}); stop that one, or "
                              "give each uploader its own uploader.spool_dir")
        locks.append(FolderLock(spool, held, "uploader", note))
    return locks


def run_uploader(config: Config, log_file: Path | None, seconds: float | None = None) -> int:
    tokens = TokensWatch(config.env_file)  # before they are read: a change made meanwhile is one too
    secrets = load_secrets(config.env_file)
    key = encryption_key(secrets, config.env_file)
    backends = build_backends(config, secrets)
    locks = lock_folders(config)
    key_note = key_change_note(config.uploader.state_dir, key, secrets)  # another key than the footage before's
    ledger_path = config.uploader.state_dir / "ledger.sqlite3"
    spool = Spool(config.uploader.spool_dir, int(config.uploader.spool_max_mb * (1 << 20)))
    shipper = Shipper(ledger_path, backends, config.uploader.retry_base_s, config.uploader.retry_max_s, spool,
                      failing_after_s=config.alerts.storage_failing_after_s)
    alerts = None
    if config.alerts.targets or config.mqtt.host:  # Apprise and paho are imported only when used
        from quickcam.uploader.alerts.service import AlertService

        alerts = AlertService(config, secrets, ledger_path)
    receiver = Receiver(config, key, spool, ledger_path, shipper.wake, alerts.observe if alerts else None)
    # In the status file (quickcam status, the health check): the shipper's own fault, else its wait for a lock
    receiver.other_fault = lambda: shipper.fault or shipper.ledger_locked.problem
    shipper.ledger_locked.count_with(receiver.ledger_locked)  # counted in the status file's ledger_locked
    receiver.notes = lambda: [tokens.note] if tokens.note else []
    receiver.failing_destinations = shipper.failing_destinations  # the health check, after failing_after_s
    # Handlers before "listening" is logged: a SIGTERM right after it (a supervisor, a test) is a clean stop.
    stop = threading.Event()
    signals = StopSignals(stop)  # the main loop sets ``stop``: a handler that did deadlocked (stop_signals.py)
    strays = stray_notes()  # SIGUSR1/2: said by the main loop, not a stop
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, lambda *_: receiver.reload_requested.set())  # re-read the allow-list

    if came := signals.came():  # while it started (the entry point held it): before anything is accepted
        log.info("uploader: %s during start-up; stopped before accepting any footage", came)
        return 0
    # Create (or migrate) the ledger and switch it to WAL here, once: two threads doing it at
    # the same moment on a new file can get "database is locked" from the journal-mode change. A lock that keeps
    # readers out (another program's) is one line naming it after a few seconds (exit 2; a service manager's
    # restart tries again), before the endpoint is bound: SQLite's 30 s said nothing, then blamed permissions.
    ledger = Ledger(ledger_path, open_wait_s=LOCKED_SAY_AFTER_S)
    try:  # before the receiver writes: a file it is storing is not yet in the ledger, and is no orphan
        adoption = adopt_orphans(spool, ledger, config.uploader.destinations, config.uploader.remote_folder,
                                 key)
        moved = move_to_configured(ledger, config.uploader.destinations)
    finally:
        ledger.close()
    receiver.notes = lambda: [note for note in (tokens.note, key_note, adoption.note(), moved) if note]
    receiver.open()  # a busy port or a foreign socket folder: one line, before any thread starts

    receiver_thread = threading.Thread(target=receiver.serve, name="receiver", daemon=True)
    shipper_thread = threading.Thread(target=shipper.run, name="shipper", daemon=True)
    if alerts:
        alerts.start()
    shipper_thread.start()
    receiver_thread.start()
    log.info("uploader: destinations %s; spool %s", ", ".join(backends), spool.root)

    deadline = time.monotonic() + seconds if seconds else None
    next_log_upload = time.monotonic() + config.uploader.log_upload_interval_s
    while not signals.wait(0.2):
        say_stray(strays, "uploader", "footage is still taken and uploaded")
        if not receiver_thread.is_alive() or not shipper_thread.is_alive():
            log.error("uploader: the %s thread stopped unexpectedly; exiting so that the service manager "
                      "restarts the uploader", "receiver" if not receiver_thread.is_alive() else "shipper")
            return 1
        with contextlib.suppress(OSError):  # one that cannot be made: the receiver says why at its next credit
            spool.ensure_folder()  # deleted: made again now, said, and its lock taken again below
        for lock in locks:  # deleted with its folder: taken again, so that a second uploader still refuses
            lock.keep()
        tokens.check()
        if deadline and time.monotonic() >= deadline:
            log.info("uploader: --seconds elapsed; stopping")
            break
        if time.monotonic() >= next_log_upload:
            enqueue_log(config, key, spool, ledger_path, log_file, shipper)
            next_log_upload = time.monotonic() + config.uploader.log_upload_interval_s

    log.info("uploader: stopping; no new footage accepted")
    # One budget for the uploads' part of the stop: queuing the log, the uploads due, the shipper's last write. Each
    # had it (the drain and the shipper's join), so a shipper waiting for a locked ledger took twice stop_upload_s.
    deadline = time.monotonic() + config.uploader.stop_upload_s
    receiver.stop_event.set()
    receiver_thread.join(timeout=5)
    enqueue_log(config, key, spool, ledger_path, log_file, shipper, deadline)
    _drain(shipper, ledger_path, deadline)
    shipper.stop()
    shipper_thread.join(timeout=max(0.0, deadline - time.monotonic()))
    if alerts:
        alerts.stop()
    ledger = _ledger_at_stop(ledger_path)
    if ledger is not None:
        left = sum(row["pending"] for row in ledger.summary())
        ledger.close()
        if left:
            log.warning("uploader: %d upload(s) still pending; they resume on next start", left)
    log.info("uploader: stopped")
    return 0


def _ledger_at_stop(ledger_path: Path) -> Ledger | None:
    """The ledger for the stop's last looks, or None with one line: its folder deleted with the uploader's own
    (`rm -rf` of the folder it runs in) ended the stop in a traceback, exit 1 (FINDINGS #55, cwd_gone.py)."""
    try:
        return Ledger(ledger_path)
    except (ConfigError, OSError, sqlite3.Error) as exc:
        log.error("uploader: cannot open the ledger %s at the stop (%s); what was not uploaded is not known here",
                  ledger_path, exc)
        return None


def _drain(shipper: Shipper, ledger_path: Path, deadline: float) -> None:
    """Give in-flight uploads a chance to finish before exiting (until ``deadline``, on the monotonic clock)."""
    ledger = _ledger_at_stop(ledger_path)
    if ledger is None:
        return
    try:
        while time.monotonic() < deadline:
            due = ledger.due(limit=1)
            if not due:
                return
            shipper.wake.set()
            time.sleep(0.1)
    finally:
        ledger.close()


def enqueue_log(config: Config, key: object, spool: Spool, ledger_path: Path,
                log_file: Path | None, shipper: Shipper, deadline: float | None = None) -> None:
    """Encrypt the lines logged since the last upload into the spool, for upload (as the original tool did).

    ``deadline`` (monotonic): the stop's, which a wait for another program's lock on the ledger keeps to.
    """
    if log_file is None or not log_file.is_file():
        return
    cursor = LogCursor(log_file, config.uploader.state_dir)
    data = cursor.unsent()
    if not data:
        return
    item_id = new_message_id()
    host = socket.gethostname()
    context = Context(camera_id=host, message_id=item_id, sequence=0, start_ms=int(time.time() * 1000),
                      content_type=LOG_CONTENT_TYPE, plaintext_length=len(data))
    path = None
    try:
        stamp = time.strftime("%Y-%m-%dT%H-%M-%S", time.gmtime())
        remote = f"{config.uploader.remote_folder}/logs/{host}/{stamp}-{log_file.name}-{item_id}.qsc"
        item = Item(item_id, hashlib.sha256(data).hexdigest(), "log", host, "", 0, len(data),
                    str(spool.path_for(item_id)), remote, time.time())
        path = spool.store(item_id, data, key, context, spool_record.encode(item, config.uploader.remote_folder))
        ledger = Ledger(ledger_path)
        # Another program's lock on the ledger: one slice, not SQLite's 30 s (this is the main loop, which keeps the
        # folders' locks; at the stop, what is left of its budget), then the lines wait for the next time. The
        # shipper's own write is waited for whatever the budget (a commit: stop_upload_s = 0 made the stop's log
        # fail to be queued whenever the shipper was writing, its lines left for the next start).
        ledger.on_locked, ledger.lock_wait_s = lambda _waited: None, LOCKED_SAY_AFTER_S
        ledger.own_wait_s = LOCKED_SAY_AFTER_S
        if deadline is not None:
            ledger.lock_wait_s = max(0.0, min(LOCKED_SAY_AFTER_S, deadline - time.monotonic()))
        try:
            ledger.add(item, config.uploader.destinations)
        finally:
            ledger.close()
        cursor.advance()
        shipper.wake.set()
    except (OSError, sqlite3.Error) as exc:  # a sqlite3 error (the ledger locked 30 s) ended the uploader
        if path is not None and isinstance(exc, sqlite3.Error):
            path.unlink(missing_ok=True)  # in no ledger row: nothing would ever upload or remove it
        log.warning("uploader: could not queue the log file for upload (%s); its lines are queued the next time",
                    exc)
