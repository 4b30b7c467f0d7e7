"""Run every benchmark and regenerate docs/benchmarks.md with the figures.

    .venv/bin/python bench/run_all.py            # about 25 minutes on 2 cores
    .venv/bin/python bench/run_all.py --only latency,theft

Each section keeps the exact command that produced it, so any table can be
re-run on its own. The page records the date, machine and commit it was made on.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench._util import commit, machine  # noqa: E402

# (key, title, command after the python executable, what the targets are)
SECTIONS = [
    ("detector", "1. Detector cost per camera", ["-m", "bench.bench_detector_cost", "--seconds", "20",
                                                  "--runs", "2"],
     "Targets: watching under 1% of a core, recording under 6%, RSS under 150 MB per camera."),
    ("latency", "2. Time to footage off the machine", ["-m", "bench.bench_latency", "--seconds", "65"],
     "Targets: snapshot durable within 1 s of onset (p95); first segment within segment length + 1 s."),
    ("theft", "3. Footage lost to a sudden theft", ["-m", "bench.bench_theft", "--runs", "6"],
     "Target: everything except at most the open segment is already in storage."),
    ("encoding", "4. Bytes per second of footage", ["-m", "bench.bench_encoding", "--seconds", "12", "--runs", "3"],
     ""),
    ("throughput", "5. Pipeline throughput", ["-m", "bench.bench_throughput", "--detectors", "8", "--segments",
                                              "100", "--runs", "3"], ""),
    ("crypto", "6. Encryption (mode 1, symmetric)", ["bench/bench_crypto.py", "--mb", "1024", "--runs", "3"],
     "Targets: at least 1 GB/s, peak RSS under 64 MB for a 1 GB file."),
    ("crypto2", "6b. Encryption (mode 2, public recipient)", ["bench/bench_crypto.py", "--mb", "1024", "--runs",
                                                              "3", "--mode", "2"], ""),
    ("quality", "7. Detection quality on real footage", ["bench/detection_quality.py"],
     "Targets: recall of real walkers >= 0.95 with onset within 3 frames; zero false events from lighting "
     "steps and in quiet stretches."),
    ("passthrough", "8. Passthrough recording against re-encoding", ["-m", "bench.bench_passthrough"],
     "Targets (issue 14): 1080p@15 watching <= 6% of a core (<= 2% with a 640x360 substream), recording <= 8%; "
     "640x480@15 watching <= 2%, recording <= 5%; RSS <= 150 MB for one camera, <= 400 MB for eight; snapshot "
     "p95 < 1 s; first segment within segment_s + one GOP + 1 s."),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="comma-separated section keys: "
                        + ", ".join(key for key, *_ in SECTIONS))
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks.md")
    args = parser.parse_args()
    wanted = set(filter(None, args.only.split(",")))
    started = time.monotonic()
    parts = []
    for key, title, command, targets in SECTIONS:
        if wanted and key not in wanted:
            continue
        shown = " ".join([".venv/bin/python", *command])
        print(f"== {title}: {shown}", file=sys.stderr, flush=True)
        t0 = time.monotonic()
        run = subprocess.run([sys.executable, *command], cwd=REPO, capture_output=True, text=True)
        output = run.stdout.strip() if run.returncode == 0 else f"FAILED (exit {run.returncode}):\n\n```\n" \
            f"{run.stderr.strip()[-2000:]}\n```"
        parts.append(f"## {title}\n\n`{shown}` ({time.monotonic() - t0:.0f} s)\n\n"
                     + (f"{targets}\n\n" if targets else "") + output + "\n")
    header = (
        "# Benchmarks\n\n"
        f"Made by `.venv/bin/python bench/run_all.py` on {datetime.now(UTC):%Y-%m-%d} at commit "
        f"`{commit()}` on {machine()}; the whole run took {(time.monotonic() - started) / 60:.0f} min.\n"
        "Medians over several runs; where two things are compared they ran in the same invocation.\n"
        "The discussion below the tables is written by hand: see [Reading the figures](#reading-the-figures).\n\n"
    )
    notes_marker = "## Reading the figures"
    notes = ""
    if args.out.exists() and notes_marker in args.out.read_text():
        notes = args.out.read_text().split(notes_marker, 1)[1]
        notes = notes_marker + notes
    if wanted and args.out.exists():
        print("(--only: printing the sections instead of rewriting the page)", file=sys.stderr)
        print("\n".join(parts))
        return
    args.out.write_text(header + "\n".join(parts) + "\n" + (notes or notes_marker + "\n\n(to be written)\n"))
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
