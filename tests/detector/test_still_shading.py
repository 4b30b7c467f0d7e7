"""Still shading: a smooth, faint change that stands in a busy place is learnt, not motion (benchmarks 7c, s11).

The quiet hours' blurred leaves shade a patch at the frame's edge a little
lighter; the blob grows in place without moving, and two frames of it
started an event. The clip: a smooth plate in steady light, a patch of it
made busy by hand in the busy map (as the leaves make it), then one of: a
faint, smooth brightening there (x1.2, a soft edge: too sharp to be light by
its outline, as the leaves' blobs were) that stays; the same brightening
sliding across (something faint and smooth that moves: judged as any blob
once it moves); a plain dark person who comes in and stands; a plain person
dressed a little lighter than the place who comes out into it (grows in
place as shading does, but replaces the place's texture).
"""

from __future__ import annotations

import cv2
import numpy as np

from quickcam.common.config import MotionConfig
from quickcam.detector.motion import create_detector
from quickcam.detector.motion.shading import SHADING_FRAMES, faint_shading

SIZE = (384, 288)
FPS = 10.0
BEFORE = 260  # frames of the plate first: past the busy map's plain-mean start (its rate is steady from 200)
PATCH = (216, 120, 48, 48)  # x, y, width, height (full frame): 20 x 20 pixels at the detection size
REGION = (slice(72, 216), slice(120, 360))  # full-frame rows, columns where specks flash: made busy, around PATCH
STEP = 10  # full-frame pixels a frame the sliding brightening moves (about 4 at the detection size)


def _plate() -> np.ndarray:
    noise = np.random.default_rng(5).normal(0, 1, (SIZE[1], SIZE[0])).astype(np.float32)
    texture = cv2.GaussianBlur(noise, (0, 0), 6)
    return np.clip(170 + 12 * texture / texture.std(), 0, 255).astype(np.float32)


def shading_clip(what: str, busy: bool = True, frames: int = 8) -> list[np.ndarray]:
    """BEFORE frames of the plate, then ``frames`` of ``what``: "shading", "sliding" or "person" (gray, uint8).

    ``busy``: bright specks flash around the patch every 16th frame until 4 s
    before the change, so the busy map knows the place as busy (as leaves
    make it; none of it is motion).
    """
    plate, rng = _plate(), np.random.default_rng(6)
    region = np.zeros(plate.shape, np.float32)
    region[REGION] = 1
    clip = []
    for index in range(BEFORE + frames):
        image = plate.copy()
        if busy and index < BEFORE - 40 and index % 16 == 0:
            spots = (rng.random((SIZE[1] // 8, SIZE[0] // 8)) < 0.3).astype(np.float32)
            image += 40 * region * cv2.resize(spots, SIZE, interpolation=cv2.INTER_NEAREST)
        if index >= BEFORE:
            x, y, w, h = PATCH
            if what == "sliding":
                x += STEP * (index - BEFORE) - 3 * STEP
            grow = index - BEFORE if what == "shading" else 0  # the leaves' shading spreads and deepens
            if what == "person":
                image[y:y + h, x:x + w] = 60
            else:
                shade = np.zeros(plate.shape, np.float32)
                cv2.rectangle(shade, (x - grow, y - grow), (x + w + grow, y + h + grow), 1.0, -1)
                image *= 1 + (0.2 + 0.005 * grow) * cv2.GaussianBlur(shade, (0, 0), 1)
        image += rng.normal(0, 1, image.shape).astype(np.float32)
        clip.append(np.clip(image, 0, 255).astype(np.uint8))
    return clip


def emerging_clip(frames: int = 12) -> list[np.ndarray]:
    """BEFORE frames of the busy plate, then a plain person coming out leftwards from PATCH's right side, staying.

    Dressed in one colour 1.22 x the place's mean (faint: a departure about
    0.2), soft-edged; 8 full-frame pixels of him show on his first frame, 12
    more each frame after, until he is PATCH wide: his box grows in place.
    """
    plate, rng = _plate(), np.random.default_rng(6)
    region = np.zeros(plate.shape, np.float32)
    region[REGION] = 1
    x, y, w, h = PATCH
    clip = []
    for index in range(BEFORE + frames):
        image = plate.copy()
        if index < BEFORE - 40 and index % 16 == 0:
            spots = (rng.random((SIZE[1] // 8, SIZE[0] // 8)) < 0.3).astype(np.float32)
            image += 40 * region * cv2.resize(spots, SIZE, interpolation=cv2.INTER_NEAREST)
        if index >= BEFORE:
            shown = min(w, 8 + 12 * (index - BEFORE))
            body = np.zeros(plate.shape, np.float32)
            body[y:y + h, x + w - shown:x + w] = 1
            body = cv2.GaussianBlur(body, (0, 0), 1)
            image = image * (1 - body) + 1.22 * 170 * body
        image += rng.normal(0, 1, image.shape).astype(np.float32)
        clip.append(np.clip(image, 0, 255).astype(np.uint8))
    return clip


def _verdicts(clip: list[np.ndarray]) -> list[bool]:
    detector = create_detector(MotionConfig(), fps=FPS)
    return [detector.detect(cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)).motion for image in clip][BEFORE:]


def _motion(what: str, busy: bool = True, frames: int = 8) -> list[bool]:
    """Per frame from the change's first: motion?"""
    return _verdicts(shading_clip(what, busy, frames))


def test_a_faint_smooth_change_that_stands_in_a_busy_place_is_never_motion() -> None:
    """The leaves' case: on main's code, motion on its first 9 frames (an event from the 2nd); now on none.

    Held while it is watched, then learnt into the background on its
    SHADING_FRAMES-th frame: it does not come back.
    """
    assert _motion("shading") == [False] * 8


def test_the_same_change_sliding_across_the_busy_place_is_motion_once_it_moves() -> None:
    """Faint and smooth, but moving: held on its first frame, then judged as any blob (motion from its 2nd on).

    Main's code sees it from its first frame: the event starts one frame later.
    """
    assert _motion("sliding") == [False] + [True] * 7


def test_the_same_change_in_a_quiet_place_is_still_motion() -> None:
    """Quiet places are untouched: the same standing brightening where nothing flips is motion at once."""
    assert _motion("shading", busy=False) == [True] * 8


def test_a_plain_person_who_comes_into_the_busy_place_and_stands_is_motion_throughout() -> None:
    """A plain, dark person is smooth too, but strong: seen on his first frame and kept while he stands."""
    assert _motion("person", frames=40) == [True] * 40


def test_a_faint_plain_person_coming_out_into_the_busy_place_is_motion_not_shading() -> None:
    """He grows in place as shading does and is as faint, but his flat colour replaces the place's texture.

    With the detail limit at LIGHTING_ROUGHNESS (0.15, main at 4ca46e5) he
    was held twice and learnt twice (shading on his 3rd and 6th frames): no
    motion on any of his first 12 frames. The tune bench's creeping faint
    walker (benchmarks 7c) was one blob-less frame from the same.
    """
    assert _verdicts(emerging_clip()) == [True] * 12


def test_faint_shading_tells_a_faint_gain_from_a_strong_one_and_from_a_rough_change() -> None:
    """The measure itself: x1.2 smooth is shading; x2 smooth is not (too strong); texture replaced is not.

    (x1.2 with a hard edge is not shading since SMOOTH is 0.10: its edge is
    detail, 0.10-0.15 of its departure.)
    """
    rng = np.random.default_rng(1)
    reference = cv2.GaussianBlur(rng.uniform(100, 200, (60, 60)).astype(np.float32), (0, 0), 4)
    mask = np.zeros((60, 60), np.uint8)
    mask[20:40, 20:40] = 255
    box = (20, 20, 20, 20)
    faint, strong, rough = reference.copy(), reference.copy(), reference.copy()
    faint *= 1 + 0.2 * cv2.GaussianBlur(mask.astype(np.float32) / 255, (0, 0), 1)  # soft-edged, as blurred leaves
    strong[20:40, 20:40] *= 2.0
    rough[20:40, 20:40] = rng.uniform(40, 250, (20, 20))
    assert faint_shading(faint, reference, mask, box)
    assert not faint_shading(strong, reference, mask, box)
    assert not faint_shading(rough, reference, mask, box)
    assert SHADING_FRAMES >= 2  # (a first frame is always only held)
