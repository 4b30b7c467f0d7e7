"""Quiet-hours segments through two motion cores on the same frames: a rule judged paired, segment by segment.

    .venv/bin/python bench/paired_quiet.py --vs a86b5aa --seeds 29 23 --segments 2 10 18 [--floor 200]

A rule against a few leaf events a segment is worth 1-2 events per 3 h, under
the quiet hours' own noise (one extra re-learning of the background at 20 s
turns a segment's 2 false events into 4: benchmarks 7c, branch s10-leaves).
So each segment is composed once (``bench/fresh_corpus.py``, as
``bench/detection_fresh.py --quiet-only`` composes it) and fed, frame by frame,
to this code's core and to the core at ``--vs`` (``_motion_at.factory_at``),
each through the detector's own loop (``detection_quality.Watcher``), scored
as ``detection_fresh`` scores (walkers of the target's size; false events,
start-ups begun in the warm-up included). The last column counts this code's
``shading.StillShading`` verdicts (blobs held, blobs learnt as shading).
``--floor F`` adds a third run: the ``--vs`` core with its background replaced
by frame F once (as ``_absorb`` does), the noise floor a rule's difference
must clear. Composing is most of a segment's time, so three cores cost little
more than one. Tune seeds only: the session's gate seed is refused.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _motion_at import factory_at  # noqa: E402
from detection_corpus import TARGET_COVER  # noqa: E402
from detection_fresh import fresh_score  # noqa: E402
from detection_quality import Watcher  # noqa: E402
from fresh_corpus import FPS, FreshComposer  # noqa: E402

import quickcam.detector.motion.base as base  # noqa: E402
from quickcam.common.config import MotionConfig, RecordingConfig  # noqa: E402
from quickcam.detector.motion import create_detector  # noqa: E402

GATES = (109, 113, 127, 131)  # this session's never-run seeds, the lead's pooled check: never run here


class Floor:
    """Wraps a Watcher: after frame ``at`` its core's background becomes that frame at the background's exposure."""

    def __init__(self, watcher: Watcher, at: int) -> None:
        self.watcher, self.at = watcher, at
        self.run = watcher.run
        core = watcher.detector
        self.last: list[np.ndarray] = []
        module = sys.modules[type(core).__module__.rsplit(".", 1)[0] + ".base"]
        normalise = module.normalise_gain

        def watched(gray, reference, band):  # noqa: ANN001, ANN202 - the core's own signature
            result = normalise(gray, reference, band)
            self.last[:] = [] if result.normal is None else [result.normal]
            return result

        self._module, self._normalise, self._watched = module, normalise, watched

    def feed(self, index: int, frame: np.ndarray) -> None:
        self._module.normalise_gain = self._watched
        try:
            self.watcher.feed(index, frame)
        finally:
            self._module.normalise_gain = self._normalise
        if index == self.at and self.last and self.watcher.detector.reference is not None:
            self.watcher.detector.reference[:] = self.last[0]

    def finish(self, index: int):  # noqa: ANN201 - a Run
        return self.watcher.finish(index)


def _count_shading(detector) -> dict[str, int]:  # noqa: ANN001
    """Counts of the branch's still-shading verdicts (blobs held, blobs learnt as shading), if it has the rule."""
    acted: dict[str, int] = {}
    rule = getattr(detector, "shading", None)
    if rule is None:
        return acted
    judge = rule.judge

    def counted(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        verdicts = judge(*args, **kwargs)
        for verdict in verdicts:
            if verdict:
                acted[verdict] = acted.get(verdict, 0) + 1
        return verdicts

    rule.judge = counted
    return acted


def events_of(run, clip) -> str:  # noqa: ANN001
    post = int(RecordingConfig().post_roll_s * FPS)
    false = [f"{start / FPS:.1f}" for _, start, _ in run.events
             if not any(first <= start <= last + post for first, last in clip.people)]
    return ", ".join(false) or "-"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vs", default="main", help="the other core's commit (default main)")
    parser.add_argument("--seeds", type=int, nargs="+", required=True)
    parser.add_argument("--segments", type=int, nargs="+", required=True, help="quiet-hours segments, 1-24")
    parser.add_argument("--floor", type=int, help="also the --vs core with one extra re-learning at this frame")
    args = parser.parse_args(argv)
    if set(args.seeds) & set(GATES):
        print(f"paired_quiet: seeds {GATES} are gates, not for design", file=sys.stderr)
        return 2
    cv2.setNumThreads(1)
    base.MotionDetector.glints = True
    other = factory_at(args.vs)
    config, recording = MotionConfig(), RecordingConfig()
    names = ["vs", "branch"] + (["floor"] if args.floor is not None else [])
    totals = {name: [0, 0, 0] for name in names}  # false events, walkers caught, walkers
    print(f"| seed, segment | {args.vs}: false at (s) | branch: false at (s) |"
          + (f" {args.vs} re-learnt at frame {args.floor} |" if args.floor is not None else "")
          + " walkers caught (" + ", ".join(names) + ") | onsets (" + ", ".join(names) + ") | branch: blobs held / "
          "learnt as shading |")
    print("|---|---|---|" + "---|" * (args.floor is not None) + "---|---|---|")
    started = time.monotonic()
    for seed in args.seeds:
        composer = FreshComposer(hours=6, seed=seed)
        every = composer.quiet_segments(max(args.segments))
        for number in args.segments:
            clip = composer.clip(every[number - 1])
            watchers = {"vs": Watcher(config, recording, other), "branch": Watcher(config, recording, create_detector)}
            if args.floor is not None:
                watchers["floor"] = Floor(Watcher(config, recording, other), args.floor)
            acted = _count_shading(watchers["branch"].detector)
            index = -1
            for index, frame in enumerate(clip.frames):
                for watcher in watchers.values():
                    watcher.feed(index, frame)
            cells, caught, onsets = [], [], []
            for name, watcher in watchers.items():
                run = watcher.finish(index)
                got, _ = fresh_score(run, clip, recording, TARGET_COVER)
                false = got.false_lighting + got.false_quiet + getattr(got, "startup", 0)  # start-ups included
                totals[name][0] += false
                totals[name][1] += got.caught
                totals[name][2] += got.people
                cells.append(f"{false}: {events_of(run, clip)}")
                caught.append(f"{got.caught}/{got.people}")
                onsets.append("/".join(str(o) for o in got.onsets) or "-")
            print(f"| {seed}, {every[number - 1]} | " + " | ".join(cells) + " | " + ", ".join(caught)
                  + " | " + ", ".join(onsets) + f" | {acted.get('held', 0)} / {acted.get('shading', 0)} |", flush=True)
    summary = "; ".join(f"{name}: {t[0]} false, walkers {t[1]}/{t[2]}" for name, t in totals.items())
    print(f"\n**all**: {summary} ({time.monotonic() - started:.0f} s wall)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
