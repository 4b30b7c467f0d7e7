"""Walkers over rippling water under the harsh weather, tune side: which of them main misses, and why.

    .venv/bin/python bench/water_walkers.py [--seeds 1 2 3] [--jobs 2] [--frames]

Tune side only (benchmarks section 7c): the held-out quiet hours missed two
walkers over water (seed 7's quiet 20 and 04); they are not looked at. This
rebuilds their kind of scene from tune-side pieces: ``bench/quiet_artefacts.py``'s
*water, harsh weather* (rippling water over the lower half of leuvenB.jpg;
noise sigma 4, JPEG 19, 3 % flicker, drifting cloud shadows) with the quiet
hours' walkers (``bench/fresh_corpus.py``: vtest.avi's pedestrians at their
own size and place, not shrunk), every one of the 35 in turn, 10 s apart,
after 20 s of warm-up and 30 s of quiet. ``--seeds``: other water, clouds
and noise (the condition's name carries the seed).

Per walker: whether an event caught him, his onset, and frame by frame what
the motion core did with his pixels (detection size), each rule's loss
apart: pixels over the noise threshold, what the busy map's raised threshold
left, the largest blob on him against the minimum area, blobs taken for light
or left by a switch, and ``Persistence``'s verdict. ``--frames`` prints every
frame of each missed walker.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from detection_corpus import FPS, SIZE  # noqa: E402
from detection_quality import Watcher  # noqa: E402
from fresh_corpus import FRESH, FreshScene, drift  # noqa: E402
from fresh_scenes import cloud_shadows, still, water  # noqa: E402
from quiet_artefacts import VARIANTS, ArtefactComposer  # noqa: E402

import quickcam.detector.motion.base as base  # noqa: E402
from quickcam.common.config import MotionConfig, RecordingConfig  # noqa: E402

WATER_TOP = 0.5  # share of the height where the water starts (as quiet_artefacts' harsh water)
GAP_S = 10.0  # quiet between walkers, as the quiet hours
FLICKER = 0.03  # the harsh weather's light flicker (a share, per frame)
CLOUDS = 0.25  # the harsh weather's cloud shadows' depth (0: none)


@dataclass
class Frame:
    """What the motion core did with one frame of a walker (detection-size pixels)."""

    second: float
    pixels: int = 0  # the walker's own pixels
    over: int = 0  # of them, over the noise threshold
    kept: int = 0  # of those, left by the busy map's raised threshold
    blob: float = 0.0  # the largest blob on him (contour area)
    small: int = 0  # blobs on him under the minimum area
    light: int = 0  # blobs on him taken for light
    still: int = 0  # blobs on him left by a switch (``SwitchWatch.still``)
    shown: int = 0  # blobs on him shown to Persistence
    counted: int = 0  # of those, counted
    motion: bool = False  # the frame's verdict (any blob, on him or not)
    threshold: float = 0.0
    noise: float = 0.0
    busy: float = 0.0  # Persistence's busy score of his largest blob shown
    jump: float = 0.0  # the mean brightness's move since the frame before (share; LIGHT_JUMP arms ``switched``)
    switched: bool = False  # a switch of light was in context (``SwitchWatch.still`` tests his blobs)


@dataclass
class Walk:
    number: int  # in the walker list
    start: int
    end: int
    water: float  # share of his pixels over the water (median)
    cover: float  # share of the frame (median)
    frames: list[Frame] = field(default_factory=list)
    caught: bool = False
    onset: int | None = None


def frames(seed: int, walks: list[Walk], flicker: float,
           clouds: float) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
    """The clip, with each frame's walker mask (full size) or None."""
    composer = ArtefactComposer(VARIANTS["tune"])
    split = replace(FRESH, name="tune", seed=VARIANTS["tune"].seed)
    s = FreshScene(composer.plate, composer.frames, split, f"water walkers {seed}")
    rng = s.rng
    s.plate = still(VARIANTS["tune"].street, SIZE)
    top = int(SIZE[1] * WATER_TOP)
    s.sway = water(s.plate, rng, FPS, top)
    s.sigma, s.jpeg = 4.0, 19
    s.lights.append(drift(rng, int(400 * FPS), 1.0, flicker))
    if clouds:
        s.lights.append(cloud_shadows(rng, FPS, SIZE, depth=clouds, speed_px_s=6.0))
    for _ in range(int(50 * FPS)):  # 20 s warm-up and 30 s quiet
        yield s.render(), None
    for number, walker in enumerate(composer.walkers):
        steps = min(len(walker.frames), int(6 * FPS))
        masks = walker.masks[:steps]
        areas = [m.sum() for m in masks]
        wet = [m[top:].sum() / max(1, m.sum()) for m in masks]
        cover = float(np.median(areas)) / (SIZE[0] * SIZE[1])
        walk = Walk(number, s.index, s.index + steps - 1, float(np.median(wet)), cover)
        walks.append(walk)
        for step in range(steps):
            yield s.render(walker, step, 1.0), masks[step]
        for _ in range(int(GAP_S * FPS)):
            yield s.render(), None


def run(seed: int, flicker: float = FLICKER, clouds: float = CLOUDS) -> list[Walk]:
    """One seed's clip through main's motion core, each walker's frames traced."""
    cv2.setNumThreads(1)
    watcher = Watcher(MotionConfig(), RecordingConfig())
    d = watcher.detector
    now: dict[str, object] = {}
    gate, contours, counts, still_ = d.busy.gate, d._contours, d.persistence.counts, d.switch_watch.still
    light = base.looks_like_light

    def on(box) -> bool:
        small = now.get("small")
        if small is None:
            return False
        x, y, w, h = box
        return bool(small[y:y + h, x:x + w].any())

    def traced_gate(normal, reference, threshold, mask, learn=True):
        f, small = now.get("frame"), now.get("small")
        if f is not None:
            f.over = int(np.count_nonzero(mask[small]))
            f.threshold, f.noise = float(threshold), float(d.noise or 0.0)
        gate(normal, reference, threshold, mask, learn)
        if f is not None:
            f.kept = int(np.count_nonzero(mask[small]))

    def traced_contours(mask):
        found = contours(mask)
        f = now.get("frame")
        if f is not None:
            min_area = d.config.min_area_fraction * mask.size
            for c in found:
                if on(cv2.boundingRect(c)):
                    area = cv2.contourArea(c)
                    f.blob = max(f.blob, area)
                    f.small += area < min_area
        return found

    def traced_light(normal, reference, mask, box, context):
        verdict = light(normal, reference, mask, box, context)
        f = now.get("frame")
        if f is not None and verdict and on(box):
            f.light += 1
        return verdict

    def traced_still(normal, box, area, threshold):
        verdict = still_(normal, box, area, threshold)
        f = now.get("frame")
        if f is not None and verdict and on(box):
            f.still += 1
        return verdict

    def traced_counts(boxes, busy, stirred=False, **more):
        verdicts = counts(boxes, busy, stirred, **more)
        f = now.get("frame")
        if f is not None:
            mine = [(b, v) for b, v in zip(boxes, verdicts, strict=True) if on(b)]
            f.shown, f.counted = len(mine), sum(v for _, v in mine)
            if mine:
                f.busy = max(busy.score(b) for b, _ in mine)
        return verdicts

    d.busy.gate, d._contours, d.persistence.counts = traced_gate, traced_contours, traced_counts
    d.switch_watch.still = traced_still
    base.looks_like_light = traced_light
    walks: list[Walk] = []
    index, switched, flickering = -1, 0, 0
    for index, (image, mask) in enumerate(frames(seed, walks, flicker, clouds)):
        now.clear()
        if mask is not None:
            f = Frame(index / FPS)
            width = min(d.config.detection_width, SIZE[0])
            height = round(SIZE[1] * width / SIZE[0])
            small = cv2.resize(mask.astype(np.uint8), (width, height), interpolation=cv2.INTER_AREA) > 0
            f.pixels = int(small.sum())
            now.update(frame=f, small=small)
            walks[-1].frames.append(f)
        last = d.switch_watch.last_brightness
        watcher.feed(index, image)
        if mask is not None:
            f.motion, f.switched = watcher.moving, d.switch_watch.switched > 0
            f.jump = abs(d.switch_watch.last_brightness - last) / max(last, 1.0) if last is not None else 0.0
        switched += d.switch_watch.switched > 0
        flickering += d.switch_watch.flickering > 0
    result = watcher.finish(index)
    print(f"seed {seed}, flicker {flicker}, clouds {clouds}: a switch of light in context in {switched} of "
          f"{index + 1} frames ({switched / (index + 1):.0%}), a flicker in {flickering / (index + 1):.0%}", flush=True)
    for walk in walks:
        hits = [(onset, start) for onset, start, end in result.events if start <= walk.end and end > walk.start]
        walk.caught = bool(hits)
        if hits:
            walk.onset = max(0, max(walk.start, hits[0][1]) - walk.start)
    return walks


def _run_one(job: tuple[int, float, float]) -> tuple[int, list[Walk]]:
    return job[0], run(*job)


def summary(walk: Walk) -> str:
    fs = walk.frames
    motion = [f.motion for f in fs]
    best = run_length = 0
    for m in motion:
        run_length = run_length + 1 if m else 0
        best = max(best, run_length)
    return (f"walker {walk.number:2d} ({walk.start / FPS:6.1f}-{walk.end / FPS:6.1f} s, {len(fs)} frames, "
            f"cover {walk.cover * 100:.2f} %, over water {walk.water:.2f}): "
            f"{'caught, onset ' + str(walk.onset) if walk.caught else 'MISSED'}; "
            f"threshold {np.median([f.threshold for f in fs]):.1f}, noise {np.median([f.noise for f in fs]):.2f}; "
            f"his pixels {np.median([f.pixels for f in fs]):.0f}, "
            f"over threshold {np.median([f.over for f in fs]):.0f}, "
            f"left by the busy map {np.median([f.kept for f in fs]):.0f} (median a frame); "
            f"frames with a blob on him {sum(f.blob > 0 for f in fs)}, of which under min area "
            f"{sum(f.blob > 0 and f.small > 0 and f.shown + f.light + f.still == 0 for f in fs)}, light "
            f"{sum(f.light > 0 for f in fs)}, still {sum(f.still > 0 for f in fs)}, shown to Persistence "
            f"{sum(f.shown > 0 for f in fs)}, counted {sum(f.counted > 0 for f in fs)}; "
            f"frames with motion {sum(motion)}, longest run {best}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--flicker", type=float, default=FLICKER, help="the light flicker (0.03: the harsh weather)")
    parser.add_argument("--clouds", type=float, default=CLOUDS, help="cloud shadows' depth (0: none)")
    parser.add_argument("--frames", action="store_true", help="print every frame of each missed walker")
    args = parser.parse_args(argv)
    with ProcessPoolExecutor(args.jobs) as pool:
        results = dict(pool.map(_run_one, [(seed, args.flicker, args.clouds) for seed in args.seeds]))
    for seed in args.seeds:
        walks = results[seed]
        wet = [w for w in walks if w.water >= 0.5]
        missed = [w for w in walks if not w.caught]
        onsets = sorted(w.onset for w in wet if w.onset is not None)
        print(f"\n**seed {seed}**: {len(walks)} walkers, {len(walks) - len(missed)} caught; over water (>= half his "
              f"pixels) {len(wet)}, caught {sum(w.caught for w in wet)}, onset median "
              f"{onsets[len(onsets) // 2] if onsets else '-'} / worst {onsets[-1] if onsets else '-'} frames")
        for walk in walks:
            if not walk.caught or (walk.onset or 0) > 3:
                print("  " + summary(walk))
                if args.frames:
                    for f in walk.frames:
                        print(f"    {f.second:6.1f} s thr {f.threshold:.1f} noise {f.noise:.2f} px {f.pixels} over "
                              f"{f.over} kept {f.kept} blob {f.blob:.0f} small {f.small} light {f.light} still "
                              f"{f.still} shown {f.shown} counted {f.counted} busy {f.busy:.2f} jump {f.jump:.3f} "
                              f"switched {f.switched} motion {f.motion}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
