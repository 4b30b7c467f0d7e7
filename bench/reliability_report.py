"""Run the reliability scenarios and write their figures table into docs/reliability.md.

    .venv/bin/python bench/reliability_report.py          # the CI versions, about 5 minutes
    .venv/bin/python bench/reliability_report.py --long   # 60 s outages and the 10-minute soak, about 17 minutes

It runs tests/test_reliability.py, tests/test_hostile.py, tests/test_soak.py and tests/test_disk_full.py
with QUICKCAM_FIGURES pointing at a scratch file; every scenario that passes its
no-loss invariant appends one row there (tests/pipeline.py, ``Pipeline.record``).
The rows replace the block between the two ``figures`` markers in the page; the
rest of the page is written by hand. Exit code 1 if any test failed (the table
then names the failures).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench._util import commit, machine  # noqa: E402

TESTS = ["tests/test_reliability.py", "tests/test_hostile.py", "tests/test_soak.py", "tests/test_disk_full.py"]
START, END = "<!-- figures:start -->", "<!-- figures:end -->"
COLUMNS = ("produced", "stored", "lost", "duplicated", "set_aside")


def run_scenarios(long: bool) -> tuple[list[dict], list[str], str]:
    """(rows, failed test ids, pytest's summary line)."""
    with tempfile.TemporaryDirectory() as scratch:
        figures = Path(scratch) / "figures.jsonl"
        env = {**os.environ, "QUICKCAM_FIGURES": str(figures)}
        env.pop("QUICKCAM_SOAK", None)
        if long:
            env["QUICKCAM_SOAK"] = "1"
        run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rf", "-p", "no:cacheprovider", *TESTS],
                             cwd=REPO, env=env, capture_output=True, text=True)
        rows = [json.loads(line) for line in figures.read_text().splitlines()] if figures.exists() else []
    lines = run.stdout.strip().splitlines()
    failed = [line.split(" ", 1)[1].split(" - ")[0] for line in lines if line.startswith("FAILED ")]
    summary = lines[-1] if lines else run.stderr.strip()[-500:]
    return rows, failed, summary.strip("= ")


def table(rows: list[dict], failed: list[str], summary: str, command: str, minutes: float) -> str:
    out = [
        f"Made by `{command}` on {datetime.now(UTC):%Y-%m-%d} at commit `{commit()}` on {machine()}; "
        f"{minutes:.1f} min; pytest: {summary}.",
        "",
        "| scenario | faults injected | produced | stored | lost | duplicated | set aside |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in sorted(rows, key=lambda r: r["scenario"]):
        cells = [str(row.get(key, 0)) for key in COLUMNS]
        out.append(f"| {row['scenario']} | {row['faults']} | " + " | ".join(cells) + " |")
    totals = [sum(int(row.get(key, 0)) for row in rows) for key in COLUMNS]
    out.append(f"| **all scenarios** | | **{totals[0]}** | **{totals[1]}** | **{totals[2]}** | **{totals[3]}** "
               f"| **{totals[4]}** |")
    if failed:
        out += ["", "**Failed:** " + ", ".join(f"`{test}`" for test in failed)]
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--long", action="store_true",
                        help="full-minute outages and the 10-minute soak (QUICKCAM_SOAK=1)")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "reliability.md")
    args = parser.parse_args()
    command = ".venv/bin/python bench/reliability_report.py" + (" --long" if args.long else "")
    print(f"== {command}", file=sys.stderr, flush=True)
    started = time.monotonic()
    rows, failed, summary = run_scenarios(args.long)
    block = table(rows, failed, summary, command, (time.monotonic() - started) / 60)
    page = args.out.read_text()
    if START not in page or END not in page:
        raise SystemExit(f"{args.out} has no {START} ... {END} block to fill")
    before, rest = page.split(START, 1)
    after = rest.split(END, 1)[1]
    args.out.write_text(f"{before}{START}\n{block}\n{END}{after}")
    print(block)
    print(f"wrote {args.out}", file=sys.stderr)
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
