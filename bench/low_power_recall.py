"""Why low power stops at 2 fps: walker recall and onset delay on real footage at lowered detection rates.

The same labelled stream as bench/detection_quality.py (OpenCV's vtest.avi: real
pedestrians pasted one at a time onto the quiet scene, 10 fps) is fed to the
default detector (running_average, min_area_fraction 0.002 for this wide scene)
with the detector's own event logic, but with frames admitted for detection by
the low-power governor at each rate, exactly as the detect stage does.

    .venv/bin/python -m bench.low_power_recall [--video tests/data/vtest.avi]
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import cv2

from bench.detection_quality import FPS, REPO, Composer, load_video
from quickcam.common.config import LowPowerConfig, MotionConfig, RecordingConfig
from quickcam.detector.console.governor import BatteryReading, RateGovernor
from quickcam.detector.events import Action, EventClock
from quickcam.detector.motion import create_detector

RATES = [None, 5.0, 2.0, 1.0, 0.5]  # None = every frame (10 fps)


def governor_at(rate: float | None) -> RateGovernor:
    steps = [rate] if rate else [5.0]
    governor = RateGovernor(LowPowerConfig.model_construct(**{**LowPowerConfig().model_dump(), "steps_fps": steps}),
                            battery=lambda: BatteryReading(80.0, rate is None))
    governor.check()
    return governor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, default=REPO / "tests/data/vtest.avi")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    composer = Composer(load_video(args.video), quiet_minutes=0.5)
    motion, recording = MotionConfig(min_area_fraction=0.002), RecordingConfig()
    runs = {rate: (governor_at(rate), create_detector(motion, fps=rate or FPS),
                   EventClock(int(recording.post_roll_s * 1e9), int(recording.max_event_s * 1e9),
                              int(recording.min_event_s * 1e9), motion.trigger_frames), []) for rate in RATES}
    for index, frame in enumerate(composer.stream()):
        now = int(index * 1e9 / FPS)
        for governor, detector, clock, starts in runs.values():
            if not governor.admit("cam", now):
                continue
            if clock.step(now, detector.detect(frame).motion) is Action.START:
                starts.append(index)
    walkers = [s for s in composer.spans if s.kind == "walker"]
    visible = statistics.median((s.end - s.start + 1) / FPS for s in walkers)
    print(f"{len(walkers)} walkers from vtest.avi, each in view a median {visible:.1f} s "
          f"(trigger_frames = {motion.trigger_frames}):")
    print(f"{'detection rate':>16}{'recall':>8}{'delay median':>14}{'delay max':>11}{'frames detected':>17}")
    for rate, (governor, _, _, starts) in runs.items():
        delays = []
        for span in walkers:
            hits = [s for s in starts if span.start <= s <= span.end]
            if hits:
                delays.append((hits[0] - span.start) / FPS)
        detected = composer.count - governor.skipped
        print(f"{(f'{rate:g} fps' if rate else f'{FPS:g} fps (full)'):>16}{len(delays) / len(walkers):>8.0%}"
              f"{statistics.median(delays) if delays else float('nan'):>13.1f}s"
              f"{max(delays) if delays else float('nan'):>10.1f}s{detected / composer.count:>17.0%}")


if __name__ == "__main__":
    main()
