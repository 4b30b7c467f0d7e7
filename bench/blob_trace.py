"""Every blob of a tune-side quiet clip, frame by frame: what ``Persistence`` was shown and what it decided.

    .venv/bin/python bench/blob_trace.py "water, harsh weather 1" [--from 10 --to 25]

Tune side only (``bench/quiet_artefacts.py --split tune``): held-out clips are
not traced, so no rule is designed on them. Per frame with blobs: the time,
the pixel threshold and noise, each blob's box (detection-size pixels), its
busy score (``BusyMap.score``), whether it overlaps a blob of the frame
before, and the verdicts. Then, outside the walkers, how long tracks of
overlapping blobs lasted (frames in a row), against the walkers' tracks: the
trace that showed glints on water drifting a pixel a frame for 2-4 frames
(benchmarks section 7c).
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

import cv2

sys.path.insert(0, str(Path(__file__).resolve().parent))
from detection_corpus import FPS  # noqa: E402
from detection_quality import Watcher  # noqa: E402
from quiet_artefacts import VARIANTS, ArtefactComposer  # noqa: E402

from quickcam.common.config import MotionConfig, RecordingConfig  # noqa: E402
from quickcam.detector.motion.activity import _overlap  # noqa: E402

Box = tuple[int, int, int, int]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("condition", help="a tune-side condition of bench/quiet_artefacts.py")
    parser.add_argument("--from", dest="start", type=float, default=0.0, help="print frames from this second")
    parser.add_argument("--to", dest="end", type=float, default=float("inf"), help="print frames up to this second")
    args = parser.parse_args(argv)
    composer = ArtefactComposer(VARIANTS["tune"])
    if args.condition not in composer.conditions():
        print(f"blob_trace: no tune-side condition {args.condition!r}; one of: {', '.join(composer.conditions())}",
              file=sys.stderr)
        return 2
    cv2.setNumThreads(1)
    clip = composer.clip(args.condition)
    watcher = Watcher(MotionConfig(), RecordingConfig())
    detector = watcher.detector
    persistence = detector.persistence
    counts = persistence.counts
    seen: list[tuple[float, list[Box]]] = []

    def traced(boxes: list[Box], busy, stirred: bool = False, **more: object) -> list[bool]:
        before, moved = list(persistence.before), persistence.moved
        verdicts = counts(boxes, busy, stirred, **more)
        second = index / FPS
        if boxes:
            seen.append((second, boxes))
        if boxes and args.start <= second <= args.end:
            print(f"{second:7.1f} s  threshold {detector.threshold_for(128):.1f}  noise {detector.noise:.2f}  "
                  f"boxes {boxes}  busy {[round(busy.score(b), 3) for b in boxes]}  overlaps "
                  f"{[any(_overlap(b, old) for old in before) for b in boxes]}  moved before {moved}  "
                  f"stirred {stirred}  -> {verdicts}")
        return verdicts

    persistence.counts = traced
    index = -1
    for index, frame in enumerate(clip.frames):
        watcher.feed(index, frame)
    run = watcher.finish(index)
    print(f"events (s): {[(round(s / FPS, 1), round(e / FPS, 1)) for _, s, e in run.events]}")
    print(f"walkers (s): {[(round(a / FPS, 1), round(b / FPS, 1)) for a, b in clip.people]}")
    quiet, walking = Counter(), Counter()
    last: list[tuple[Box, int]] = []
    last_second = None
    for second, boxes in seen:
        follows = last_second is not None and abs(second - last_second - 1 / FPS) < 0.5 / FPS
        now = [(b, 1 + max((n for old, n in last if follows and _overlap(b, old)), default=0)) for b in boxes]
        for _, track in now:
            near = any(a / FPS - 0.5 <= second <= b / FPS + 0.5 for a, b in clip.people)
            (walking if near else quiet)[track] += 1
        last, last_second = now, second
    print("tracks that reached n frames (n: tracks; a track of 4 frames counts at 1, 2, 3 and 4)")
    print(f"  away from walkers: {sorted(quiet.items())}")
    print(f"  near walkers: {sorted(walking.items())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
