"""The view guard (detector/pipeline/view_guard.py) on the labelled corpus: false flags, time to flag, cost.

    .venv/bin/python bench/view_guard.py [--split tune|held-out] [--condition NAME ...] [--trace]

- **false flags**: every condition of the split (bench/detection_corpus.py: dark,
  light steps, fades, IR switch, heavy noise, shake, sneaking walkers...) run
  through the motion core's picture preparation and the guard, as a live
  camera (frozen pictures watched); any fault is a false flag. The lowest
  structure (share of the learnt one) and the lowest match with the learnt view
  are printed beside it: how far each condition is from the thresholds.
- **attacks**, composed onto the split's ``day`` and ``dark`` footage after
  30 s of normal view, held 40 s, then taken away for 30 s: ``cover`` (a hand
  or cloth over the lens in half a second: smooth, darker, sensor noise
  still there), ``spray`` (blur and darkening growing over 3 s), ``turn`` (the
  camera panned in one second onto another real scene, OpenCV's messi5.jpg),
  ``freeze`` (the encoder repeats one frame). Time to flag is from the start of
  the attack; time to clear from its end.
- **cost**: process CPU of ``ViewGuard.look`` fed 640x480 frames prepared at the
  default detection width, at 15 fps (four looks a second, the rest skipped),
  as a share of one core; median of 5 runs, with the motion core's own cost
  in the same run for scale.

The thresholds were chosen on the ``tune`` split; the report is on ``held-out``
unless told otherwise (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from detection_corpus import FPS, REPO, SIZE, SPLITS, Composer  # noqa: E402

from quickcam.common.config import MotionConfig  # noqa: E402
from quickcam.detector.motion import create_detector  # noqa: E402
from quickcam.detector.pipeline.view_guard import ViewGuard  # noqa: E402

OTHER_VIEW = REPO / "tests/data/messi5.jpg"
BEFORE_S, ATTACK_S, AFTER_S = 30.0, 40.0, 30.0
Attack = Callable[[np.ndarray, float], np.ndarray]  # (the real frame, seconds since the attack began) -> frame


def frame_ns(index: int) -> int:
    return int(index * 1e9 / FPS)


class Watcher:
    """The guard as the detect stage feeds it: the motion core's picture of every frame."""

    def __init__(self) -> None:
        self.motion = create_detector(MotionConfig(), fps=FPS)
        self.guard = ViewGuard(watch_frozen=True)
        self.faults: list[tuple[int, str, int]] = []  # (frame, kind or '' when cleared, since frame)
        self.low_structure, self.low_match = float("inf"), float("inf")

    def feed(self, index: int, image: np.ndarray) -> None:
        self.motion.detect(image)
        started, ended = self.guard.look(self.motion.gray, frame_ns(index))
        if self.guard._learnt_structure:
            self.low_structure = min(self.low_structure, self.guard.structure / self.guard._learnt_structure)
        self.low_match = min(self.low_match, self.guard.match)
        if started is not None:
            self.faults.append((index, started.kind, round(started.since_ns * FPS / 1e9)))
        elif ended is not None:
            self.faults.append((index, "", 0))


def false_flags(composer: Composer, conditions: list[str], trace: bool) -> list[str]:
    lines = [f"{'condition':34} {'frames':>6} {'flags':>5} {'lowest structure':>16} {'lowest match':>12}"]
    for name in conditions:
        watcher, count = Watcher(), 0
        for index, image in enumerate(composer.clip(name).frames):
            watcher.feed(index, image)
            count += 1
        if not count:
            continue
        flags = [f for f in watcher.faults if f[1]]
        lines.append(f"{name:34} {count:6d} {len(flags):5d} {watcher.low_structure:16.2f} {watcher.low_match:12.2f}")
        if trace and flags:
            lines.append(f"    {flags}")
    return lines


def _other_view() -> np.ndarray:
    image = cv2.imread(str(OTHER_VIEW))
    if image is None:
        raise SystemExit(f"view guard bench: cannot read {OTHER_VIEW}; run scripts/install_test_tools.sh")
    return cv2.resize(image, SIZE, interpolation=cv2.INTER_AREA)


def attacks() -> dict[str, Attack]:
    rng = np.random.default_rng(5)
    other = _other_view().astype(np.float32)

    def noisy(image: np.ndarray) -> np.ndarray:
        return np.clip(image + rng.normal(0, 3, image.shape), 0, 255).astype(np.uint8)

    def cover(frame: np.ndarray, t: float) -> np.ndarray:
        k = min(1.0, t / 0.5)
        hand = cv2.GaussianBlur(frame, (0, 0), 40).astype(np.float32) * 0.35 + 20
        return noisy(frame.astype(np.float32) * (1 - k) + hand * k)

    def spray(frame: np.ndarray, t: float) -> np.ndarray:
        k = min(1.0, t / 3.0)
        blurred = cv2.GaussianBlur(frame, (0, 0), 1 + 14 * k).astype(np.float32)
        return noisy(blurred * (1 - 0.5 * k))

    def turn(frame: np.ndarray, t: float) -> np.ndarray:
        k = min(1.0, t / 1.0)
        shift = int(k * SIZE[0])
        pan = np.concatenate([frame.astype(np.float32), other], axis=1)[:, shift:shift + SIZE[0]]
        return noisy(pan) if k >= 1 else pan.astype(np.uint8)

    return {"cover": cover, "spray": spray, "turn": turn, "freeze": lambda frame, t: frame}


def attack_run(frames: Iterator[np.ndarray], name: str, attack: Attack) -> tuple[float | None, float | None, int]:
    """Seconds from the attack's start to the flag, from its end to the clear, and flags outside the attack."""
    watcher = Watcher()
    start, end = int(BEFORE_S * FPS), int((BEFORE_S + ATTACK_S) * FPS)
    frozen: np.ndarray | None = None
    flagged = cleared = None
    stray = 0
    for index, image in enumerate(frames):
        if index >= end + AFTER_S * FPS:
            break
        if start <= index < end:
            if name == "freeze":
                frozen = image if frozen is None else frozen
                image = frozen
            else:
                image = attack(image, (index - start) / FPS)
        before = len(watcher.faults)
        watcher.feed(index, image)
        for at, kind, _ in watcher.faults[before:]:
            if kind and start <= at < end and flagged is None:
                flagged = (at - start) / FPS
            elif kind:
                stray += 1
            elif at >= end and cleared is None:
                cleared = (at - end) / FPS
    return flagged, cleared, stray


def endless(composer: Composer, condition: str) -> Iterator[np.ndarray]:
    while True:
        yield from composer.clip(condition).frames


def attack_lines(composer: Composer) -> list[str]:
    lines = [f"{'attack':8} {'footage':8} {'flagged after':>13} {'cleared after':>13} {'other flags':>11}"]
    for footage in ("day", "dark"):
        for name, attack in attacks().items():
            flagged, cleared, stray = attack_run(endless(composer, footage), name, attack)
            show = lambda s: "never" if s is None else f"{s:.1f} s"  # noqa: E731
            lines.append(f"{name:8} {footage:8} {show(flagged):>13} {show(cleared):>13} {stray:11d}")
    return lines


def cost_lines(composer: Composer) -> list[str]:
    frames = [cv2.resize(f, (640, 480)) for _, f in zip(range(150), composer.clip("day").frames, strict=False)]
    guard_shares, motion_shares = [], []
    for _ in range(5):
        motion, guard = create_detector(MotionConfig(), fps=15.0), ViewGuard()
        grays, spent_motion = [], 0.0
        for frame in frames:
            t0 = time.process_time()
            motion.detect(frame)
            spent_motion += time.process_time() - t0
            grays.append(motion.gray)
        t0 = time.process_time()
        for repeat in range(20):
            for index, gray in enumerate(grays):
                guard.look(gray, int((repeat * len(grays) + index) * 1e9 / 15.0))
        spent_guard = (time.process_time() - t0) / 20
        seconds = len(frames) / 15.0
        guard_shares.append(spent_guard / seconds)
        motion_shares.append(spent_motion / seconds)
    guard_share, motion_share = statistics.median(guard_shares), statistics.median(motion_shares)
    return [f"guard: {guard_share * 100:.3f} % of a core per 640x480 camera at 15 fps "
            f"(motion core in the same run: {motion_share * 100:.2f} %, ratio {guard_share / motion_share:.3f}); "
            "median of 5, process CPU, on a shared machine"]


_FRESH: Composer | None = None


def _fresh_one(args: tuple[str, bool]) -> list[str]:
    assert _FRESH is not None
    return false_flags(_FRESH, [args[0]], args[1])[1:]


def fresh_lines(hours: float, trace: bool) -> list[str]:
    """False flags on footage the guard was never tuned on: section 7c's fresh set and quiet hours (held out)."""
    global _FRESH
    from fresh_corpus import FreshComposer  # the fresh stills; only this mode needs them

    _FRESH = FreshComposer(hours=hours)
    names = _FRESH.conditions() + _FRESH.quiet_segments()
    with multiprocessing.get_context("fork").Pool(2) as pool:  # after setNumThreads(1): see detection_fresh.py
        results = pool.map(_fresh_one, [(name, trace) for name in names], chunksize=1)
    header = false_flags(_FRESH, [], trace)
    return header + [line for lines in results for line in lines]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", choices=sorted(SPLITS), default="held-out")
    parser.add_argument("--condition", action="append", default=[], help="only this condition (repeatable)")
    parser.add_argument("--trace", action="store_true", help="list every false flag")
    parser.add_argument("--no-attacks", action="store_true")
    parser.add_argument("--fresh", type=float, metavar="HOURS",
                        help="instead: false flags on section 7c's fresh set and this many quiet hours (2 jobs)")
    args = parser.parse_args(argv)
    cv2.setNumThreads(1)
    started = time.monotonic()
    if args.fresh is not None:
        print("\n".join(fresh_lines(args.fresh, args.trace)))
        print(f"\n({time.monotonic() - started:.0f} s; command: .venv/bin/python bench/view_guard.py"
              f" {' '.join(sys.argv[1:])})")
        return 0
    composer = Composer(SPLITS[args.split])
    print(f"view guard on the {args.split} split\n")
    print("\n".join(false_flags(composer, args.condition or composer.conditions(), args.trace)))
    if not args.no_attacks:
        print()
        print("\n".join(attack_lines(composer)))
    print()
    print("\n".join(cost_lines(composer)))
    print(f"\n({time.monotonic() - started:.0f} s; command: .venv/bin/python bench/view_guard.py"
          f"{' ' + ' '.join(sys.argv[1:]) if len(sys.argv) > 1 else ''})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
