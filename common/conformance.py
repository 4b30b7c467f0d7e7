"""``quickcam protocol check``: test a detector against docs/protocol.md by standing in for the uploader.

The checker binds a ROUTER socket, optionally starts the detector under test
(``--run``, with the endpoint in ``QUICKCAM_LINK__ENDPOINT``), and walks it
through the contract in phases:

1. **no credit**: only ``hello`` may arrive, repeated;
2. **window 1, ack withheld**: the first payload must come again after the
   detector's ack timeout, byte for byte; then it is acked and must not come
   again;
3. **nack retry**: the next payload gets ``nack busy`` (retry true) and must
   come again, not in a hot loop;
4. **pause**: credit 0 with a reason; no new payload may start, heartbeats go on;
5. **flow**: credit again; everything is acked until the detector stops.

Every message is decoded with the codec (frames, fields, payload size and
sha256) and its header re-encoded to check it is canonical. It speaks only
the wire, through ``quickcam.common.protocol``, so it tests any detector,
whatever its language. One line per check: PASS, FAIL, or NOT EXERCISED (the
detector never reached the step that tests it, which is not a failure of the
rule but not a pass either). The run ends as soon as every check has a
verdict, or at ``--timeout``. Exit status 0 only if every check passed, 1 if
one failed, 2 if none failed but some were not exercised.

This module is the command: it binds the socket, starts the detector and prints
the report. The checks are ``conformance_checks``; the stand-in uploader that
drives the phases is ``conformance_checker``.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import click
import zmq

from quickcam.common import protocol as wire
from quickcam.common.conformance_checker import Checker
from quickcam.common.conformance_checks import REQUIREMENTS

# -- the command ------------------------------------------------------------------------


@click.group("protocol")
def protocol() -> None:
    """Tools for the detector-uploader wire protocol (docs/protocol.md)."""


@protocol.command("check")
@click.option("--endpoint", default=None,
              help="Where to bind (default: a private ipc:// socket in a new 0700 folder, as the "
                   "uploader's default; tcp://127.0.0.1:* picks a free port). Printed.")
@click.option("--run", "command", default=None,
              help="Detector command to start; it gets the endpoint in QUICKCAM_LINK__ENDPOINT.")
@click.option("--timeout", "timeout_s", type=float, default=120.0, show_default=True,
              help="Upper bound on the run, seconds; it ends sooner, once every check has a verdict.")
@click.option("--max-payload", type=int, default=wire.DEFAULT_MAX_PAYLOAD, show_default=True,
              help="Payload limit to announce and enforce, bytes.")
@click.option("--quiet", is_flag=True, help="Print only the report (the detector's own output is discarded).")
def check(endpoint: str | None, command: str | None, timeout_s: float, max_payload: int, quiet: bool) -> None:
    """Stand in for the uploader and check a detector against the protocol spec.

    Without --run, start your detector yourself, pointed at the printed
    endpoint, within the timeout. One line per check: PASS, FAIL or NOT
    EXERCISED. Exit status 0 if every check passed, 1 if one failed, 2 if none
    failed but some were not exercised.

    {requirements}
    """
    def say(text: str) -> None:
        if not quiet:
            click.echo(f"check: {text}", err=True)

    private = None
    if endpoint is None:
        private = Path(tempfile.mkdtemp(prefix="quickcam-check-"))  # 0700, ours: what detectors check
        endpoint = f"ipc://{private}/uploader.sock"
    ctx = zmq.Context()
    sock = ctx.socket(zmq.ROUTER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.ROUTER_MANDATORY, 1)
    sock.setsockopt(zmq.MAXMSGSIZE, max_payload + (1 << 20))
    sock.setsockopt(zmq.IPV6, 1)  # as the uploader's: a detector at [::1] is checked too
    try:
        sock.bind(endpoint)
    except zmq.ZMQError as exc:
        raise click.ClickException(f"cannot bind {endpoint}: {exc}") from None
    bound = sock.getsockopt_string(zmq.LAST_ENDPOINT)
    say(f"listening on {bound} as the uploader")
    process = None
    if command:
        env = {**os.environ, "QUICKCAM_LINK__ENDPOINT": bound}
        if bound.startswith("tcp://"):
            env["QUICKCAM_LINK__ALLOW_PLAIN_TCP"] = "true"  # a test bench on loopback, no CURVE keys
        say(f"starting: {command}")
        argv = shlex.split(command)
        beside_us = Path(sys.argv[0]).resolve().parent / "quickcam"
        if argv and argv[0] == "quickcam" and shutil.which("quickcam") is None and beside_us.exists():
            argv[0] = str(beside_us)  # `quickcam` from an unactivated venv: use this one
        try:
            sink = subprocess.DEVNULL if quiet else sys.stderr
            process = subprocess.Popen(argv, env=env, stdout=sink, stderr=sink)
        except OSError as exc:
            raise click.ClickException(f"cannot start {command!r}: {exc}") from None
    checker = Checker(sock, timeout_s, max_payload, process, say)
    try:
        checker.run()
    finally:
        if process is not None and process.poll() is None:
            say("stopping the detector")
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        sock.close()
        ctx.term()
        if private is not None:
            shutil.rmtree(private, ignore_errors=True)
    checker.finish()
    for line in checker.report():
        click.echo(line)
    summary, status = checker.summary()
    if any(not c.exercised for c in checker.checks.values()):
        click.echo(f"note: {REQUIREMENTS}")
    click.echo(summary)
    sys.exit(status)



check.help = (check.help or "").replace("{requirements}", REQUIREMENTS)
