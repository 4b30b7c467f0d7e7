"""What the console and low power cost or save: detector CPU, same run, configurations alternated.

One camera pipeline (the demo scene, 640x480 at 15 fps in real time, walkers and
all, recording to a scratch outbox) runs for ``--seconds`` in each configuration,
round after round, and this process's CPU time is read for each window:

- console off / console on with nobody watching / console on with one viewer
  (the viewer is an HTTP client in this same process, so its reading is counted too);
- low power with a fake battery (injected where psutil is read): on AC, on battery
  (5 fps detection), battery low (2 fps).

    .venv/bin/python -m bench.bench_console [--seconds 10] [--runs 3]
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import httpx2 as httpx

from bench._util import median
from quickcam.common.config import CameraConfig, ConsoleConfig, LowPowerConfig
from quickcam.detector.console.auth import set_password
from quickcam.detector.console.governor import BatteryReading, RateGovernor
from quickcam.detector.console.hooks import PipelineHooks
from quickcam.detector.console.server import ConsoleServer
from quickcam.detector.console.tap import LiveTap
from quickcam.detector.outbox import Outbox
from quickcam.detector.pipeline import CameraPipeline


def run_window(seconds: float, hooks: PipelineHooks, scratch: Path,
               during: Callable[[CameraPipeline], Callable[[], None]] | None = None) -> float:
    """CPU of this process (% of one core) while one demo camera runs for ``seconds``."""
    stop = threading.Event()
    camera = CameraConfig(id="cam0", source="demo")
    pipeline = CameraPipeline(camera, Outbox(scratch / f"outbox-{time.monotonic_ns()}"), stop, hooks=hooks)
    pipeline.start()
    time.sleep(1.0)  # start-up is not the steady state
    finish = during(pipeline) if during else (lambda: None)
    cpu0, t0 = time.process_time(), time.monotonic()
    time.sleep(seconds)
    share = 100 * (time.process_time() - cpu0) / (time.monotonic() - t0)
    finish()
    stop.set()
    pipeline.join(15)
    return share


def console_configs(scratch: Path) -> dict[str, tuple[PipelineHooks, Callable | None, ConsoleServer | None]]:
    set_password(scratch / "console.passwd", "bench", "bench password")
    config = ConsoleConfig(listen="127.0.0.1:0", password_file=scratch / "console.passwd")
    configs = {"console off": (PipelineHooks(), None, None)}
    for name in ("console on, nobody watching", "console on, one viewer"):
        hooks = PipelineHooks(tap=LiveTap(config.view_width, config.view_fps, config.view_quality))
        server = ConsoleServer(config, [CameraConfig(id="cam0")], hooks, lambda: {"cameras": {}}, None, scratch)
        url = server.start().split("?")[0]
        token = server.state.start_token
        viewer = None
        if name.endswith("one viewer"):
            def viewer(_: CameraPipeline, url: str = url, token: str = token) -> Callable[[], None]:
                done = threading.Event()

                def watch() -> None:
                    with httpx.Client(base_url=url, timeout=10) as client:
                        client.get(f"/?token={token}")
                        with client.stream("GET", "/api/cameras/cam0/live.mjpeg") as stream:
                            for _ in stream.iter_bytes():
                                if done.is_set():
                                    break

                thread = threading.Thread(target=watch, daemon=True)
                thread.start()
                return lambda: (done.set(), thread.join(5))
        configs[name] = (hooks, viewer, server)
    return configs


def battery_configs() -> dict[str, PipelineHooks]:
    configs = {}
    for name, reading in (("on AC", BatteryReading(100.0, True)), ("on battery (5 fps)", BatteryReading(80.0, False)),
                          ("battery low (2 fps)", BatteryReading(20.0, False))):
        governor = RateGovernor(LowPowerConfig(), battery=lambda reading=reading: reading)
        for _ in range(3):
            governor.check()  # down one step per check
        configs[name] = PipelineHooks(governor=governor)
    return configs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    cv2.setNumThreads(1)
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        consoles = console_configs(scratch)
        batteries = battery_configs()
        results: dict[str, list[float]] = {name: [] for name in [*consoles, *batteries]}
        for run in range(args.runs):
            for name, (hooks, during, _) in consoles.items():
                results[name].append(run_window(args.seconds, hooks, scratch, during))
            for name, hooks in batteries.items():
                results[name].append(run_window(args.seconds, hooks, scratch))
            print(f"run {run + 1}/{args.runs}: " + ", ".join(f"{n} {v[-1]:.1f}%" for n, v in results.items()),
                  flush=True)
        for _, _, server in consoles.values():
            if server is not None:
                server.stop()
    medians = {name: median(values) for name, values in results.items()}
    print(f"\ndetector CPU, % of one core, median of {args.runs} x {args.seconds:.0f} s "
          "(demo camera 640x480 at 15 fps, recording its events):")
    for name, value in medians.items():
        print(f"  {name:<30} {value:6.1f}%")
    off = medians["console off"]
    print(f"  console idle / console off      {medians['console on, nobody watching'] / off:6.2f}")
    print(f"  one viewer / console off        {medians['console on, one viewer'] / off:6.2f}")
    ac = medians["on AC"]
    print(f"  on battery / on AC              {medians['on battery (5 fps)'] / ac:6.2f}")
    print(f"  battery low / on AC             {medians['battery low (2 fps)'] / ac:6.2f}")


if __name__ == "__main__":
    main()
