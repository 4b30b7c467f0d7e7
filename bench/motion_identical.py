"""Is today's motion core the same, to the bit, as another commit's? Every result of both, frame by frame.

    .venv/bin/python bench/motion_identical.py --vs COMMIT [--split held-out --split tune] [--algorithm NAME ...]
        [--condition NAME ...] [--no-camera]

For changes that must not change detection (speed-ups): both cores (today's
``create_detector`` and ``detector/motion/`` at COMMIT, ``_motion_at``) are fed
the same frames (each core the whole clip in turn, OpenCV's random generator
seeded alike), and after every frame their ``MotionResult``s must be equal
field by field, floats to the bit (their ``repr``: Python prints the shortest
string that reads back as the same float), and so must what they learnt: the
background, the noise estimate, the busy map. Frames:

- every condition of the detection corpus (bench/detection_corpus.py), per
  split: 384x288 BGR, the in-process harness's input;
- a watching 640x480 camera's detection input (H.264 decoded, the luma halved
  to 320x240, ``decode.shrink_luma``): quiet, walkers crossing, and the quiet
  scene dimmed under ``dark_threshold`` with sensor noise (dark mode).

Prints frames compared per clip and the first difference; exits 1 on any.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _motion_at import factory_at  # noqa: E402
from detection_corpus import FPS, SPLITS, Composer  # noqa: E402

from bench.bench_decode_floor import decode  # noqa: E402
from bench.bench_passthrough import FPS as CAMERA_FPS  # noqa: E402
from bench.bench_passthrough import SIZES, continuous, scene  # noqa: E402
from quickcam.common.config import MotionConfig  # noqa: E402
from quickcam.detector.motion import ALGORITHMS, create_detector  # noqa: E402

CAMERA_SECONDS = 30.0
RNG_SEED = 1  # OpenCV's random generator, set before each core's pass (``compare``)


def camera_clips(folder: Path) -> Iterator[tuple[str, list[np.ndarray]]]:
    """A 640x480 camera's detection input: quiet, walkers, and dark (the quiet scene dimmed, with noise)."""
    quiet = decode(scene(folder, "quiet", SIZES["640x480"], CAMERA_SECONDS, ()), shrink=True)[1]
    yield "camera 640x480 quiet", quiet
    walkers = scene(folder, "walkers", SIZES["640x480"], CAMERA_SECONDS, continuous(CAMERA_SECONDS))
    yield "camera 640x480 walkers", decode(walkers, shrink=True)[1]
    rng = np.random.default_rng(7)
    yield "camera 640x480 dark", [np.clip(image * 0.06 + rng.normal(0, 1.5, image.shape), 0, 255).astype(np.uint8)
                                  for image in quiet]


def state(core: object) -> bytes:
    """What a core learnt, as bytes: background, noise estimate, busy map."""
    parts = [repr(getattr(core, "noise", None)).encode()]
    for array in (core.reference, core.busy.busy, core.busy.before):  # type: ignore[attr-defined]
        parts.append(b"-" if array is None else array.tobytes())
    return b"|".join(parts)


def trace(core: object, frames: Iterable[np.ndarray]) -> list[tuple[bytes, str, bytes]]:
    """Per frame: its digest, the core's result (``repr``) and the digest of what it learnt."""
    cv2.setRNGSeed(RNG_SEED)
    return [(hashlib.sha1(frame).digest(), repr(core.detect(frame)),  # type: ignore[attr-defined]
             hashlib.sha1(state(core)).digest()) for frame in frames]


def compare(name: str, frames: Iterable[np.ndarray], cores: tuple[object, object]) -> tuple[int, str | None]:
    """Frames compared, and the first difference (None: identical throughout).

    Each core runs the whole clip on its own, after the same ``cv2.setRNGSeed``:
    OpenCV's KNN subtractor draws from OpenCV's per-thread random generator, so
    two KNN cores fed in turn in one thread get different draws (today's core
    against itself then differs after a few hundred frames).
    """
    today, then = (trace(core, frames) for core in cores)
    for index, (now, before) in enumerate(zip(today, then, strict=True)):
        if now[0] != before[0]:
            return index + 1, f"{name}, frame {index}: the clip was not rendered the same twice (the harness)"
        if now[1] != before[1]:
            return index + 1, f"{name}, frame {index}: today {now[1]}\n    then  {before[1]}"
        if now[2] != before[2]:
            return index + 1, f"{name}, frame {index}: same result, different learnt state"
    return len(today), None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vs", required=True, metavar="COMMIT")
    parser.add_argument("--split", action="append", choices=sorted(SPLITS))
    parser.add_argument("--algorithm", action="append", choices=sorted(ALGORITHMS))
    parser.add_argument("--condition", action="append", help="only these corpus conditions")
    parser.add_argument("--no-camera", action="store_true", help="only the corpus clips")
    args = parser.parse_args(argv)
    cv2.setNumThreads(1)
    then_factory = factory_at(args.vs)
    started, total, failures = time.monotonic(), 0, []
    clips: list[tuple[str, float, Iterable[np.ndarray]]] = []
    with tempfile.TemporaryDirectory(prefix="motion_identical_") as tmp:
        if not args.no_camera:
            clips += [(name, CAMERA_FPS, frames) for name, frames in camera_clips(Path(tmp))]
        for split in args.split or ["held-out", "tune"]:
            composer = Composer(SPLITS[split])
            clips += [(f"{split}: {condition}", FPS, _Lazy(composer, condition)) for condition in composer.conditions()
                      if not args.condition or condition in args.condition]
        for algorithm in args.algorithm or ["running_average"]:
            config = MotionConfig(algorithm=algorithm)
            for name, fps, frames in clips:
                cores = (create_detector(config, fps=fps), then_factory(config, fps=fps))
                count, failure = compare(f"{algorithm}, {name}", frames, cores)
                total += count
                print(f"{algorithm:16} {name:45} {count:6} frames  {'DIFFERENT' if failure else 'identical'}",
                      flush=True)
                if failure:
                    failures.append(failure)
    print(f"\n{total} frames, {len(failures)} clips with a difference, against {args.vs} "
          f"({time.monotonic() - started:.0f} s)")
    for failure in failures:
        print(f"- {failure}")
    return 1 if failures else 0


class _Lazy:
    """A corpus clip's frames, rendered anew each time it is iterated (one pass per algorithm)."""

    def __init__(self, composer: Composer, condition: str) -> None:
        self.composer, self.condition = composer, condition

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter(self.composer.clip(self.condition).frames)


if __name__ == "__main__":
    raise SystemExit(main())
