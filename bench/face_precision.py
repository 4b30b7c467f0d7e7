"""Face precision on labelled frames: how many reported faces are faces.

    .venv/bin/python bench/face_precision.py

Labelled frames from Debian's opencv-doc (``scripts/install_test_tools.sh``):

- ``messi5.jpg``: one face labelled by hand (the player's, about 40 px), searched
  inside a person-sized motion box, 20 frames with fresh sensor noise each;
- ``vtest.avi`` at full size (768x576): pedestrians 60-150 px tall whose faces
  are under the 24 px minimum, searched inside each pedestrian's motion box
  (from the corpus tracks), so every face reported there is false;
- the same frames at 5 % brightness with sensor noise (night);
- ``tree.avi``: leaves, searched in a box on the tree.

*Before* is the search as it was (the default cascade, each hit taken);
*after* is ``faces_in_motion`` with the second cascade, the lit-and-contrasted
check and the head-to-body size rule, then ``FaceConfirmer`` (seen in two
searches in a row).
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from detection_corpus import REPO, TREE, VIDEO, plate_of, walker_tracks  # noqa: E402

from quickcam.common.config import FacesConfig  # noqa: E402
from quickcam.detector.faces import Box, FaceConfirmer, OpenCVCascade, faces_in_motion, find_cascade, iou  # noqa: E402

PHOTO = REPO / "tests/data/messi5.jpg"
PHOTO_FACE: Box = (226, 92, 40, 40)  # labelled by hand
PHOTO_BOX: Box = (150, 0, 300, 300)
MIN_SIZE = FacesConfig().min_size_px


def old_search(classifier: cv2.CascadeClassifier, image: np.ndarray, boxes: list[Box]) -> list[Box]:
    """The search before issue 13: the union of the boxes, equalised, every hit of one cascade."""
    height, width = image.shape[:2]
    x0, y0 = min(b[0] for b in boxes), min(b[1] for b in boxes)
    x1, y1 = max(b[0] + b[2] for b in boxes), max(b[1] + b[3] for b in boxes)
    mx, my = int((x1 - x0) * 0.15), int((y1 - y0) * 0.15)
    x0, y0, x1, y1 = max(0, x0 - mx), max(0, y0 - my), min(width, x1 + mx), min(height, y1 + my)
    gray = cv2.equalizeHist(cv2.cvtColor(image[y0:y1, x0:x1], cv2.COLOR_BGR2GRAY))
    found = classifier.detectMultiScale(gray, 1.2, 3, minSize=(MIN_SIZE, MIN_SIZE))
    return [(x0 + int(x), y0 + int(y), int(w), int(h)) for x, y, w, h in found]


def sequences(rng: np.random.Generator) -> dict[str, list[tuple[np.ndarray, list[Box], Box | None]]]:
    """Per set: (frame, motion boxes, labelled face or None) in time order."""
    sets: dict[str, list[tuple[np.ndarray, list[Box], Box | None]]] = {"messi5 (one real face)": [],
                                                                        "vtest walkers": [],
                                                                        "vtest walkers at 5 %": [], "trees": []}
    photo = cv2.imread(str(PHOTO))
    for _ in range(20):
        noisy = np.clip(photo + rng.normal(0, 3, photo.shape), 0, 255).astype(np.uint8)
        sets["messi5 (one real face)"].append((noisy, [PHOTO_BOX], PHOTO_FACE))
    capture = cv2.VideoCapture(str(VIDEO))
    full = []
    while len(full) < 400:
        ok, frame = capture.read()
        if not ok:
            break
        full.append(frame)
    small = [cv2.resize(f, (384, 288), interpolation=cv2.INTER_AREA) for f in full]
    tracks = walker_tracks(small, plate_of(small))
    for track in tracks[:8]:
        for index, mask in list(zip(track.frames, track.masks, strict=False))[:30]:
            ys, xs = np.nonzero(mask)
            box = (int(xs.min()) * 2, int(ys.min()) * 2, int(np.ptp(xs) + 1) * 2, int(np.ptp(ys) + 1) * 2)
            frame = full[index]
            sets["vtest walkers"].append((frame, [box], None))
            dark = np.clip(frame * 0.05 + rng.normal(0, 3, frame.shape), 0, 255).astype(np.uint8)
            sets["vtest walkers at 5 %"].append((dark, [box], None))
    capture = cv2.VideoCapture(str(TREE))
    for _ in range(150):
        ok, frame = capture.read()
        if not ok:
            break
        sets["trees"].append((frame, [(60, 20, 180, 200)], None))
    return sets


def main() -> int:
    if not (PHOTO.exists() and VIDEO.exists() and TREE.exists()):
        sys.exit("face_precision: needs tests/data/{messi5.jpg,vtest.avi,tree.avi}; run scripts/install_test_tools.sh")
    cv2.setNumThreads(1)
    path = find_cascade(FacesConfig())
    assert path is not None
    old = cv2.CascadeClassifier(str(path))
    new = OpenCVCascade(path)
    rows = []
    totals = {"before": [0, 0], "after": [0, 0]}
    for name, frames in sequences(np.random.default_rng(1)).items():
        confirmer = FaceConfirmer()
        counts = {"before": [0, 0, 0], "after": [0, 0, 0]}  # reported, true, frames with the face found
        for index, (image, boxes, label) in enumerate(frames):
            found = {"before": old_search(old, image, boxes),
                     "after": confirmer.confirm(faces_in_motion(new, image, boxes, MIN_SIZE), index * 100_000_000)}
            for which, faces in found.items():
                hits = sum(1 for f in faces if label is not None and iou(f, label) >= 0.4)
                counts[which][0] += len(faces)
                counts[which][1] += hits
                counts[which][2] += 1 if hits else 0
        cells = []
        for which in ("before", "after"):
            reported, true, seen = counts[which]
            totals[which][0] += reported
            totals[which][1] += true
            found_share = f"{seen}/{len(frames)}" if frames[0][2] is not None else "-"
            cells += [str(reported), str(reported - true), found_share]
        rows.append(f"| {name} | {len(frames)} | " + " | ".join(cells) + " |")
    print("Faces reported on labelled frames (searched inside the motion boxes; 10 searches a second)\n")
    print("| frames | n | before: reported | false | labelled face found | after: reported | false "
          "| labelled face found |")
    print("|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    for which, (reported, true) in totals.items():
        precision = f"{true / reported:.2f}" if reported else "- (none reported)"
        print(f"\n{which}: {reported} faces reported, {true} true: precision {precision}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
