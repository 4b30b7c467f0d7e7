"""``quickcam alert test [--only NAME]``."""

from __future__ import annotations

from pathlib import Path

import click

from quickcam.common.config import load_config
from quickcam.common.secrets import load_secrets


@click.group()
def alert() -> None:
    """Alerts (Apprise notifications and MQTT): docs/alerts.md."""


@alert.command("test")
@click.option("--config", "config_path", type=click.Path(path_type=Path, readable=False), help="TOML config file.")
@click.option("--only", "only", default=None, help="Test just this target (its name, or 'mqtt').")
def test(config_path: Path | None, only: str | None) -> None:
    """Send a test notification through each configured target; one line each."""
    from quickcam.uploader.alerts.check import target_names, test_target

    config = load_config(config_path)
    secrets = load_secrets(config.env_file)
    names = target_names(config)
    if only is not None:
        if only not in names:
            raise click.ClickException(f"no alert target named {only!r}; configured: {', '.join(names) or 'none'}")
        names = [only]
    if not names:
        raise click.ClickException("no alert targets configured; add [[alerts.targets]] or [mqtt] host "
                                   "(see quickcam.example.toml and docs/alerts.md)")
    failed = 0
    for name in names:
        result = test_target(config, secrets, name)
        if result.ok:
            click.echo(f"ok    alert {name}: {result.detail}")
        else:
            failed += 1
            click.echo(f"FAIL  alert {name}: {result.detail}; fix: {result.fix}")
    raise SystemExit(1 if failed else 0)
