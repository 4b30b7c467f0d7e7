"""Time from motion to footage off the machine, on the demo's scripted walkers.

Runs the real uploader and detector on the demo scene (640x480 at 15 fps, real time)
long enough for several events, then compares the demo's scripted onsets with when
each file became durable in storage (its final rename):

(a) first snapshot in storage, (b) first segment in storage, (c) lag of each segment's
end behind real time while the event goes on.

Configurations run in the same invocation: the local back end unthrottled, and through a
simulated 2 Mbit/s uplink with H.264 and with mp4v segments.

    .venv/bin/python -m bench.bench_latency [--seconds 65]
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

from bench._util import QUICKCAM, median, percentile, scratch_setup
from quickcam.detector.sources import DEMO_PERIOD_S, DEMO_WALKS

CONFIGS = {
    "local, H.264": {},
    "2 Mbit/s uplink, H.264": {"QUICKCAM_STORAGE__LOCAL__BANDWIDTH_KBIT": "2000"},
    "2 Mbit/s uplink, mp4v": {"QUICKCAM_STORAGE__LOCAL__BANDWIDTH_KBIT": "2000", "QUICKCAM_RECORDING__ENCODER": "mp4v"},
}
EPOCH_LINE = re.compile(r"demo scene clock starts at (\d+) ms")


def run_config(seconds: float, overrides: dict[str, str], detector: list[str] | None = None) -> dict[str, list[float]]:
    """Latencies of one run; ``detector`` is another detector's argv (bench_native.py passes the native one)."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        env = scratch_setup(root, **overrides)
        uploader = subprocess.Popen([QUICKCAM, "uploader"], cwd=root, env=env, stderr=subprocess.DEVNULL)
        with open(root / "detector.err", "wb") as err:
            proc = subprocess.Popen([*(detector or [QUICKCAM, "detector"]), "--seconds", str(seconds)], cwd=root,
                                    env=env, stderr=err)
            proc.wait()
        time.sleep(2)
        uploader.send_signal(signal.SIGTERM)
        uploader.wait()
        log = (root / "detector.err").read_text()
        match = EPOCH_LINE.search(log)
        if not match:
            raise SystemExit("the detector log lacks the demo's clock line")
        epoch = int(match.group(1))
        journal = [json.loads(line) for line in (root / "outbox/produced.jsonl").read_text().splitlines()]
        stored = {p.stem.rsplit("-", 1)[-1]: p.stat().st_mtime * 1000 for p in (root / "storage").rglob("*.qsc")}
    onsets = sorted(epoch + (k * DEMO_PERIOD_S + walk.start_s) * 1000
                    for k in range(int(seconds // DEMO_PERIOD_S) + 1) for walk in DEMO_WALKS)
    out: dict[str, list[float]] = {"snapshot": [], "segment": [], "lag": []}
    events: dict[str, list[dict]] = {}
    for row in journal:
        events.setdefault(row["event"], []).append(row)
    for rows in events.values():
        first_snap = next((r for r in rows if r["type"] == "snapshot" and r["id"] in stored), None)
        segments = sorted((r for r in rows if r["type"] == "segment" and r["id"] in stored), key=lambda r: r["seq"])
        if not first_snap or not segments:
            continue
        onset = max(o for o in onsets if o <= first_snap["time_ms"] + 1000)
        out["snapshot"].append((stored[first_snap["id"]] - onset) / 1000)
        out["segment"].append((stored[segments[0]["id"]] - onset) / 1000)
        out["lag"] += [(stored[r["id"]] - r["end_ms"]) / 1000 for r in segments[1:]]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=65.0)
    args = parser.parse_args()
    print(f"Demo scene at 640x480@15 fps in real time for {args.seconds:.0f} s per configuration; "
          "times from the scripted onset to the file's final rename in storage\n")
    print("| configuration | events | snapshot p50 | snapshot p95 | first segment p50 | first segment p95 "
          "| segment lag p50 | segment lag p95 |")
    print("|---|---|---|---|---|---|---|---|")
    for name, overrides in CONFIGS.items():
        r = run_config(args.seconds, overrides)
        cells = []
        for key in ("snapshot", "segment", "lag"):
            cells += [f"{median(r[key]):.2f} s", f"{percentile(r[key], 95):.2f} s"]
        print(f"| {name} | {len(r['snapshot'])} | " + " | ".join(cells) + " |")
    print("\nThe onset is when the scripted walker starts entering the frame; detection needs part of "
          "the body in view, so the figures include the detector's onset delay.")


if __name__ == "__main__":
    main()
