"""The Python motion core alone on footage_check.py's clips: seconds a variant, not minutes.

    .venv/bin/python bench/outside/footage_core.py [--kinds torch-walk,torch-empty] [--seeds 1,2,3] [--at COMMIT]
    .venv/bin/python bench/outside/footage_core.py --kinds torch-walk --seeds 1 --blobs 120:200

footage_check.py runs both detectors as real processes (about 25 s a clip); to try a change
of the motion core on one defect that is too slow. Here each clip is composed, encoded
(H.264, as footage_check.py writes it) and decoded once, its luma shrunk as the detector's
decoder feeds the core (``decode.shrink_luma``), and kept in ``--cache``; the core then runs
over it in a few seconds. Session 20 found the pipeline's onset and the core's on this luma
the same to the frame (bench/outside/FINDINGS.md, defect 28).

Per clip: **onset**, seconds from the person's entry to the first of two looks in a row with
motion (the event's trigger); **seen**, looks with motion of those he is in view; **false
runs**, runs of two looks or more with motion starting over 1 s from anyone in view (a false
event's start); **out**, looks with motion over 1 s from anyone in view (an event that does
not end shows here). ``--at COMMIT`` runs ``detector/motion/`` as it was at that commit
(``bench/_motion_at.py``). ``--blobs F0:F1`` lists every blob of those frames (detection-size
box, share of its changed pixels darker than the background, the log ratio's departure and
fine detail, light by its own shape, its reference and frame levels) with the verdict.

Tune on seeds 1-3 only; seeds 201-208 are for reports; the project's gate seeds are refused.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

import av
import cv2
import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
import footage_check as fc  # noqa: E402
from quickcam.common.config import MotionConfig  # noqa: E402
from quickcam.detector.decode import shrink_luma  # noqa: E402
from quickcam.detector.motion.lighting import looks_like_light, ratio_window  # noqa: E402

GATES = (109, 113, 127, 131)


def decoded(kind: str, seed: int, cache: Path) -> Path:
    """The clip's decoded, shrunk luma and per-frame visible person area (``.npz``), made once."""
    out = cache / f"{kind}-s{seed}.npz"
    if out.exists():
        return out
    cache.mkdir(parents=True, exist_ok=True)
    clip = next((c for c in fc.catalogue(seed) if c.kind == kind), None)
    if clip is None:
        sys.exit(f"footage_core: no kind {kind!r} in footage_check.py's catalogue")
    plate, tracks = fc._vtest()
    frames, areas = fc.render(clip, plate, tracks)
    mp4 = cache / f"{kind}-s{seed}.mp4"
    fc.write_h264(mp4, frames, clip.bitrate)
    width = MotionConfig().detection_width
    with av.open(str(mp4)) as source:
        luma = [shrink_luma(frame, width)[0].copy() for frame in source.decode(video=0)]
    np.savez_compressed(out, luma=np.stack(luma), areas=np.array(areas))
    mp4.unlink()
    return out


def blob_lines(detector: object, index: int) -> Callable:
    """A wrapper of the detector's ``_blobs`` that prints every blob of frame ``index`` before it is judged."""
    judge = detector._blobs  # type: ignore[attr-defined]

    def listed(full_width: int, normal: np.ndarray, changed_mask: np.ndarray, *rest: object, **named: object):
        reference = detector.reference  # type: ignore[attr-defined]
        min_area = detector.config.min_area_fraction * changed_mask.size  # type: ignore[attr-defined]
        for contour in detector._contours(changed_mask):  # type: ignore[attr-defined]
            if cv2.contourArea(contour) < min_area:
                continue
            x, y, w, h = cv2.boundingRect(contour)
            pick = changed_mask[y:y + h, x:x + w] > 0
            now, ref = normal[y:y + h, x:x + w][pick], reference[y:y + h, x:x + w][pick]
            _, log_ratio, inner = ratio_window(normal, reference, (x, y, w, h))
            departure = float(np.sqrt(np.mean(log_ratio[inner][pick] ** 2)))
            detail = float(np.std((log_ratio - cv2.GaussianBlur(log_ratio, (0, 0), 1.5))[inner][pick]))
            own = looks_like_light(normal, reference, changed_mask, (x, y, w, h), False)
            print(f"    {index:4d} blob ({x},{y},{w},{h}) px {int(pick.sum())} darker {float((now < ref).mean()):.2f} "
                  f"departure {departure:.2f} detail {detail:.3f} light by shape {int(own)} "
                  f"ref {float(ref.mean()):.1f} now {float(now.mean()):.1f} "
                  f"context {detector.light_context}")  # type: ignore[attr-defined]
        return judge(full_width, normal, changed_mask, *rest, **named)

    return listed


def run(kind: str, seed: int, factory: Callable, cache: Path, blobs: tuple[int, int] | None = None) -> dict:
    """The core over one clip: onset, looks seen, false runs (see the module's docstring)."""
    data = np.load(decoded(kind, seed, cache))
    luma, areas = data["luma"], data["areas"]
    gt = fc.intervals(list(areas))
    detector = factory(MotionConfig(), fps=fc.FPS)
    motion = []
    for index, image in enumerate(luma):
        listing = blobs is not None and blobs[0] <= index <= blobs[1]
        if listing:
            detector._blobs = blob_lines(detector, index)
        result = detector.detect(image)
        if listing:
            del detector._blobs
            print(f"  {index:4d} {index / fc.FPS:6.2f} s {'MOTION' if result.motion else '-'} boxes {result.boxes} "
                  f"light {result.lighting_blobs} threshold {result.threshold:.2f}")
        motion.append(result.motion)
    frames = len(motion)
    in_view, near = np.zeros(frames, bool), np.zeros(frames, bool)
    for a, b in gt:
        in_view[round(a * fc.FPS):round(b * fc.FPS) + 1] = True
        near[max(0, int((a - 1) * fc.FPS)):int((b + 1) * fc.FPS) + 1] = True
    row: dict = {"kind": kind, "seed": seed}
    if gt:
        starts = [i for i in range(1, frames) if motion[i] and motion[i - 1] and i / fc.FPS >= gt[0][0] - 0.2]
        row["onset"] = round(starts[0] / fc.FPS - gt[0][0], 2) if starts else None
        row["seen"] = f"{sum(m for m, v in zip(motion, in_view, strict=True) if v)}/{int(in_view.sum())}"
    runs, running = 0, False
    for i in range(1, frames):
        two = motion[i] and motion[i - 1]
        runs += two and not running and not near[i]
        running = two
    row["false_runs"] = runs
    row["out"] = int(sum(m for m, v in zip(motion, near, strict=True) if not v))
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kinds", default="torch-walk,torch-empty", help="footage_check.py kinds, comma-separated")
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--at", default="", help="run detector/motion/ as it was at this commit")
    parser.add_argument("--blobs", default="", metavar="F0:F1", help="list every blob of these frames")
    parser.add_argument("--cache", default="/tmp/quickcam-footage-core")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    if any(s in GATES for s in seeds):
        print(f"footage_core: seeds {GATES} are the project's gates: not here", file=sys.stderr)
        return 2
    cv2.setNumThreads(1)
    if args.at:
        from _motion_at import factory_at
        factory = factory_at(args.at)
    else:
        from quickcam.detector.motion import create_detector as factory
    span = tuple(int(f) for f in args.blobs.split(":")) if args.blobs else None
    for seed in seeds:
        for kind in args.kinds.split(","):
            print(json.dumps(run(kind, seed, factory, Path(args.cache), span)), flush=True)  # type: ignore[arg-type]
    return 0


if __name__ == "__main__":
    sys.exit(main())
