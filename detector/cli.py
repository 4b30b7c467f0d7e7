"""``quickcam detector``: watch cameras and send footage to the uploader."""

from __future__ import annotations

import logging
import os
from datetime import datetime
from pathlib import Path

import click

from quickcam.common.config import load_config, stray_env_variables
from quickcam.common.logs import setup_logging
from quickcam.common.open_files import ensure_open_files
from quickcam.common.private import make_private
from quickcam.common.stop_signals import exit_now


def quiet_native_logs() -> None:
    """Keep OpenCV's and FFmpeg's own lines (``[ WARN:0@0.07] global cap_v4l.cpp ...``,
    ``[tcp @ 0x...] Connection refused``) out of the output: the detector reports the
    same conditions itself, in its log format and with the fix (``camera cam0: lost``).
    Read by OpenCV when it loads and when it first opens FFmpeg; a value already in
    the environment (e.g. ``OPENCV_LOG_LEVEL=DEBUG`` while debugging) is kept."""
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET


@click.command()
@click.option("--config", "config_path", type=click.Path(path_type=Path, readable=False), help="TOML config file.")
@click.option("--seconds", type=float, default=None, help="Stop cleanly after this many seconds.")
@click.option("--start", type=click.DateTime(["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"]),
              default=None, help="When a video file's first frame was filmed (its times follow from it); "
              "default: the file's creation time.")
def detector(config_path: Path | None, seconds: float | None, start: datetime | None) -> None:
    """Watch the camera, record motion, hand footage to the uploader.

    Exit code 3 when a camera never delivered a frame (it is named in the log with the likely fix).
    """
    quiet_native_logs()
    from quickcam.detector.app import run_detector  # imports OpenCV: after quiet_native_logs

    make_private()  # plaintext clips, logs and status: this user's only
    config = load_config(config_path)
    if start is not None:  # every file camera's timeline starts there
        config = config.model_copy(update={"camera": config.camera.model_copy(update={"start": start})})
        config = config.model_copy(update={"cameras": [
            cam.model_copy(update={"start": start}) if cam.source == "file" else cam for cam in config.cameras]})
    setup_logging("detector", config.logging.file, config.logging.level)
    ensure_open_files("detector")
    for stray in stray_env_variables():
        logging.getLogger("quickcam.detector.app").warning("config: %s", stray)
    exit_now(run_detector(config, seconds, config_path))  # bounded: no interpreter teardown after the stop
