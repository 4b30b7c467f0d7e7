"""Where the motion core's background goes unlearnt, and whether a segment's events move when it is nudged.

    .venv/bin/python bench/stale_background.py --seed 29 --segment 10
    .venv/bin/python bench/stale_background.py --seed 29 --segment 10 --nudge 0.001 --at 200
    .venv/bin/python bench/stale_background.py --seed 29 --segment 10 --relearn-at 200 [--keep-clipped]

Tune seeds only (``blob_features.TUNE_SEEDS``). While a gain is divided out
(``lighting.normalise_gain``), pixels clipped white in the frame or the
background are neither compared nor learnt; only ``_absorb`` (the whole
picture re-learnt at once) writes them. So a rule that changes when
``_absorb`` runs changes what those pixels hold for minutes after, and with it
the noise estimate and the threshold everywhere (benchmarks 7c, branch
s10-leaves: why one held blob moved leaf events minutes later). Printed: the
frames with a gain, the clipped pixels' median count, the frames ``_absorb``
ran on, each minute how many pixels of the background had not changed for over
60 s, and the events. ``--nudge`` adds that many gray levels to the whole
background once at frame ``--at`` (float noise); ``--relearn-at`` replaces the
background by that frame at the background's exposure once (one extra
``_absorb``, what a rule's verdict can cause); with ``--keep-clipped`` only where neither side is clipped (does
the change travel through the clipped pixels?).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import blob_features  # noqa: E402
from detection_quality import Watcher  # noqa: E402
from fresh_corpus import FPS, FreshComposer  # noqa: E402

import quickcam.detector.motion.base as base  # noqa: E402
from quickcam.common.config import MotionConfig, RecordingConfig  # noqa: E402
from quickcam.detector.motion.lighting import CLIPPED, KERNEL  # noqa: E402

STALE_S = 60.0  # a background pixel unchanged this long is reported


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, required=True, help=f"one of {blob_features.TUNE_SEEDS}")
    parser.add_argument("--segment", type=int, required=True, help="the quiet-hours segment, 1-24")
    parser.add_argument("--nudge", type=float, default=0.0, help="gray levels added to the background at --at")
    parser.add_argument("--at", type=int, default=200, help="the frame of the nudge")
    parser.add_argument("--relearn-at", type=int, help="replace the background by this frame once (as _absorb)")
    parser.add_argument("--keep-clipped", action="store_true",
                        help="with --relearn-at: leave the pixels clipped white (frame or background) as they were")
    args = parser.parse_args(argv)
    if args.seed not in blob_features.TUNE_SEEDS:
        print(f"stale_background: --seed must be one of {blob_features.TUNE_SEEDS}", file=sys.stderr)
        return 2
    cv2.setNumThreads(1)
    composer = FreshComposer(hours=6, seed=args.seed)
    clip = composer.clip(composer.quiet_segments()[args.segment - 1])
    watcher = Watcher(MotionConfig(), RecordingConfig())
    detector = watcher.detector
    gains, clipped_counts, absorbed = 0, [], []
    last_normal: list[np.ndarray] = []  # the last frame at the background's exposure (as ``_absorb`` is given it)
    index = 0
    normalise = base.normalise_gain

    def watched_gain(gray, reference, band):  # noqa: ANN001, ANN202 - the core's own signature
        nonlocal gains
        result = normalise(gray, reference, band)
        last_normal[:] = [] if result.normal is None else [result.normal]
        if result.clipped is not None:
            gains += 1
            clipped_counts.append(int(np.count_nonzero(result.clipped)))
        return result

    absorb = detector._absorb

    def watched_absorb(normal: np.ndarray, keep: list) -> None:
        absorbed.append(index)
        absorb(normal, keep)

    base.normalise_gain, detector._absorb = watched_gain, watched_absorb
    previous, age, stale = None, None, []
    minute = int(60 * FPS)
    for index, frame in enumerate(clip.frames):
        if index == args.at and args.nudge and detector.reference is not None:
            detector.reference += np.float32(args.nudge)
        watcher.feed(index, frame)
        if index == args.relearn_at and last_normal:
            new = last_normal[0]
            if args.keep_clipped:
                clipped = cv2.dilate(((new >= CLIPPED) | (detector.reference >= CLIPPED)).astype(np.uint8), KERNEL) > 0
                new = np.where(clipped, detector.reference, new)
            detector.reference[:] = new
        reference = detector.reference
        if reference is None:
            continue
        if previous is not None and previous.shape == reference.shape:
            same = reference == previous
            age = np.where(same, age + 1, 0) if age is not None else np.zeros(reference.shape, np.int32)
            if index % minute == 0:
                stale.append((round(index / FPS), int(np.count_nonzero(age > STALE_S * FPS)), int(age.max())))
        previous = reference.copy()
    run = watcher.finish(index)
    base.normalise_gain = normalise
    post = int(RecordingConfig().post_roll_s * FPS)
    print(f"seed {args.seed}, {clip.condition}: {index + 1} frames, a gain divided out on {gains}; clipped pixels "
          f"(dilated) median {int(np.median(clipped_counts)) if clipped_counts else 0} of {previous.size}")
    print(f"_absorb on {len(absorbed)} frames: {absorbed[:60]}{' ...' if len(absorbed) > 60 else ''}")
    print(f"background pixels unchanged for over {STALE_S:.0f} s (second, pixels, longest in frames): {stale}")
    events = [(round(onset / FPS, 1), "walker" if any(a <= start <= b + post for a, b in clip.people) else "false")
              for onset, start, _ in run.events]
    print(f"events (onset s): {events}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
