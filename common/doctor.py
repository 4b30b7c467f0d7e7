"""``quickcam doctor``: preflight checks, one line each, green or red with the fix.

The checks that need a process's own code live beside it (``detector/doctor.py``,
``uploader/doctor.py``) and are found through the entry-point group
``quickcam.checks``, so this module -- which lives in ``common/`` -- imports
neither process. Each entry point names a function ``checks(context)`` that
returns a list of :class:`Check`; the runner here runs them all at once (a dead
camera and an unreachable uploader each take seconds to time out), prints each
result in order as one line, and exits non-zero when any is red.

A check never prints a secret: results say whether a key is present and valid
and name it by its public key id.
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path

import click

from quickcam.common.config import Config, ConfigError, load_config
from quickcam.common.private import wider_than_private
from quickcam.common.secrets import load_secrets

CHECK_GROUP = "quickcam.checks"
DEFAULT_TIMEOUT_S = 10.0
# Below this much free space on the disk holding the outbox or the spool, doctor goes red.
# The uploader itself stops accepting footage at 64 MiB free; this warns well before.
MIN_FREE_BYTES = 256 * (1 << 20)
EXIT_RED = 1

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Result:
    """One line of the report: what was checked, green or red, and the fix when red."""

    name: str
    ok: bool
    detail: str
    fix: str = ""


@dataclass(frozen=True)
class Check:
    """A named, self-contained check: ``run()`` returns its Result (or raises)."""

    name: str
    run: Callable[[], Result]
    fix_on_timeout: str = ""


@dataclass(frozen=True)
class DoctorContext:
    """What every check may read. ``secrets`` is the merged tokens.env + environment view."""

    config: Config
    config_path: Path | None
    secrets: Mapping[str, str] = field(repr=False)
    timeout_s: float = DEFAULT_TIMEOUT_S


CheckProvider = Callable[[DoctorContext], list[Check]]


def ok(name: str, detail: str) -> Result:
    return Result(name, True, detail)


def red(name: str, detail: str, fix: str) -> Result:
    return Result(name, False, detail, fix)


# -- checks every machine needs ------------------------------------------------


def check_env_file(env_file: Path) -> Result:
    """tokens.env: readable, and by this user only (POSIX)."""
    name = str(env_file)
    try:
        env_file.stat()
    except (FileNotFoundError, NotADirectoryError):
        return ok(name, "not present; secrets come from the environment only")
    except OSError as exc:  # a folder on its path this user may not enter (Path.exists raised it: a traceback)
        return red(name, f"cannot be looked up: {exc.strerror}",
                   "let the user running quickcam enter each folder on its path (or move the file)")
    if not env_file.is_file():
        return red(name, "is not a file", f"point env_file (or QUICKCAM_ENV_FILE) at your tokens.env, not {env_file}")
    try:
        with open(env_file, "rb"):
            pass
    except OSError as exc:
        if str(env_file).startswith("/run/secrets/"):  # a compose secret: a bind mount of the host's file
            fix = "on the host, give the file to the container's user: sudo chown 10001 tokens.env (mode 600)"
        else:
            fix = f"make it readable by the user running quickcam: sudo chown $(id -un) {env_file}"
        return red(name, f"cannot be read: {exc.strerror}", fix)
    if os.name != "posix":
        return ok(name, "present (permissions are not checked on this system)")
    mode = stat.S_IMODE(env_file.stat().st_mode)
    if mode & 0o077:
        return red(name, f"is readable by other users (mode {mode:03o})", f"chmod 600 {env_file}")
    return ok(name, f"present, mode {mode:03o} (owner only)")


def check_private_paths(config: Config) -> Result:
    """The folders holding footage and metadata, and the logs, must be this user's only (POSIX)."""
    name = "private files"
    log_file = config.logging.file
    logs = sorted(log_file.parent.glob(f"{log_file.stem}.*{log_file.suffix}*")) if log_file.parent.is_dir() else []
    paths = [config.recording.outbox_dir, config.uploader.spool_dir, config.uploader.state_dir, *logs]
    if os.name != "posix":
        return ok(name, "permissions are not checked on this system")
    wide = wider_than_private(paths)
    if not wide:
        return ok(name, "outbox, spool, state and logs are readable by this user only (or not made yet)")
    listed = ", ".join(f"{path} (mode {mode:03o})" for path, mode in wide)
    return red(name, f"readable by other users: {listed}",
               "chmod -R go-rwx " + " ".join(str(path) for path, _ in wide))


def free_space_result(name: str, folder: Path, what: str, minimum: int = MIN_FREE_BYTES) -> Result:
    """Free space and write access for ``folder`` (or, if it does not exist yet, its nearest parent)."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return red(name, f"{folder}: {existing} is not a folder", f"set {what} to a folder path")
    if not os.access(existing, os.W_OK | os.X_OK):
        return red(name, f"{existing} is not writable by this user",
                   f"sudo chown -R $(id -un) {existing}, or set {what} to a folder this user owns")
    free = shutil.disk_usage(existing).free
    detail = f"{folder}: {_size(free)} free"
    if free < minimum:
        return red(name, detail + f" (under {_size(minimum)})",
                   f"free some space on that disk, or set {what} to a folder on a bigger one")
    return ok(name, detail)


def _size(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


# -- the runner ------------------------------------------------------------------


def providers(only: str | None = None) -> list[tuple[str, CheckProvider]]:
    """The installed check providers (entry point name, loaded function), by name."""
    found = sorted(entry_points(group=CHECK_GROUP), key=lambda ep: ep.name)
    return [(ep.name, ep.load()) for ep in found if only is None or ep.name == only]


def run_checks(checks: list[Check], timeout_s: float) -> Iterator[Result]:
    """Run every check at once, each in its own daemon thread; yield the results in
    order. A check still running after ``timeout_s`` is red (its thread is left
    behind: a daemon thread cannot hold up the exit)."""
    slots: list[Result | None] = [None] * len(checks)

    def run(i: int, check: Check) -> None:
        try:
            slots[i] = check.run()
        except Exception as exc:  # a crashed check is a red line, not a traceback
            log.debug("check %s crashed", check.name, exc_info=True)
            slots[i] = red(check.name, f"the check itself failed: {type(exc).__name__}: {exc}",
                           "run with --verbose and report it")

    threads = [threading.Thread(target=run, args=(i, c), name=f"check-{c.name}", daemon=True)
               for i, c in enumerate(checks)]
    deadline = time.monotonic() + timeout_s
    for thread in threads:
        thread.start()
    for i, (check, thread) in enumerate(zip(checks, threads, strict=True)):
        thread.join(max(0.0, deadline - time.monotonic()))
        result = slots[i]
        if result is None:
            result = red(check.name, f"no answer within {timeout_s:g} s",
                         check.fix_on_timeout or "raise --timeout, or see what blocks it with --verbose")
        yield result


def format_result(result: Result, color: bool) -> str:
    """``  ok  name: detail`` or ``FAIL  name: detail; fix: ...`` (green/red on a terminal)."""
    mark = " ok " if result.ok else "FAIL"
    if color:
        mark = click.style(mark, fg="green" if result.ok else "red", bold=not result.ok)
    line = f"{mark}  {result.name}: {result.detail}"
    if not result.ok and result.fix:
        line += f"; fix: {result.fix}"
    return line


def use_color(stream: object = None) -> bool:
    stream = sys.stdout if stream is None else stream
    return bool(getattr(stream, "isatty", lambda: False)()) and "NO_COLOR" not in os.environ


@click.command()
@click.option("--config", "config_path", type=click.Path(path_type=Path, readable=False), help="TOML config file.")
@click.option("--only", type=click.Choice(["detector", "uploader"]), default=None,
              help="Check only this machine's side (two-machine setups).")
@click.option("--timeout", "timeout_s", type=float, default=DEFAULT_TIMEOUT_S, show_default=True,
              help="Seconds each check may take.")
@click.option("--verbose", is_flag=True, help="Also show the log lines the checks produce.")
def doctor(config_path: Path | None, only: str | None, timeout_s: float, verbose: bool) -> None:
    """Check this machine before leaving it armed: one line per check, the fix when red."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.CRITICAL, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    color = use_color()
    where = str(config_path) if config_path else "the built-in defaults (no --config)"
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        message = str(exc).replace("\n", "; ")
        fix = "" if "fix it in" in message else "see quickcam.example.toml"  # the message names it already
        click.echo(format_result(red("config", message, fix), color), color=color)
        raise SystemExit(EXIT_RED) from None
    cameras = ", ".join(cam.id for cam in config.camera_list())
    first = [ok("config", f"{where}: valid; camera(s) {cameras}; "
                          f"destination(s) {', '.join(config.uploader.destinations)}"),
             check_env_file(config.env_file), check_private_paths(config)]
    try:
        secrets = load_secrets(config.env_file)
    except (OSError, ConfigError):  # unreadable tokens.env: already a red line above (not the doctor's end)
        secrets = dict(os.environ)
    context = DoctorContext(config, config_path, secrets, timeout_s)
    checks: list[Check] = []
    for name, provider in providers(only):
        try:
            checks += provider(context)
        except Exception as exc:  # a broken plug-in is a red line; the other checks still run
            first.append(red(f"{name} checks", f"could not be set up: {type(exc).__name__}: {exc}",
                             "reinstall quickcam (pip install -e .) and run with --verbose"))
    failed = 0
    for result in first:
        failed += not result.ok
        click.echo(format_result(result, color), color=color)
    for result in run_checks(checks, timeout_s):
        failed += not result.ok
        click.echo(format_result(result, color), color=color)
    total = len(first) + len(checks)
    if failed:
        click.echo(f"doctor: {failed} of {total} check(s) failed; fix them before leaving the camera armed")
    else:
        click.echo(f"doctor: all {total} checks passed")
    code = EXIT_RED if failed else 0
    if any(thread.name.startswith("check-") and thread.is_alive() for thread in threading.enumerate()):
        # A check that gave no answer may still be inside native code (OpenCV, FFmpeg, ZeroMQ): the
        # interpreter's clean-up at exit then aborts the process ("terminate called without an active
        # exception", exit -6) after the report. Its verdict is printed: leave without that clean-up.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    raise SystemExit(code)
