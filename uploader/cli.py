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


def _ledger_path(config_path: Path | None) -> Path:
    config = load_config(config_path)
    path = config.uploader.state_dir / "ledger.sqlite3"
    if not path.is_file():
        raise click.ClickException(f"no ledger at {path}; has the uploader run here? (check uploader.state_dir)")
    return path


@click.command()
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="TOML config file.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def status(config_path: Path | None, as_json: bool) -> None:
    """Show the upload backlog per destination and what the detectors last reported."""
    import json
    import time

    from quickcam.uploader.ledger import Ledger

    config = load_config(config_path)
    ledger = Ledger(_ledger_path(config_path))
    try:
        rows = ledger.summary()
    finally:
        ledger.close()
    live_path = config.uploader.state_dir / "status.json"
    live = json.loads(live_path.read_text()) if live_path.is_file() else {}
    if as_json:
        click.echo(json.dumps({"destinations": rows, "uploader": live}, indent=2))
        return
    age = time.time() - live.get("time", 0)
    if not live:
        state = "never ran here"
    elif age < 5:
        state = "running"
    else:
        state = f"not running (last seen {age:.0f} s ago)"
    click.echo(f"uploader: {state}; spool {live.get('spool_bytes', 0) // 1024} KiB")
    for det in live.get("detectors", []):
        for cam, info in det.get("status", {}).get("cameras", {}).items():
            click.echo(f"camera {cam}: {info.get('state')} at {info.get('fps')} fps, "
                       f"{info.get('events', 0)} event(s), outbox {det['status'].get('outbox_depth', 0)} item(s)")
    click.echo(f"{'destination':<14}{'pending':>8}{'failed':>8}{'uploaded':>10}{'oldest':>9}  last error")
    for row in rows:
        click.echo(f"{row['destination']:<14}{row['pending']:>8}{row['failed']:>8}{row['uploaded']:>10}"
                   f"{row['oldest_pending_s']:>8.0f}s  {row['last_error'][:60]}")


@click.command()
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="TOML config file.")
def retry(config_path: Path | None) -> None:
    """Queue permanently failed uploads again (after fixing what failed)."""
    from quickcam.uploader.ledger import Ledger

    ledger = Ledger(_ledger_path(config_path))
    try:
        count = ledger.retry_failed()
    finally:
        ledger.close()
    click.echo(f"{count} failed upload(s) queued again; a running uploader picks them up within a second")
