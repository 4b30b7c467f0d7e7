"""``quickcam view`` as a real process on a test store: started, its URL read, stopped."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from quickcam.common.cryptofile import SymmetricKey
from tests.conftest import QUICKCAM

URL_RE = re.compile(r"open: (http://\S+/\?token=(\S+))")


@dataclass
class Served:
    process: subprocess.Popen[str]
    url: str
    token: str
    home: Path  # HOME, TMPDIR and the working folder of the process: must stay empty
    stderr: list[str]

    @property
    def base(self) -> str:
        return self.url.split("/?")[0]

    def stop(self) -> str:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        rest = self.process.stderr.read() if self.process.stderr else ""
        return "".join(self.stderr) + rest


def write_setup(tmp_path: Path, storage: Path, key: SymmetricKey) -> Path:
    """quickcam.toml and tokens.env for a store under ``storage``; returns the config path."""
    env_file = tmp_path / "tokens.env"
    env_file.write_text(f"ENCRYPTION_KEY={key.to_hex()}\n")
    env_file.chmod(0o600)
    config = tmp_path / "quickcam.toml"
    config.write_text(f'env_file = "{env_file}"\n[uploader]\nstate_dir = "{tmp_path / "state"}"\n'
                      f'destinations = ["local"]\n[storage.local]\npath = "{storage}"\n')
    return config


def start_view(config: Path, home: Path, *args: str, timeout_s: float = 60.0) -> Served:
    """Run ``quickcam view`` with an empty HOME/TMPDIR/working folder; wait for its URL."""
    home.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUICKCAM_") and not k.startswith("ENCRYPTION")}
    env.update(HOME=str(home), TMPDIR=str(home), PYTHONDONTWRITEBYTECODE="1")
    process = subprocess.Popen([QUICKCAM, "view", "--config", str(config), *args], cwd=home, env=env,
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    deadline = time.monotonic() + timeout_s
    assert process.stderr is not None
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        lines.append(line)
        match = URL_RE.search(line)
        if match:
            return Served(process, match.group(1), match.group(2), home, lines)
    process.kill()
    raise AssertionError("quickcam view printed no URL:\n" + "".join(lines) + (process.stderr.read() or ""))
