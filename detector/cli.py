"""``quickcam detector``: watch cameras and send footage to the uploader."""

from __future__ import annotations

from pathlib import Path

import click

from quickcam.common.config import load_config
from quickcam.common.logs import setup_logging


@click.command()
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="TOML config file.")
@click.option("--seconds", type=float, default=None, help="Stop cleanly after this many seconds.")
def detector(config_path: Path | None, seconds: float | None) -> None:
    """Watch the camera, record motion, hand footage to the uploader."""
    from quickcam.detector.app import run_detector

    config = load_config(config_path)
    setup_logging("detector", config.logging.file, config.logging.level)
    raise SystemExit(run_detector(config, seconds, config_path))
