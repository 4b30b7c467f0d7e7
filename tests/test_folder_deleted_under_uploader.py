"""The folder the uploader runs in deleted under it (`rm -rf` of the install, a clean-up of /tmp): its stop
ended in a traceback, exit 1, at the ledger's folder it could not make again (bench/outside/FINDINGS.md #55,
cwd_gone.py). Now one line says the ledger cannot be opened at the stop."""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from pathlib import Path

from quickcam.common.cryptofile import SymmetricKey
from tests.conftest import QUICKCAM, private_endpoint


def test_a_stop_after_the_uploaders_folder_was_deleted_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    folder = tmp_path / "install"
    folder.mkdir()
    (folder / "tokens.env").write_text(f"ENCRYPTION_KEY={SymmetricKey.generate().to_hex()}\n")
    (folder / "tokens.env").chmod(0o600)
    (folder / "quickcam.toml").write_text(f'[storage.local]\npath = "{tmp_path / "nas"}"\n')
    out = tmp_path / "uploader.out"
    with open(out, "wb") as log:
        proc = subprocess.Popen([QUICKCAM, "uploader", "--config", "quickcam.toml"], cwd=folder, stdout=log,
                                stderr=subprocess.STDOUT,
                                env={"PATH": "/usr/bin:/bin", "QUICKCAM_LINK__ENDPOINT": private_endpoint(folder)})
    try:
        deadline = time.monotonic() + 60
        while "receiver: listening" not in out.read_text() and time.monotonic() < deadline:
            assert proc.poll() is None, out.read_text()
            time.sleep(0.1)
        shutil.rmtree(folder)
        time.sleep(1.5)  # a housekeeping pass or more with its folders gone
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
    text = out.read_text()
    assert "Traceback" not in text.split("uploader: stopping")[-1], text[-3000:]
    assert "cannot open the ledger state/ledger.sqlite3 at the stop" in text, text[-3000:]
