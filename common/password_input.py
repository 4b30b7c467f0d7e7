"""A new password from the person at the terminal, or from a pipe: never from argv.

At a terminal it is asked twice without echo. From a pipe (``pass show cam | quickcam ...``) it is the
first line of stdin, read as is: ``getpass`` there warns twice that it cannot hide what nobody sees, and
looks for a terminal to prompt on instead of the pipe it was given.
"""

from __future__ import annotations

import sys

import click


class NoPasswordError(Exception):
    """Stdin was a pipe that ended before a line."""


def new_password(prompt: str) -> str:
    """The password: prompted twice (no echo, on stderr) at a terminal, else the first line of stdin."""
    if sys.stdin.isatty():
        return str(click.prompt(prompt, hide_input=True, confirmation_prompt=True, err=True))
    line = sys.stdin.readline()
    if not line:
        raise NoPasswordError("no password on stdin: pipe it as one line (`pass show NAME | quickcam ...`), "
                              "or run this at a terminal to be asked")
    return line.rstrip("\r\n")
