"""Run the reliability scenarios and write their figures table into docs/reliability.md.

    .venv/bin/python bench/reliability_report.py          # the CI versions and 12-20's tests, about 7 minutes
    .venv/bin/python bench/reliability_report.py --long   # 60 s outages and the 10-minute soak, about 17 minutes

It runs tests/test_reliability.py, tests/test_hostile.py, tests/test_soak.py,
tests/test_disk_full.py, tests/test_outbox_faults.py and tests/test_outbox_unwritable.py
with QUICKCAM_FIGURES pointing at a scratch file; every scenario appends one row
there, counted from the data whether or not its no-loss invariant held
(tests/pipeline.py, ``Pipeline.record``). The scenarios whose tests check a
behaviour rather than count footage (12-20: ``CHECKS``) run in a second pytest
run (about 2 minutes more) and get a row each with their tests' outcome, the
footage columns "-". The outcome of every test comes from pytest's JUnit XML
report, so a scenario that errored in setup, was skipped or failed before
recording shows as a "did not run" row with its reason. The rows replace the
block between the two ``figures`` markers in the page; the rest of the page is
written by hand. Exit code 1 if pytest failed or any scenario did not run (the
table then names them). Every numbered scenario of the page has a row
(``tests/test_bench_reports.py`` holds the page and this list together).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from xml.etree import ElementTree

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench._util import commit, machine  # noqa: E402

TESTS = ["tests/test_reliability.py", "tests/test_hostile.py", "tests/test_soak.py", "tests/test_disk_full.py",
         "tests/test_outbox_faults.py", "tests/test_outbox_unwritable.py"]
# Scenarios proved by tests that check a behaviour (one line, a fault, a health check) rather than count
# footage: their row says which tests and how they ended. Numbered as in docs/reliability.md.
CHECKS = {
    "12. two detectors on one outbox": [
        "tests/test_outbox_faults.py::test_a_second_detector_on_the_same_outbox_refuses_to_start_in_one_line"],
    "13. the uploader's spool or ledger deleted while it runs": [
        "tests/uploader/test_spool.py", "tests/uploader/test_ledger.py", "tests/test_healthcheck_roles.py"],
    "14. two detectors with the same camera id, one uploader": ["tests/uploader/test_detector_table.py"],
    "15. the wall clock stepped back and forward": ["tests/test_clock_jumps.py"],
    "16. a back end answering 429 with Retry-After for a while": ["tests/test_rate_limited_backend.py"],
    "17. the uploader's own disk full": ["tests/test_uploader_disk_full.py"],
    "18. junk from the uploader after a good hello": ["tests/test_link_hostile_uploader.py"],
    "19. a camera figure the protocol refuses": ["tests/detector/test_status_header.py"],
    "20. a stream camera sending garbage after a good start": ["tests/detector/test_stream_garbage.py"],
}
START, END = "<!-- figures:start -->", "<!-- figures:end -->"
COLUMNS = ("produced", "stored", "lost", "duplicated", "invented", "altered", "set_aside")


# The 10-minute soak is opt-in: skipped on purpose by the short run, not a scenario that failed to run.
OPT_IN_SKIP = "QUICKCAM_SOAK=1"


@dataclass
class Run:
    rows: list[dict]
    not_run: list[tuple[str, str]]  # (test id, why it did not run or did not finish)
    failed: list[str]
    summary: str
    exit_code: int
    checked: list[tuple[str, str]] = field(default_factory=list)  # (scenario, its tests' outcome): CHECKS


def _pytest(args: list[str], env: dict[str, str], scratch: Path) -> tuple[list[tuple[str, str, str]], str, int]:
    """(outcomes from the JUnit report, pytest's summary line, its exit code) of one pytest run."""
    report = scratch / "junit.xml"
    report.unlink(missing_ok=True)
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rfEs", "-p", "no:cacheprovider",
                          f"--junitxml={report}", *args], cwd=REPO, env=env, capture_output=True, text=True)
    lines = run.stdout.strip().splitlines()
    summary = (lines[-1] if lines else run.stderr.strip()[-500:]).strip("= ")
    return (read_junit(report) if report.exists() else []), summary, run.returncode


def run_scenarios(long: bool) -> Run:
    with tempfile.TemporaryDirectory() as scratch:
        figures = Path(scratch) / "figures.jsonl"
        env = {**os.environ, "QUICKCAM_FIGURES": str(figures)}
        env.pop("QUICKCAM_SOAK", None)
        if long:
            env["QUICKCAM_SOAK"] = "1"
        # -m slow: the scenarios (each records a row); the quick checks beside them in these files do not.
        outcomes, summary, exit_code = _pytest(["-m", "slow", *TESTS], env, Path(scratch))
        rows = [json.loads(line) for line in figures.read_text().splitlines()] if figures.exists() else []
        checks, checks_summary, checks_exit = _pytest(sorted({t for tests in CHECKS.values() for t in tests}), env,
                                                      Path(scratch))
    run = summarize(rows, outcomes, f"{summary}; scenarios 12-20: {checks_summary}", exit_code or checks_exit, long)
    return add_checks(run, checks)


def add_checks(run: Run, outcomes: list[tuple[str, str, str]]) -> Run:
    """A row per ``CHECKS`` scenario from its tests' outcomes; one that failed or did not run is named as such."""
    for scenario, tests in CHECKS.items():
        mine = [(test, outcome, why) for test, outcome, why in outcomes if test.startswith(tuple(tests))]
        counts = {outcome: sum(o == outcome for _, o, _ in mine) for outcome in ("passed", "failed", "error",
                                                                               "skipped")}
        if not counts["passed"] and not counts["failed"]:
            why = next((f"{o}: {w}" for _, o, w in mine if o in ("error", "skipped")), "no test of it ran")
            run.not_run.append((scenario, why))
            continue
        run.failed += [test for test, outcome, _ in mine if outcome in ("failed", "error")]
        said = ", ".join(f"{n} {outcome}" for outcome, n in counts.items() if n)
        run.checked.append((scenario, f"checked by {', '.join(f'`{t}`' for t in tests)}: {said}"))
    return run


def summarize(rows: list[dict], outcomes: list[tuple[str, str, str]], summary: str, exit_code: int,
              long: bool) -> Run:
    """Every scenario either has its row or is named with why it did not run (or did not get as far)."""
    failed = [test for test, outcome, _ in outcomes if outcome == "failed"]
    recorded = {row.get("test") for row in rows}
    not_run = [(test, f"{outcome}: {reason}") for test, outcome, reason in outcomes
               if outcome in ("error", "skipped") and not (not long and OPT_IN_SKIP in reason)]
    not_run += [(test, f"failed before recording its figures: {reason}") for test, outcome, reason in outcomes
                if outcome == "failed" and test not in recorded]
    if not outcomes:
        not_run.append(("pytest", f"no test report (exit code {exit_code}): {summary}"))
    return Run(rows, not_run, failed, summary, exit_code)


def read_junit(path: Path) -> list[tuple[str, str, str]]:
    """(test id, passed/failed/error/skipped, first line of the reason) for every test pytest reported."""
    found = []
    for case in ElementTree.parse(path).iter("testcase"):
        test = f"{case.get('classname', '').replace('.', '/')}.py::{case.get('name')}"
        outcome, reason = "passed", ""
        for tag in ("error", "failure", "skipped"):
            element = case.find(tag)
            if element is not None:
                outcome = {"failure": "failed"}.get(tag, tag)
                reason = (element.get("message") or element.text or "").strip().splitlines()
                reason = reason[0][:200] if reason else "no reason given"
                break
        found.append((test, outcome, reason))
    return found


def table(run: Run, command: str, stamp: str, minutes: float) -> str:
    out = [
        f"Made by `{command}` on {datetime.now(UTC):%Y-%m-%d} at commit `{stamp}` on {machine()}; "
        f"{minutes:.1f} min; pytest: {run.summary}.",
        "",
        "| scenario | faults injected | produced | stored | lost | duplicated | invented | altered | set aside |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in sorted(run.rows, key=lambda r: r["scenario"]):
        cells = [str(row.get(key, 0)) for key in COLUMNS]
        out.append(f"| {row['scenario']} | {row['faults']} | " + " | ".join(cells) + " |")
    for scenario, said in run.checked:  # no footage counted: the tests check a behaviour
        out.append(f"| {scenario} | {said.replace('|', '/')} |" + " - |" * len(COLUMNS))
    for test, why in run.not_run:
        out.append(f"| `{test}` | did not run: {why.replace('|', '/')} |" + " - |" * len(COLUMNS))
    totals = [sum(int(row.get(key, 0)) for row in run.rows) for key in COLUMNS]
    out.append("| **all scenarios** | | " + " | ".join(f"**{total}**" for total in totals) + " |")
    if run.failed:
        out += ["", "**Failed:** " + ", ".join(f"`{test}`" for test in run.failed)]
    if run.not_run:
        out += ["", f"**{len(run.not_run)} scenario(s) did not run**; the totals above leave them out."]
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--long", action="store_true",
                        help="full-minute outages and the 10-minute soak (QUICKCAM_SOAK=1)")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "reliability.md",
                        help="a page holding the table's markers, filled in place (a copy of docs/reliability.md)")
    args = parser.parse_args()
    if not args.out.is_file() or START not in (page := args.out.read_text()) or END not in page:
        raise SystemExit(f"reliability_report: {args.out} has no {START} ... {END} block to fill; "
                         "give --out a copy of docs/reliability.md")  # said before the run, not after its minutes
    command = ".venv/bin/python bench/reliability_report.py" + (" --long" if args.long else "")
    print(f"== {command}", file=sys.stderr, flush=True)
    stamp = commit()  # before the run: what the figures come from
    started = time.monotonic()
    run = run_scenarios(args.long)
    block = table(run, command, stamp, (time.monotonic() - started) / 60)
    page = args.out.read_text()
    before, rest = page.split(START, 1)
    after = rest.split(END, 1)[1]
    args.out.write_text(f"{before}{START}\n{block}\n{END}{after}")
    print(block)
    print(f"wrote {args.out}", file=sys.stderr)
    if run.exit_code != 0 or run.failed or run.not_run:
        print(f"reliability_report: pytest exit code {run.exit_code}, {len(run.failed)} failed, "
              f"{len(run.not_run)} did not run", file=sys.stderr)
        raise SystemExit(1)


if __name__ == "__main__":
    main()
