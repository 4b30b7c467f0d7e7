"""Why low power stops at 2 fps: walkers caught, onset and false events on the labelled corpus at lowered rates.

The labelled corpus of bench/detection_quality.py (bench/detection_corpus.py:
OpenCV's vtest.avi pedestrians composed into conditions, 10 fps) is fed to the
default detector through that bench's own loop (``Watcher``), with the
low-power governor asked about each frame exactly as the detect stage asks it
(``DetectStage.step``: dark sampling, then the governor, then
``idle_detect_fps``). As in the pipeline, the motion core is built at the
source's rate and each look is told how many source frames passed since the
previous one (``DetectStage._frames_since_look``, ``detector/motion/looks.py``),
so its clocks count seconds, not looks.

The corpus is 10 fps: the governor's first step (15 fps) admits every frame of
it, so the "full" row is also the 15 fps row.

    .venv/bin/python -m bench.low_power_recall [--split held-out|tune] [--condition NAME ...]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from bench.detection_quality import FPS, SPLITS, Composer, Score, evaluate, table
from quickcam.common.config import LowPowerConfig, MotionConfig, RecordingConfig
from quickcam.detector.console.governor import BatteryReading, Governor, RateGovernor

RATES = [None, 5.0, 2.0, 1.0, 0.5]  # None = every frame; under 2 fps only to show why the floor is 2


def governor_at(rate: float) -> Callable[[], Governor]:
    """A factory of governors held at ``rate`` (on battery, one step), below the config's floor if asked."""
    def make() -> Governor:
        config = LowPowerConfig.model_construct(**{**LowPowerConfig().model_dump(), "steps_fps": [rate]})
        governor = RateGovernor(config, battery=lambda: BatteryReading(80.0, False))
        governor.check()
        return governor
    return make


def name_of(rate: float | None) -> str:
    return f"{rate:g} fps" if rate else f"full ({FPS:g} fps)"


def summary(scores: dict[str, dict[str, Score]]) -> str:
    """One row per rate: the totals over every condition."""
    lines = ["| detection rate | walkers caught | onset, s (median / worst) | time recorded | "
             "false events (lighting / quiet) | frames looked at |", "|---|---|---|---|---|---|"]
    looks_full = None
    for name, per_condition in scores.items():
        total = Score()
        for s in per_condition.values():
            total.add(s)
        looks_full = looks_full or len(total.ms)
        onset = (f"{statistics.median(total.onsets) / FPS:.1f} / {max(total.onsets) / FPS:.1f}"
                 if total.onsets else "-")
        lines.append(f"| {name} | {total.caught}/{total.people} | {onset} | {total.recorded / max(1, total.frames):.2f}"
                     f" | {total.false_lighting} / {total.false_quiet} | {len(total.ms) / max(1, looks_full):.0%} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", choices=sorted(SPLITS), default="held-out")
    parser.add_argument("--condition", action="append", default=[], help="only this condition (repeatable)")
    args = parser.parse_args(argv)
    configs = {name_of(rate): MotionConfig() for rate in RATES}
    governors = {name_of(rate): governor_at(rate) for rate in RATES if rate}
    composer = Composer(SPLITS[args.split])
    started = time.monotonic()
    scores = evaluate(composer, configs, args.condition or composer.conditions(), RecordingConfig(),
                      governors=governors)
    print(summary(scores))
    print()
    print(table(scores, args.split))
    print(f"\n({time.monotonic() - started:.0f} s; default [motion] settings, trigger_frames = "
          f"{MotionConfig().trigger_frames}; onset from a walker's first frame to the first frame with an event "
          f"running, pre-roll not counted)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
