"""The uploader's ipc:// socket file deleted while it runs (a clean-up of /tmp or /run, ``rm -rf`` of its folder).

Found in the fault sweep of 2026-12-06: the connections made before the deletion went on, but a
detector that connected anew (restarted, or its connection dropped) found no socket file. It stayed
``NOT CONNECTED`` with its footage piling up in its outbox (25 items in 25 s) until the uploader was
restarted, while neither process logged a word and ``quickcam status --healthcheck`` said
``healthy``. Now the uploader looks for its socket file at every housekeeping pass (1 s), makes the
folder again if it went too, listens on the endpoint again and says so in one error line; the
restarted detector's footage is stored.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.pipeline import QUICK_DEMO, Pipeline
from tests.waiting import wait_until


@pytest.mark.slow
@pytest.mark.beside_others  # every wait polled (the uploader runs throughout), no bound on time
def test_a_deleted_socket_folder_is_made_again_and_a_detector_started_after_it_delivers(tmp_path: Path) -> None:
    pipe = Pipeline(tmp_path, QUICKCAM_RECORDING__SEGMENT_S="1", **QUICK_DEMO)
    socket_folder = Path(pipe.env["QUICKCAM_LINK__ENDPOINT"][len("ipc://"):]).parent
    try:
        pipe.start_uploader_listening()
        pipe.start("detector")
        assert wait_until(lambda: pipe.stored(), 60), pipe.output("detector")[-3000:]
        shutil.rmtree(socket_folder)  # the socket file, the endpoint's lock, the folder
        assert pipe.stop("detector") == 0
        before = len(pipe.produced())
        pipe.start("detector")  # connects anew: it needs the file
        assert pipe.wait_for("uploader", "was deleted while the uploader ran (a clean-up of its folder?); listening "
                             "on it again", 30), pipe.output("uploader")[-3000:]
        assert (socket_folder.stat().st_mode & 0o777) == 0o700
        assert (socket_folder / "uploader.lock").read_text().startswith(f"{pipe.procs['uploader'].pid}, state folder ")
        assert wait_until(lambda: len(pipe.produced()) > before + 3 and not pipe.missing(), 60), \
            (pipe.missing(), pipe.output("detector")[-3000:])  # the restarted detector's footage is stored
        assert pipe.stop("detector") == 0
        assert pipe.wait_drained(30), pipe.missing()
        assert pipe.stop("uploader") == 0
    finally:
        pipe.close()
    assert "Traceback" not in pipe.output("uploader") + pipe.output("detector")
    pipe.check_invariant()
