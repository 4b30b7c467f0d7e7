"""Faces: the Haar cascade evaluated with numpy, the time budget, the motion-only search."""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest

from quickcam.common.config import FacesConfig
from quickcam.detector.faces import FaceBudget, HaarCascade, faces_in_motion, find_cascade, group_rectangles

REPO = Path(__file__).resolve().parents[2]
PHOTO = REPO / "tests/data/messi5.jpg"
CASCADE = find_cascade(FacesConfig())
needs_cascade = pytest.mark.skipif(
    CASCADE is None or not PHOTO.exists(),
    reason="needs haarcascade_frontalface_default.xml (Debian package opencv-data) and tests/data/messi5.jpg "
    "(Debian's opencv-doc); scripts/install_test_tools.sh installs both where apt-get works")


@needs_cascade
def test_numpy_cascade_finds_the_face_opencv_4_finds() -> None:
    # OpenCV 4.11's CascadeClassifier.detectMultiScale(equalized, 1.2, 3, minSize=(24, 24))
    # on this photo finds [243, 60, 87, 87] (the face) and [226, 92, 40, 40].
    gray = cv2.equalizeHist(cv2.cvtColor(cv2.imread(str(PHOTO)), cv2.COLOR_BGR2GRAY))
    found = HaarCascade.load(CASCADE).detect(gray, 24)
    assert any(abs(x - 243) <= 4 and abs(y - 60) <= 4 and abs(w - 87) <= 4 for x, y, w, h in found), found


@needs_cascade
def test_faces_are_searched_only_inside_motion_boxes() -> None:
    image = cv2.imread(str(PHOTO))
    detector = HaarCascade.load(CASCADE)
    assert faces_in_motion(detector, image, [], 24) == []
    assert faces_in_motion(detector, image, [(0, 200, 150, 140)], 24) == []  # the grass
    faces = faces_in_motion(detector, image, [(150, 0, 300, 300)], 24)  # a person-sized box
    assert faces and faces[0][0] == pytest.approx(243, abs=8)


def test_the_budget_refuses_a_search_once_its_milliseconds_are_spent() -> None:
    budget = FaceBudget(ms_per_s=100)
    assert budget.allows(0)
    budget.spend(250)
    assert not budget.allows(1_000_000_000)  # 100 ms earned back, still 50 ms in debt
    assert budget.allows(2_000_000_000)


def test_grouping_keeps_clusters_with_enough_neighbours() -> None:
    rects = [(100, 100, 40, 40), (102, 101, 40, 40), (99, 98, 41, 41), (101, 100, 39, 39), (300, 300, 40, 40)]
    assert group_rectangles(rects, 3) == [(100, 100, 40, 40)]
