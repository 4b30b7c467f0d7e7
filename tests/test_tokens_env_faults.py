"""tokens.env that cannot be read, or is not a file: one line with the fix, never a traceback.

Tests run as root, which enters any folder: the processes here run under ``setpriv`` without
CAP_DAC_OVERRIDE (the ``as_a_user`` fixture), so modes hold as for the user quickcam runs as.
"""

from __future__ import annotations

import logging
import os
import subprocess
from pathlib import Path

import pytest

from quickcam.common.secrets import load_secrets
from tests.conftest import QUICKCAM
from tests.own_logs import own_records


def _env(**extra: str) -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("QUICKCAM_")} | extra


def test_a_tokens_env_behind_a_folder_this_user_may_not_enter_is_one_line_and_a_red_doctor_row(
        tmp_path: Path, as_a_user: list[str]) -> None:
    """Before: Python 3.11's Path.is_file raised the PermissionError, and the uploader and the doctor
    ended in a traceback."""
    folder = tmp_path / "secrets"
    folder.mkdir()
    key = subprocess.run([QUICKCAM, "keygen"], capture_output=True, text=True, check=True).stdout
    (folder / "tokens.env").write_text(key)
    (folder / "tokens.env").chmod(0o600)
    folder.chmod(0)
    try:
        env = _env(QUICKCAM_ENV_FILE="secrets/tokens.env")
        uploader = subprocess.run([*as_a_user, QUICKCAM, "uploader"], cwd=tmp_path, env=env, capture_output=True,
                                  text=True, timeout=60)
        doctor = subprocess.run([*as_a_user, QUICKCAM, "doctor", "--only", "uploader"], cwd=tmp_path, env=env,
                                capture_output=True, text=True, timeout=60)
    finally:
        folder.chmod(0o700)
    assert uploader.returncode == 2 and "Traceback" not in uploader.stderr, uploader.stderr[-3000:]
    assert uploader.stderr.splitlines() == [
        "quickcam: cannot read secrets/tokens.env (Permission denied); check its owner and mode and its folders' "
        "(chmod 600 it; the user running quickcam must be able to enter each folder)"], uploader.stderr
    output = doctor.stdout + doctor.stderr
    assert doctor.returncode == 1 and "Traceback" not in output, output[-3000:]
    assert ("FAIL  secrets/tokens.env: cannot be looked up: Permission denied; fix: let the user running quickcam "
            "enter each folder on its path") in output, output


def test_an_unreadable_tokens_env_is_a_red_doctor_row_and_the_other_checks_still_run(
        tmp_path: Path, as_a_user: list[str]) -> None:
    """Before: the doctor's row said so, but load_secrets's ConfigError then ended the doctor (only OSError
    was caught), the other checks never ran, and its last word was a bare one-line config error."""
    (tmp_path / "tokens.env").write_text("ENCRYPTION_KEY=x\n")
    (tmp_path / "tokens.env").chmod(0)
    doctor = subprocess.run([*as_a_user, QUICKCAM, "doctor", "--only", "uploader"], cwd=tmp_path, env=_env(),
                            capture_output=True, text=True, timeout=120)
    output = doctor.stdout + doctor.stderr
    assert doctor.returncode == 1 and "Traceback" not in output, output[-3000:]
    assert "FAIL  tokens.env: cannot be read: Permission denied" in output, output
    assert " ok   storage local: test upload to " in output, output  # the checks after it ran


def test_a_tokens_env_that_is_a_directory_is_said_not_silently_skipped(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Docker makes a directory where a file it should bind-mount is missing: its secrets were skipped without a
    word, and the only line was "ENCRYPTION_KEY is not set ... put the line in tokens.env"."""
    (tmp_path / "tokens.env").mkdir()
    with caplog.at_level(logging.WARNING):
        secrets = load_secrets(tmp_path / "tokens.env", environ={"ENCRYPTION_KEY": "from the environment"})
    assert secrets == {"ENCRYPTION_KEY": "from the environment"}  # the environment still serves
    assert [r.getMessage() for r in own_records(caplog)] == [
        f"{tmp_path / 'tokens.env'} is a directory, not the file of KEY=value lines; its secrets are not read (Docker "
        "makes a directory where a file it should mount is missing): remove it and put tokens.env there"]


def test_a_missing_env_file_is_named_before_the_key_it_would_hold(tmp_path: Path) -> None:
    """Before: `env_file = "nope.env"` (misspelled, or not copied yet) said "ENCRYPTION_KEY is not set; … put the
    line in tokens.env": the wrong file, and not that the one named is missing (bench/outside #13)."""
    (tmp_path / "tokens.env").write_text("ENCRYPTION_KEY=" + "0" * 64 + "\n")  # the file it should have named
    (tmp_path / "quickcam.toml").write_text('env_file = "nope.env"\n')
    run = subprocess.run([QUICKCAM, "uploader", "--config", "quickcam.toml"], cwd=tmp_path, env=_env(),
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr[-3000:]
    assert run.stderr.splitlines()[-1] == (
        "quickcam: env_file nope.env does not exist, so ENCRYPTION_KEY is not set; fix env_file in the config (or "
        "QUICKCAM_ENV_FILE), or make the file: quickcam keygen > nope.env && chmod 600 nope.env"), run.stderr


def test_a_start_with_another_key_than_the_footage_before_says_so_once(tmp_path: Path) -> None:
    """`quickcam keygen > tokens.env` run again gave the uploader a new key without a word: everything stored
    before then decrypts only with the key just overwritten (bench/outside/key_swapped.py)."""
    from quickcam.common.crypto_keys import Keyring, SymmetricKey
    from tests.pipeline import Pipeline
    from tests.waiting import wait_until

    said = "is not the one footage was stored with before"
    pipe = Pipeline(tmp_path)
    try:
        pipe.start_uploader_listening()
        assert pipe.stop("uploader") == 0
        (tmp_path / "tokens.env").write_text(f"{Keyring.ENV_KEY}={SymmetricKey.generate().to_hex()}\n")
        pipe.start_uploader_listening()
        assert said in pipe.output("uploader")
        status = lambda: subprocess.run([QUICKCAM, "status"], cwd=tmp_path, env=pipe.env,  # noqa: E731
                                        capture_output=True, text=True, timeout=30).stdout
        assert wait_until(lambda: said in status(), 10), status()  # at its next status write
        assert "ENCRYPTION_KEYS_OLD" in status()
        assert pipe.stop("uploader") == 0
        pipe.start_uploader_listening()  # the same new key again: nothing to say
        assert pipe.output("uploader").count(said) == 1, pipe.output("uploader")
    finally:
        pipe.close()
