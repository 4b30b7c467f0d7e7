"""Quiet-hours segments seen twice by one motion core, restarted between: false events of a fresh core and a warm one.

    .venv/bin/python bench/warm_quiet.py --seeds 79 71 --segments 2 4 10

``bench/detection_fresh.py --quiet-only`` starts a new core for every
15-minute segment, so each quarter hour of its "per hour" figure is a camera's
first quarter hour: the busy map (``activity.BusyMap``, what the core knows of
where leaves, a curtain or water move) is learnt from nothing each time. A
real camera's detector learns it once: a reconnect (``MotionDetector.restart``)
forgets the background and its motion, not the map. Here each segment is fed
to a new core (pass 1, as the quiet hours), then ``restart`` is called and the
same frames are fed again (pass 2: a camera back after a reconnect, its map
learnt over the last 15 minutes of the same weather). Both are scored as
``detection_fresh`` scores (walkers of the target's size; false events,
start-ups begun in the warm-up included). Pass 2's place has moved as pass 1's
did, so it shows what a learnt map is worth, not the rate of a long run.
Tune seeds only: the gates are refused.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2

sys.path.insert(0, str(Path(__file__).resolve().parent))
from detection_corpus import TARGET_COVER  # noqa: E402
from detection_fresh import fresh_score  # noqa: E402
from detection_quality import Watcher  # noqa: E402
from fresh_corpus import FreshComposer  # noqa: E402
from paired_quiet import GATES, events_of  # noqa: E402

import quickcam.detector.motion.base as base  # noqa: E402
from quickcam.common.config import MotionConfig, RecordingConfig  # noqa: E402
from quickcam.detector.motion import create_detector  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", required=True)
    parser.add_argument("--segments", type=int, nargs="+", required=True, help="quiet-hours segments, 1-24")
    args = parser.parse_args(argv)
    if set(args.seeds) & set(GATES):
        print(f"warm_quiet: seeds {GATES} are gates, not for design", file=sys.stderr)
        return 2
    cv2.setNumThreads(1)
    base.MotionDetector.glints = True
    config, recording = MotionConfig(), RecordingConfig()
    print("| seed, segment | fresh core: false at (s) | warm core: false at (s) | walkers caught (fresh, warm) "
          "| onsets (fresh, warm) |")
    print("|---|---|---|---|---|")
    totals = [0, 0]
    started = time.monotonic()
    for seed in args.seeds:
        composer = FreshComposer(hours=6, seed=seed)
        every = composer.quiet_segments(max(args.segments))
        for number in args.segments:
            watcher = Watcher(config, recording, create_detector)
            core = watcher.detector
            cells, caught, onsets = [], [], []
            for warm in (False, True):
                if warm:
                    core.restart()  # as the detector does when a camera comes back
                    watcher = Watcher(config, recording, lambda *_, same=core, **__: same)
                clip = composer.clip(every[number - 1])
                index = -1
                for index, frame in enumerate(clip.frames):
                    watcher.feed(index, frame)
                run = watcher.finish(index)
                got, _ = fresh_score(run, clip, recording, TARGET_COVER)
                totals[warm] += got.false_lighting + got.false_quiet + got.startup
                cells.append(f"{got.false_lighting + got.false_quiet + got.startup}: {events_of(run, clip)}")
                caught.append(f"{got.caught}/{got.people}")
                onsets.append("/".join(str(o) for o in got.onsets) or "-")
            print(f"| {seed}, {every[number - 1]} | " + " | ".join(cells) + " | " + ", ".join(caught)
                  + " | " + ", ".join(onsets) + " |", flush=True)
    print(f"\n**all**: fresh {totals[0]} false, warm {totals[1]} false ({time.monotonic() - started:.0f} s wall)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
