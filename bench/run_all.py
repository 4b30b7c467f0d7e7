"""Run every benchmark and regenerate docs/benchmarks.md with the figures.

    .venv/bin/python bench/run_all.py            # about 25 minutes on 2 cores
    .venv/bin/python bench/run_all.py --only latency,theft

Each section keeps the exact command that produced it, so any table can be
re-run on its own, and says what its figures are (a median over runs, or one
run). The page records the date, machine and commit it was made on (stamped
before the run, marked when the tree had uncommitted changes). The verdict table
(each target, the measured figure, met or missed) is generated from the figures
in the sections; only "Reading the figures" below it is written by hand.

    .venv/bin/python bench/run_all.py --verdicts   # regenerate only the verdicts from the page's figures
"""

from __future__ import annotations

import argparse
import operator
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench._util import commit, machine  # noqa: E402

# (key, title, command after the python executable, what the targets are, what the figures are)
SECTIONS = [
    ("detector", "1. Detector cost per camera", ["-m", "bench.bench_detector_cost", "--seconds", "20",
                                                  "--runs", "2"],
     "Targets: watching under 1% of a core, recording under 6%, RSS under 150 MB per camera.",
     "Figures: CPU the median of 2 runs, peak RSS the highest."),
    ("latency", "2. Time to footage off the machine", ["-m", "bench.bench_latency", "--seconds", "65"],
     "Targets: snapshot durable within 1 s of onset (p95); first segment within segment length + 1 s.",
     "Figures: p50 and p95 over the events of one run per configuration (not a median of runs)."),
    ("theft", "3. Footage lost to a sudden theft", ["-m", "bench.bench_theft", "--runs", "6"],
     "Target: everything except at most the open segment is already in storage.",
     "Figures: each run, then the median and the worst."),
    ("encoding", "4. Bytes per second of footage", ["-m", "bench.bench_encoding", "--seconds", "12", "--runs", "3"],
     "", "Figures: medians of 3 runs."),
    ("throughput", "5. Throughput into the uploader's spool (acknowledged, not uploaded)",
     ["-m", "bench.bench_throughput", "--detectors", "8", "--segments", "100", "--runs", "3"],
     "", "Figures: medians of 3 runs (peak RSS: the highest). Counted when the uploader acknowledges a "
         "segment, i.e. encrypted and fsynced into its spool; the uploads to the local back end run behind "
         "and are not timed."),
    ("crypto", "6. Encryption (mode 1, symmetric)", ["bench/bench_crypto.py", "--mb", "1024", "--runs", "3"],
     "Targets: at least 1 GB/s, peak RSS under 64 MB for a 1 GB file.",
     "Figures: speeds the median of 3 runs (min and max shown), peak RSS the highest."),
    ("crypto2", "6b. Encryption (mode 2, public recipient)", ["bench/bench_crypto.py", "--mb", "1024", "--runs",
                                                              "3", "--mode", "2"], "",
     "Figures: speeds the median of 3 runs (min and max shown), peak RSS the highest."),
    ("quality", "7. Detection quality on real footage", ["bench/detection_quality.py", "--old", "--variant",
                                                         "person check:person_check=true"],
     "Targets (held-out split, default settings): recall of people intervals >= 0.98 in every condition; onset "
     "<= 3 frames in light, <= 0.5 s in the dark; people-time recorded >= 0.95; 0 false events from light "
     "steps, fades, IR switches and noise; <= 1 false event per hour of quiet.",
     "Figures: one run over the labelled corpus per configuration (deterministic, not a median)."),
    ("faces", "7b. Face precision on labelled frames", ["bench/face_precision.py"],
     "Target: precision >= 0.9 where faces are reported.",
     "Figures: one run over the labelled frames (deterministic, not a median)."),
    ("fresh", "7c. Detection on fresh held-out motion and a long quiet run",
     ["bench/detection_fresh.py", "--hours", "3"],
     "Targets (default settings, never tuned on these sets): <= 1 false event per hour of quiet, shown by the "
     "one-sided 95 % upper bound; recall of people intervals >= 0.98.",
     "Figures: one run over each set (deterministic, not a median)."),
    ("person", "7d. Cost of the person check", ["bench/person_check_cost.py", "--vs", "d88254b"],
     "Bound: at most person_budget_ms_per_s (50 ms per second of video, 5 % of a core) while motion waits for a "
     "person; nothing otherwise.",
     "Figures: CPU time of the calling thread, medians over searches; d88254b is the check before issue 13 "
     "item 4 (the INRIA detector alone), timed beside today's on the same frames."),
    ("pipeline", "7e. The real pipeline on the held-out corpus",
     ["bench/detection_pipeline.py", "--format", "h264", "--format", "h264 low", "--format", "h264 x264 defaults",
      "--format", "mjpeg", "--realtime", "small people", "--realtime", "IR switch"],
     "Target: the real `quickcam detector` on the corpus's files gives the events the in-process harness "
     "(section 7) gives on the same frames.",
     "Figures: one run per file (deterministic clips; the real-time rows paced on a shared machine)."),
    ("alerts", "8. Time to a notification", ["-m", "bench.bench_alerts", "--seconds", "155", "--kills", "3"],
     "Targets: motion onset to the notification request p95 <= 2 s; detector SIGKILL to the urgent alert "
     "<= silent_after_s + 1 s.", "Figures: p50 and p95 over the events of one run; each kill listed."),
    ("console", "9. Console and low power: detector CPU", ["-m", "bench.bench_console", "--seconds", "10", "--runs",
                                                         "3"],
     "Targets: console enabled and idle costs nothing (ratio 1.00 to off); less CPU on battery than on AC.",
     "Figures: medians of 3 runs, configurations interleaved in the same invocation."),
    ("lowpower", "10. Low power: walkers caught at lowered detection rates", ["-m", "bench.low_power_recall"],
     "Target: the lowest allowed rate (2 fps) still catches every walker of the held-out corpus "
     "(docs/console.md; missed: 63/65 at 2 fps since the dark's averaging counts frames, 60/65 before).",
     "Figures: one run over the labelled walkers (deterministic, not a median)."),
    ("native", "11. The native detector beside the Python one", ["-m", "bench.bench_native", "--seconds", "15",
                                                                "--latency-seconds", "40"],
     "Targets: the native detector watching at most 1% of a core at 640x480@15, RSS at most 40 MB per camera; "
     "1080p@15 through a 640x360 substream at most 2% (issue 14; bench_native --substream-only).",
     "Figures: one run of each detector, side by side in the same invocation."),
    ("passthrough", "12. Passthrough recording against re-encoding", ["-m", "bench.bench_passthrough"],
     "Targets (issue 14): 1080p@15 watching <= 6% of a core (<= 2% with a 640x360 substream), recording <= 8%; "
     "640x480@15 watching <= 2%, recording <= 5%; RSS <= 150 MB for one camera, <= 400 MB for eight; snapshot "
     "p95 < 1 s; first segment within segment_s + one GOP + 1 s.",
     "Figures: one run per case, both recorders side by side in the same invocation."),
    ("floor", "12b. Where a watching camera's CPU goes", ["-m", "bench.bench_decode_floor"],
     "No target of its own: the floor under section 12's watching shares (decoding, the luma, the motion core).",
     "Figures: decoding the median of 3 rounds in one process; the paced motion core one run of 150 frames."),
    ("decodeopts", "12d. Decoding less for detection (opt-in fast_decode, idle_keyframes_only)",
     ["-m", "bench.bench_decode_options"],
     "No target of its own: what FFmpeg's decoder options save under section 12's watching shares, and their price.",
     "Figures: medians of 2 rounds, the variants in turn at the camera's pace; the picture deterministic."),
    ("usb", "13. USB cameras: H.264 passed through, MJPEG re-encoded", ["-m", "bench.bench_usb", "--rounds", "2"],
     "", "Figures: medians of 2 rounds, the four cases of each resolution interleaved in the same invocation."),
]

VERDICTS_START, VERDICTS_END = "<!-- verdicts:start -->", "<!-- verdicts:end -->"
NOTES_MARKER = "## Reading the figures"


def cell(text: str, row: str, column: str) -> float | None:
    """The number in markdown table ``row`` (its first cell), ``column`` (a header cell), or None."""
    header: list[str] = []
    for line in text.splitlines():
        if not line.startswith("|"):
            header = []
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not header:
            header = cells
            continue
        if cells[0] == row and column in header and header.index(column) < len(cells):
            return _number(cells[header.index(column)])
    return None


def found(pattern: str) -> Callable[[str], float | None]:
    """The first number the regex ``pattern`` captures in a section's text."""
    def extract(text: str) -> float | None:
        match = re.search(pattern, text)
        return _number(match.group(1)) if match else None
    return extract


def in_table(row: str, column: str) -> Callable[[str], float | None]:
    return lambda text: cell(text, row, column)


def _number(text: str) -> float | None:
    """The first number in ``text``; a fraction such as ``17/18`` is its value."""
    fraction = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if fraction and int(fraction.group(2)):
        return int(fraction.group(1)) / int(fraction.group(2))
    match = re.search(r"-?[\d,]*\.?\d+", text)
    return float(match.group(0).replace(",", "")) if match else None


def _shown(value: float) -> str:
    """A figure as a reader wants it: 0.944 for 17/18 (not 0.944444), 2177 for 2177.0."""
    if abs(value) >= 10:
        return f"{value:g}"
    return f"{value:.3f}".rstrip("0").rstrip(".")


@dataclass(frozen=True)
class Target:
    text: str  # as the targets were set
    section: str  # SECTIONS key whose output holds the figure
    figure: Callable[[str], float | None]
    compare: Callable[[float, float], bool]
    limit: float
    unit: str


AT_MOST, UNDER, AT_LEAST = operator.le, operator.lt, operator.ge
TARGETS = [
    Target("watching: under 1% of a core per 640x480@15 camera", "detector",
           in_table("watching (quiet scene)", "CPU, share of one core"), UNDER, 1.0, "%"),
    Target("recording: under 6% of a core", "detector",
           in_table("recording (continuous motion)", "CPU, share of one core"), UNDER, 6.0, "%"),
    Target("detector RSS under 150 MB per camera (watching)", "detector",
           in_table("watching (quiet scene)", "peak RSS"), UNDER, 150.0, " MB"),
    Target("detector RSS under 150 MB per camera (recording)", "detector",
           in_table("recording (continuous motion)", "peak RSS"), UNDER, 150.0, " MB"),
    Target("snapshot durable in local storage within 1 s of onset (p95)", "latency",
           in_table("local, H.264", "snapshot p95"), AT_MOST, 1.0, " s"),
    Target("first segment within segment length (2 s) + 1 s (p95)", "latency",
           in_table("local, H.264", "first segment p95"), AT_MOST, 3.0, " s"),
    Target("theft keeps everything but the open segment (2 s): worst loss", "theft",
           found(r"worst ([\d.]+) s"), AT_MOST, 2.0, " s"),
    Target("recall of people intervals >= 0.98 (held-out, defaults)", "quality",
           found(r"- default: recall ([\d.]+)"), AT_LEAST, 0.98, ""),
    Target("people-time recorded >= 0.95 (held-out, defaults)", "quality",
           found(r"- default: recall [\d.]+, people-time ([\d.]+)"), AT_LEAST, 0.95, ""),
    Target("0 false events from lighting changes (held-out, defaults)", "quality",
           found(r"- default: .*?false events (\d+) in \d+ lighting changes"), AT_MOST, 0.0, ""),
    Target("recall of people intervals >= 0.98, people of 0.5 % of the frame or more (fresh held-out set, "
           "defaults)", "fresh",
           found(r"(?s)Fresh held-out set.*?- recall (\d+/\d+)"), AT_LEAST, 0.98, ""),
    Target("<= 1 false event per hour of quiet (quiet hours, 95 % upper bound)", "fresh",
           found(r"(?s)Quiet hours.*?95 % upper bound ([\d.]+) / h"), AT_MOST, 1.0, " / h"),
    Target("passthrough 1080p@15 watching <= 6% of a core (single stream)", "passthrough",
           found(r"\| 1920x1080@15 \| [^|]+ \| passthrough \| ([\d.]+)%"), AT_MOST, 6.0, "%"),
    Target("passthrough 1080p@15 recording <= 8% of a core", "passthrough",
           found(r"\| 1920x1080@15 \| [^|]+ \| passthrough \| [\d.]+% \| ([\d.]+)%"), AT_MOST, 8.0, "%"),
    Target("passthrough 1080p@15 watching <= 2% with a 640x360 substream", "passthrough",
           found(r"\| 1920x1080@15, detection on a 640x360 substream \| [^|]+ \| passthrough \| ([\d.]+)%"),
           AT_MOST, 2.0, "%"),
    Target("passthrough 640x480@15 watching <= 2% of a core", "passthrough",
           found(r"\| 640x480@15 \| [^|]+ \| passthrough \| ([\d.]+)%"), AT_MOST, 2.0, "%"),
    Target("passthrough 640x480@15 recording <= 5% of a core", "passthrough",
           found(r"\| 640x480@15 \| [^|]+ \| passthrough \| [\d.]+% \| ([\d.]+)%"), AT_MOST, 5.0, "%"),
    Target("passthrough 1080p@15 watching <= 6%, opt-in fast_decode", "passthrough",
           found(r"\| 1920x1080@15 \| [^|]+ \| passthrough, fast_decode \| ([\d.]+)%"), AT_MOST, 6.0, "%"),
    Target("passthrough 1080p@15 recording <= 8%, opt-in fast_decode", "passthrough",
           found(r"\| 1920x1080@15 \| [^|]+ \| passthrough, fast_decode \| [\d.]+% \| ([\d.]+)%"), AT_MOST, 8.0, "%"),
    Target("passthrough 1080p@15 watching <= 6%, opt-in idle_keyframes_only (onset price: section 12d)",
           "passthrough", found(r"\| 1920x1080@15 \| [^|]+ \| passthrough, idle_keyframes_only \| ([\d.]+)%"),
           AT_MOST, 6.0, "%"),
    Target("passthrough 1080p@15 watching <= 2% with a 640x360 substream, opt-in idle_keyframes_only",
           "passthrough", found(r"\| 1920x1080@15, detection on a 640x360 substream \| [^|]+ \| "
                                r"passthrough, idle_keyframes_only \| ([\d.]+)%"), AT_MOST, 2.0, "%"),
    Target("passthrough 640x480@15 watching <= 2%, opt-in idle_keyframes_only (onset price: section 12d)",
           "passthrough", found(r"\| 640x480@15 \| [^|]+ \| passthrough, idle_keyframes_only \| ([\d.]+)%"),
           AT_MOST, 2.0, "%"),
    Target("passthrough 1080p@15 recording <= 8%, opt-in event_keyframes_only (walkers crossing in 10 s; 12d)",
           "passthrough", found(r"\| 1920x1080@15, walkers crossing in 10 s \| [^|]+ \| "
                                r"passthrough, event_keyframes_only \| [^|]+ \| ([\d.]+)%"), AT_MOST, 8.0, "%"),
    Target("passthrough 640x480@15 recording <= 5%, opt-in event_keyframes_only (walkers crossing in 10 s; 12d)",
           "passthrough", found(r"\| 640x480@15, walkers crossing in 10 s \| [^|]+ \| "
                                r"passthrough, event_keyframes_only \| [^|]+ \| ([\d.]+)%"), AT_MOST, 5.0, "%"),
    Target("passthrough detector RSS <= 150 MB for one 1080p camera", "passthrough",
           found(r"\| passthrough \| 1 \| [\d.]+% \| ([\d.]+) MB"), AT_MOST, 150.0, " MB"),
    Target("passthrough detector RSS <= 400 MB for eight 1080p cameras", "passthrough",
           found(r"\| passthrough \| 8 \| [\d.]+% \| ([\d.]+) MB"), AT_MOST, 400.0, " MB"),
    Target("native detector watching at 640x480@15 <= 1% of a core", "native",
           found(r"\| 640x480 \| watching \| [\d.]+% \| ([\d.]+)%"), AT_MOST, 1.0, "%"),
    Target("native detector watching 1080p@15 through a 640x360 substream <= 2% of a core (issue 14)", "native",
           found(r"\| native \| watching \| 640x360 \(detect_path\) \| ([\d.]+)%"), AT_MOST, 2.0, "%"),
    Target("native detector watching 640x480@15 <= 2%, opt-in idle_keyframes_only, 1 s GOP (issue 14; section 11)",
           "native", found(r"\| native \| 640x480@15 \| 1 s \| [\d.]+% \| ([\d.]+)%"), AT_MOST, 2.0, "%"),
    Target("native detector watching 1080p@15 <= 6%, opt-in idle_keyframes_only, 1 s GOP (issue 14; section 11)",
           "native", found(r"\| native \| 1920x1080@15 \| 1 s \| [\d.]+% \| ([\d.]+)%"), AT_MOST, 6.0, "%"),
    Target("native detector RSS <= 40 MB for one camera", "native",
           found(r"\| native \| ([\d.]+) MB \|"), AT_MOST, 40.0, " MB"),
    Target("encryption >= 1 GB/s (mode 1, encrypt)", "crypto", found(r"encrypt: median ([\d,.]+) MB/s"),
           AT_LEAST, 1000.0, " MB/s"),
    Target("decryption >= 1 GB/s (mode 1)", "crypto", found(r"decrypt: median ([\d,.]+) MB/s"),
           AT_LEAST, 1000.0, " MB/s"),
    Target("peak RSS under 64 MB for a 1 GB file (mode 1)", "crypto", found(r"peak RSS ([\d.]+) MB"),
           UNDER, 64.0, " MB"),
]


def verdicts(sections: dict[str, str]) -> str:
    """The verdict table, from the sections' text (``{key: output}``) and TARGETS."""
    out = [VERDICTS_START, "## Targets: met or missed", "",
           "Generated by `bench/run_all.py` from the figures above and the targets; a figure it cannot find "
           "in its section's output is shown as not measured.", "",
           "| target | measured | verdict |", "|---|---|---|"]
    for target in TARGETS:
        text = sections.get(target.section)
        value = target.figure(text) if text else None
        if value is None:
            why = "section not run" if text is None else "figure not found in the section's output"
            out.append(f"| {target.text} | - | **not measured** ({why}) |")
            continue
        met = target.compare(value, target.limit)
        out.append(f"| {target.text} | {_shown(value)}{target.unit} | {'met' if met else '**missed**'} |")
    out.append(VERDICTS_END)
    return "\n".join(out)


def page_sections(page: str) -> dict[str, str]:
    """The text of each section of an existing page, by SECTIONS key (for --verdicts)."""
    found_sections = {}
    for key, title, *_ in SECTIONS:
        match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |^{re.escape(VERDICTS_START)}|\Z)", page,
                          re.M | re.S)
        if match:
            found_sections[key] = match.group(1)
    return found_sections


def replace_verdicts(page: str, table: str) -> str:
    if VERDICTS_START in page and VERDICTS_END in page:
        before, rest = page.split(VERDICTS_START, 1)
        return before + table + rest.split(VERDICTS_END, 1)[1]
    before, notes = page.split(NOTES_MARKER, 1) if NOTES_MARKER in page else (page, "\n\n(to be written)\n")
    return before + table + "\n\n" + NOTES_MARKER + notes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="comma-separated section keys: "
                        + ", ".join(key for key, *_ in SECTIONS))
    parser.add_argument("--verdicts", action="store_true",
                        help="only regenerate the verdict table from the figures already on the page")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks.md")
    args = parser.parse_args()
    if args.verdicts:
        page = args.out.read_text()
        args.out.write_text(replace_verdicts(page, verdicts(page_sections(page))))
        print(f"wrote the verdicts in {args.out}", file=sys.stderr)
        return
    wanted = set(filter(None, args.only.split(",")))
    stamp = commit()  # before the run: the commit the figures come from
    started = time.monotonic()
    parts, outputs = [], {}
    for key, title, command, targets, statistic in SECTIONS:
        if wanted and key not in wanted:
            continue
        shown = " ".join([".venv/bin/python", *command])
        print(f"== {title}: {shown}", file=sys.stderr, flush=True)
        t0 = time.monotonic()
        run = subprocess.run([sys.executable, *command], cwd=REPO, capture_output=True, text=True)
        output = run.stdout.strip() if run.returncode == 0 else f"FAILED (exit {run.returncode}):\n\n```\n" \
            f"{run.stderr.strip()[-2000:]}\n```"
        outputs[key] = output if run.returncode == 0 else ""
        parts.append(f"## {title}\n\n`{shown}` ({time.monotonic() - t0:.0f} s)\n\n"
                     + (f"{targets}\n\n" if targets else "") + f"{statistic}\n\n" + output + "\n")
    header = (
        "# Benchmarks\n\n"
        f"Made by `.venv/bin/python bench/run_all.py` on {datetime.now(UTC):%Y-%m-%d} at commit "
        f"`{stamp}` on {machine()}; the whole run took {(time.monotonic() - started) / 60:.0f} min.\n"
        "Each section says whether its figures are medians over runs; where two things are compared they ran "
        "in the same invocation.\n"
        "The verdict table is generated from the figures; the discussion below it is written by hand: see "
        "[Reading the figures](#reading-the-figures).\n\n"
    )
    if wanted and args.out.exists():
        print("(--only: printing the sections instead of rewriting the page)", file=sys.stderr)
        print("\n".join(parts))
        print(verdicts(outputs))
        return
    notes = ""
    if args.out.exists() and NOTES_MARKER in args.out.read_text():
        notes = NOTES_MARKER + args.out.read_text().split(NOTES_MARKER, 1)[1]
    args.out.write_text(header + "\n".join(parts) + "\n" + verdicts(outputs) + "\n\n"
                        + (notes or NOTES_MARKER + "\n\n(to be written)\n"))
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
