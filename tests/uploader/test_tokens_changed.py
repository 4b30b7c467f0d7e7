"""``tokens.env`` changed under the running uploader: said once, in its log and in ``quickcam status``.

Before, the uploader went on with the key it started with and said nothing (docs/reliability.md,
the sixteenth session's faults): a person who rotated the key believed it in use.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

from quickcam.common.cryptofile import SymmetricKey
from quickcam.uploader.cli import status_report
from tests.test_curve import running_uploader
from tests.waiting import wait_until

SAID = re.compile(r"tokens\.env changed at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC; restart the uploader to use it")


def test_a_changed_tokens_env_is_said_once_in_the_log_and_status_and_a_touch_is_not(workdir: Path) -> None:
    tokens = workdir / "tokens.env"
    with running_uploader(workdir) as up:
        os.utime(tokens)  # touched (or saved unchanged by an editor): the same secrets, nothing to say
        time.sleep(0.6)  # the main loop looks every 0.2 s
        touched = up.output()
        new_key = SymmetricKey.generate().to_hex()
        tokens.write_text(f"ENCRYPTION_KEY={new_key}\n")
        up.wait_for("restart the uploader to use it", timeout=5)
        tokens.write_text(f"ENCRYPTION_KEY={SymmetricKey.generate().to_hex()}\n")  # again: still one line
        assert wait_until(lambda: SAID.search(" ".join(up.status().get("notes", []))), 5), up.status()
        lines = status_report(up.status(), {}, [], workdir / "state" / "ledger.sqlite3", time.time())
        time.sleep(0.6)
        output = up.output()
    assert "restart the uploader" not in touched, touched
    assert len(SAID.findall(output)) == 1, output
    assert "it still uses the ones it started with" in output, output
    assert new_key not in output  # a secret is never logged
    assert any(SAID.search(line) and line.startswith("uploader: ") for line in lines), lines
