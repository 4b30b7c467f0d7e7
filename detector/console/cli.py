"""``quickcam console-password``: set a console user's password, read from a prompt or stdin, never argv."""

from __future__ import annotations

from pathlib import Path

import click

from quickcam.common.config import ConfigError, load_config
from quickcam.common.password_input import NoPasswordError, new_password
from quickcam.detector.console.auth import AuthError, set_password


@click.command("console-password")
@click.option("--config", "config_path", type=click.Path(path_type=Path, readable=False), help="TOML config file.")
@click.option("--user", default="admin", show_default=True, help="User name to set the password of.")
def console_password(config_path: Path | None, user: str) -> None:
    """Set a console password (asked twice at a terminal; else one line from stdin)."""
    try:
        config = load_config(config_path)
        set_password(config.console.password_file, user, new_password(f"Console password for {user}"))
    except (ConfigError, AuthError, NoPasswordError) as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(f"cannot write {config.console.password_file} ({exc.strerror or exc}); "
                                   "check the folder's owner and mode") from None
    click.echo(f"console password for {user} saved in {config.console.password_file} (scrypt hash, mode 600)")
