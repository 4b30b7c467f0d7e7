"""What the native motion core's port costs: two native binaries, interleaved run by run, at 640x480@15.

    .venv/bin/python -m bench.bench_native_motion --before OLD_BINARY [--runs 5] [--seconds 10]

Each run is bench/bench_native.py's ``process_cost``: the detector process with the uploader on a
looping 10 s file paced at 15 fps, its CPU time (user + sys) over ``--seconds`` of steady state and
its peak RSS. The quiet clip is a camera watching; the busy one has a walker in every frame (the
blob checks run on every frame). Runs alternate before, after, before, after... so the machine's
load falls on both alike; medians are printed, and the ratio of the medians.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from bench._util import commit, machine, median
from bench.bench_native import FPS, native_binary, process_cost, render
from quickcam.detector.sources import Walk


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True, help="the older native binary")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    binaries = {"before": [str(args.before)], "after": [str(native_binary())]}
    print(f"Machine: {machine()}; commit {commit()}; {args.runs} interleaved runs of {args.seconds:.0f} s each, "
          f"640x480 at {FPS:.0f} fps; CPU in % of one core (user + sys), median\n")
    print("| clip | CPU before | CPU after | after / before | peak RSS before | peak RSS after |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        quiet, busy = Path(tmp, "quiet.mp4"), Path(tmp, "busy.mp4")
        render(quiet, 640, 480, ())
        render(busy, 640, 480, (Walk(0.0, 5.0), Walk(5.0, 10.0, False)))
        for name, video in (("watching (quiet)", quiet), ("a walker in every frame", busy)):
            runs: dict[str, list[tuple[float, float]]] = {key: [] for key in binaries}
            for _ in range(args.runs):
                for key, command in binaries.items():
                    runs[key].append(process_cost(command, video, args.seconds))
            cpu = {key: median([r[0] for r in value]) for key, value in runs.items()}
            rss = {key: max(r[1] for r in value) for key, value in runs.items()}
            ratio = cpu["after"] / max(cpu["before"], 1e-6)
            print(f"| {name} | {cpu['before']:.2f}% | {cpu['after']:.2f}% | {ratio:.2f} "
                  f"| {rss['before']:.0f} MB | {rss['after']:.0f} MB |", flush=True)


if __name__ == "__main__":
    main()
