"""Low power: how often detection runs, lowered on battery or above a CPU budget, full again on AC.

The detect stage asks ``admit(camera, time_ns)`` for each frame; a frame not
admitted is skipped for detection only (it is still recorded, exactly like a
frame skipped in dark mode). Levels: 0 is each camera's full rate, level i is
``steps_fps[i - 1]``. Going down is one step per check, so a short spike does
not drop straight to the floor; going up (more detection is always safe) is
immediate. The floor is 2 fps: it still catches most people walking through
(63 of 65 on the held-out corpus, against 65 at full rate), below it the losses
grow quickly; docs/console.md has the figures.

The battery and the CPU are read through two small functions so tests and
benchmarks inject a fake battery at that boundary (``battery=...``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psutil

from quickcam.common.config import LowPowerConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BatteryReading:
    percent: float
    plugged: bool  # on AC power


BatteryReader = Callable[[], BatteryReading | None]  # None: no battery (a desktop, a server)
CpuReader = Callable[[], float]  # this process's CPU since the last call, % of one core


def psutil_battery() -> BatteryReading | None:
    """The machine's battery from psutil, or None when it has none (or the OS does not say)."""
    reading = psutil.sensors_battery() if hasattr(psutil, "sensors_battery") else None
    if reading is None:
        return None
    plugged = True if reading.power_plugged is None else bool(reading.power_plugged)
    return BatteryReading(float(reading.percent), plugged)


def psutil_process_cpu() -> CpuReader:
    """A reader of this process's CPU use (% of one core) since its previous call."""
    process = psutil.Process()
    process.cpu_percent(None)  # the first call only starts the measurement
    return lambda: process.cpu_percent(None)


class FullRate:
    """The governor when low power is off: every frame is detected."""

    def admit(self, camera_id: str, time_ns: int) -> bool:
        return True

    def status(self) -> dict[str, Any]:
        return {"enabled": False, "level": 0, "detect_fps": None, "reason": "low power off"}


class RateGovernor:
    """The detection rate for all cameras of this process (thread-safe; ``admit`` takes no lock)."""

    def __init__(self, config: LowPowerConfig, battery: BatteryReader = psutil_battery,
                 cpu: CpuReader | None = None) -> None:
        self.config = config
        self.steps = list(config.steps_fps)
        self.battery = battery
        self.cpu = cpu
        self.level = 0  # 0 = full rate; i = steps[i - 1]
        self.gap_ns = 0
        self.reason = "on AC power"
        self.changes = 0
        self.skipped = 0  # frames not detected because of low power (all recorded)
        self._cpu_level = 0
        self._last: dict[str, int] = {}
        self._reading: BatteryReading | None = None
        self._cpu_percent: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- the detect stage's side ------------------------------------------------------
    def admit(self, camera_id: str, time_ns: int) -> bool:
        """Whether detection should look at this frame of ``camera_id``."""
        gap = self.gap_ns
        if not gap:
            return True
        last = self._last.get(camera_id)
        if last is not None and 0 <= time_ns - last < gap - gap // 10:  # 10% slack for jitter; a clock
            # that went back (a reopened stream, a looped file) starts the cadence again
            self.skipped += 1
            return False
        self._last[camera_id] = time_ns
        return True

    # -- the decision -----------------------------------------------------------------
    def check(self) -> None:
        """Read the battery and the CPU once and move the rate (a step down, or straight up)."""
        reading = self.battery()
        self._reading = reading
        top = len(self.steps)
        if reading is None or reading.plugged:
            battery_level, why = 0, "on AC power" if reading else "no battery"
        elif reading.percent < self.config.low_battery_percent:
            low = self.config.low_battery_percent
            battery_level, why = top, f"on battery at {reading.percent:.0f}% (under {low:.0f}%)"
        else:
            battery_level, why = 1, f"on battery at {reading.percent:.0f}%"
        budget = self.config.cpu_budget_percent
        if budget and self.cpu is not None:
            used = self._cpu_percent = self.cpu()
            if used > budget:
                self._cpu_level = min(top, self._cpu_level + 1)
            elif used < budget / 2:
                self._cpu_level = max(0, self._cpu_level - 1)
            if self._cpu_level > battery_level:
                why = f"CPU {used:.0f}% over the budget of {budget:.0f}%"
        target = max(battery_level, self._cpu_level)
        new = target if target < self.level else min(target, self.level + 1)
        if new != self.level:
            self._set(new, why)
        else:
            self.reason = why

    def _set(self, level: int, why: str) -> None:
        before = self.rate_text(self.level)
        self.level, self.reason = level, why
        self.gap_ns = int(1e9 / self.steps[level - 1]) if level else 0
        self.changes += 1
        log.info("low power: %s; detection %s -> %s", why, before, self.rate_text(level))

    def rate_text(self, level: int) -> str:
        return f"at most {self.steps[level - 1]:g} fps" if level else "at full rate"

    def status(self) -> dict[str, Any]:
        reading = self._reading
        return {"enabled": True, "level": self.level, "reason": self.reason, "changes": self.changes,
                "detect_fps": self.steps[self.level - 1] if self.level else None, "skipped": self.skipped,
                "battery_percent": reading.percent if reading else None,
                "on_battery": bool(reading and not reading.plugged), "cpu_percent": self._cpu_percent}

    # -- the thread -------------------------------------------------------------------
    def start(self) -> None:
        self.check()
        self._thread = threading.Thread(target=self._run, name="low-power", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.config.check_s):
            try:
                self.check()
            except Exception as exc:  # a sensor that fails must not stop detection: stay where we are
                log.warning("low power: cannot read the battery or CPU (%s); keeping %s", exc,
                            self.rate_text(self.level))


Governor = RateGovernor | FullRate


def make_governor(config: LowPowerConfig) -> Governor:
    """The governor the config asks for (psutil's battery and this process's CPU)."""
    if not config.enabled:
        return FullRate()
    return RateGovernor(config, cpu=psutil_process_cpu() if config.cpu_budget_percent else None)
