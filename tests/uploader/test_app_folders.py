"""The uploader's own folders (``uploader.state_dir``, ``uploader.spool_dir``) taken by a file at start.

A file where a folder belongs (``state/`` deleted and a file made by its name, or a config
pointing at a file) ended ``quickcam uploader`` in a traceback (``FileExistsError`` from
``mkdir``): now one line naming the file and the fix, exit 2. The same while it runs is
``test_ledger.py`` and ``test_spool.py``: the file is moved aside and the folder made again.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from quickcam.common.cryptofile import SymmetricKey
from tests.conftest import QUICKCAM, free_port, private_endpoint
from tests.pipeline import Pipeline
from tests.waiting import wait_until


def test_a_file_where_an_uploader_folder_belongs_is_one_line_naming_it_not_a_traceback(tmp_path: Path) -> None:
    # state_dir under a file (the walk up to it); spool_dir goes through the same uploader/app.py folder()
    key, folder, file = "uploader.state_dir", "var/state", "var"
    (tmp_path / "tokens.env").write_text(f"ENCRYPTION_KEY={SymmetricKey.generate().to_hex()}\n")
    (tmp_path / "tokens.env").chmod(0o600)
    (tmp_path / file).write_text("someone's")
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUICKCAM_")}
    env |= {"QUICKCAM_LINK__ENDPOINT": private_endpoint(tmp_path), "QUICKCAM_UPLOADER__DESTINATIONS": "local",
            "QUICKCAM_STORAGE__LOCAL__PATH": "storage", "QUICKCAM_" + key.upper().replace(".", "__"): folder}
    run = subprocess.run([QUICKCAM, "uploader"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr[-3000:]
    assert run.stderr.splitlines() == [
        f"quickcam: {key}: {file} is a file, not a folder; move it aside (mv {file} {file}.old) or set {key} to "
        "another folder"], run.stderr
    assert (tmp_path / file).read_text() == "someone's"


def test_a_second_uploader_on_the_same_state_folder_refuses_to_start_in_one_line(tmp_path: Path) -> None:
    # Another endpoint, so the endpoint's lock does not stop it. Before, it ran: two shippers on one ledger and
    # spool, each uploading what was due, the second reporting as failed what the first had uploaded (its spool
    # file gone), both writing state/status.json (quickcam status showed `0 detector(s) connected` while one was).
    pipe = Pipeline(tmp_path)
    try:
        pipe.start_uploader_listening()
        second = subprocess.run(
            [QUICKCAM, "uploader"], cwd=tmp_path, capture_output=True, text=True, timeout=60,
            env={**pipe.env, "QUICKCAM_LINK__ENDPOINT": f"tcp://127.0.0.1:{free_port()}",
                 "QUICKCAM_LINK__ALLOW_PLAIN_TCP": "true"})
        assert second.returncode == 2, second.stderr[-3000:]
        assert second.stderr.splitlines()[-1] == (
            f"quickcam: the state folder state is in use by another uploader (pid {pipe.procs['uploader'].pid}); "
            "stop that one, or give each uploader its own uploader.state_dir"), second.stderr
        assert pipe.procs["uploader"].poll() is None  # the first one runs on untouched
    finally:
        pipe.close()


def _uploader(pipe: Pipeline, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([QUICKCAM, "uploader", "--seconds", "5"], cwd=pipe.root, capture_output=True, text=True,
                          timeout=60, env={**pipe.env, **env})


def test_a_second_uploader_on_the_same_spool_or_socket_names_the_running_ones_state_folder(tmp_path: Path) -> None:
    # Its own state folder, so that the state folder's lock does not stop it. Before, on the spool alone (another
    # endpoint) it ran: at its start it removed the first one's .part files (the writes in flight) and shared its
    # cap; on the ipc socket alone it was refused naming only a pid (`another uploader (pid 1234)`).
    pipe = Pipeline(tmp_path)
    try:
        first = pipe.start_uploader_listening().pid
        running = f"pid {first}, state folder {tmp_path / 'state'}"
        spool = _uploader(pipe, QUICKCAM_UPLOADER__STATE_DIR="state2", QUICKCAM_LINK__ALLOW_PLAIN_TCP="true",
                          QUICKCAM_LINK__ENDPOINT=f"tcp://127.0.0.1:{free_port()}")
        assert spool.returncode == 2 and spool.stderr.splitlines()[-1] == (
            f"quickcam: the spool spool is in use by another uploader ({running}); stop that one, or give each "
            "uploader its own uploader.spool_dir"), spool.stderr[-3000:]
        socket = _uploader(pipe, QUICKCAM_UPLOADER__STATE_DIR="state3", QUICKCAM_UPLOADER__SPOOL_DIR="spool3")
        assert socket.returncode == 2 and socket.stderr.splitlines()[-1] == (
            f"quickcam: link.endpoint: another uploader ({running}) already serves "
            f"{pipe.env['QUICKCAM_LINK__ENDPOINT']}; stop it first, or give this one its own [link] endpoint"
        ), socket.stderr[-3000:]
        assert pipe.procs["uploader"].poll() is None
    finally:
        pipe.close()


def test_a_state_folder_deleted_under_the_uploader_is_locked_again(tmp_path: Path) -> None:
    # `rm -rf state/`: the ledger is written back (test_ledger.py), but its lock had gone with it, so a second
    # uploader on it (another endpoint) started beside the first until a restart: two shippers on one ledger.
    pipe = Pipeline(tmp_path)
    try:
        first = pipe.start_uploader_listening().pid
        assert wait_until(lambda: (tmp_path / "state" / "status.json").exists(), 10)  # its threads have the ledger
        shutil.rmtree(tmp_path / "state")
        assert pipe.wait_for("uploader", "took it again", 10), pipe.output("uploader")[-3000:]
        second = _uploader(pipe, QUICKCAM_LINK__ALLOW_PLAIN_TCP="true",
                           QUICKCAM_LINK__ENDPOINT=f"tcp://127.0.0.1:{free_port()}")
        assert second.returncode == 2 and second.stderr.splitlines()[-1].startswith(
            f"quickcam: the state folder state is in use by another uploader (pid {first}"), second.stderr[-3000:]
    finally:
        pipe.close()


def test_a_spool_deleted_under_an_uploader_with_no_detector_is_made_and_locked_again_at_once(tmp_path: Path) -> None:
    # `rm -rf spool/` with no detector connected: before, the folder was made again (and its lock taken again)
    # only at the next item or credit, so a second uploader on that spool (its own state folder and endpoint)
    # started beside the first meanwhile, for as long as no detector came.
    pipe = Pipeline(tmp_path)
    try:
        first = pipe.start_uploader_listening().pid
        shutil.rmtree(tmp_path / "spool")
        assert pipe.wait_for("uploader", "took it again", 10), pipe.output("uploader")[-3000:]
        assert "spool: the folder spool was deleted while the uploader ran; made it again" in pipe.output("uploader")
        second = _uploader(pipe, QUICKCAM_UPLOADER__STATE_DIR="state2", QUICKCAM_LINK__ALLOW_PLAIN_TCP="true",
                           QUICKCAM_LINK__ENDPOINT=f"tcp://127.0.0.1:{free_port()}")
        assert second.returncode == 2 and second.stderr.splitlines()[-1].startswith(
            f"quickcam: the spool spool is in use by another uploader (pid {first}"), second.stderr[-3000:]
    finally:
        pipe.close()
