"""What the optional person check costs: CPU per search, per checked event and per camera.

    .venv/bin/python bench/person_check_cost.py [--vs REV]

The check (detector/motion/person.py) runs only while motion waits for a person,
within ``person_budget_ms_per_s``. Three figures, each as process CPU time of the
calling thread (not wall time), with ``--vs REV`` the person check of that git
revision timed beside today's on the same frames, interleaved:

1. **per search** on real pedestrians' motion boxes in 640x480 frames of OpenCV's
   vtest.avi (the default motion detector's boxes), in daylight and at 5 %
   brightness with noise: median ms and the share of frames in which a person
   was found;
2. **per checked event**: each pedestrian of the detection corpus pasted alone on
   the empty scene (384x288, 10 fps, bench/detection_corpus.py), day and 5 %:
   frames and CPU ms from its first motion until the check lets motion count;
3. **per 640x480@15 camera, worst case**: motion with no person in every frame
   (tree.avi's real tree, two boxes a frame) for 60 s, the check searching as
   often as its budget allows: CPU share of one core.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import detection_corpus as corpus  # noqa: E402

from quickcam.common.config import MotionConfig  # noqa: E402
from quickcam.detector.motion import create_detector, person  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
BUDGET = MotionConfig().person_budget_ms_per_s


def load_revision(rev: str) -> ModuleType:
    """detector/motion/person.py as it was at ``rev``, imported under another name."""
    text = subprocess.run(["git", "-C", str(REPO), "show", f"{rev}:detector/motion/person.py"], check=True,
                          capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp()) / "person_then.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location("person_then", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def search(check: object, image: np.ndarray, box: tuple[int, int, int, int]) -> bool:
    return (getattr(check, "person_in", None) or check._person_in)(image, box)


def dim(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return np.clip(image.astype(np.float32) * 0.05 + rng.normal(0, 2, image.shape), 0, 255).astype(np.uint8)


def per_search(versions: dict[str, ModuleType]) -> list[str]:
    capture = cv2.VideoCapture(str(corpus.VIDEO))
    detector = create_detector(MotionConfig(), fps=10)
    rng = np.random.default_rng(3)
    rows: list[tuple[np.ndarray, list]] = []
    while len(rows) < 150:
        ok, frame = capture.read()
        if not ok:
            break
        frame = cv2.resize(frame, (640, 480), interpolation=cv2.INTER_AREA)
        result = detector.detect(frame)
        if result.motion:
            rows.append((frame, sorted(result.boxes, key=lambda b: -b[2] * b[3])[:2]))
    lines = ["| light | version | searches | ms per search (median / p90) | frames with a person found |",
             "|---|---|---|---|---|"]
    for light in ("day", "5 % with noise"):
        ms: dict[str, list[float]] = {name: [] for name in versions}
        found = dict.fromkeys(versions, 0)
        checks = {name: module.PersonCheck(1000, 15) for name, module in versions.items()}
        for frame, boxes in rows:
            image = frame if light == "day" else dim(frame, rng)
            for name, check in checks.items():  # interleaved: the same load on both
                for box in boxes:
                    started = time.thread_time()
                    hit = search(check, image, box)
                    ms[name].append((time.thread_time() - started) * 1000)
                    if hit:
                        found[name] += 1
                        break
        for name in versions:
            values = sorted(ms[name])
            lines.append(f"| {light} | {name} | {len(values)} | {statistics.median(values):.1f} / "
                         f"{values[int(0.9 * len(values))]:.1f} | {found[name]}/{len(rows)} |")
    return lines


def per_event(versions: dict[str, ModuleType]) -> list[str]:
    frames = corpus.load_video(corpus.VIDEO)
    plate = corpus.plate_of(frames)
    tracks = corpus.walker_tracks(frames, plate)
    lines = ["| light | version | walkers let through | frames to let through (median / worst) | CPU ms "
             "until then (median / worst) |", "|---|---|---|---|---|"]
    for gain in (1.0, 0.05):
        for name, module in versions.items():
            rng = np.random.default_rng(4)
            delays, spent = [], []
            for track in tracks:
                detector = create_detector(MotionConfig(), fps=corpus.FPS)
                check = module.PersonCheck(BUDGET, corpus.FPS)
                noise = rng.normal(0, 2 if gain < 1 else 1, plate.shape)
                for _ in range(20):
                    detector.detect(np.clip(plate * gain + noise, 0, 255).astype(np.uint8))
                first, cpu = None, 0.0
                for step, (source, mask) in enumerate(zip(track.frames, track.masks, strict=False)):
                    image = plate.copy()
                    image[mask] = frames[source][mask]
                    image = np.clip(image * gain + rng.normal(0, 2 if gain < 1 else 1, plate.shape), 0, 255)
                    image = image.astype(np.uint8)
                    result = detector.detect(image)
                    if not result.motion:
                        continue
                    first = step if first is None else first
                    started = time.thread_time()
                    allowed = check.allows(image, result.boxes)
                    cpu += (time.thread_time() - started) * 1000
                    if allowed:
                        delays.append(step - first)
                        spent.append(cpu)
                        break
            light = "day" if gain == 1.0 else "5 % with noise"
            lines.append(f"| {light} | {name} | {len(delays)}/{len(tracks)} | "
                         + (f"{statistics.median(delays):.0f} / {max(delays)} | {statistics.median(spent):.1f} / "
                            f"{max(spent):.1f} |" if delays else "- | - |"))
    return lines


def per_camera(versions: dict[str, ModuleType], seconds: float = 60.0) -> list[str]:
    capture = cv2.VideoCapture(str(corpus.TREE))
    loop = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        loop.append(cv2.resize(frame, (640, 480), interpolation=cv2.INTER_AREA))
    loop += loop[-2:0:-1]
    rng = np.random.default_rng(5)
    boxes = [(int(rng.integers(0, 440)), int(rng.integers(0, 180)), int(rng.integers(40, 200)),
              int(rng.integers(80, 300))) for _ in range(2 * int(seconds * 15))]
    lines = ["| version | searches | let through | CPU, % of a core |", "|---|---|---|---|"]
    for name, module in versions.items():
        check = module.PersonCheck(BUDGET, 15)
        allowed, cpu = 0, 0.0
        for index in range(int(seconds * 15)):
            started = time.thread_time()
            allowed += check.allows(loop[index % len(loop)], [boxes[2 * index], boxes[2 * index + 1]])
            cpu += time.thread_time() - started
        lines.append(f"| {name} | {check.searches} | {allowed} frames | {cpu / seconds * 100:.1f} |")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vs", metavar="REV", help="also time the person check of this git revision")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    versions = {"now": person}
    if args.vs:
        versions = {f"at {args.vs}": load_revision(args.vs), "now": person}
    started = time.monotonic()
    print(f"Person check, budget {BUDGET:.0f} ms per second of video; CPU time of the calling thread; "
          "the machine is shared, so single figures move with its load.\n")
    print("Per search, real pedestrians' motion boxes in 640x480 frames of vtest.avi:\n")
    print("\n".join(per_search(versions)))
    print("\nPer checked event, the corpus's pedestrians pasted alone on the empty scene (384x288, 10 fps):\n")
    print("\n".join(per_event(versions)))
    print("\nPer 640x480@15 camera, worst case: motion without a person in every frame (tree.avi), 60 s:\n")
    print("\n".join(per_camera(versions)))
    print(f"\n({time.monotonic() - started:.0f} s; command: .venv/bin/python bench/person_check_cost.py"
          f"{' ' + ' '.join(sys.argv[1:]) if len(sys.argv) > 1 else ''})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
