"""Faces: OpenCV's bundled cascade, the time budget, the search limited to motion."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from quickcam.common.config import FacesConfig
from quickcam.detector.faces import FaceBudget, FaceConfirmer, OpenCVCascade, faces_in_motion, find_cascade, iou

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
    assert faces == [pytest.approx((226, 92, 40, 40), abs=4)]  # the player's face (labelled by hand), only


@needs_photo
def test_the_crowd_and_shoulder_hit_of_the_first_cascade_is_dropped_by_the_second() -> None:
    image = cv2.imread(str(PHOTO))
    detector = OpenCVCascade(find_cascade(FacesConfig()))
    gray = cv2.equalizeHist(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY))
    first_only = detector.classifier.detectMultiScale(gray, 1.2, 3, minSize=(24, 24))
    assert len(first_only) == 2  # the face and a shoulder against the crowd
    assert detector.detect(gray, 24) == [pytest.approx((226, 92, 40, 40), abs=4)]


@needs_photo
def test_no_face_is_reported_in_the_dark() -> None:
    image = cv2.imread(str(PHOTO))
    rng = np.random.default_rng(2)
    dark = np.clip(image * 0.05 + rng.normal(0, 3, image.shape), 0, 255).astype(np.uint8)
    detector = OpenCVCascade(find_cascade(FacesConfig()))
    assert faces_in_motion(detector, dark, [(150, 0, 300, 300)], 24) == []


def test_a_face_is_confirmed_only_by_a_second_search_in_the_same_place() -> None:
    confirmer = FaceConfirmer()
    face = (100, 100, 40, 40)
    assert confirmer.confirm([face], 0) == []  # seen once
    assert confirmer.confirm([(104, 102, 40, 40)], 100_000_000) == [(104, 102, 40, 40)]
    assert confirmer.confirm([(300, 100, 40, 40)], 200_000_000) == []  # elsewhere: a new candidate
    assert confirmer.confirm(None, 300_000_000) == []  # not searched (budget spent)
    assert confirmer.confirm([(300, 100, 40, 40)], 3_000_000_000) == []  # too long after the last search
    assert iou(face, face) == 1.0


@needs_photo
def test_a_face_too_large_for_the_person_shaped_box_is_not_a_head() -> None:
    image = cv2.imread(str(PHOTO))
    detector = OpenCVCascade(find_cascade(FacesConfig()))
    # A narrow box 140 px tall around the 40 px face: 40 > 140 / 4 is no head of that body.
    assert faces_in_motion(detector, image, [(215, 80, 62, 140)], 24) == []
    assert faces_in_motion(detector, image, [(200, 80, 90, 300)], 24) != []


def test_the_budget_refuses_a_search_once_its_milliseconds_are_spent() -> None:
    budget = FaceBudget(ms_per_s=100)
    assert budget.allows(0)
    budget.spend(250)
    assert not budget.allows(1_000_000_000)  # 100 ms earned back, still 50 ms in debt
    assert budget.allows(2_000_000_000)
