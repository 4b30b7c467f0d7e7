"""Footage lost to a sudden theft: kill -9 both processes at a random moment of an event.

The laptop is grabbed mid-event: detector and uploader die at once and nothing runs
again. What counts is what was already in storage at that instant, against what the
camera had recorded of the event so far (pre-roll included).

    .venv/bin/python -m bench.bench_theft [--runs 6]
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from bench._util import QUICKCAM, median, scratch_setup

PRE_ROLL_MS = 2000
FRAME_MS = 1000 / 15


def run_once(rng: random.Random) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        env = scratch_setup(root)
        procs = [subprocess.Popen([QUICKCAM, name], cwd=root, env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL) for name in ("uploader", "detector")]
        # The demo's first walker enters 4 s into the scene and leaves at 10 s.
        time.sleep(rng.uniform(5.0, 11.0))
        kill_ms = time.time_ns() // 1_000_000
        for proc in procs:
            proc.send_signal(signal.SIGKILL)
        for proc in procs:
            proc.wait()
        journal = [json.loads(line) for line in (root / "outbox/produced.jsonl").read_text().splitlines()]
        snapshots = [row for row in journal if row["type"] == "snapshot"]
        if not snapshots:
            return {}
        stored_ids = {p.stem.rsplit("-", 1)[-1] for p in (root / "storage").rglob("*.qsc")}
        event_start_ms = snapshots[0]["time_ms"] - PRE_ROLL_MS
        stored_s = sum((row["end_ms"] - row["start_ms"] + FRAME_MS) / 1000 for row in journal
                       if row["type"] == "segment" and row["id"] in stored_ids)
        return {
            "recorded_s": (kill_ms - event_start_ms) / 1000,
            "stored_s": stored_s,
            "snapshot_stored": snapshots[0]["id"] in stored_ids,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=6)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    runs = [r for r in (run_once(rng) for _ in range(args.runs)) if r]
    print(f"kill -9 of detector and uploader together at a random moment of an event, {len(runs)} runs "
          "(local back end, default 2 s segments)\n")
    print("| run | recorded so far | in storage at the kill | lost | first snapshot in storage |")
    print("|---|---|---|---|---|")
    for n, r in enumerate(runs, 1):
        lost = max(0.0, r["recorded_s"] - r["stored_s"])
        print(f"| {n} | {r['recorded_s']:.1f} s | {r['stored_s']:.1f} s | {lost:.1f} s | "
              f"{'yes' if r['snapshot_stored'] else 'no'} |")
    losses = [max(0.0, r["recorded_s"] - r["stored_s"]) for r in runs]
    print(f"\nmedian lost {median(losses):.1f} s, worst {max(losses):.1f} s "
          f"(the open segment is at most 2 s, plus the segment in flight); "
          f"snapshot in storage in {sum(r['snapshot_stored'] for r in runs)}/{len(runs)} runs")


if __name__ == "__main__":
    main()
