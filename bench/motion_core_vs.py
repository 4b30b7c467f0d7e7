"""The motion core's CPU per frame, today's beside another commit's, on the same frames (interleaved).

    .venv/bin/python bench/motion_core_vs.py --vs COMMIT [--condition NAME ...] [--split tune]
    .venv/bin/python bench/motion_core_vs.py --vs COMMIT --camera [--paced] [--rounds 3]

Frames: conditions of the detection corpus (bench/detection_corpus.py, 384x288,
shrunk to the default 160 px detection width by the core), or with ``--camera``
a watching 640x480 camera's detection input (``motion_identical.camera_clips``:
quiet, walkers, dark). Each frame goes to both cores, in alternating order; per
frame, this process's CPU time (user + sys; one thread). ``--paced``: a pause
of 1/15 s before every call (caches cold, as in the detector, where a frame
comes every 1/15 s). Prints, per clip and core, the median over rounds of the
mean and the median CPU per frame, the share of one core at 15 fps, and the median of
the per-frame differences (today - COMMIT).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _motion_at import factory_at  # noqa: E402
from detection_corpus import FPS, SPLITS, Composer  # noqa: E402
from motion_identical import camera_clips  # noqa: E402

from bench.bench_passthrough import FPS as CAMERA_FPS  # noqa: E402
from quickcam.common.config import MotionConfig  # noqa: E402
from quickcam.detector.motion import create_detector  # noqa: E402


def run(frames: list[np.ndarray], fps: float, factories: dict[str, Callable], paced: bool) -> dict[str, list[float]]:
    """CPU ms per frame of each core over ``frames``, the cores called in alternating order."""
    cores = {name: factory(MotionConfig(), fps=fps) for name, factory in factories.items()}
    names = list(cores)
    times: dict[str, list[float]] = {name: [] for name in names}
    for index, frame in enumerate(frames):
        for name in names if index % 2 else names[::-1]:
            if paced:
                time.sleep(1 / CAMERA_FPS)
            started = time.process_time()
            cores[name].detect(frame)
            times[name].append((time.process_time() - started) * 1000)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vs", required=True, metavar="COMMIT")
    parser.add_argument("--split", choices=sorted(SPLITS), default="tune")
    parser.add_argument("--condition", action="append", default=[])
    parser.add_argument("--camera", action="store_true", help="a 640x480 camera's frames instead of the corpus's")
    parser.add_argument("--paced", action="store_true", help="a pause of 1/15 s before every call")
    parser.add_argument("--frames", type=int, default=0, help="at most this many frames a clip (0: all)")
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args(argv)
    cv2.setNumThreads(1)
    factories = {"today": create_detector, f"at {args.vs}": factory_at(args.vs)}
    with tempfile.TemporaryDirectory(prefix="motion_core_vs_") as tmp:
        if args.camera:
            clips: list[tuple[str, float, Iterable[np.ndarray]]] = [
                (name, CAMERA_FPS, frames) for name, frames in camera_clips(Path(tmp))]
        else:
            composer = Composer(SPLITS[args.split])
            clips = [(name, FPS, list(composer.clip(name).frames))
                     for name in args.condition or ["day", "lingering walker", "dark"]]
        how = "paced at 15 fps" if args.paced else "back to back"
        print(f"motion core, CPU ms per frame (process time, user + sys), {how}, "
              f"{args.rounds} round(s), medians over rounds; shared machine")
        print("\n| clip | frames | core | mean ms | median ms | share of a core at 15 fps |\n|---|---|---|---|---|---|")
        diffs: list[float] = []
        for name, fps, frames in clips:
            frames = list(frames)[:args.frames or None]
            rounds = [run(frames, fps, factories, args.paced) for _ in range(args.rounds)]
            for core in factories:
                mean = statistics.median(statistics.fmean(r[core]) for r in rounds)
                middle = statistics.median(statistics.median(r[core]) for r in rounds)
                print(f"| {name} | {len(frames)} | {core} | {mean:.3f} | {middle:.3f} | {mean * 15 / 10:.2f}% |",
                      flush=True)
            today, then = factories
            diffs.append(statistics.median(statistics.median(a - b for a, b in zip(r[today], r[then], strict=True))
                                           for r in rounds))
        print(f"\ntoday - at {args.vs}: median of per-frame differences, per clip: "
              f"{', '.join(f'{d:+.3f}' for d in diffs)} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
