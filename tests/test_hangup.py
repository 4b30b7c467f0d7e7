"""A SIGHUP to a running detector is said and ignored: the cameras stay watched, nothing is lost.

A terminal closed on a detector started by hand, or a ``kill -HUP`` meant as a reload (the uploader
re-reads its allow-list on it), ended either detector where it was (the kernel's default, exit 129):
the event's open segment stayed in staging and was discarded at the next start, as after a SIGKILL,
and the camera was blind until someone restarted it.
"""

from __future__ import annotations

import signal
from pathlib import Path

from tests.pipeline import QUICK_DEMO, Pipeline


def test_a_sighup_mid_event_is_said_and_the_detector_records_on(
        tmp_path: Path, detector_command: list[str] | None) -> None:
    pipe = Pipeline(tmp_path, detector=detector_command, **QUICK_DEMO)  # the walker from 1 s
    try:
        pipe.start("uploader")  # the stop drains at once, instead of waiting 5 s for acks
        proc = pipe.start("detector")
        assert pipe.wait_for("detector", "motion, event", 40), pipe.output("detector")[-3000:]
        proc.send_signal(signal.SIGHUP)
        assert pipe.wait_for("detector", "SIGHUP (its terminal closed, or a reload asked) ignored", 10), \
            (proc.poll(), pipe.output("detector")[-3000:])
        assert proc.poll() is None
        assert pipe.stop("detector") == 0, pipe.output("detector")[-3000:]
    finally:
        pipe.close()
    assert not list((tmp_path / "outbox" / ".staging").iterdir())  # the open segment committed at the stop


def test_a_sighup_to_the_uploader_says_what_it_reloads_and_what_needs_a_restart(tmp_path: Path) -> None:
    # Without CURVE it reloaded nothing and said nothing: a config edited, then `kill -HUP`, looked applied
    # (bench/outside/FINDINGS.md #24).
    pipe = Pipeline(tmp_path)
    try:
        proc = pipe.start_uploader_listening()
        proc.send_signal(signal.SIGHUP)
        assert pipe.wait_for("uploader", "SIGHUP (a reload asked, or its terminal closed): the config and "
                             "tokens.env are read at start only: restart the uploader", 10), \
            (proc.poll(), pipe.output("uploader")[-3000:])
        assert proc.poll() is None
    finally:
        pipe.close()


def test_sigusr1_and_sigusr2_mid_event_are_said_and_the_detector_records_on(
        tmp_path: Path, detector_command: list[str] | None) -> None:
    # A logrotate stanza's `postrotate kill -USR1` (many daemons' "reopen your logs") ended either detector where
    # it was (the kernel's default, exit -10): the open segment discarded at the next start "left by a crash"
    # (bench/outside/FINDINGS.md #48, stray_signals.py).
    pipe = Pipeline(tmp_path, detector=detector_command, **QUICK_DEMO)
    try:
        pipe.start("uploader")
        proc = pipe.start("detector")
        assert pipe.wait_for("detector", "motion, event", 40), pipe.output("detector")[-3000:]
        for name in ("SIGUSR1", "SIGUSR2"):
            proc.send_signal(getattr(signal, name))
            assert pipe.wait_for("detector", f"detector: {name} ignored (not a signal quickcam acts on", 10), \
                (proc.poll(), pipe.output("detector")[-3000:])
        assert proc.poll() is None
        assert pipe.stop("detector") == 0, pipe.output("detector")[-3000:]
    finally:
        pipe.close()
    assert not list((tmp_path / "outbox" / ".staging").iterdir())


def test_sigusr1_and_sigusr2_to_the_uploader_are_said_and_it_runs_on(tmp_path: Path) -> None:
    pipe = Pipeline(tmp_path)
    try:
        proc = pipe.start_uploader_listening()
        for name in ("SIGUSR1", "SIGUSR2"):
            proc.send_signal(getattr(signal, name))
            assert pipe.wait_for("uploader", f"uploader: {name} ignored (not a signal quickcam acts on", 10), \
                (proc.poll(), pipe.output("uploader")[-3000:])
        assert proc.poll() is None
    finally:
        pipe.close()
