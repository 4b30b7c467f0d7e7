"""The defaults on footage no rule was designed on, and false events per hour of a long quiet run.

    .venv/bin/python bench/detection_fresh.py [--hours 3] [--fresh-only | --quiet-only] [--set key=value ...]

Two sets from ``bench/fresh_corpus.py``, run through the same detection loop
as ``bench/detection_quality.py`` (motion core + EventClock) at file speed:

- **fresh**: one clip per kind of harmless periodic motion on a real still
  (synthetic motion, see ``bench/fresh_scenes.py``), walkers included;
- **quiet hours**: ``--hours`` of people-free scenes in 15-minute segments,
  two walkers per segment.

In both, recall counts the walkers the target names (``TARGET_COVER``, 0.5 %
of the frame); the smaller ones (the curtain's 0.16 % walker in the fresh set;
vtest's far pedestrian, 0.17 %, and a pair of legs standing behind a
signpost, 0.16 %, in the quiet hours) stay in the footage, excuse the events
they start, and are reported apart on the same line (benchmarks section 7c).

False events per hour come with a one-sided 95 % upper bound (Poisson: for 0
events in N hours it is about 3/N per hour). Each clip starts the detector
afresh and its first ``WARMUP_S`` (20 s) are not quiet time: an event that
begins there is a *start-up event*, counted apart (one per start of a camera,
or per reconnect: not per hour), so that the per-hour figure divides the
events of quiet time by quiet time. Both are printed; neither is hidden. The defaults must not be tuned on
these sets: they are held out so that figure stays honest.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import cv2

sys.path.insert(0, str(Path(__file__).resolve().parent))
from detection_corpus import TARGET_COVER, Clip  # noqa: E402
from detection_quality import Run, Score, Watcher, parse_keys, score  # noqa: E402
from fresh_corpus import FPS, WARMUP_S, FreshComposer, describe  # noqa: E402
from fresh_scenes import DATA, STILLS  # noqa: E402

from quickcam.common.config import MotionConfig, RecordingConfig  # noqa: E402
from quickcam.detector.motion import create_detector  # noqa: E402


def poisson_upper(events: int, confidence: float = 0.95) -> float:
    """The rate (per unit of exposure) above which seeing ``events`` or fewer has probability under 1 - confidence."""
    def cdf(rate: float) -> float:
        term = total = math.exp(-rate)
        for k in range(1, events + 1):
            term *= rate / k
            total += term
        return total

    low, high = 0.0, 10.0 + 5 * events
    for _ in range(100):
        mid = (low + high) / 2
        low, high = (mid, high) if cdf(mid) > 1 - confidence else (low, mid)
    return high


@dataclass
class FreshScore(Score):
    """A Score whose recall counts only the walkers a target applies to; ``small``: the others, apart."""

    small: int = 0  # walkers under the target's size: in the footage, not in recall
    small_caught: int = 0
    startup: int = 0  # false events begun in a clip's warm-up (the detector just started): per start, not per hour
    starts: int = 0  # clips with a warm-up: starts of the detector

    def add(self, other: Score) -> None:
        super().add(other)
        if isinstance(other, FreshScore):
            self.small += other.small
            self.small_caught += other.small_caught
            self.startup += other.startup
            self.starts += other.starts


_JOB: tuple[FreshComposer, MotionConfig, RecordingConfig, Callable, float | None] | None = None  # a worker's job


def _one(condition: str) -> tuple[Score, list[str]]:
    """One clip through the detection loop: its score, and a line naming each false event and walker missed."""
    assert _JOB is not None
    composer, config, recording, create, target = _JOB
    clip = composer.clip(condition)
    watcher = Watcher(config, recording, create)
    index = -1
    for index, frame in enumerate(clip.frames):
        watcher.feed(index, frame)
    got, lines = fresh_score(watcher.finish(index), clip, recording, target)
    print(f"  {condition}: {index + 1} frames, walkers caught {got.caught}/{got.people}"
          f"{f' (under the target: {got.small_caught}/{got.small})' if got.small else ''}, false events "
          f"{got.false_lighting + got.false_quiet} in {got.quiet_frames / FPS / 60:.1f} min of quiet"
          f"{f' (+{got.startup} at start-up)' if got.startup else ''}",
          file=sys.stderr, flush=True)
    return got, lines


def fresh_score(run: Run, clip: Clip, recording: RecordingConfig, target: float | None) -> tuple[FreshScore, list[str]]:
    """``run``'s score on ``clip``, and a line per false event and walker missed.

    A walker whose median size (``Clip.coverage``) is under ``target`` (a share
    of the frame) is no target: he is left out of recall, onset and
    people-time and counted apart, but still excuses the events he starts (a
    person seen is never a false event). None: every walker counts. A false
    event begun in ``clip.warmup`` is a start-up event (``FreshScore.startup``),
    not one of the quiet time's.
    """
    pre_roll, post_roll = int(recording.pre_roll_s * FPS), int(recording.post_roll_s * FPS)
    covers = clip.coverage or [1.0] * len(clip.people)
    # within a part in a million of the target: a walker shrunk to it (``cover=``) is one, whatever the rounding
    small = [target is not None and cover < target * (1 - 1e-6) for cover in covers]
    everyone = score(run, clip, pre_roll, post_roll)
    counted = replace(clip, people=[p for p, under in zip(clip.people, small, strict=True) if not under])
    got = FreshScore(**vars(score(run, counted, pre_roll, post_roll)))
    early = score(Run(events=[e for e in run.events if e[1] < clip.warmup]), clip, pre_roll, post_roll)
    got.false_lighting = everyone.false_lighting - early.false_lighting
    got.false_quiet = everyone.false_quiet - early.false_quiet
    got.startup, got.starts = early.false_lighting + early.false_quiet, int(clip.warmup > 0)
    lines = []
    for _, start, end in run.events:
        if not any(first <= start <= last + post_roll for first, last in clip.people):
            kind = "start-up event" if start < clip.warmup else "false event"
            lines.append(f"- {kind}: {clip.condition}, at {start / FPS:.1f} s, {(end - start) / FPS:.1f} s long")
    for (first, last), cover, under in zip(clip.people, covers, small, strict=True):
        caught = any(start <= last and end > first for _, start, end in run.events)
        got.small += under
        got.small_caught += under and caught
        if not caught:
            kind = f"walker under the target missed ({cover * 100:.2f} % of the frame, not in recall)" if under \
                else "walker missed"
            lines.append(f"- {kind}: {clip.condition}, {first / FPS:.1f}-{last / FPS:.1f} s")
    return got, lines


def evaluate(composer: FreshComposer, config: MotionConfig, conditions: list[str], recording: RecordingConfig,
             jobs: int = 1, create: Callable = create_detector,
             target: float | None = None) -> tuple[dict[str, Score], list[str]]:
    """Like ``detection_quality.evaluate`` for one configuration; clips are independent, so ``jobs`` may share them.

    ``create``: the motion core's factory (``_motion_at.factory_at`` for another commit's). ``target``: the
    share of the frame under which a walker (his median size, ``Clip.coverage``) is no target: not in
    recall, onset or people-time, reported apart (the quiet hours: ``TARGET_COVER``); None counts every walker.
    """
    global _JOB
    _JOB = (composer, config, recording, create, target)
    if jobs > 1:
        with multiprocessing.get_context("fork").Pool(jobs) as pool:
            results = pool.map(_one, conditions, chunksize=1)
    else:
        results = [_one(condition) for condition in conditions]
    scores = {condition: got for condition, (got, _) in zip(conditions, results, strict=True)}
    return scores, [line for _, lines in results for line in lines]


def rows(scores: dict[str, Score]) -> list[str]:
    header = ["condition", "quiet, min", "caught", "onset, frames (median / worst)", "time recorded",
              "false events (lighting / quiet)"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    total = FreshScore()
    for condition, s in scores.items():
        total.add(s)
        lines.append("| " + " | ".join([condition, f"{s.quiet_frames / FPS / 60:.1f}", *cells(s)]) + " |")
    lines.append("| " + " | ".join(["**all**", f"{total.quiet_frames / FPS / 60:.1f}", *cells(total)]) + " |")
    hours = total.quiet_frames / FPS / 3600
    false = total.false_quiet + total.false_lighting
    small = (f" (walkers of {TARGET_COVER * 100:g} % of the frame or more; {total.small_caught}/{total.small} "
             "smaller ones caught, not counted)") if total.small else ""
    lines += ["", f"- recall {total.caught}/{total.people}{small}, "
              f"people-time {total.recorded / max(1, total.frames):.3f}; "
              f"**{false} false events in {hours:.2f} h of quiet** ({false / hours if hours else 0:.2f} / h; "
              f"95 % upper bound {poisson_upper(false) / hours if hours else float('inf'):.2f} / h); "
              f"**{total.startup} start-up event{'' if total.startup == 1 else 's'} in {total.starts} starts** "
              f"(begun in a clip's first {WARMUP_S} s, before the detector has learnt the place: one per start or "
              "reconnect of a camera, not per hour); "
              f"motion core {statistics.median(total.ms) if total.ms else float('nan'):.2f} ms / frame median "
              "(384x288)"]
    return lines


def cells(s: Score) -> list[str]:
    onset = f"{statistics.median(s.onsets):.0f} / {max(s.onsets)}" if s.onsets else "-"
    caught = f"{s.caught}/{s.people}" if s.people else "-"
    if isinstance(s, FreshScore) and s.small:
        caught += f" (+{s.small_caught}/{s.small} small)"
    false = f"{s.false_lighting} / {s.false_quiet}"
    if isinstance(s, FreshScore) and s.startup:
        false += f" (+{s.startup} at start-up)"
    return [caught, onset, f"{s.recorded / s.frames:.2f}" if s.frames else "-", false]


def _cpu() -> float:
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hours", type=float, default=3.0, help="length of the quiet run (default 3)")
    parser.add_argument("--fresh-only", action="store_true", help="only the fresh clips")
    parser.add_argument("--quiet-only", action="store_true", help="only the quiet hours")
    parser.add_argument("--jobs", type=int, default=1, help="clips run side by side (CPU time is the same)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a [motion] key")
    parser.add_argument("--seed", type=int, default=3, help="the sets' seed (3, the documented one; another gives "
                        "new quiet hours never seen before: seeds used so far 1, 2, 3, 7, 11, 12)")
    parser.add_argument("--segments", type=int, nargs="+", metavar="N",
                        help="only these quiet-hours segments (1-24: quiet 04 is the fourth), for a trace or a retry")
    args = parser.parse_args(argv)
    missing = [name for name in STILLS if not (DATA / name).is_file()]
    if missing:  # before any worker: a worker's SystemExit inside a Pool hangs it instead of failing
        print(f"detection_fresh: missing {', '.join(missing)} in {DATA}; run scripts/install_test_tools.sh",
              file=sys.stderr)
        return 2
    cv2.setNumThreads(1)  # before any fork: a child forked while OpenCV's pool threads held a lock hung there
    config = MotionConfig(**parse_keys(",".join(args.set)))
    composer = FreshComposer(hours=args.hours, seed=args.seed)
    started, cpu = time.monotonic(), _cpu()
    print("Pictures (real photographs from Debian's opencv-doc unless said) and what moves in them:\n")
    print("\n".join(describe()))
    if not args.quiet_only:
        scores, false = evaluate(composer, config, composer.conditions(), RecordingConfig(), args.jobs,
                                 target=TARGET_COVER)
        print("\n**Fresh held-out set** (synthetic motion on real stills; never used in design or tuning)\n")
        print("\n".join(rows(scores) + false))
    if not args.fresh_only:
        segments = composer.quiet_segments()
        if args.segments:
            every = composer.quiet_segments(max(args.segments))
            segments = [every[n - 1] for n in args.segments if n >= 1]
        scores, false = evaluate(composer, config, segments, RecordingConfig(), args.jobs, target=TARGET_COVER)
        hours = f"segments {', '.join(map(str, args.segments))}" if args.segments else f"{args.hours:g} h"
        print(f"\n**Quiet hours** (seed {args.seed}; {hours} in 15-minute segments; noise sigma 3-9, "
              "JPEG 18-30 in half, "
              "daylight drifting x0.6-x1.3 per segment, flicker 1-3 %, cloud shadows outdoors in half)\n")
        print("\n".join(rows(scores) + false))
    shown = " ".join(sys.argv[1:]) if argv is None else " ".join(argv)
    print(f"\n({time.monotonic() - started:.0f} s wall, {_cpu() - cpu:.0f} s CPU (workers included) on a shared "
          f"machine; command: .venv/bin/python bench/detection_fresh.py {shown})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
