"""The blobs around every event start of a tune-side clip or quiet-hours segment, and where each started.

    .venv/bin/python bench/onset_trace.py "curtain, mild weather 1"      # a tune-side quiet_artefacts clip
    .venv/bin/python bench/onset_trace.py --seed 2 --segment 20           # a quiet-hours segment of a tune seed

Tune side only: the quiet_artefacts tune variant, or the quiet hours
(``bench/detection_fresh.py``) at a seed already looked at (TUNE_SEEDS);
the seeds kept for a gate are refused. Per event start (false or a
walker's): the frames from six before its onset to three after, each
blob's box (detection-size pixels), its busy score (``BusyMap.score``: under
``PERSIST_SCORE`` the place is calm and ``Persistence`` lets it through at
once), whether it overlaps a blob of the frame before, and the verdict; then
a count of false events that started on a calm blob against a busy one. It
showed (benchmarks 7c, branch s7-sway) that most water and cloud-shadow
events start on calm blobs, where no busy-place rule reaches.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2

sys.path.insert(0, str(Path(__file__).resolve().parent))
from detection_quality import Watcher  # noqa: E402
from fresh_corpus import FPS, FreshComposer  # noqa: E402
from quiet_artefacts import VARIANTS, ArtefactComposer  # noqa: E402

from quickcam.common.config import MotionConfig, RecordingConfig  # noqa: E402
from quickcam.detector.motion.activity import PERSIST_SCORE, _overlap  # noqa: E402

TUNE_SEEDS = (1, 2, 5, 7, 11, 12)  # quiet-hours seeds already looked at (benchmarks 7c); 3 and 13 are documented
Box = tuple[int, int, int, int]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("condition", nargs="?", help="a tune-side condition of bench/quiet_artefacts.py")
    parser.add_argument("--seed", type=int, help=f"a quiet-hours seed, one of {TUNE_SEEDS}")
    parser.add_argument("--segment", type=int, help="the quiet-hours segment, 1-24")
    args = parser.parse_args(argv)
    cv2.setNumThreads(1)
    if args.seed is not None:
        if args.seed not in TUNE_SEEDS or args.segment is None:
            print(f"onset_trace: --seed must be one of {TUNE_SEEDS} (the others are kept for a gate), "
                  "with --segment", file=sys.stderr)
            return 2
        composer = FreshComposer(hours=6, seed=args.seed)
        name = composer.quiet_segments()[args.segment - 1]
    else:
        composer = ArtefactComposer(VARIANTS["tune"])
        if args.condition not in composer.conditions():
            print(f"onset_trace: no tune-side condition {args.condition!r}; one of: "
                  f"{', '.join(composer.conditions())}", file=sys.stderr)
            return 2
        name = args.condition
    clip = composer.clip(name)
    watcher = Watcher(MotionConfig(), RecordingConfig())
    persistence = watcher.detector.persistence
    counts = persistence.counts
    frames: dict[int, list[tuple[Box, float, bool, bool]]] = {}
    index = -1

    def traced(boxes: list[Box], busy, stirred: bool = False, **more: object) -> list[bool]:
        before = list(persistence.before)
        verdicts = counts(boxes, busy, stirred, **more)
        frames[index] = [(box, busy.score(box), any(_overlap(box, old) for old in before), ok)
                         for box, ok in zip(boxes, verdicts, strict=True)]
        return verdicts

    persistence.counts = traced
    for index, frame in enumerate(clip.frames):
        watcher.feed(index, frame)
    run = watcher.finish(index)
    post = int(RecordingConfig().post_roll_s * FPS)
    calm = busy = 0
    print(f"{name}: walkers at frames {clip.people}")
    for onset, start, _ in run.events:
        false = not any(first <= start <= last + post for first, last in clip.people)
        first = [score for _, score, _, ok in frames.get(onset, []) if ok]
        if false:
            calm += bool(first) and min(first) < PERSIST_SCORE
            busy += bool(first) and min(first) >= PERSIST_SCORE
        print(f"\n{'false event' if false else 'walker'} at {onset / FPS:.1f} s (frame {onset})")
        for i in range(onset - 6, onset + 4):
            blobs = frames.get(i, [])
            print(f"  {i}: " + "; ".join(f"{box} busy {score:.3f}{' overlaps' if over else ''} "
                                        f"{'counted' if ok else 'not counted'}" for box, score, over, ok in blobs))
    print(f"\nfalse events started on a calm blob: {calm}, on a busy one: {busy}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
