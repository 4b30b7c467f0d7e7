"""``quickcam detector``: watch cameras and send footage to the uploader."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from quickcam.common.config import load_config
from quickcam.common.logs import setup_logging


@click.command()
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="TOML config file.")
@click.option("--seconds", type=float, default=None, help="Stop cleanly after this many seconds.")
@click.option("--start", type=click.DateTime(["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"]),
              default=None, help="When a video file's first frame was filmed (its times follow from it); "
              "default: the file's creation time.")
def detector(config_path: Path | None, seconds: float | None, start: datetime | None) -> None:
    """Watch the camera, record motion, hand footage to the uploader.

    Exit code 3 when a camera never delivered a frame (it is named in the log with the likely fix).
    """
    from quickcam.detector.app import run_detector

    config = load_config(config_path)
    if start is not None:  # every file camera's timeline starts there
        config = config.model_copy(update={"camera": config.camera.model_copy(update={"start": start})})
        config = config.model_copy(update={"cameras": [
            cam.model_copy(update={"start": start}) if cam.source == "file" else cam for cam in config.cameras]})
    setup_logging("detector", config.logging.file, config.logging.level)
    raise SystemExit(run_detector(config, seconds, config_path))
