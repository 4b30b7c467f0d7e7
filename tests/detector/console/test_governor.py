"""Low power: a fake battery, injected where psutil would be read, drives the detection rate down and up."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import pytest

from quickcam.common.config import ConfigError, LowPowerConfig, load_config
from quickcam.detector.console.governor import BatteryReading, RateGovernor
from quickcam.detector.pipeline import CameraPipeline


class FakeBattery:
    """Stands in for psutil.sensors_battery: the test sets what it reports."""

    def __init__(self) -> None:
        self.reading: BatteryReading | None = BatteryReading(100.0, True)

    def __call__(self) -> BatteryReading | None:
        return self.reading


def detected_per_second(governor: RateGovernor, fps: float = 15.0, seconds: int = 4) -> float:
    start = 1_000_000_000_000
    admitted = sum(governor.admit("cam0", start + int(i * 1e9 / fps)) for i in range(int(fps * seconds)))
    return admitted / seconds


def test_on_battery_the_rate_steps_down_to_the_floor_and_on_ac_it_is_full_again(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    battery = FakeBattery()
    governor = RateGovernor(LowPowerConfig(steps_fps=[5.0, 2.0], low_battery_percent=30), battery=battery)
    governor.check()
    assert governor.level == 0 and detected_per_second(governor) == 15

    battery.reading = BatteryReading(80.0, False)
    governor.check()
    assert governor.level == 1 and detected_per_second(governor) == pytest.approx(5, abs=0.5)
    battery.reading = BatteryReading(20.0, False)
    governor.check()
    assert governor.level == 2 and detected_per_second(governor) == pytest.approx(2, abs=0.5)
    assert governor.status()["detect_fps"] == 2.0 and governor.status()["on_battery"]

    battery.reading = BatteryReading(21.0, True)
    governor.check()
    assert governor.level == 0 and detected_per_second(governor) == 15
    changes = [r.getMessage() for r in caplog.records if r.getMessage().startswith("low power:")]
    assert changes == [
        "low power: on battery at 80%; detection at full rate -> at most 5 fps",
        "low power: on battery at 20% (under 30%); detection at most 5 fps -> at most 2 fps",
        "low power: on AC power; detection at most 2 fps -> at full rate",
    ]
    assert governor.status()["changes"] == 3


def test_going_down_is_one_step_per_check_even_when_the_battery_is_low_at_once() -> None:
    battery = FakeBattery()
    governor = RateGovernor(LowPowerConfig(steps_fps=[8.0, 5.0, 2.0]), battery=battery)
    battery.reading = BatteryReading(5.0, False)
    levels = []
    for _ in range(4):
        governor.check()
        levels.append(governor.level)
    assert levels == [1, 2, 3, 3]


def test_a_machine_without_battery_stays_at_full_rate_and_a_cpu_over_budget_steps_down() -> None:
    cpu = iter([90.0, 90.0, 90.0, 10.0, 10.0])
    governor = RateGovernor(LowPowerConfig(cpu_budget_percent=50.0), battery=lambda: None, cpu=lambda: next(cpu))
    levels = []
    for _ in range(5):
        governor.check()
        levels.append(governor.level)
    assert levels == [1, 2, 2, 1, 0]
    assert governor.status()["battery_percent"] is None


def test_a_last_step_below_the_walker_floor_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "quickcam.toml"
    path.write_text("[low_power]\nsteps_fps = [5.0, 1.0]\n")
    with pytest.raises(ConfigError, match="low_power.steps_fps: .*walking through"):
        load_config(path, {})


def test_a_pipeline_on_a_low_battery_detects_a_fifth_of_the_frames_and_still_catches_the_walker(
        tmp_path: Path) -> None:
    from quickcam.detector.console.hooks import PipelineHooks
    from quickcam.detector.outbox import Outbox
    from quickcam.detector.sources import DemoSource, Walk
    from tests.detector.fakes import camera_config, journal

    battery = FakeBattery()
    battery.reading = BatteryReading(10.0, False)
    governor = RateGovernor(LowPowerConfig(steps_fps=[5.0, 2.0]), battery=battery)
    governor.check()
    governor.check()
    assert governor.status()["detect_fps"] == 2.0
    source = DemoSource(320, 240, 10.0, realtime=False, walks=(Walk(3.0, 8.0),), period_s=12.0)
    camera = camera_config(tmp_path / "outbox")
    stop = threading.Event()
    pipeline = CameraPipeline(camera, Outbox(camera.recording.outbox_dir), stop, source_factory=lambda _: source,
                              hooks=PipelineHooks(governor=governor))
    pipeline.start()
    deadline, seen_recording = time.monotonic() + 30, False
    while source.index < 110 and time.monotonic() < deadline:
        seen_recording |= pipeline.status()["recording"]  # what the console shows as "recording"
        time.sleep(0.005)
    stop.set()
    pipeline.join(30)
    assert pipeline.finished
    assert seen_recording and not pipeline.status()["recording"], "recording while the event is open, not after"
    assert 0.7 < governor.skipped / source.index < 0.85  # 2 of 10 fps detected
    assert pipeline.stats.events == 1
    assert journal(camera.recording.outbox_dir), "the event was recorded"
