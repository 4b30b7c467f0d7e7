"""A camera figure the protocol refuses never stops the link: the status is fitted, or sent minimal, footage flows.

Before, one such value (a frame rate measured across a clock step, a NaN, a fault
text past its limit) made the link thread fail on every heartbeat it encoded and
start again, and the footage waiting in the outbox was not delivered either
(docs/reliability.md scenario 19).
"""

from __future__ import annotations

import logging
import math
import os
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quickcam.common import protocol
from quickcam.common.config import LinkConfig
from quickcam.detector import status_file
from quickcam.detector.link import UploaderLink
from quickcam.detector.link_state import LinkState
from quickcam.detector.outbox import Outbox
from quickcam.detector.status_header import StatusHeaders, fit_camera_status
from quickcam.uploader.cli import detector_line, relayed_lines
from tests.own_logs import own_records
from tests.test_curve import running_uploader, snapshot
from tests.waiting import wait_until

GOOD = {"state": "ok", "fps": 10.0, "frames": 100, "dropped": 0}


def _encodes(cameras: dict[str, Any]) -> None:
    protocol.encode_header(protocol.make_header("status", cameras=cameras, outbox_depth=0))


def test_a_good_status_is_sent_as_it_is() -> None:
    status = {**GOOD, "fault": "", "loops": {"capture": {"alive": True, "beat_s": 0.1}}, "recording": False}
    assert fit_camera_status(status) == (status, [])


def test_each_refused_value_is_fitted_to_its_rule_and_named_in_the_fault() -> None:
    fitted, fixed = fit_camera_status({"state": "OK", "fps": 5000.0, "frames": -1, "dropped": float("nan"),
                                       "width": 1e9, "dark": "no", "loops": {"x": object()}})
    _encodes({"cam0": fitted})
    assert fitted["state"] == "ok" and fitted["fps"] == 1000.0 and fitted["frames"] == 0
    assert fitted["dropped"] == 0 and fitted["width"] == 65535 and "dark" not in fitted and "loops" not in fitted
    assert [f.split()[0] for f in fixed] == ["state", "fps", "frames", "dropped", "width", "dark", "loops"]
    assert fitted["fault"].startswith("status value(s) the protocol refuses: state 'OK' sent as 'ok'; fps 5000.0")


def test_a_long_fault_in_a_script_of_many_bytes_is_cut_to_its_byte_limit_keeping_whole_characters() -> None:
    fitted, fixed = fit_camera_status({**GOOD, "fault": "caméra — perdue " * 40})  # 300 characters, ~400 bytes
    _encodes({"cam0": fitted})
    assert fixed == [] and len(fitted["fault"].encode()) <= protocol.FAULT_MAX
    assert fitted["fault"].startswith("caméra — perdue")


def test_the_cameras_own_fault_comes_first_and_the_fix_is_still_named() -> None:
    fitted, _ = fit_camera_status({**GOOD, "state": "lost", "fps": -1.0, "fault": "cannot open stream " * 30})
    _encodes({"cam0": fitted})
    assert fitted["fault"].startswith("cannot open stream") and "fps -1.0 sent as 0.0" in fitted["fault"]


_values = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=400),
                    st.binary(max_size=8), st.lists(st.integers(), max_size=3))


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from([f.name for f in protocol.CAMERA_STATUS_FIELDS] + ["x"]),
                       _values))
def test_whatever_a_camera_status_holds_the_fitted_status_encodes(status: dict[str, Any]) -> None:
    fitted, fixed = fit_camera_status(status)
    _encodes({"cam0": fitted})
    assert bool(fixed) == ("fault" in fitted and "protocol refuses" in fitted["fault"])


def test_a_status_that_cannot_be_built_is_sent_minimal_counted_and_logged_once(caplog) -> None:
    state = LinkState()

    def broken() -> dict[str, Any]:
        raise ZeroDivisionError("division by zero")

    headers = StatusHeaders(["cam0", "cam1"], broken, state)
    for _ in range(5):
        header = headers.build((2, 100))
        protocol.encode_header(header)
    assert set(header["cameras"]) == {"cam0", "cam1"} and header["outbox_depth"] == 2
    assert header["cameras"]["cam0"]["state"] == "unknown"
    assert "camera status failed (ZeroDivisionError" in header["cameras"]["cam0"]["fault"]
    assert state.bad_status == 5
    assert len([r for r in caplog.records if "cannot send this detector's status" in r.getMessage()]) == 1

    headers = StatusHeaders(["cam0"], lambda: {"cam 0": GOOD, "cam0": {**GOOD, "state": "lost"}}, state)
    header = headers.build((0, 0))  # a camera id the protocol refuses: each camera's state alone
    assert header["cameras"] == {"cam0": {**GOOD, "state": "lost", "fps": 0.0, "frames": 0,
                                          "fault": header["cameras"]["cam0"]["fault"]}}
    assert "'cam 0' is not a camera id" in header["cameras"]["cam0"]["fault"]


@pytest.mark.realtime  # a real uploader, heartbeats on the wall clock
def test_a_bad_camera_figure_does_not_hold_up_footage_and_the_uploader_shows_the_fault(
    workdir: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="quickcam.detector")
    figures: dict[str, Any] = {"cam0": {**GOOD, "fps": math.inf, "fault": "x" * 500}}

    def camera_status() -> dict[str, Any]:
        if isinstance(figures["cam0"], Exception):
            raise figures["cam0"]
        return {"cam0": dict(figures["cam0"])}

    outbox = Outbox(workdir / "outbox")
    config = LinkConfig(endpoint=os.environ["QUICKCAM_LINK__ENDPOINT"], ack_timeout_s=3, heartbeat_s=0.2)
    link = UploaderLink(config, outbox, ["cam0"], camera_status=camera_status)
    with running_uploader(workdir) as uploader:
        for _ in range(3):
            outbox.commit_bytes(*snapshot())
        link.start()
        try:
            assert wait_until(lambda: not outbox.pending() and link.state.acked == 3, 20), caplog.text[-2000:]
            assert wait_until(lambda: "fps inf sent as 1000.0" in _uploader_fault(uploader), 15)
            wait_until(lambda: link.state.bad_status >= 8, 10)  # several heartbeats, each fixed
            lines = relayed_lines(uploader.status(), set(), time.time())
            assert any(line.startswith("camera cam0: ok (xxx") and "fps inf sent as 1000.0" in line
                       for line in lines), lines

            figures["cam0"] = RuntimeError("a pipeline's status broke")
            outbox.commit_bytes(*snapshot())
            assert wait_until(lambda: not outbox.pending() and link.state.acked == 4, 20), caplog.text[-2000:]
            assert wait_until(lambda: "a pipeline's status broke" in _uploader_fault(uploader), 15)
            assert link.thread.is_alive()
        finally:
            link.stop()
    messages = [r.getMessage() for r in own_records(caplog)]
    assert len([m for m in messages if "status values the protocol refuses" in m]) == 1, messages
    assert len([m for m in messages if "cannot send this detector's status" in m]) == 1, messages
    assert not [m for m in messages if "link failing" in m or "starting it again" in m], messages
    assert not [r for r in own_records(caplog) if r.exc_info], "no traceback"
    now = time.time()
    line = detector_line(status_file.build_status({}, (0, 0), 0, status_file.link_status(link), now=now), now)
    assert f"{link.state.bad_status} status message(s) sent with camera figures fixed" in line


def _uploader_fault(uploader: Any) -> str:
    try:
        detectors = uploader.status().get("detectors", [])
    except (OSError, ValueError):  # not written yet, or being replaced
        return ""
    return " ".join(((d.get("status") or {}).get("cameras", {}).get("cam0") or {}).get("fault", "")
                    for d in detectors)
