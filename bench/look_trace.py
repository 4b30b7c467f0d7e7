"""Every look around each walker of a tune-side corpus clip, at full rate and under the low-power governor.

    .venv/bin/python -m bench.look_trace dark [--rate 2] [--all]

Tune side only (``bench/detection_corpus.py``'s tune split): held-out clips
are not traced, so no rule is designed on them. The clip goes through
``bench/low_power_recall.py``'s loop twice, every frame and at ``--rate``
looks a second; for each walker the full rate catches and the governor's
rate does not (every walker with ``--all``), one line per look: motion, the
blobs over the minimum area (area, box at the detection size), how many were
taken for light, the pixel threshold and noise, the dark flag, the light
context left. The trace that showed a walker in the dark at 2 fps taken for
light look after look (its blob half the size of every frame's: the dark's
averaging blended each look with the one 0.5 s before; ``looks.smoothing_weight``).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

import cv2
import numpy as np

from bench.detection_quality import SPLITS, Composer, Watcher
from bench.low_power_recall import governor_at
from quickcam.common.config import MotionConfig, RecordingConfig
from quickcam.detector.motion.base import MotionResult

Box = tuple[int, int, int, int]


@dataclass
class Look:
    result: MotionResult
    blobs: list[tuple[int, Box]]  # (area, box) of each blob over the minimum area, detection size
    light_context: int  # frames left of the light context after this look


def traced(watcher: Watcher, looks: dict[int, Look], frame_index: list[int]) -> None:
    """Record every look ``watcher`` takes into ``looks``, keyed by the frame index in ``frame_index[0]``."""
    detector = watcher.detector
    contours, detect = detector._contours, detector.detect
    blobs: list[tuple[int, Box]] = []
    min_area = detector.config.min_area_fraction

    def seen(mask: np.ndarray):  # noqa: ANN202 - OpenCV's contour sequence
        found = contours(mask)
        blobs[:] = [(round(cv2.contourArea(c)), cv2.boundingRect(c)) for c in found
                    if cv2.contourArea(c) >= min_area * mask.size]
        return found

    def look(image: np.ndarray, frames: int = 1) -> MotionResult:
        blobs.clear()
        result = detect(image, frames)
        looks[frame_index[0]] = Look(result, list(blobs), detector.light_context)
        return result

    detector._contours, detector.detect = seen, look


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("condition", help="a condition of the corpus's tune split")
    parser.add_argument("--rate", type=float, default=2.0, help="the governor's looks a second (default 2)")
    parser.add_argument("--all", action="store_true", help="every walker, not only those the rate misses")
    args = parser.parse_args(argv)
    composer = Composer(SPLITS["tune"])
    if args.condition not in composer.conditions():
        print(f"look_trace: no tune-side condition {args.condition!r}; one of: {', '.join(composer.conditions())}",
              file=sys.stderr)
        return 2
    cv2.setNumThreads(1)
    clip = composer.clip(args.condition)
    names = ("full", f"{args.rate:g} fps")
    watchers = {names[0]: Watcher(MotionConfig(), RecordingConfig()),
                names[1]: Watcher(MotionConfig(), RecordingConfig(), governor=governor_at(args.rate)())}
    looks: dict[str, dict[int, Look]] = {name: {} for name in names}
    frame_index = [0]
    for name, watcher in watchers.items():
        traced(watcher, looks[name], frame_index)
    index = -1
    for index, frame in enumerate(clip.frames):
        frame_index[0] = index
        for watcher in watchers.values():
            watcher.feed(index, frame)
    runs = {name: watcher.finish(index) for name, watcher in watchers.items()}
    print(f"{args.condition}: walkers (first, last frame) {clip.people}; lighting changes at {clip.changes}")
    for number, (first, last) in enumerate(clip.people):
        caught = {name: any(start <= last and end > first for _, start, end in runs[name].events) for name in names}
        print(f"\nwalker {number + 1}, frames {first}-{last}: "
              + ", ".join(f"{name} {'caught' if ok else 'MISSED'}" for name, ok in caught.items()))
        if caught[names[1]] and not args.all:
            continue
        for name in names:
            print(f"  {name}:")
            for i in range(first - 2, last + 1):
                if i not in looks[name]:
                    continue
                look = looks[name][i]
                r = look.result
                print(f"    {i:5d} motion {int(r.motion)} light {r.lighting_blobs} threshold {r.threshold:5.1f} "
                      f"noise {r.noise:5.2f} dark {int(r.dark)} light context {look.light_context:2d} "
                      f"blobs {look.blobs}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
