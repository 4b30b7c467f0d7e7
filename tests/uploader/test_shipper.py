"""The ledger and shipper: every destination must confirm before a spool file goes."""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

import pytest

from quickcam.uploader.backends import PermanentError, RetryableError
from quickcam.uploader.backends.local import LocalBackend
from quickcam.uploader.ledger import Item, Ledger
from quickcam.uploader.shipper import Shipper
from tests.conftest import QUICKCAM


class FlakyBackend(LocalBackend):
    """A real local back end that fails its first ``failures`` uploads."""

    def __init__(self, path: Path, failures: int, error: type[Exception] = RetryableError) -> None:
        super().__init__(path)
        self.failures, self.error, self.calls = failures, error, 0

    def upload(self, local_path: Path, remote_key: str) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error(f"injected failure {self.calls}")
        return super().upload(local_path, remote_key)


def _spooled_item(tmp_path: Path, ledger: Ledger, item_id: str, kind: str, destinations: list[str]) -> Path:
    spool = tmp_path / "spool"
    spool.mkdir(exist_ok=True)
    path = spool / f"{item_id}.qsc"
    path.write_bytes(b"encrypted " + item_id.encode())
    ledger.add(Item(item_id, "0" * 64, kind, "cam0", "ev1", 0, 10, str(path), f"f/cam0/{item_id}.qsc", time.time()),
               destinations)
    return path


def _shipper(tmp_path: Path, backends: dict) -> tuple[Shipper, Ledger]:
    path = tmp_path / "state" / "ledger.sqlite3"
    ledger = Ledger(path)
    return Shipper(path, backends, retry_base_s=0.01, retry_max_s=0.05), ledger


def _run_until_quiet(shipper: Shipper, ledger: Ledger, rounds: int = 200) -> None:
    for _ in range(rounds):
        shipper.run_once(ledger)
        if ledger.next_due_in() is None:
            return
        time.sleep(0.01)


def test_retryable_failures_are_retried_until_uploaded_then_the_spool_file_goes(tmp_path: Path) -> None:
    backend = FlakyBackend(tmp_path / "storage", failures=3)
    shipper, ledger = _shipper(tmp_path, {"local": backend})
    spooled = _spooled_item(tmp_path, ledger, "a1", "segment", ["local"])
    _run_until_quiet(shipper, ledger)
    assert backend.calls == 4
    assert (tmp_path / "storage" / "f/cam0/a1.qsc").read_bytes() == b"encrypted a1"
    assert not spooled.exists()
    [row] = ledger.summary()
    assert (row["uploaded"], row["pending"], row["failed"]) == (1, 0, 0)


def test_permanent_failure_keeps_the_file_and_retry_command_requeues_it(tmp_path: Path) -> None:
    backend = FlakyBackend(tmp_path / "storage", failures=1, error=PermanentError)
    shipper, ledger = _shipper(tmp_path, {"local": backend})
    spooled = _spooled_item(tmp_path, ledger, "b1", "segment", ["local"])
    _run_until_quiet(shipper, ledger)
    [row] = ledger.summary()
    assert row["failed"] == 1 and "injected failure 1" in row["last_error"]
    assert spooled.exists()

    run = subprocess.run([QUICKCAM, "retry"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and "1 failed upload(s) queued again" in run.stdout
    _run_until_quiet(shipper, ledger)
    assert not spooled.exists()
    assert ledger.summary()[0]["uploaded"] == 1


def test_an_item_is_done_only_when_every_destination_confirms(tmp_path: Path) -> None:
    good = LocalBackend(tmp_path / "cloud")
    down = FlakyBackend(tmp_path / "nas", failures=10**6)
    shipper, ledger = _shipper(tmp_path, {"cloud": good, "nas": down})
    spooled = _spooled_item(tmp_path, ledger, "c1", "segment", ["cloud", "nas"])
    for _ in range(20):
        shipper.run_once(ledger)
        time.sleep(0.01)
    assert (tmp_path / "cloud" / "f/cam0/c1.qsc").exists()
    assert spooled.exists(), "deleted before the NAS confirmed"
    down.failures = 0
    _run_until_quiet(shipper, ledger)
    assert not spooled.exists()


def test_snapshots_go_before_older_segments(tmp_path: Path) -> None:
    order: list[str] = []

    class Recording(LocalBackend):
        def upload(self, local_path: Path, remote_key: str) -> str:
            order.append(local_path.stem)
            return super().upload(local_path, remote_key)

    shipper, ledger = _shipper(tmp_path, {"local": Recording(tmp_path / "s")})
    _spooled_item(tmp_path, ledger, "01seg", "segment", ["local"])
    _spooled_item(tmp_path, ledger, "02seg", "segment", ["local"])
    _spooled_item(tmp_path, ledger, "03snap", "snapshot", ["local"])
    shipper.run_once(ledger)
    assert order == ["03snap", "01seg", "02seg"]


def test_an_outage_costs_one_attempt_per_round_not_one_per_file(tmp_path: Path) -> None:
    down = FlakyBackend(tmp_path / "s", failures=10**6)
    shipper, ledger = _shipper(tmp_path, {"local": down})
    for n in range(5):
        _spooled_item(tmp_path, ledger, f"d{n}", "segment", ["local"])
    shipper.run_once(ledger)
    assert down.calls == 1


@pytest.mark.parametrize("bad_key", ["../escape.qsc", "a/../../escape.qsc"])
def test_local_backend_refuses_keys_that_escape_its_folder(tmp_path: Path, bad_key: str) -> None:
    source = tmp_path / "x"
    source.write_bytes(b"x")
    with pytest.raises(PermanentError):
        LocalBackend(tmp_path / "storage").upload(source, bad_key)


def test_an_idle_shipper_stops_at_once_not_after_its_next_look(tmp_path: Path) -> None:
    """An idle shipper sleeps up to 1 s before looking at the ledger again; the uploader's stop cut it short.

    Before, the stop only set ``stop_event``, and every uploader stop (each test's, each service
    restart's) waited out the rest of that second. The stop is asked the moment the shipper goes
    idle, so the old code's wait was the whole second.
    """
    shipper, ledger = _shipper(tmp_path, {"local": LocalBackend(tmp_path / "storage")})
    ledger.close()
    thread = threading.Thread(target=shipper.run, daemon=True)
    thread.start()
    assert shipper.idle.wait(10), "the shipper never went idle with nothing to upload"
    asked = time.monotonic()
    shipper.stop()
    thread.join(10)
    took = time.monotonic() - asked
    assert not thread.is_alive()
    assert took < 0.5, f"the idle shipper took {took:.2f} s to stop"


class AlternatingBackend(LocalBackend):
    """A real local back end that fails every other upload: a destination that flaps."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.calls = 0

    def upload(self, local_path: Path, remote_key: str) -> str:
        self.calls += 1
        if self.calls % 2:
            raise RetryableError(f"injected failure {self.calls}")
        return super().upload(local_path, remote_key)


def test_a_flapping_destination_is_said_a_line_a_minute_not_two_lines_a_streak(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # The minute was reset at each success: a full failure line and a recovery line per failed streak.
    backend = AlternatingBackend(tmp_path / "storage")
    shipper, ledger = _shipper(tmp_path, {"local": backend})
    for n in range(5):
        _spooled_item(tmp_path, ledger, f"a{n}", "segment", ["local"])
    caplog.set_level("INFO", logger="quickcam.uploader.shipper")
    _run_until_quiet(shipper, ledger)
    said = [r.getMessage() for r in caplog.records if r.levelname == "WARNING" or "stored again" in r.getMessage()]
    assert backend.calls == 10 and len(said) == 2, said  # the first failure, and its streak's end
    assert "failed (attempt 1): injected failure 1" in said[0], said
    assert said[1].startswith("local: stored again after 1 failed attempt(s)"), said
    shipper.failures_said["local"].said_at -= 61  # a minute later, working: the four failures held back are said
    caplog.clear()
    shipper.run_once(ledger)
    said = [r.getMessage() for r in caplog.records]
    assert said == ["local: 4 failed attempt(s) since the last line, in 4 streak(s) each ended by an upload that "
                    "worked (it fails and works by turns); it works now"], said
    [row] = ledger.summary()
    assert (row["uploaded"], row["failed_tries"]) == (5, 5), row  # every attempt counted (`quickcam status`)


def test_a_destination_down_says_its_first_failure_then_a_line_a_minute_and_its_recovery(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # One warning per attempt wrote ~1500 lines a day per destination down (bench/outside/sftp_killed.py).
    backend = FlakyBackend(tmp_path / "storage", failures=20)
    shipper, ledger = _shipper(tmp_path, {"local": backend})
    _spooled_item(tmp_path, ledger, "a1", "segment", ["local"])
    caplog.set_level("INFO", logger="quickcam.uploader.shipper")
    while backend.calls < 10:
        shipper.run_once(ledger)
        time.sleep(0.01)
    shipper.failures_said["local"].said_at -= 61  # a minute later
    _run_until_quiet(shipper, ledger)
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 2, warnings
    assert "failed (attempt 1): injected failure 1" in warnings[0], warnings
    assert warnings[1].startswith("local: 10 failed attempt(s) since the last line; latest: upload of a1 to local "
                                  "failed (attempt 11): injected failure 11"), warnings
    said = [r.getMessage() for r in caplog.records if "stored again" in r.getMessage()]
    assert len(said) == 1 and said[0].startswith("local: stored again after 20 failed attempt(s) over "), said
    [row] = ledger.summary()
    assert (row["uploaded"], row["failed_tries"]) == (1, 20), row  # every attempt counted (`quickcam status`)


def test_an_upload_thread_that_cannot_start_is_said_as_the_thread_limit_and_uploads_resume(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # The user's process/thread limit reached (ulimit -u, TasksMax=): it was `cannot update the ledger … (can't
    # start new thread); free space on its disk` with a traceback (bench/outside/FINDINGS.md #51). A stack no
    # machine can map makes the thread's start fail for real here.
    shipper, ledger = _shipper(tmp_path, {"local": LocalBackend(tmp_path / "storage")})
    runner = threading.Thread(target=shipper.run, daemon=True)
    runner.start()
    try:
        threading.stack_size(1 << 46)
        try:
            _spooled_item(tmp_path, ledger, "t1", "segment", ["local"])
            shipper.wake.set()
            deadline = time.monotonic() + 10
            while "ulimit -u" not in shipper.fault and time.monotonic() < deadline:
                time.sleep(0.02)
        finally:
            threading.stack_size(0)
        assert "cannot start a thread for an upload (can't start new thread)" in shipper.fault, shipper.fault
        assert "ledger" not in shipper.fault
        said = [r for r in caplog.records if "cannot start a thread" in r.getMessage()]
        assert said and not any(r.exc_info for r in said)
        deadline = time.monotonic() + 10
        while not (tmp_path / "storage" / "f/cam0/t1.qsc").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert (tmp_path / "storage" / "f/cam0/t1.qsc").exists()
    finally:
        shipper.stop()
        runner.join(10)
