"""Detection quality per condition on the labelled corpus (bench/detection_corpus.py).

    .venv/bin/python bench/detection_quality.py [--split held-out|tune] [--condition NAME ...]
        [--set key=value ...] [--variant NAME:key=value,...] [--old] [--vs COMMIT]

Every configuration sees the same frames of each condition's clip, through the
detector's own loop: the motion core (``create_detector``), the event logic
(``EventClock``: trigger frames, post-roll, pre-roll) and, where the
configuration asks for it, the person check. A configuration whose
``dark_interval_s`` is set is also run the way the camera runs it then (one
detection every ``dark_interval_s`` in the dark while no event is running), and one whose
``idle_detect_fps`` is set looks that often while nothing moves, as the
detect stage does (``detector/pipeline/idle_rate.py``).

Per condition and configuration:

- **caught**: walkers during whom an event was running at some frame;
- **onset**: frames from the walker's first frame to the first frame with an
  event running (median / worst);
- **time**: share of the walkers' frames inside a recording (pre-roll included);
- **false**: events that started with no walker in view, split into those
  within 10 s of a lighting change and the others (quiet).

The defaults were tuned on the ``tune`` split only; the report is on the
``held-out`` split unless told otherwise (docs/benchmarks.md says which is which).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _motion_at import factory_at  # noqa: E402
from detection_corpus import FPS, SPLITS, Clip, Composer  # noqa: E402

from quickcam.common.config import MotionConfig, RecordingConfig  # noqa: E402
from quickcam.detector.console.governor import FullRate, Governor  # noqa: E402
from quickcam.detector.events import Action, EventClock  # noqa: E402
from quickcam.detector.motion import create_detector  # noqa: E402
from quickcam.detector.pipeline.idle_rate import IdleRate  # noqa: E402

LIGHTING_WINDOW_S = 10.0
# The settings that were the defaults before issue 13, run on this code beside the new defaults.
OLD_DEFAULTS = {"min_area_fraction": 1 / 64, "dark_interval_s": 5.0, "pixel_threshold": 25}


@dataclass
class Run:
    """One configuration's events on one clip: (onset frame, start frame, end frame exclusive)."""

    events: list[tuple[int, int, int]] = field(default_factory=list)
    ms: list[float] = field(default_factory=list)
    checked: int = 0  # frames the person check looked at


class Watcher:
    """The detector's detection loop for one configuration, fed one frame at a time."""

    def __init__(self, config: MotionConfig, recording: RecordingConfig, create: Callable = create_detector,
                 governor: Governor | None = None) -> None:
        self.config = config
        self.governor = governor or FullRate()  # the console's low power, asked as DetectStage asks it
        self.detector = create(config, fps=FPS)
        self.clock = EventClock(int(recording.post_roll_s * 1e9), int(recording.max_event_s * 1e9),
                                int(recording.min_event_s * 1e9), config.trigger_frames)
        self.run = Run()
        self.start = 0
        self.idle, self.moving = IdleRate(config.idle_detect_fps), False  # opt-in, as DetectStage does
        self.last_look = -1  # the last frame index looked at (the core is told how many frames passed)

    def feed(self, index: int, frame) -> None:
        now = int(index * 1e9 / FPS)
        if self.detector.skip(now, self.clock.recording):
            return  # opt-in dark_interval_s: not looking
        if not self.governor.admit("cam", now):
            return  # low power: this frame is not looked at (bench/low_power_recall.py)
        if not self.idle.look(now, self.moving or self.clock.recording or self.detector.dark):
            return  # opt-in idle_detect_fps: nothing moved at the last look
        started = time.perf_counter()
        frames, self.last_look = (index - self.last_look if self.last_look >= 0 else 1), index
        result = self.detector.detect(frame, frames) if frames > 1 else self.detector.detect(frame)
        self.run.ms.append((time.perf_counter() - started) * 1000)
        self.moving = result.motion or result.person_waiting  # motion waiting for the person check counts
        action = self.clock.step(now, result.motion)
        if action is Action.START:
            self.start = index
            self.onset = round(self.clock.onset_ns * FPS / 1e9)
        elif action is Action.END:
            self.run.events.append((self.onset, self.start, index))

    def finish(self, index: int) -> Run:
        if self.clock.recording:
            self.run.events.append((self.onset, self.start, index + 1))
        return self.run


@dataclass
class Score:
    people: int = 0
    caught: int = 0
    onsets: list[int] = field(default_factory=list)
    frames: int = 0
    recorded: int = 0
    false_lighting: int = 0
    false_quiet: int = 0
    changes: int = 0
    quiet_frames: int = 0
    ms: list[float] = field(default_factory=list)

    def add(self, other: Score) -> None:
        for name in ("people", "caught", "frames", "recorded", "false_lighting", "false_quiet", "changes",
                     "quiet_frames"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.onsets += other.onsets
        self.ms += other.ms


def score(run: Run, clip: Clip, pre_roll: int, post_roll: int) -> Score:
    result = Score(people=len(clip.people), changes=len(clip.changes), quiet_frames=clip.quiet_frames, ms=run.ms)
    for first, last in clip.people:
        running = [max(first, start) for _, start, end in run.events if start <= last and end > first]
        if running:
            result.caught += 1
            result.onsets.append(min(running) - first)
        result.frames += last - first + 1
        result.recorded += sum(1 for f in range(first, last + 1)
                               if any(onset - pre_roll <= f < end for onset, _, end in run.events))
    window = int(LIGHTING_WINDOW_S * FPS)
    for _, start, _ in run.events:
        if any(first <= start <= last + post_roll for first, last in clip.people):
            continue
        if any(change <= start <= change + window for change in clip.changes):
            result.false_lighting += 1
        else:
            result.false_quiet += 1
    return result


def evaluate(composer: Composer, configs: dict[str, MotionConfig], conditions: list[str],
             recording: RecordingConfig, cores: dict[str, Callable] | None = None,
             governors: dict[str, Callable[[], Governor]] | None = None) -> dict[str, dict[str, Score]]:
    """Scores per configuration and condition.

    ``cores`` names another motion core for some configurations; ``governors`` a
    low-power governor for some (a factory: each clip starts with a fresh one).
    """
    cores, governors = cores or {}, governors or {}
    cv2.setNumThreads(1)
    pre_roll, post_roll = int(recording.pre_roll_s * FPS), int(recording.post_roll_s * FPS)
    scores: dict[str, dict[str, Score]] = {name: {} for name in configs}
    for condition in conditions:
        clip = composer.clip(condition)
        watchers = {name: Watcher(cfg, recording, cores.get(name, create_detector),
                                  governors[name]() if name in governors else None) for name, cfg in configs.items()}
        index = -1
        for index, frame in enumerate(clip.frames):
            for watcher in watchers.values():
                watcher.feed(index, frame)
        for name, watcher in watchers.items():
            scores[name][condition] = score(watcher.finish(index), clip, pre_roll, post_roll)
        print(f"  {condition}: {index + 1} frames, {len(clip.people)} walkers "
              f"(median {statistics.median(clip.coverage) * 100 if clip.coverage else 0:.2f} % of the frame), "
              f"{len(clip.changes)} lighting changes", file=sys.stderr)
    return scores


def _cell(s: Score) -> list[str]:
    onset = f"{statistics.median(s.onsets):.0f} / {max(s.onsets)}" if s.onsets else "-"
    caught = f"{s.caught}/{s.people}" if s.people else "-"
    time_share = f"{s.recorded / s.frames:.2f}" if s.frames else "-"
    return [caught, onset, time_share, f"{s.false_lighting} / {s.false_quiet}"]


def table(scores: dict[str, dict[str, Score]], split: str) -> str:
    names = list(scores)
    header = ["condition", "lighting changes", "quiet, min"]
    for name in names:
        header += [f"{name}: caught", "onset, frames (median / worst)", "time recorded",
                   "false events (lighting / quiet)"]
    tune, held = SPLITS["tune"], SPLITS["held-out"]
    lines = [f"Footage: the pedestrians of OpenCV's vtest.avi and its tree.avi (Debian's opencv-doc), composed by "
             f"bench/detection_corpus.py. The defaults were tuned on the **tune** split only (vtest.avi frames "
             f"{tune.frames[0]}-{tune.frames[1]}, seed {tune.seed}, dark at {tune.dark_gain:.0%}); the "
             f"**held-out** split (frames {held.frames[0]}-{held.frames[1]}, mirrored, seed {held.seed}, dark at "
             f"{held.dark_gain:.0%}, other lamps, steps, a door) was never used for tuning.", "",
             f"Split shown: **{split}**. Per condition; onset in frames at {FPS:.0f} fps.", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    conditions = list(scores[names[0]])
    totals = {name: Score() for name in names}
    for condition in conditions:
        first = scores[names[0]][condition]
        row = [condition, str(first.changes), f"{first.quiet_frames / FPS / 60:.1f}"]
        for name in names:
            row += _cell(scores[name][condition])
            totals[name].add(scores[name][condition])
        lines.append("| " + " | ".join(row) + " |")
    first = totals[names[0]]
    row = ["**all**", str(first.changes), f"{first.quiet_frames / FPS / 60:.1f}"]
    for name in names:
        row += _cell(totals[name])
    lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    for name in names:
        t = totals[name]
        hours = t.quiet_frames / FPS / 3600
        ms = statistics.median(t.ms) if t.ms else float("nan")
        mean_ms = statistics.fmean(t.ms) if t.ms else float("nan")
        lines.append(f"- {name}: recall {t.caught / max(1, t.people):.3f}, "
                     f"people-time {t.recorded / max(1, t.frames):.3f}, "
                     f"false events {t.false_lighting} in {t.changes} lighting changes "
                     f"({t.false_lighting / max(1, t.changes):.2f} each), {t.false_quiet} in {hours * 60:.0f} min "
                     f"of quiet ({t.false_quiet / hours if hours else 0:.1f} / h), "
                     f"motion core {ms:.2f} ms / frame median, {mean_ms:.2f} mean (384x288)")
    return "\n".join(lines)


def parse_keys(text: str) -> dict[str, str]:
    return dict(item.split("=", 1) for item in text.split(",") if item)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", choices=sorted(SPLITS), default="held-out")
    parser.add_argument("--condition", action="append", default=[], help="only this condition (repeatable)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a [motion] key in every configuration")
    parser.add_argument("--variant", action="append", default=[], metavar="NAME:KEY=VALUE,...",
                        help="also run a variant of the defaults, e.g. mog2:algorithm=mog2")
    parser.add_argument("--old", action="store_true", help="also run the defaults from before issue 13")
    parser.add_argument("--vs", metavar="COMMIT", help="also run the defaults on the motion core at COMMIT")
    args = parser.parse_args(argv)
    overrides = parse_keys(",".join(args.set))
    configs = {"default": MotionConfig(**overrides)}
    if args.old:
        known = {k: v for k, v in OLD_DEFAULTS.items() if k in MotionConfig.model_fields}
        configs["old default"] = MotionConfig(**{**overrides, **known})
    for variant in args.variant:
        name, _, settings = variant.partition(":")
        configs[name] = MotionConfig(**{**overrides, **parse_keys(settings)})
    cores = {}
    if args.vs:
        cores[f"at {args.vs}"] = factory_at(args.vs)
        configs[f"at {args.vs}"] = MotionConfig(**overrides)
    composer = Composer(SPLITS[args.split])
    conditions = args.condition or composer.conditions()
    started = time.monotonic()
    scores = evaluate(composer, configs, conditions, RecordingConfig(), cores)
    print(table(scores, args.split))
    print(f"\n({time.monotonic() - started:.0f} s; command: .venv/bin/python bench/detection_quality.py"
          f"{' ' + ' '.join(sys.argv[1:]) if len(sys.argv) > 1 else ''})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
