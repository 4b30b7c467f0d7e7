"""A folder destination whose file system acknowledges writes it does not keep (a NAS or network file system
gone wrong; `tests/fakes/short_writes.c` keeps 4 KiB of each file under the folder): the copy is not counted
stored. Before, the uploader counted it (bench/outside/stored_short.py --local: 9 of 24 items stored short,
undecryptable; FINDINGS #47)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.fakes.shims import preload_shim

UPLOAD = """
import sys
from pathlib import Path
from quickcam.uploader.backends import RetryableError
from quickcam.uploader.backends.local import LocalBackend
try:
    LocalBackend(sys.argv[1]).upload(Path(sys.argv[2]), "cam0/item.qsc")
    print("stored")
except RetryableError as exc:
    print("retryable:", exc)
"""


def test_a_copy_the_file_system_kept_short_is_retryable_and_not_left_at_the_key(tmp_path: Path) -> None:
    item = tmp_path / "item.qsc"
    item.write_bytes(os.urandom(50_000))
    (tmp_path / "cutting").touch()
    env = {**os.environ, "LD_PRELOAD": str(preload_shim("short_writes", tmp_path)),
           "QC_SHORT_WRITES_WHEN": str(tmp_path / "cutting"), "QC_SHORT_WRITES_MATCH": f"{tmp_path}/nas/",
           "QC_SHORT_WRITES_KEEP": "4096"}
    run = subprocess.run([sys.executable, "-c", UPLOAD, str(tmp_path / "nas"), str(item)], env=env,
                         capture_output=True, text=True, timeout=60)
    assert run.stdout.startswith("retryable: local storage"), run.stdout + run.stderr
    assert "stored 4096 bytes of 50000" in run.stdout
    assert not (tmp_path / "nas" / "cam0" / "item.qsc").exists()
    assert list((tmp_path / "nas" / "cam0").iterdir()) == []  # no .part left either
