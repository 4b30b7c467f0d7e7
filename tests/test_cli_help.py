"""``--help`` on every subcommand prints help and does nothing else (issue 18, "One more bug").

Every option that takes a value is tried with ``--help`` as what would be its
value: option parsing must never turn a flag into a file name (``keygen
--recipient --help`` once wrote a key file named ``--help``).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from quickcam.common.commands import _register_builtin_commands, cli, help_first
from tests.conftest import QUICKCAM

_register_builtin_commands()


def _commands(group: click.Group = cli, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None, name
        yield (*path, name), command
        if isinstance(command, click.Group):
            yield from _commands(command, (*path, name))


def _cases() -> list[tuple[str, ...]]:
    cases = [("--help",)]
    for path, command in _commands():
        cases.append((*path, "--help"))
        for param in command.params:
            if isinstance(param, click.Option) and not param.is_flag and not param.count:
                cases.append((*path, param.opts[0], "--help"))
    return cases


CASES = _cases()


def test_every_subcommand_is_covered() -> None:
    names = {case[0] for case in CASES}
    assert {"keygen", "decrypt", "inspect", "detector", "uploader", "status", "doctor", "protocol"} <= names
    assert ("keygen", "--recipient", "--help") in CASES


@pytest.mark.parametrize("args", CASES, ids=" ".join)
def test_help_prints_usage_and_creates_nothing(args: tuple[str, ...], tmp_path: Path) -> None:
    before = os.getcwd()
    os.chdir(tmp_path)
    try:
        result = CliRunner().invoke(cli, help_first(list(args)), catch_exceptions=False)
    finally:
        os.chdir(before)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Usage:"), result.output
    assert list(tmp_path.iterdir()) == []


def test_keygen_recipient_help_from_the_shell_writes_no_key_file(tmp_path: Path) -> None:
    done = subprocess.run([QUICKCAM, "keygen", "--recipient", "--help"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "Usage: quickcam keygen" in done.stdout
    assert list(tmp_path.iterdir()) == []


def test_keygen_refuses_an_option_as_a_file_name(tmp_path: Path) -> None:
    done = subprocess.run([QUICKCAM, "keygen", "--recipient", "--curve", "x"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2
    assert "--curve looks like an option, not a file name" in done.stderr
    assert list(tmp_path.iterdir()) == []
