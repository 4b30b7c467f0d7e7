"""The figures pages can show a failure: verdicts come from the figures, scenarios that did not run are named.

bench/run_all.py and bench/reliability_report.py turn benchmark and scenario output
into docs/benchmarks.md and docs/reliability.md; these tests feed them bad results
and check the pages say so.
"""

from __future__ import annotations

import re
from pathlib import Path

from bench import reliability_report, run_all

DETECTOR = """
| state | CPU, share of one core | peak RSS | cameras per 2-core machine |
|---|---|---|---|
| watching (quiet scene) | 0.8% | 120 MB | 250 |
| recording (continuous motion) | 14.3% | 159 MB | 13 |
"""


def _verdict(table: str, target: str) -> str:
    (line,) = [line for line in table.splitlines() if line.startswith(f"| {target} |")]
    return line


def test_verdicts_follow_the_measured_figures_and_name_what_was_not_measured() -> None:
    table = run_all.verdicts({"detector": DETECTOR, "theft": "median lost 1.2 s, worst 2.6 s (...)",
                              "crypto": "encrypt: median 2,177 MB/s (min 1,042)\nno decrypt line here"})
    assert _verdict(table, "watching: under 1% of a core per 640x480@15 camera").endswith("| 0.8% | met |")
    assert _verdict(table, "recording: under 6% of a core").endswith("| 14.3% | **missed** |")
    assert "| 2.6 s | **missed** |" in _verdict(table, "theft keeps everything but the open segment (2 s): worst loss")
    assert "| 2177 MB/s | met |" in _verdict(table, "encryption >= 1 GB/s (mode 1, encrypt)")
    assert "figure not found" in _verdict(table, "decryption >= 1 GB/s (mode 1)")
    assert "section not run" in _verdict(table, "recall of people intervals >= 0.98 (held-out, defaults)")


def test_verdicts_read_a_fraction_and_the_passthrough_rows_of_their_own_recorder() -> None:
    fresh = "**Fresh held-out set** (...)\n\n| a | b |\n|---|---|\n\n- recall 17/18, people-time 0.951; ..."
    passthrough = ("| resolution | bitrate | recorder | watching | recording |\n|---|---|---|---|---|\n"
                   "| 640x480@15 | 1110 kbit/s | reencode | 4.0% | 9.2% |\n"
                   "| 640x480@15 | 1110 kbit/s | passthrough | 1.6% | 4.4% |\n")
    table = run_all.verdicts({"fresh": fresh, "passthrough": passthrough})
    fresh_recall = _verdict(table, "recall of people intervals >= 0.98, people of 0.5 % of the frame or more "
                                   "(fresh held-out set, defaults)")
    assert fresh_recall.endswith("| 0.944 | **missed** |")
    assert _verdict(table, "passthrough 640x480@15 watching <= 2% of a core").endswith("| 1.6% | met |")
    assert _verdict(table, "passthrough 640x480@15 recording <= 5% of a core").endswith("| 4.4% | met |")


def test_the_verdicts_on_the_committed_page_are_the_ones_its_figures_give() -> None:
    page = (Path(run_all.REPO) / "docs" / "benchmarks.md").read_text()
    assert run_all.verdicts(run_all.page_sections(page)) in page


JUNIT = """<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest">
<testcase classname="tests.test_reliability" name="test_a" time="1"/>
<testcase classname="tests.test_reliability" name="test_b" time="1"><error message="fixture 'moto' failed">x</error>
</testcase>
<testcase classname="tests.test_reliability" name="test_c" time="1"><failure message="AssertionError: lost: [1]">y
</failure></testcase>
<testcase classname="tests.test_soak" name="test_d" time="0"><skipped message="the 10-minute soak runs with
QUICKCAM_SOAK=1"/></testcase>
<testcase classname="tests.test_reliability" name="test_e" time="1"><failure message="boom before figures"/>
</testcase>
</testsuite></testsuites>"""


def test_a_scenario_that_errored_or_failed_before_its_figures_is_a_did_not_run_row(tmp_path: Path) -> None:
    report = tmp_path / "junit.xml"
    report.write_text(JUNIT)
    outcomes = reliability_report.read_junit(report)
    assert [o[1] for o in outcomes] == ["passed", "error", "failed", "skipped", "failed"]
    rows = [{"scenario": "1. a", "faults": "f", "produced": 5, "stored": 5, "lost": 0, "duplicated": 0,
             "test": "tests/test_reliability.py::test_a"},
            {"scenario": "3. c", "faults": "f", "produced": 5, "stored": 4, "lost": 1, "duplicated": 0,
             "test": "tests/test_reliability.py::test_c"}]
    run = reliability_report.summarize(rows, outcomes, "1 passed, 2 failed, 1 error", 1, long=False)
    assert [test for test, _ in run.not_run] == ["tests/test_reliability.py::test_b",
                                                 "tests/test_reliability.py::test_e"]
    table = reliability_report.table(run, "cmd", "abc123", 1.0)
    assert "| `tests/test_reliability.py::test_b` | did not run: error: fixture 'moto' failed |" in table
    assert "did not run: failed before recording its figures: boom before figures" in table
    assert "| 3. c | f | 5 | 4 | 1 | 0 |" in table
    assert "**2 scenario(s) did not run**" in table
    assert "test_d" not in table  # the soak is opt-in in the short run


def test_every_numbered_scenario_of_the_reliability_page_has_a_row_in_the_report() -> None:
    """A scenario's row comes from a test that records its figures ("N. ...") or from ``CHECKS``."""
    repo = Path(reliability_report.__file__).resolve().parent.parent
    page = (repo / "docs" / "reliability.md").read_text()
    numbered = set(re.findall(r"^(\d+)\. \*\*", page, re.MULTILINE))
    assert len(numbered) >= 20
    recorded = {number for test in reliability_report.TESTS
                for number in re.findall(r'"(\d+)[a-c]?\. ', (repo / test).read_text())}
    checked = {scenario.split(".", 1)[0] for scenario in reliability_report.CHECKS}
    assert numbered - recorded - checked == set()
    for tests in reliability_report.CHECKS.values():
        assert all((repo / test.split("::", 1)[0]).exists() for test in tests), tests


def test_a_scenario_checked_without_figures_has_a_row_with_its_tests_outcome() -> None:
    outcomes = [("tests/test_clock_jumps.py::test_x", "passed", ""),
                ("tests/test_rate_limited_backend.py::test_y", "failed", "AssertionError"),
                ("tests/test_uploader_disk_full.py::test_z", "skipped", "needs root for a tmpfs")]
    run = reliability_report.add_checks(reliability_report.Run([], [], [], "s", 0), outcomes)
    table = reliability_report.table(run, "cmd", "abc123", 1.0)
    assert ("| 15. the wall clock stepped back and forward | checked by `tests/test_clock_jumps.py`: 1 passed | - |"
            in table)
    assert "| 16. a back end answering 429 with Retry-After for a while | checked by " in table
    assert run.failed == ["tests/test_rate_limited_backend.py::test_y"]
    assert "| `17. the uploader's own disk full` | did not run: skipped: needs root for a tmpfs |" in table
    assert "| `18. junk from the uploader after a good hello` | did not run: no test of it ran |" in table
