"""Whether a blob's changed pixels lie inside the range each pixel showed over the last seconds (leaves vs walkers).

    .venv/bin/python bench/range_envelope.py --seed 29 --segment 10          # a quiet-hours segment (tune seed)
    .venv/bin/python bench/range_envelope.py "walker before trees"           # a tune-split corpus clip
    .venv/bin/python bench/range_envelope.py --seed 29 --segment 10 --dump /tmp/x.jsonl

Tune side only (``blob_features.TUNE_SEEDS``, the corpus tune split). The
idea measured (benchmarks 7c, branch s10-range): a branch edge swinging in
the wind comes back to where it was seconds ago, while the background,
learning at 0.05 a frame, lags it; so compare the frame against each pixel's
envelope (min and max) of the last T seconds of frames at the background's
exposure (the ``normal`` the core compares) and a leaf's changed pixels
should lie inside it, a walker's outside. Every blob ``Persistence`` is shown
is traced as ``blob_features.trace`` does (glint rule on: the detector's
events), and for T in ``SECONDS`` measured against the last T s before this
frame: ``inT``, the share of its changed pixels whose value lies in the
frames' envelope; ``gapT``, the same without the last second (a walker's own
last steps); ``unT``, in the envelope of the frames' *unchanged* pixels only
(a pixel over the threshold then is left out, as a rule would keep a person
out of it); ``unT3``, that envelope spread over each pixel's 3x3
neighbourhood (as the core's REACH compares against its neighbours);
``wideT``, the median width of that spread envelope over the changed pixels,
in gray levels (how much of the gray scale is "inside" there: the risk for a
person of middling gray); ``bgT``, in the background's own envelope;
``endT`` (branch s12-leaves), within the frame's threshold of either *end*
of that spread envelope, not between them: a two-valued memory (a branch
edge's dark and bright), which a person of middling gray is outside of. Walker
rows come from the walker's own pasted mask (``on_walker``). Printed: every
blob of a false event's first two frames, and each walker's first three
frames with a blob on him; ``--dump`` keeps every blob.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import deque
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import blob_features  # noqa: E402
import detection_corpus  # noqa: E402
from detection_quality import SPLITS, Composer  # noqa: E402
from fresh_corpus import FPS, FreshComposer  # noqa: E402

from quickcam.detector.motion.activity import Persistence  # noqa: E402
from quickcam.detector.motion.base import MotionDetector  # noqa: E402

SECONDS = (2, 4, 8)  # envelope lengths measured
SPREAD = np.ones((3, 3), np.uint8)
GAP = int(1 * FPS)  # ``gap``: the last second left out (a walker's own last steps)
KINDS = ("in", "gap", "un", "un3", "wide", "bg", "end")
Box = tuple[int, int, int, int]


class History:
    """The last frames the core compared and its backgrounds then, kept to measure each blob against."""

    def __init__(self) -> None:
        size = int(max(SECONDS) * FPS)
        self.frames: deque[np.ndarray] = deque(maxlen=size)
        self.backgrounds: deque[np.ndarray] = deque(maxlen=size)
        self.masks: deque[np.ndarray] = deque(maxlen=size)
        self.now: dict[str, object] = {}
        self.measured: list[dict[str, float]] = []

    def envelope_shares(self, box: Box) -> dict[str, float]:
        """The shares of the module's docstring for one blob of the frame now being judged."""
        normal, mask = self.now["normal"], self.now["mask"]
        x, y, w, h = box
        rows, cols = mask.shape
        x0, y0, x1, y1 = max(0, x - 1), max(0, y - 1), min(cols, x + w + 1), min(rows, y + h + 1)
        part = (slice(y0, y1), slice(x0, x1))  # the box and a pixel round it (for the 3x3 spread)
        pick = np.zeros((y1 - y0, x1 - x0), bool)
        pick[y - y0:y - y0 + h, x - x0:x - x0 + w] = mask[y:y + h, x:x + w] > 0
        value = normal[part][pick]
        frames = np.stack([f[part] for f in self.frames]) if self.frames else None
        backgrounds = np.stack([b[part] for b in self.backgrounds]) if self.backgrounds else None
        calm = np.stack([m[part] == 0 for m in self.masks]) if self.masks else None
        out: dict[str, float] = {}
        for seconds in SECONDS:
            n = int(seconds * FPS)
            if not value.size or frames is None or len(frames) < n:
                out.update({column(kind, seconds): -1.0 for kind in KINDS})
                continue
            recent, still = frames[-n:], calm[-n:]
            out[f"in{seconds}"] = _inside(value, recent.min(axis=0), recent.max(axis=0), pick)
            out[f"gap{seconds}"] = _inside(value, recent[:-GAP].min(axis=0), recent[:-GAP].max(axis=0), pick)
            low = np.where(still, recent, np.inf).min(axis=0).astype(np.float32)
            high = np.where(still, recent, -np.inf).max(axis=0).astype(np.float32)
            out[f"un{seconds}"] = _inside(value, low, high, pick)
            low3, high3 = cv2.erode(low, SPREAD), cv2.dilate(high, SPREAD)
            out[f"un{seconds}3"] = _inside(value, low3, high3, pick)
            with np.errstate(over="ignore", invalid="ignore"):  # a pixel never calm in T s: no range, width 0
                width = np.nan_to_num(np.clip(high3 - low3, 0.0, 255.0), nan=0.0)
            out[f"wide{seconds}"] = float(np.median(width[pick]))
            tol = float(self.now.get("threshold", 0.0))
            near_low = np.abs(value - low3[pick]) <= tol
            near_high = np.abs(value - high3[pick]) <= tol
            out[f"end{seconds}"] = float((near_low | near_high).mean())
            back = backgrounds[-n:]
            out[f"bg{seconds}"] = _inside(value, back.min(axis=0), back.max(axis=0), pick)
        return out


def column(kind: str, seconds: int) -> str:
    """A measure's name: ``in4``, ``gap4``, ``un4``, ``un43`` (3x3), ``wide4``, ``bg4``."""
    return f"un{seconds}3" if kind == "un3" else f"{kind}{seconds}"


def _inside(value: np.ndarray, low: np.ndarray, high: np.ndarray, pick: np.ndarray) -> float:
    """The share of ``value`` (the picked pixels) within the per-pixel envelope ``low``-``high``."""
    return float(((value >= low[pick]) & (value <= high[pick])).mean())


def traced(history: History) -> None:
    """Hook the core's classes so every frame is remembered and every blob measured (before ``blob_features``'s).

    The hooks are on the classes, for the one clip this process measures:
    ``blob_features.trace`` makes its own detector and wraps the same methods
    of it on top of these.
    """
    blobs, counts = MotionDetector._blobs, Persistence.counts

    def remembering_blobs(self, full_width, normal, changed_mask, brightness, relearning, threshold, *more):  # noqa: ANN001, ANN002, ANN202
        history.now.update(normal=normal, mask=changed_mask, threshold=threshold)
        result = blobs(self, full_width, normal, changed_mask, brightness, relearning, threshold, *more)
        history.frames.append(normal.copy())
        history.backgrounds.append(self.reference.copy())
        history.masks.append(changed_mask.copy())
        return result

    def measuring_counts(self, boxes, busy, stirred=False, **more):  # noqa: ANN001, ANN202
        history.measured.extend(history.envelope_shares(box) for box in boxes)
        return counts(self, boxes, busy, stirred, **more)

    MotionDetector._blobs, Persistence.counts = remembering_blobs, measuring_counts


def with_masks(frames, last: list):  # noqa: ANN001, ANN202 - the clip's generator
    """Each frame with the walker mask pasted into it (``Scene.render`` hooked), or None."""
    for frame in frames:
        mask = last[0] if last else None
        last[:] = []
        yield frame, mask


def hook_masks(last: list) -> None:
    """Remember the mask ``Scene.render`` pastes its walker through (full size), for ``with_masks``."""
    render = detection_corpus.Scene.render

    def render_remembering(self, walker=None, step=0, scale=1.0):  # noqa: ANN001, ANN202
        if walker is not None:
            mask = np.zeros(self.plate.shape[:2], np.uint8)
            detection_corpus.paste(mask, np.full(mask.shape, 255, np.uint8), walker.masks[int(step)], scale)
            last[:] = [mask > 0]
        return render(self, walker, step, scale)

    detection_corpus.Scene.render = render_remembering


def chosen(rows: list[dict]) -> list[dict]:
    """False events' starting blobs, and each walker's first three frames with a blob on him."""
    picked = [r for r in rows if r["label"] == "false"]
    frames_seen: list[int] = []
    last = -100
    for r in rows:
        if not r.get("on_walker"):
            continue
        if r["frame"] > last + 30:  # a new walker (at least 3 s after the last blob on one)
            frames_seen = []
        last = r["frame"]
        if r["frame"] not in frames_seen:
            frames_seen.append(r["frame"])
        if len(frames_seen) <= 3:
            picked.append(r)
    return sorted(picked, key=lambda r: r["frame"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("condition", nargs="?", help="a condition of the corpus tune split")
    parser.add_argument("--seed", type=int, help=f"a quiet-hours seed, one of {blob_features.TUNE_SEEDS}")
    parser.add_argument("--segment", type=int, help="the quiet-hours segment, 1-24")
    parser.add_argument("--walkers", type=int, help="bench/water_walkers.py's clip at this seed (walkers over water)")
    parser.add_argument("--dump", help="write every blob's row here (JSON lines)")
    args = parser.parse_args(argv)
    last: list = []
    hook_masks(last)
    if args.walkers is not None:
        import water_walkers  # noqa: PLC0415 (only for --walkers, as in blob_features)
        frames = water_walkers.frames(args.walkers, [], water_walkers.FLICKER, water_walkers.CLOUDS)
        people, name = [], f"water walkers, seed {args.walkers}"
    elif args.seed is not None:
        if args.seed not in blob_features.TUNE_SEEDS or args.segment is None:
            print(f"range_envelope: --seed must be one of {blob_features.TUNE_SEEDS}, with --segment", file=sys.stderr)
            return 2
        composer = FreshComposer(hours=6, seed=args.seed)
        clip = composer.clip(composer.quiet_segments()[args.segment - 1])
        frames, people, name = with_masks(clip.frames, last), clip.people, clip.condition
    else:
        composer = Composer(SPLITS["tune"])
        if args.condition not in composer.conditions():
            print(f"range_envelope: no tune-split condition {args.condition!r}", file=sys.stderr)
            return 2
        clip = composer.clip(args.condition)
        frames, people, name = with_masks(clip.frames, last), clip.people, clip.condition
    history = History()
    traced(history)
    rows = blob_features.trace(frames, people, masks={}, glints=True)
    for row, shares in zip(rows, history.measured, strict=True):
        row.update(shares)
    if args.dump:
        with open(args.dump, "w") as out:
            for row in rows:
                out.write(json.dumps(row) + "\n")
    names = [column(kind, s) for s in SECONDS for kind in KINDS]
    print(f"{name}: walkers at frames {people}")
    print("label  frame   t(s) counted box                 score  dep  rough " + " ".join(f"{n:>5s}" for n in names))
    for r in chosen(rows):
        label = "walker" if r.get("on_walker") else r["label"]
        print(f"{label:6s} {r['frame']:5d} {r['frame'] / FPS:6.1f} {int(r['counted']):7d} {str(r['box']):19s} "
              f"{r['score']:5.2f} {r['departure']:4.2f} {r['rough']:5.2f} " + " ".join(f"{r[n]:5.2f}" for n in names))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
