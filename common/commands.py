"""The ``quickcam`` command group: a thin shell that turns errors into one line and an exit code.

Loaded by ``cli.main`` (the console script) once it has done what must come before
any slow import.

Process subcommands (``detector``, ``uploader``, ...) are plugged in through the
entry-point group ``quickcam.commands``, so this module -- which lives in
``common/`` -- never imports either process.
"""

from __future__ import annotations

import sys
from importlib.metadata import entry_points

import click

from quickcam.common.config import ConfigError
from quickcam.common.logs import flush_stderr
from quickcam.common.private import make_private

COMMAND_GROUP = "quickcam.commands"
EXIT_CONFIG = 2


class _PluginGroup(click.Group):
    """A click group that also lists and loads commands from entry points, lazily."""

    def _plugins(self) -> dict:
        return {ep.name: ep for ep in entry_points(group=COMMAND_GROUP)}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self._plugins()))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        command = super().get_command(ctx, name)
        if command is None and name in self._plugins():
            command = self._plugins()[name].load()
        return command


@click.group(cls=_PluginGroup)
@click.version_option(package_name="quickcam")
def cli() -> None:
    """QuickSecurityCam: motion to encrypted footage off the machine within seconds."""


def _register_builtin_commands() -> None:
    from quickcam.common import crypto_cli

    for name in ("keygen", "decrypt", "inspect"):
        command = getattr(crypto_cli, name, None)
        if isinstance(command, click.Command):
            cli.add_command(command, name)


def help_first(args: list[str]) -> list[str]:
    """``--help`` anywhere before ``--`` shows the help of the (sub)command named before it.

    Without this, ``keygen --recipient --help`` would take ``--help`` as the
    value of ``--recipient`` and write a key file named ``--help``.
    """
    head = args[: args.index("--")] if "--" in args else args
    if "--help" not in head:
        return args
    command: click.Command = cli
    path: list[str] = []
    for arg in head:
        if not isinstance(command, click.Group):
            break
        sub = command.get_command(click.Context(command), arg)
        if sub is None:
            break
        path.append(arg)
        command = sub
    return [*path, "--help"]


def run(args: list[str]) -> None:
    """Run the subcommand ``args`` name; every error ends as one line and an exit code."""
    make_private()  # every file any subcommand creates is 0600, every folder 0700
    _register_builtin_commands()
    try:
        cli.main(args=help_first(args), standalone_mode=False)
    except click.exceptions.Abort:
        sys.exit(130)
    except click.ClickException as exc:
        flush_stderr()  # the log's lines before it (a writer thread's), as they came
        exc.show()
        sys.exit(exc.exit_code)
    except ConfigError as exc:
        flush_stderr()
        click.echo(f"quickcam: {exc}", err=True)
        sys.exit(EXIT_CONFIG)
    except KeyboardInterrupt:
        sys.exit(130)
