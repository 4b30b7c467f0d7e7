"""``quickcam console-password`` from a pipe: one line read quietly, the hash file written 0600; an empty pipe
is one line naming the fix."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

from tests.conftest import QUICKCAM


def _run(tmp_path: Path, piped: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "quickcam.toml").write_text('[console]\npassword_file = "console.passwd"\n')
    return subprocess.run([QUICKCAM, "console-password", "--config", "quickcam.toml", "--user", "alice"],
                          cwd=tmp_path, input=piped, capture_output=True, text=True, timeout=60)


def test_a_piped_password_is_read_without_warnings_and_saved_private(tmp_path: Path) -> None:
    result = _run(tmp_path, "a long enough secret\n")
    assert result.returncode == 0 and "Warning" not in result.stderr, result
    saved = tmp_path / "console.passwd"
    assert saved.read_text().startswith("alice:scrypt$") and "a long enough secret" not in saved.read_text()
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600


def test_an_empty_pipe_is_one_line_naming_the_fix(tmp_path: Path) -> None:
    result = _run(tmp_path, "")
    assert result.returncode == 1 and "no password on stdin" in result.stderr, result
    assert "Traceback" not in result.stderr and not (tmp_path / "console.passwd").exists()
