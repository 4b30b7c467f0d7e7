"""What the blobs that start false events look like, against walkers' blobs: properties other than motion.

    .venv/bin/python bench/blob_features.py "water, harsh weather 1"     # a tune-side quiet_artefacts clip
    .venv/bin/python bench/blob_features.py --seed 2 --segment 20         # a quiet-hours segment of a tune seed
    .venv/bin/python bench/blob_features.py --walkers 1                   # water_walkers' clip, seed 1
    .venv/bin/python bench/blob_features.py --corpus "small before a curtain"   # a corpus clip, tune split

Tune side only (as ``bench/onset_trace.py``): the seeds kept for a gate are
refused. Every blob ``Persistence`` is shown is measured on the frame the
motion core judged it (detection-size pixels, before ``_absorb``):

- ``ncc``: the zero-mean correlation of the frame with the background over the
  box (a shadow or a light keeps the background's texture: near 1; a person
  replaces it);
- ``hp``: the same on the high-pass of both (fine texture only);
- ``bright``: the share of the blob's changed pixels brighter than the
  background (a glint: all of them);
- ``fill``: changed pixels over the box's area; ``pieces`` / ``largest``:
  8-connected pieces of the changed pixels in the box, and the largest;
- ``prev``: the correlation of the box with the same box of the frame
  before (a standing thing: near 1);
- ``fresh``: how much of the blob's departure from the background is new
  since the frame before (the step along the departure's sign, over the
  departure: a shadow's edge creeping over the threshold near 0, a person
  who just came near 1);
- ``white``: the share of the changed pixels that the frame shows clipped
  white (CLIPPED and over, at the background's exposure: sky between leaves);
- ``excess``: the median of |frame - background| over the changed pixels,
  in thresholds;
- ``raise``: the busy map's raise (0..1) over the changed pixels; ``reach3``,
  ``reach4``, ``reach6``, ``reach8``: the share of the changed pixels the busy
  gate would clear if the background's range were taken over 5 rows and 3,
  4, 6 or 8 pixels either side instead of 2 (``activity.REACH``; a curtain
  swings sideways, so the window its hem uncovers lies a few pixels off in
  the background; benchmarks 7c, branch s11-curtain).

It showed (benchmarks 7c, branch s8-water) that every blob starting a water
event on the tune side was brighter than the background in all its changed
pixels, faint specks; and that a 0.17 % walker far off is such specks too.

Rows are labelled ``false`` (a blob counted on the first two frames of a false
event), ``walker`` (counted on the first two frames of a walker's event; with
``--walkers``, every blob on a walker's mask) or ``other``. ``--dump`` writes
every row as JSON lines for further reading; the summary gives each
feature's percentiles per label.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from detection_quality import Watcher  # noqa: E402
from fresh_corpus import FPS, FreshComposer  # noqa: E402
from quiet_artefacts import VARIANTS, ArtefactComposer  # noqa: E402

from quickcam.common.config import MotionConfig, RecordingConfig  # noqa: E402
from quickcam.detector.motion.activity import BUSY_FLOOR, BUSY_FULL, BUSY_GAIN, _overlap  # noqa: E402
from quickcam.detector.motion.base import MotionDetector  # noqa: E402
from quickcam.detector.motion.glints import is_glint  # noqa: E402
from quickcam.detector.motion.lighting import CLIPPED, RATIO_OFFSET, ratio_window  # noqa: E402

TUNE_SEEDS = (1, 2, 3, 5, 7, 11, 12, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61,
              67, 71, 73, 79)  # 83, 89: gates
FEATURES = ("glint", "reg8", "reg16", "reg24", "ring16",
            "fresh", "ncc", "hp", "bright", "white", "fill", "pieces", "largest", "prev", "excess", "score", "area",
            "departure", "rough", "kept", "soft", "grain", "detail", "calm", "raise", "reach3", "reach4", "reach6",
            "reach8")
REACHES = {"reach3": 3, "reach4": 4, "reach6": 6, "reach8": 8}  # pixels either side, over 5 rows
Box = tuple[int, int, int, int]


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    den = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / den) if den > 1e-6 else 0.0


def measure(normal: np.ndarray, reference: np.ndarray, previous: np.ndarray | None, mask: np.ndarray,
            box: Box, threshold: float, noise: float = 1.0) -> dict[str, float]:
    """The properties of one blob (see the module's docstring)."""
    x, y, w, h = box
    f, r = normal[y:y + h, x:x + w], reference[y:y + h, x:x + w]
    m = mask[y:y + h, x:x + w] > 0
    hp_f = f - cv2.GaussianBlur(f, (0, 0), 1.5)
    hp_r = r - cv2.GaussianBlur(r, (0, 0), 1.5)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(m.astype(np.uint8), connectivity=8)
    sizes = stats[1:, cv2.CC_STAT_AREA] if count > 1 else np.zeros(1)
    diff = (f - r)[m]
    fresh = 0.0
    if previous is not None and diff.size:
        step = (f - previous[y:y + h, x:x + w])[m]
        fresh = float((np.sign(diff) * step).sum() / max(1e-6, np.abs(diff).sum()))
    return {
        "fresh": fresh,
        "ncc": _corr(f, r), "hp": _corr(hp_f, hp_r),
        "bright": float((diff > 0).mean()) if diff.size else 0.0,
        "fill": float(m.mean()), "pieces": float(count - 1), "largest": float(sizes.max()),
        "prev": _corr(f, previous[y:y + h, x:x + w]) if previous is not None else 0.0,
        "excess": float(np.median(np.abs(diff)) / threshold) if diff.size else 0.0,
        "white": float((f[m] >= CLIPPED).mean()) if diff.size else 0.0,
        **light_shape(normal, reference, mask, box, noise),
    }


def light_shape(normal: np.ndarray, reference: np.ndarray, mask: np.ndarray, box: Box,
                noise: float) -> dict[str, float]:
    """``looks_like_light``'s measures of the blob, and the picture's noise on the same log scale.

    ``departure``: the log ratio's RMS departure from 1; ``rough``: its fine
    detail over the departure (light under LIGHTING_ROUGHNESS); ``kept``: the
    detail over the background's texture (light under TEXTURE_KEPT); ``soft``:
    the steepest slopes over the departure (light under LIGHTING_SLOPE);
    ``grain``: the detail over what the measured noise alone gives the log
    ratio there (the noise over the background's level): near 1 or under, the
    ratio is as smooth as the noise lets it be; ``calm``: the detail over the
    same measure on the box's unchanged pixels (the picture's own grain there).
    """
    x, y, w, h = box
    pick = mask[y:y + h, x:x + w] > 0
    if pick.sum() < 16:
        return {"detail": 0.0, "calm": 0.0, "departure": 0.0, "rough": 0.0, "kept": 0.0, "soft": 0.0, "grain": 0.0}
    log_ref, log_ratio, inner = ratio_window(normal, reference, box)
    departure = float(np.sqrt(np.mean(log_ratio[inner][pick] ** 2)))
    detail = float(np.std((log_ratio - cv2.GaussianBlur(log_ratio, (0, 0), 1.5))[inner][pick]))
    texture = float(np.std((log_ref - cv2.GaussianBlur(log_ref, (0, 0), 1.5))[inner][pick]))
    slope = cv2.magnitude(cv2.Sobel(log_ratio, cv2.CV_32F, 1, 0, ksize=3),
                          cv2.Sobel(log_ratio, cv2.CV_32F, 0, 1, ksize=3)) / 8.0
    level = float(reference[y:y + h, x:x + w][pick].mean()) + RATIO_OFFSET
    fine = (log_ratio - cv2.GaussianBlur(log_ratio, (0, 0), 1.5))[inner]
    calm = float(np.std(fine[~pick])) if np.count_nonzero(~pick) >= 16 else detail
    return {"detail": detail, "calm": detail / max(calm, 1e-6), "departure": departure,
            "rough": detail / max(departure, 1e-6), "kept": detail / max(texture, 1e-6),
            "soft": float(np.percentile(slope, 90)) / max(departure, 1e-6), "grain": detail / (noise / level)}


def region(busy_map: np.ndarray | None, box: Box, grow: int, cap: float = 0.08, ring: bool = False) -> float:
    """The busy map (before this frame) over ``box`` grown by ``grow`` pixels, each pixel capped at ``cap``."""
    if busy_map is None:
        return 0.0
    x, y, w, h = box
    rows, cols = busy_map.shape
    x0, y0, x1, y1 = max(0, x - grow), max(0, y - grow), min(cols, x + w + grow), min(rows, y + h + grow)
    part = np.minimum(busy_map[y0:y1, x0:x1], cap)
    if not ring:
        return float(part.mean())
    inner = np.minimum(busy_map[y:y + h, x:x + w], cap)
    return float((part.sum() - inner.sum()) / max(1, part.size - inner.size))


def reach_cleared(normal: np.ndarray, reference: np.ndarray, raise_by: np.ndarray, threshold: float,
                  mask: np.ndarray, box: Box) -> dict[str, float]:
    """Per wider reach, the share of the blob's changed pixels a busy place's gate would then clear.

    The gate (``BusyMap.gate``) clears a busy pixel whose value lies within
    the raised threshold of the background's low-high range over 5x5 pixels;
    here the range is taken over 5 rows and ``REACHES`` pixels either side.
    ``reference`` and ``raise_by`` are the gate's own (before the frame is learnt).
    """
    x, y, w, h = box
    pick = mask[y:y + h, x:x + w] > 0
    row = {"raise": float(raise_by[y:y + h, x:x + w][pick].mean()) if pick.any() else 0.0}
    limit = threshold * (1.0 + BUSY_GAIN * raise_by)
    for name, side in REACHES.items():
        kernel = np.ones((5, 2 * side + 1), np.uint8)
        excess = np.maximum(cv2.erode(reference, kernel) - normal, normal - cv2.dilate(reference, kernel))
        cleared = (raise_by > 0) & (excess <= limit)
        row[name] = float(cleared[y:y + h, x:x + w][pick].mean()) if pick.any() else 0.0
    return row


def trace(frames, people: list[tuple[int, int]], masks: dict[int, np.ndarray] | None = None,
          glints: bool = False) -> list[dict]:
    """Run this code's motion core over ``frames``, measuring every blob shown to ``Persistence``.

    ``glints``: leave the glint rule on (the core's verdicts and events as the
    detector's); off by default, so the glints are measured too.
    """
    cv2.setNumThreads(1)
    MotionDetector.glints = glints
    watcher = Watcher(MotionConfig(), RecordingConfig())
    d = watcher.detector
    stash: dict[str, object] = {}
    blobs_, counts, gate = d._blobs, d.persistence.counts, d.busy.gate
    rows: list[dict] = []

    def traced_gate(normal, reference, threshold, mask, learn: bool = True, **more: object) -> None:
        stash["gate_reference"] = reference.copy()  # before the frame is learnt (``_learn`` comes after)
        gate(normal, reference, threshold, mask, learn, **more)
        busy = d.busy.busy
        stash["raise"] = np.clip((busy - BUSY_FLOOR) * (1.0 / (BUSY_FULL - BUSY_FLOOR)), 0.0, 1.0)

    index = -1

    def traced_blobs(full_width, normal, changed_mask, brightness, relearning, threshold, *more):
        stash.update(normal=normal, mask=changed_mask, threshold=threshold, moving=list(d._moving))
        result = blobs_(full_width, normal, changed_mask, brightness, relearning, threshold, *more)
        stash["previous"] = normal.copy()
        return result

    def traced_counts(boxes: list[Box], busy, stirred: bool = False, **more: object) -> list[bool]:
        before = list(d.persistence.before)
        verdicts = counts(boxes, busy, stirred, **more)
        for box, ok in zip(boxes, verdicts, strict=True):
            row = measure(stash["normal"], d.reference, stash.get("previous"), stash["mask"], box,
                          stash["threshold"], d.noise or 1.0)
            row.update(noise=d.noise, threshold=stash["threshold"], context=d.light_context)
            row.update(reach_cleared(stash["normal"], stash["gate_reference"], stash["raise"], stash["threshold"],
                                     stash["mask"], box))
            glint = is_glint(stash["normal"], d.reference, stash["mask"], box, stash["threshold"],
                             d.config.min_area_fraction * stash["mask"].size)
            row.update(glint=float(glint), reg8=region(busy.before_busy, box, 8),
                       reg16=region(busy.before_busy, box, 16), reg24=region(busy.before_busy, box, 24),
                       ring16=region(busy.before_busy, box, 16, ring=True), crept=not any(
                           _overlap(box, old) for old in stash["moving"]))
            row.update(frame=index, box=list(box), score=busy.score(box), area=box[2] * box[3],
                       overlaps=any(_overlap(box, old) for old in before), counted=ok, stirred=stirred,
                       flicker=d.switch_watch.flickering > 0, label="other")
            if masks is not None and index in masks:
                x, y, w, h = box
                row["on_walker"] = bool(masks[index][y:y + h, x:x + w].any())
            rows.append(row)
        return verdicts

    d._blobs, d.persistence.counts, d.busy.gate = traced_blobs, traced_counts, traced_gate
    small_masks: dict[int, np.ndarray] = {}
    for index, item in enumerate(frames):
        frame, mask = item if isinstance(item, tuple) else (item, None)
        if mask is not None:
            width = min(d.config.detection_width, frame.shape[1])
            height = round(frame.shape[0] * width / frame.shape[1])
            small_masks[index] = cv2.resize(mask.astype(np.uint8), (width, height),
                                            interpolation=cv2.INTER_AREA) > 0
            masks = small_masks
        watcher.feed(index, frame)
    run = watcher.finish(index)
    if masks is not None and not people:  # water_walkers: a walker is a run of frames with a mask
        for i in sorted(masks):
            if people and people[-1][1] == i - 1:
                people[-1] = (people[-1][0], i)
            else:
                people.append((i, i))
    post = int(RecordingConfig().post_roll_s * FPS)
    starts: dict[int, str] = {}
    for onset, start, _ in run.events:
        false = not any(first <= start <= last + post for first, last in people)
        for i in (onset, onset + 1):
            starts[i] = "false" if false else "walker"
    for row in rows:
        if row.get("on_walker"):
            row["label"] = "walker"
        elif row["counted"] and row["frame"] in starts and not (masks and row["frame"] in masks
                                                                 and starts[row["frame"]] == "walker"):
            row["label"] = starts[row["frame"]]
    print(f"events (onset s, false?): {[(round(o / FPS, 1), starts[o]) for o, _, _ in run.events]}")
    return rows


def summary(rows: list[dict]) -> None:
    for label in ("false", "walker", "other"):
        chosen = [r for r in rows if r["label"] == label]
        print(f"\n{label}: {len(chosen)} blobs")
        if not chosen:
            continue
        for name in FEATURES:
            values = np.array([r[name] for r in chosen])
            p = np.percentile(values, [5, 25, 50, 75, 95])
            print(f"  {name:8s} " + " ".join(f"{v:7.3f}" for v in p))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("condition", nargs="?", help="a tune-side condition of bench/quiet_artefacts.py")
    parser.add_argument("--seed", type=int, help=f"a quiet-hours seed, one of {TUNE_SEEDS}")
    parser.add_argument("--segment", type=int, help="the quiet-hours segment, 1-24")
    parser.add_argument("--walkers", type=int, help="bench/water_walkers.py's clip at this seed")
    parser.add_argument("--corpus", help="a condition of the corpus's tune split (bench/detection_corpus.py)")
    parser.add_argument("--dump", help="write every blob's row here (JSON lines)")
    parser.add_argument("--glints", action="store_true",
                        help="keep the glint rule on: the events are the detector's (default off: glints measured)")
    args = parser.parse_args(argv)
    if args.walkers is not None:
        import water_walkers
        frames, people = water_walkers.frames(args.walkers, [], water_walkers.FLICKER, water_walkers.CLOUDS), []
    elif args.corpus is not None:
        from detection_corpus import SPLITS, Composer
        clip = Composer(SPLITS["tune"]).clip(args.corpus)
        frames, people = clip.frames, clip.people
    elif args.seed is not None:
        if args.seed not in TUNE_SEEDS or args.segment is None:
            print(f"blob_features: --seed must be one of {TUNE_SEEDS}, with --segment", file=sys.stderr)
            return 2
        composer = FreshComposer(hours=6, seed=args.seed)
        clip = composer.clip(composer.quiet_segments()[args.segment - 1])
        frames, people = clip.frames, clip.people
    else:
        composer = ArtefactComposer(VARIANTS["tune"])
        if args.condition not in composer.conditions():
            print(f"blob_features: no tune-side condition {args.condition!r}", file=sys.stderr)
            return 2
        clip = composer.clip(args.condition)
        frames, people = clip.frames, clip.people
    rows = trace(frames, people, glints=args.glints)
    if args.dump:
        with open(args.dump, "w") as out:
            for row in rows:
                out.write(json.dumps({**row, "people": people}) + "\n")
    summary(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
