"""``quickcam detector``: watch cameras and send footage to the uploader."""

from __future__ import annotations

import os
from pathlib import Path

import click

from quickcam.common.config import load_config
from quickcam.common.logs import setup_logging
from quickcam.common.private import make_private


def quiet_native_logs() -> None:
    """Keep OpenCV's and FFmpeg's own lines (``[ WARN:0@0.07] global cap_v4l.cpp ...``,
    ``[tcp @ 0x...] Connection refused``) out of the output: the detector reports the
    same conditions itself, in its log format and with the fix (``camera cam0: lost``).
    Read by OpenCV when it loads and when it first opens FFmpeg; a value already in
    the environment (e.g. ``OPENCV_LOG_LEVEL=DEBUG`` while debugging) is kept."""
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET


@click.command()
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="TOML config file.")
@click.option("--seconds", type=float, default=None, help="Stop cleanly after this many seconds.")
def detector(config_path: Path | None, seconds: float | None) -> None:
    """Watch the camera, record motion, hand footage to the uploader."""
    quiet_native_logs()
    from quickcam.detector.app import run_detector  # imports OpenCV: after quiet_native_logs

    make_private()  # plaintext clips, logs and status: this user's only
    config = load_config(config_path)
    setup_logging("detector", config.logging.file, config.logging.level)
    raise SystemExit(run_detector(config, seconds))
