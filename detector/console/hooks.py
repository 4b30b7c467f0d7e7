"""The three points where a camera pipeline meets the console, bundled so it takes one argument.

- ``tap.offer(camera_id, image, time_ns)``: capture, once per frame (a no-op unless someone watches);
- ``zones.watch(camera_id, configured)``: detection, to pick up zones saved by the editor;
- ``governor.admit(camera_id, time_ns)``: detection, to skip frames in low-power mode.

The defaults do nothing, so a pipeline built without the console behaves as before.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from quickcam.common.config import ConsoleConfig, LowPowerConfig
from quickcam.detector.console.governor import FullRate, Governor, make_governor
from quickcam.detector.console.live_zones import ZoneBoard
from quickcam.detector.console.tap import LiveTap


@dataclass(frozen=True)
class PipelineHooks:
    tap: LiveTap = field(default_factory=LiveTap)
    zones: ZoneBoard = field(default_factory=ZoneBoard)
    governor: Governor = field(default_factory=FullRate)


def hooks_for(console: ConsoleConfig, low_power: LowPowerConfig) -> PipelineHooks:
    """The hooks a detector runs with: a tap at the configured view size and rate, and the governor."""
    return PipelineHooks(tap=LiveTap(console.view_width, console.view_fps, console.view_quality),
                         governor=make_governor(low_power))
