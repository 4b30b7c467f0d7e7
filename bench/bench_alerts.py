"""Time to a person's phone: motion onset -> notification, and detector SIGKILL -> urgent alert.

Runs the real uploader and detector on the demo scene (walkers at 4 s and 18 s of every
30 s) with one Apprise ``json://`` target: a webhook receiver on 127.0.0.1 in this
process, which stamps each request on arrival.

(a) motion: from the demo's scripted onset (and from the capture time of the event's
    first snapshot) to the notification request at the receiver, p50/p95 over the
    events of one run (>= 10 with the default 155 s). Target: p95 <= 2 s.
(b) silence: the detector is SIGKILLed mid-walk; time from the kill to the urgent
    ``detector_silent`` request at the receiver, over several runs. Target:
    <= silent_after_s + 1 s.

    .venv/bin/python -m bench.bench_alerts [--seconds 155] [--kills 3]
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from bench._util import QUICKCAM, machine, median, percentile, scratch_setup
from quickcam.detector.sources import DEMO_PERIOD_S, DEMO_WALKS
from tests.fakes.notify_server import NotifyServer

EPOCH_LINE = re.compile(r"demo scene clock starts at (\d+) ms")
HEARTBEAT_S = 1.0
SILENT_AFTER_S = 3.0


def _setup(root: Path, receiver: NotifyServer) -> dict[str, str]:
    env = scratch_setup(root, QUICKCAM_LINK__HEARTBEAT_S=str(HEARTBEAT_S))
    (root / "quickcam.toml").write_text(
        f"[alerts]\ncooldown_s = 0\nsilent_after_s = {SILENT_AFTER_S}\n"
        "[[alerts.targets]]\nname = \"hook\"\nurl_env = \"HOOK_URL\"\nattach_snapshot = true\n")
    with open(root / "tokens.env", "a") as tokens:
        tokens.write(f"HOOK_URL={receiver.json_url()}\n")
    return env


def motion_latency(seconds: float) -> tuple[list[float], list[float]]:
    receiver = NotifyServer().start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            env = _setup(root, receiver)
            args = ["--config", "quickcam.toml"]
            uploader = subprocess.Popen([QUICKCAM, "uploader", *args], cwd=root, env=env, stderr=subprocess.DEVNULL)
            detector = subprocess.Popen([QUICKCAM, "detector", *args, "--seconds", str(seconds)], cwd=root, env=env,
                                        stderr=subprocess.DEVNULL)
            detector.wait()
            time.sleep(2)
            uploader.send_signal(signal.SIGTERM)
            uploader.wait()
            match = EPOCH_LINE.search((root / "run.detector.log").read_text())
            if not match:
                raise SystemExit("the detector log lacks the demo's clock line")
            epoch = int(match.group(1)) / 1000
            journal = [json.loads(line) for line in (root / "outbox/produced.jsonl").read_text().splitlines()]
    finally:
        receiver.stop()
    first_snapshot: dict[str, float] = {}
    for row in journal:
        if row["type"] == "snapshot":
            first_snapshot.setdefault(row["event"], row["time_ms"] / 1000)
    onsets = sorted(epoch + k * DEMO_PERIOD_S + walk.start_s
                    for k in range(int(seconds // DEMO_PERIOD_S) + 1) for walk in DEMO_WALKS)
    arrivals = sorted(n.time for n in receiver.received if n.title.startswith("Motion on"))
    captures = sorted(first_snapshot.values())
    from_onset, from_capture = [], []
    for arrival in arrivals:
        onset = max((o for o in onsets if o <= arrival), default=None)
        capture = max((c for c in captures if c <= arrival), default=None)
        if onset is not None:
            from_onset.append(arrival - onset)
        if capture is not None:
            from_capture.append(arrival - capture)
    return from_onset, from_capture


def kill_latency(runs: int) -> list[float]:
    delays = []
    for _ in range(runs):
        receiver = NotifyServer().start()
        try:
            with tempfile.TemporaryDirectory() as tmp:
                root = Path(tmp)
                env = _setup(root, receiver)
                args = ["--config", "quickcam.toml"]
                uploader = subprocess.Popen([QUICKCAM, "uploader", *args], cwd=root, env=env,
                                            stderr=subprocess.DEVNULL)
                detector = subprocess.Popen([QUICKCAM, "detector", *args], cwd=root, env=env,
                                            stderr=subprocess.DEVNULL)
                try:
                    receiver.wait_for(lambda n: n.title.startswith("Motion on"), timeout=60)
                    time.sleep(2.0)  # mid-walk
                    detector.kill()
                    killed = time.time()
                    alert = receiver.wait_for(lambda n: "went silent" in n.title, timeout=SILENT_AFTER_S + 30)
                    if not alert.title.startswith("URGENT"):
                        raise SystemExit(f"the silence alert was not urgent: {alert.title}")
                    delays.append(alert.time - killed)
                finally:
                    detector.kill()
                    uploader.send_signal(signal.SIGTERM)
                    uploader.wait()
        finally:
            receiver.stop()
    return delays


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=155.0, help="demo run for (a); 155 s gives 10 events")
    parser.add_argument("--kills", type=int, default=3, help="SIGKILL runs for (b)")
    args = parser.parse_args()
    print(f"Machine: {machine()}")
    print(f"Demo 640x480@15 fps in real time; one Apprise json:// target on 127.0.0.1; heartbeat {HEARTBEAT_S:g} s, "
          f"silent_after_s {SILENT_AFTER_S:g} s\n")
    onset, capture = motion_latency(args.seconds)
    kills = kill_latency(args.kills)
    print("| measure | n | p50 | p95 | max | target |")
    print("|---|---|---|---|---|---|")
    print(f"| motion onset -> notification at the receiver | {len(onset)} | {median(onset):.2f} s | "
          f"{percentile(onset, 95):.2f} s | {max(onset, default=float('nan')):.2f} s | p95 <= 2 s |")
    print(f"| first snapshot captured -> notification | {len(capture)} | {median(capture):.2f} s | "
          f"{percentile(capture, 95):.2f} s | {max(capture, default=float('nan')):.2f} s | |")
    print(f"| detector SIGKILL -> urgent alert at the receiver | {len(kills)} | {median(kills):.2f} s | "
          f"{percentile(kills, 95):.2f} s | {max(kills, default=float('nan')):.2f} s | "
          f"<= silent_after_s + 1 = {SILENT_AFTER_S + 1:g} s |")
    print("\nThe onset is when the scripted walker starts entering the frame, so (a) includes the detector's "
          "own onset delay. (b) can be under silent_after_s: silence counts from the last message heard, up to "
          "one heartbeat before the kill.")


if __name__ == "__main__":
    main()
