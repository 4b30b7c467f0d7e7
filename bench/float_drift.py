"""Do the Python and native motion cores drift apart under a flicker? Their verdicts frame by frame.

    .venv/bin/python bench/float_drift.py [--vs COMMIT] [--seeds 24] [--no-water]

The corpus of bench/native_parity.py has no random flicker, and there the cores
agree on every frame; a last-bit difference in their floats (the opencv-python
wheel's IPP on x86-64 rounded ``accumulateWeighted`` and the gain grid's
``resize`` otherwise than Debian's libopencv: docs/native.md) shows only where
the background is re-learnt often and a gain cell sits near a threshold. Two
kinds of footage, the same gray frames to both cores (defaults):

- **curtain walkers**: home.jpg with ``fresh_scenes.curtain`` (a cloth in a
  draught, right of the frame), a flat dark walker crossing it, a random 2 %
  flicker and sensor noise; 170 frames at 15 fps, one clip per seed 1..N;
- **harsh water**: ``bench/water_walkers.py``'s clip, seed 1 (rippling water,
  3 % flicker, JPEG 19, cloud shadows, vtest.avi's walkers; 5 644 frames).

Per clip: the frames whose motion verdicts differ, Python's core against the
native one; ``--vs COMMIT`` also Python's core at COMMIT (``_motion_at``)
against the same native trace (before / after in one run).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _motion_at import factory_at  # noqa: E402
from detection_corpus import FPS as WATER_FPS  # noqa: E402
from detection_corpus import SIZE as WATER_SIZE  # noqa: E402
from fresh_scenes import curtain, still  # noqa: E402
from native_parity import native_trace  # noqa: E402

from quickcam.common.config import MotionConfig  # noqa: E402
from quickcam.detector.motion import create_detector  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
BINARY = REPO / "build/native/quickcam-native-detector"
SIZE, FPS, FRAMES = (384, 288), 15.0, 170
WALKS = range(40, 140)  # frames the walker is in


def curtain_walker(seed: int) -> list[np.ndarray]:
    """A flat dark walker (about 1 % of the frame) crossing a curtain in a draught under a random 2 % flicker."""
    rng = np.random.default_rng(seed)
    base = still("home.jpg", SIZE)
    draw = curtain(base, rng, FPS, (200, 40, 150, 220))
    frames = []
    for index in range(FRAMES):
        image = base.copy()
        draw(image, index)
        picture = image.astype(np.float32)
        if index in WALKS:
            x = 160 + 2 * (index - WALKS.start)
            mask = np.zeros(SIZE[::-1], np.uint8)
            cv2.ellipse(mask, (x, 127), (6, 7), 0, 0, 360, 255, -1)
            cv2.rectangle(mask, (x - 10, 135), (x + 10, 180), 255, -1)
            picture[mask > 0] = (35, 38, 40)
        picture = picture * (1 + 0.02 * float(rng.standard_normal())) + rng.normal(0, 2, picture.shape)
        frames.append(cv2.cvtColor(np.clip(picture, 0, 255).astype(np.uint8), cv2.COLOR_BGR2GRAY))
    return frames


def harsh_water(seed: int = 1) -> list[np.ndarray]:
    from water_walkers import CLOUDS, FLICKER, frames

    return [cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
            for image, _ in frames(seed, [], FLICKER, CLOUDS)]


def verdicts(create: Callable, frames: list[np.ndarray], fps: float) -> list[bool]:
    cv2.setNumThreads(1)
    detector = create(MotionConfig(), fps=fps)
    return [detector.detect(frame).motion for frame in frames]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vs", metavar="COMMIT", help="also Python's motion core at COMMIT")
    parser.add_argument("--seeds", type=int, default=24, help="curtain walker clips, seeds 1..N")
    parser.add_argument("--no-water", action="store_true", help="skip the harsh water clip (5 644 frames)")
    args = parser.parse_args(argv)
    cores: dict[str, Callable] = {"today": create_detector}
    if args.vs:
        cores[f"at {args.vs}"] = factory_at(args.vs)
    clips = [(f"curtain walker, seed {seed}", FPS, SIZE, lambda s=seed: curtain_walker(s))
             for seed in range(1, args.seeds + 1)]
    if not args.no_water:
        clips.append(("harsh water, seed 1", WATER_FPS, WATER_SIZE, harsh_water))
    print("| clip | frames | native motion frames | " + " | ".join(f"{name}: verdicts differ" for name in cores)
          + " |\n|---|---|---|" + "---|" * len(cores))
    totals = {name: 0 for name in cores}
    count = 0
    for name, fps, size, make in clips:
        frames = make()
        native = [v.motion for v in native_trace(BINARY, frames, size, fps)]
        cells = []
        for core, create in cores.items():
            differ = [i for i, (a, b) in enumerate(zip(verdicts(create, frames, fps), native, strict=True)) if a != b]
            totals[core] += len(differ)
            cells.append(f"{len(differ)}{' (frames ' + ', '.join(map(str, differ[:5])) + ')' if differ else ''}")
        count += len(frames)
        print(f"| {name} | {len(frames)} | {sum(native)} | " + " | ".join(cells) + " |", flush=True)
    print(f"| **all** | {count} | | " + " | ".join(f"**{t}** ({100 * (1 - t / count):.2f} % agree)"
                                              for t in totals.values()) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
