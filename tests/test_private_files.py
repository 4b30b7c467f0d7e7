"""Everything the processes create is private (issue 12, item 4), and the uploader's log is uploaded once.

The real detector and uploader run from a shell-like umask 022; afterwards no
folder or file they (or ``quickcam decrypt``) made may have a group or other bit.
"""

from __future__ import annotations

import io
import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from dotenv import dotenv_values

from quickcam.common.config import load_config
from quickcam.common.cryptofile import Keyring, decrypt, read_header
from quickcam.common.doctor import check_private_paths
from tests.conftest import QUICKCAM
from tests.pipeline import Pipeline
from tests.waiting import wait_until

# Made by the test itself, not by a quickcam process.
TEST_MADE = {"tokens.env", "detector.out", "uploader.out", "decrypt.out"}


@pytest.fixture
def shell_umask() -> Iterator[None]:
    """Children inherit umask 022, as from a login shell."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def _wide(root: Path) -> list[str]:
    found = []
    for path in [root, *root.rglob("*")]:
        if path.name in TEST_MADE or path == root:
            continue
        mode = stat.S_IMODE(path.lstat().st_mode)
        if mode & 0o077:
            found.append(f"{path.relative_to(root)} {mode:03o}")
    return found



@pytest.mark.slow
@pytest.mark.beside_others  # polls for footage with a generous deadline; checks file modes, not times
def test_processes_started_with_umask_022_create_every_path_owner_only(tmp_path: Path, shell_umask) -> None:
    pipe = Pipeline(tmp_path, QUICKCAM_RECORDING__SEGMENT_S="1.0")
    try:
        pipe.start("uploader")
        pipe.start("detector")
        # The demo walker enters at 4 s: wait for footage in the outbox and in storage.
        assert wait_until(lambda: len(pipe.produced()) >= 2 and pipe.stored(), 60), pipe.output("detector")[-2000:]
        assert pipe.stop("detector") == 0
        assert pipe.wait_drained(60), f"missing after drain: {pipe.missing()}"
        assert pipe.stop("uploader") == 0
    finally:
        pipe.close()
    with open(tmp_path / "decrypt.out", "wb") as out:
        done = subprocess.run([QUICKCAM, "decrypt", "storage", "-o", "decrypted"], cwd=tmp_path,
                              stdout=out, stderr=subprocess.STDOUT, timeout=120)
    assert done.returncode == 0, (tmp_path / "decrypt.out").read_text()
    made = {p.name for p in tmp_path.iterdir()}
    assert {"outbox", "spool", "state", "storage", "decrypted"} <= made
    assert any(tmp_path.glob("run.*.log")), made
    assert list((tmp_path / "decrypted").glob("*.mp4")), "nothing decrypted: the check below would be empty"
    assert _wide(tmp_path) == []


@pytest.mark.slow
@pytest.mark.beside_others  # three uploader runs, each awaited; no detector, no wall-clock bound
def test_each_uploader_run_uploads_only_the_log_lines_not_uploaded_before(tmp_path: Path) -> None:
    pipe = Pipeline(tmp_path)
    try:
        for run in range(3):
            pipe.start("uploader")  # its output file keeps every run: wait for this run's line
            assert wait_until(lambda run=run: pipe.output("uploader").count("receiver: listening") > run, 30), \
                pipe.output("uploader")
            assert pipe.stop("uploader") == 0, f"run {run}: {pipe.output('uploader')[-2000:]}"
    finally:
        pipe.close()
    config = load_config(None, {})
    logs = sorted((tmp_path / "storage" / config.uploader.remote_folder / "logs").rglob("*.qsc"))
    assert len(logs) == 3, logs  # one upload per stop, none empty
    keyring = Keyring.from_env(dotenv_values(tmp_path / "tokens.env"))
    uploaded = b"".join(_plaintext(path, keyring) for path in sorted(logs, key=_start_ms))
    on_disk = (tmp_path / "run.uploader.log").read_bytes()
    # Everything up to the last upload, each line once; only the final "stopped" line comes after it.
    assert on_disk.startswith(uploaded)
    assert on_disk[len(uploaded):].count(b"\n") <= 3, on_disk[len(uploaded):]
    assert uploaded.count(b"uploader: destinations") == 3


def _plaintext(path: Path, keyring: Keyring) -> bytes:
    out = io.BytesIO()
    with open(path, "rb") as src:
        decrypt(src, out, keyring)
    return out.getvalue()


def _start_ms(path: Path) -> int:
    with open(path, "rb") as src:
        return read_header(src).context.start_ms


def test_doctor_names_folders_other_users_can_read_with_the_chmod_fix(tmp_path: Path) -> None:
    (tmp_path / "outbox").mkdir(mode=0o700)
    (tmp_path / "spool").mkdir()
    (tmp_path / "spool").chmod(0o755)
    (tmp_path / "run.uploader.log").write_text("x\n")
    (tmp_path / "run.uploader.log").chmod(0o644)
    config = load_config(None, {"QUICKCAM_RECORDING__OUTBOX_DIR": str(tmp_path / "outbox"),
                                "QUICKCAM_UPLOADER__SPOOL_DIR": str(tmp_path / "spool"),
                                "QUICKCAM_UPLOADER__STATE_DIR": str(tmp_path / "state"),
                                "QUICKCAM_LOGGING__FILE": str(tmp_path / "run.log")})
    result = check_private_paths(config)
    assert not result.ok
    assert f"{tmp_path / 'spool'} (mode 755)" in result.detail
    assert f"{tmp_path / 'run.uploader.log'} (mode 644)" in result.detail
    assert str(tmp_path / "outbox") not in result.detail
    assert result.fix == f"chmod -R go-rwx {tmp_path / 'spool'} {tmp_path / 'run.uploader.log'}"
    (tmp_path / "spool").chmod(0o700)
    (tmp_path / "run.uploader.log").chmod(0o600)
    assert check_private_paths(config).ok
