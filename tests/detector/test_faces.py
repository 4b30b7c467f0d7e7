"""Faces: OpenCV's bundled cascade, the time budget, the search limited to motion."""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest

from quickcam.common.config import FacesConfig
from quickcam.detector.faces import FaceBudget, OpenCVCascade, faces_in_motion, find_cascade

REPO = Path(__file__).resolve().parents[2]
PHOTO = REPO / "tests/data/messi5.jpg"
needs_photo = pytest.mark.skipif(
    not PHOTO.exists(),
    reason="needs tests/data/messi5.jpg from Debian's opencv-doc; scripts/install_test_tools.sh extracts it")


def test_the_frontal_face_cascade_ships_with_opencv() -> None:
    path = find_cascade(FacesConfig())
    assert path is not None and path.name == "haarcascade_frontalface_default.xml"


@needs_photo
def test_faces_are_found_only_inside_motion_boxes() -> None:
    image = cv2.imread(str(PHOTO))
    detector = OpenCVCascade(find_cascade(FacesConfig()))
    assert faces_in_motion(detector, image, [], 24) == []
    assert faces_in_motion(detector, image, [(0, 200, 150, 140)], 24) == []  # the grass
    faces = faces_in_motion(detector, image, [(150, 0, 300, 300)], 24)  # a person-sized box
    assert faces and faces[0][0] == pytest.approx(243, abs=10) and faces[0][2] > 60


def test_the_budget_refuses_a_search_once_its_milliseconds_are_spent() -> None:
    budget = FaceBudget(ms_per_s=100)
    assert budget.allows(0)
    budget.spend(250)
    assert not budget.allows(1_000_000_000)  # 100 ms earned back, still 50 ms in debt
    assert budget.allows(2_000_000_000)
