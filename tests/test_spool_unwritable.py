"""The uploader's spool made unwritable while it runs: said, and the health check fails after its bound.

Found by ``bench/outside/folder_swaps.py --case spool-ro`` (bench/outside/FINDINGS.md, session 20):
with ``spool/`` at mode 0500 every item was nacked ``busy`` (``cannot store: Permission denied``) and
waited in the detector's outbox, while the uploader's own status line said nothing and the health check
stayed green, for 75 s and for any length of time. Now it counts as refusing footage, as a full spool
does: a note in ``quickcam status`` naming the folders, the health check red after
``uploader.refusing_after_s``, green again once the spool takes the item. The real uploader, run
without CAP_DAC_OVERRIDE (``as_a_user``) so the mode holds for it as for any user, and a detector's
side of the link speaking to it.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from quickcam.common import protocol
from tests.conftest import QUICKCAM
from tests.pipeline import Pipeline
from tests.test_curve import Client, snapshot
from tests.waiting import wait_until


def _status(pipe: Pipeline, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([QUICKCAM, "status", *args], cwd=pipe.root, env=pipe.env, capture_output=True, text=True,
                          timeout=30)


def test_a_spool_the_uploader_may_not_write_is_said_and_fails_the_health_check(tmp_path: Path,
                                                                                  as_a_user: list[str]) -> None:
    pipe = Pipeline(tmp_path, QUICKCAM_UPLOADER__DESTINATIONS="local", QUICKCAM_UPLOADER__REFUSING_AFTER_S="2")
    with open(tmp_path / "uploader.out", "ab") as out:
        pipe.procs["uploader"] = subprocess.Popen([*as_a_user, QUICKCAM, "uploader"], cwd=tmp_path, env=pipe.env,
                                                  stdout=out, stderr=subprocess.STDOUT)
    client = None
    try:
        assert pipe.wait_for("uploader", "receiver: listening", 60), pipe.output("uploader")
        client = Client(pipe.env["QUICKCAM_LINK__ENDPOINT"])
        assert client.hello(["cam0"]).type == "credit"
        (tmp_path / "spool").chmod(0o500)
        header, payload = snapshot()
        frames = protocol.encode(protocol.Message(header, payload))
        reply = client.request(frames)
        assert reply.type == "nack" and reply.header["code"] == "busy", reply.header
        assert wait_until(lambda: "REFUSING footage" in _status(pipe, "--healthcheck", "uploader").stderr, 30), \
            _status(pipe, "--healthcheck", "uploader")
        check = _status(pipe, "--healthcheck", "uploader")
        assert check.returncode == 1 and "Permission denied" in check.stderr and "may write" in check.stderr, check
        assert "not accepting footage: cannot store: Permission denied into the spool" in _status(pipe).stdout
        (tmp_path / "spool").chmod(0o700)
        assert client.request(frames).type == "ack"  # the detector's next try is taken
        assert wait_until(lambda: _status(pipe, "--healthcheck", "uploader").returncode == 0, 30), \
            _status(pipe, "--healthcheck", "uploader")
        assert "footage is stored again" in pipe.output("uploader")
    finally:
        (tmp_path / "spool").chmod(0o700)
        if client is not None:
            client.close()
        pipe.close()
