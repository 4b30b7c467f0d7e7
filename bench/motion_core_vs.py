"""The motion core's CPU per frame, today's beside another commit's, on the same frames (interleaved).

    .venv/bin/python bench/motion_core_vs.py --vs COMMIT [--condition NAME ...] [--split tune]

Frames: conditions of the detection corpus (bench/detection_corpus.py, 384x288,
shrunk to the default 160 px detection width by the core). Each frame goes to
both cores, in alternating order; per frame, the thread's CPU time
(``time.thread_time``). Prints medians and means per core and their difference.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import cv2

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _motion_at import factory_at  # noqa: E402
from detection_corpus import FPS, SPLITS, Composer  # noqa: E402

from quickcam.common.config import MotionConfig  # noqa: E402
from quickcam.detector.motion import create_detector  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vs", required=True, metavar="COMMIT")
    parser.add_argument("--split", choices=sorted(SPLITS), default="tune")
    parser.add_argument("--condition", action="append", default=[])
    args = parser.parse_args(argv)
    cv2.setNumThreads(1)
    composer = Composer(SPLITS[args.split])
    names = ("today", f"at {args.vs}")
    times: dict[str, list[float]] = {name: [] for name in names}
    for condition in args.condition or ["day", "lingering walker", "dark"]:
        cores = dict(zip(names, (create_detector(MotionConfig(), fps=FPS),
                                 factory_at(args.vs)(MotionConfig(), fps=FPS)), strict=True))
        for index, frame in enumerate(composer.clip(condition).frames):
            order = names if index % 2 else names[::-1]
            for name in order:
                started = time.thread_time()
                cores[name].detect(frame)
                times[name].append((time.thread_time() - started) * 1000)
    print(f"motion core, CPU ms per frame (thread time), {len(times[names[0]])} frames of "
          f"{', '.join(args.condition or ['day', 'lingering walker', 'dark'])} ({args.split}), 384x288 "
          "in, 160x120 detection; shared machine")
    for name in names:
        print(f"- {name}: median {statistics.median(times[name]):.3f}, mean {statistics.fmean(times[name]):.3f}")
    diff = [a - b for a, b in zip(times[names[0]], times[names[1]], strict=True)]
    print(f"- today - at {args.vs}: median of per-frame differences {statistics.median(diff):+.3f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
