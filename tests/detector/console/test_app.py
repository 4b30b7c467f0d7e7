"""The detector process with the console configured: a console that cannot start is one error line, not a stop."""

from __future__ import annotations

import json
import logging
import os
import signal
from pathlib import Path

import pytest

from quickcam.common.config import load_config
from quickcam.detector.app import run_detector
from quickcam.detector.status_file import status_path
from tests.own_logs import own_records


def test_a_console_refused_off_loopback_is_one_error_and_the_cameras_keep_watching(
        workdir: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    config = load_config(None, {**os.environ, "QUICKCAM_CONSOLE__LISTEN": "0.0.0.0:0",
                                "QUICKCAM_CAMERA__FPS": "10", "QUICKCAM_FACES__ENABLED": "false"})
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        assert run_detector(config, seconds=2.0) == 0
    finally:
        for sig, handler in handlers.items():  # run_detector installs its own
            signal.signal(sig, handler)
    errors = [r.getMessage() for r in own_records(caplog) if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "a password is required" in errors[0] and "runs on without the console" in errors[0]
    status = json.loads(status_path(config.recording.outbox_dir).read_text())
    assert status["cameras"]["cam0"]["frames"] > 5
    assert status["low_power"]["enabled"] and "console" not in status
