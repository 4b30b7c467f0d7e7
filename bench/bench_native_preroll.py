"""What the native detector's pre-roll costs in memory, watching and while a lens is covered.

An event the view guard starts (a covered or turned camera) begins where the cover began,
4 s before the guard says so, minus the pre-roll (docs/native.md, "View guard"): the frames
must still be in the pre-roll then. The Python detector keeps 2 s beyond ``pre_roll_s``
always; the native one keeps them only while a cover or turn is suspected. This prints the
peak RSS of each binary given, at 640x480@15 with the uploader, on a quiet looping clip
(1 and 3 cameras) and on a clip whose lens is covered (1 camera), runs interleaved, medians.

    .venv/bin/python -m bench.bench_native_preroll [--seconds 12] [--runs 3] BINARY [BINARY ...]

With no binary, this build's (scripts/build_native.sh).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from bench._util import commit, machine, median
from bench.bench_native import FPS, native_binary, process_cost, render
from tests.fakes.h264 import write_covered_lens

CLEAR_S, FADE_S, COVERED_S = 3.0, 1.0, 12.0


def render_covered(path: Path, width: int = 640, height: int = 480) -> None:
    """The demo scene without a walker, then a cloth over the lens (a fade to a dark blur)."""
    write_covered_lens(path, CLEAR_S, COVERED_S, FPS, width, height, FADE_S, {"crf": "18", "preset": "veryfast"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=12.0, help="steady-state seconds per run")
    parser.add_argument("--runs", type=int, default=3, help="runs per figure (the median is shown)")
    parser.add_argument("binaries", nargs="*", type=Path)
    args = parser.parse_args()
    binaries = args.binaries or [native_binary()]
    print(f"Machine: {machine()}; commit {commit()}; shared machine: other work runs beside it\n")
    cases = (("quiet, 1 camera", "quiet", 1), ("quiet, 3 cameras", "quiet", 3),
             ("lens covered, 1 camera", "covered", 1))
    peaks: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        videos = {"quiet": Path(tmp, "quiet.mp4"), "covered": Path(tmp, "covered.mp4")}
        render(videos["quiet"], 640, 480, ())
        render_covered(videos["covered"])
        for _ in range(args.runs):
            for case, video, cameras in cases:
                for binary in binaries:
                    peaks.setdefault((case, str(binary)), []).append(
                        process_cost([str(binary)], videos[video], args.seconds, cameras)[1])
    print(f"Peak RSS at 640x480@15 fps, looping clips with the uploader, median of {args.runs} interleaved run(s):\n")
    print("| case | " + " | ".join(str(b) for b in binaries) + " |")
    print("|---|" + "---|" * len(binaries))
    for case, _, _ in cases:
        print(f"| {case} | " + " | ".join(f"{median(peaks[(case, str(b))]):.1f} MB" for b in binaries) + " |")


if __name__ == "__main__":
    main()
