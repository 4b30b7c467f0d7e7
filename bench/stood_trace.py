"""Is the flicker's *stood* rule behind a tune-side clip's false events? Three motion cores on the same frames.

    .venv/bin/python bench/stood_trace.py [CONDITION ...] [--water PICTURE:TOP:SEED ...] [--seconds 300]
        [--walkers SEED ...] [--vs COMMIT]

Tune side only (benchmarks section 7c): the held-out quiet hours' flickering
water (quiet 20) went from 5 to 10 false events when the stood rule was
merged; no held-out clip is run here. Each clip (a tune-side condition of
``bench/quiet_artefacts.py``, or ``--water``: rippling water from row
``TOP`` (a share of the height) of a tune-side still under the harsh weather,
no walkers, ``--seconds`` of quiet after 20 s of warm-up; or ``--walkers``:
``bench/water_walkers.py``'s clip of that seed, the 35 walkers over the
same water, one after the other) goes, frame by frame, through:

- the motion core at ``--vs`` (default main), as it is;
- the same with the stood branch off: in a flicker every still blob is
  absorbed, as before the rule (its ``crept_in`` always true);
- this code (a rule tried against the glints is run beside main's here).

Per clip: false events of each, and the still blobs the rule at ``--vs``
counted as *stood* (last frame's motion standing): all of them, those in a
busy place (``BusyMap.score`` of ``PERSIST_SCORE`` or more), and of those the
ones standing on motion counted for a single frame (what the rule tried on
branch s6-detection2 absorbed; with ``--walkers``, how many of them came while
a walker was in: on the tune side, walker 25, who appears and stands).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _motion_at import factory_at  # noqa: E402
from detection_corpus import FPS, SIZE, Clip  # noqa: E402
from detection_quality import Watcher, score  # noqa: E402
from fresh_corpus import FRESH, FreshScene, drift  # noqa: E402
from fresh_scenes import cloud_shadows, still, water  # noqa: E402
from quiet_artefacts import VARIANTS, WEATHER, ArtefactComposer  # noqa: E402

from quickcam.common.config import MotionConfig, RecordingConfig  # noqa: E402
from quickcam.detector.motion import create_detector  # noqa: E402
from quickcam.detector.motion.activity import PERSIST_SCORE, _overlap  # noqa: E402

TUNE_STILLS = {VARIANTS["tune"].room, VARIANTS["tune"].street, VARIANTS["tune"].foliage}


def water_clip(composer: ArtefactComposer, spec: str, seconds: float) -> Clip:
    """``PICTURE:TOP:SEED``: water from row TOP of a tune-side still, under the harsh weather, no one."""
    picture, top, seed = spec.split(":")
    if picture not in TUNE_STILLS:
        raise SystemExit(f"stood_trace: {picture} is not a tune-side still (use one of {sorted(TUNE_STILLS)})")
    clip = Clip(f"water on {picture} from {top}, seed {seed}", iter(()))
    split = replace(FRESH, name="tune", seed=VARIANTS["tune"].seed)
    s = FreshScene(composer.plate, composer.frames, split, clip.condition)
    s.plate = still(picture, SIZE)
    s.sway = water(s.plate, s.rng, FPS, int(SIZE[1] * float(top)))
    s.sigma, s.jpeg, drift_to, flicker, _ = WEATHER["harsh"]
    s.lights.append(drift(s.rng, int(400 * FPS), drift_to, flicker))
    s.lights.append(cloud_shadows(s.rng, FPS, SIZE, depth=0.25, speed_px_s=6.0))

    def frames() -> Iterator[np.ndarray]:
        for index in range(int((20 + seconds) * FPS)):
            clip.quiet_frames += index >= 20 * FPS
            yield s.render()

    clip.frames = frames()
    return clip


def walkers_clip(seed: int) -> Clip:
    """``bench/water_walkers.py``'s clip of ``seed``: 50 s of water, then its 35 walkers, 10 s apart."""
    from water_walkers import CLOUDS, FLICKER, frames

    clip = Clip(f"water walkers, seed {seed}", iter(()))
    walks: list = []

    def images() -> Iterator[np.ndarray]:
        for index, (image, mask) in enumerate(frames(seed, walks, FLICKER, CLOUDS)):
            if mask is None and index >= 20 * FPS and not (walks and index <= walks[-1].end + 2 * FPS):
                clip.quiet_frames += 1
            yield image
        clip.people.extend((walk.start, walk.end) for walk in walks)

    clip.frames = images()
    return clip


def trace(clip: Clip, at: Callable, base) -> list[str]:
    """One clip through the three cores; its row."""
    recording = RecordingConfig()
    pre_roll, post_roll = int(recording.pre_roll_s * FPS), int(recording.post_roll_s * FPS)
    cores = {"at": Watcher(MotionConfig(), recording, at), "off": Watcher(MotionConfig(), recording, at),
             "this": Watcher(MotionConfig(), recording, create_detector)}
    watched = cores["at"].detector
    crept_in = base.crept_in
    lasted: dict[tuple[int, int, int, int], int] = {}
    stood: list[tuple[float, int, int]] = []  # busy score, frames the motion it continues lasted, frame
    now = [0]

    def traced(box, moving) -> bool:
        verdict = crept_in(box, moving)
        if not verdict:
            stood.append((watched.busy.score(box), max(lasted.get(m, 0) for m in moving if _overlap(box, m)), now[0]))
        return verdict

    index = -1
    for index, frame in enumerate(clip.frames):
        now[0] = index
        base.crept_in = traced
        cores["at"].feed(index, frame)
        base.crept_in = lambda box, moving: True
        cores["off"].feed(index, frame)
        base.crept_in = crept_in
        cores["this"].feed(index, frame)
        lasted = {b: 1 + max((n for m, n in lasted.items() if _overlap(b, m)), default=0) for b in watched._moving}
    false = {name: score(w.finish(index), clip, pre_roll, post_roll) for name, w in cores.items()}
    busy = [(n, i) for s, n, i in stood if s >= PERSIST_SCORE]
    on_one = [i for n, i in busy if n < 2]
    people = sum(any(first <= i <= last for first, last in clip.people) for i in on_one)
    return [clip.condition, f"{clip.quiet_frames / FPS / 60:.1f}",
            *(f"{f.false_quiet + f.false_lighting}" + (f" ({f.caught}/{f.people})" if f.people else "")
              for f in false.values()),
            f"{len(stood)} / {len(busy)} / {len(on_one)} ({people} while a walker is in)"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("condition", nargs="*", help="tune-side conditions of bench/quiet_artefacts.py")
    parser.add_argument("--water", action="append", default=[], metavar="PICTURE:TOP:SEED")
    parser.add_argument("--walkers", type=int, action="append", default=[], metavar="SEED",
                        help="bench/water_walkers.py's clip of this seed")
    parser.add_argument("--seconds", type=float, default=300.0, help="quiet per --water clip (after 20 s warm-up)")
    parser.add_argument("--vs", default="main", metavar="COMMIT", help="the motion core whose stood rule is traced")
    args = parser.parse_args(argv)
    cv2.setNumThreads(1)
    composer = ArtefactComposer(VARIANTS["tune"])
    unknown = [c for c in args.condition if c not in composer.conditions()]
    if unknown:
        print(f"stood_trace: not a tune-side condition: {', '.join(unknown)}", file=sys.stderr)
        return 2
    at = factory_at(args.vs)
    base = importlib.import_module(at.__module__.split(".")[0] + ".base")
    if not hasattr(base, "crept_in"):
        print(f"stood_trace: the motion core at {args.vs} has no crept_in (no stood rule to trace)", file=sys.stderr)
        return 2
    print(f"| tune-side clip | quiet, min | false events (walkers caught) at {args.vs} | {args.vs}, stood off | "
          f"this code | stood blobs at {args.vs}: all / busy place / on 1-frame motion (while a walker is in) |")
    print("|---|---|---|---|---|---|")
    makers = [lambda c=c: composer.clip(c) for c in args.condition]
    makers += [lambda w=w: water_clip(composer, w, args.seconds) for w in args.water]
    makers += [lambda seed=seed: walkers_clip(seed) for seed in args.walkers]
    for make in makers:  # each clip made just before it runs (a scene seeds OpenCV's generator when made)
        print("| " + " | ".join(trace(make(), at, base)) + " |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
