"""``quickcam uploader`` and the commands that read its ledger."""

from __future__ import annotations

from pathlib import Path

import click
from quickcam.common.config import load_config
from quickcam.common.logs import setup_logging


@click.command()
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="TOML config file.")
@click.option("--seconds", type=float, default=None, help="Stop cleanly after this many seconds.")
def uploader(config_path: Path | None, seconds: float | None) -> None:
    """Receive footage from detectors, encrypt it, upload it."""
    from quickcam.uploader.app import run_uploader

    config = load_config(config_path)
    log_file = setup_logging("uploader", config.logging.file, config.logging.level)
    raise SystemExit(run_uploader(config, log_file, seconds))
