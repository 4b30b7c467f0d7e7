"""A person of the target's size walking before a background clipped at white (benchmarks section 7c).

Seen while tracing the quiet hours' walker under TV light (a pair of legs on
stuff.jpg's white lid: not one changed pixel): while a gain is divided out,
``normalise_gain`` leaves out every pixel clipped now *or in the background*,
so a dark figure before a blown-out window or a white wall is not compared at
all while the light changes. Steady light divides no gain out and sees him on
every frame; under a television's light, on 0.98 of the frames before a grey
wall and on 0.16 before white. ``lighting.left_out`` now gives back the
fallen pixels that form a solid shape (a body, not a leaf's fringe over a
clipped sky): a figure with a person's texture (a light face, a dark coat,
lighter trousers) is seen from his first frame (0.17 of his frames before,
none of the first six: seed 61's quiet 14, benchmarks 7c). A flat grey
figure is still taken for light there (``looks_like_light``'s context rule:
under a TV's light the light is always changing, and a flat figure's ratio
is as smooth as light's): the last test stays a strict ``xfail``.
"""

from __future__ import annotations

import numpy as np
import pytest

from quickcam.common.config import MotionConfig
from quickcam.detector.motion import create_detector
from quickcam.detector.motion.lighting import CLIPPED

SIZE = (384, 288)
WALKS = 100  # the figure's first frame


def clip(light: str, white: int, textured: bool = False, shade: bool = False) -> list[np.ndarray]:
    """200 frames: a 0.5 %-of-the-frame dark figure crossing a ``white`` patch from frame WALKS on.

    ``light``: "steady", or "tv" (a level 4-30 % above normal, cut every 1.5 s, a 2 % flicker on it).
    ``textured``: the figure has a person's parts (a light face, a dark coat, lighter trousers, some
    grain), else it is flat grey. ``shade``: no figure; a curtain's soft shadow sways over the patch
    instead (a vertical band, half as bright at its middle, fading out over 12 px either side).
    """
    rng = np.random.default_rng(3)
    width, height = SIZE
    plate = np.full((height, width, 3), 140, np.uint8) + rng.integers(0, 20, (height, width, 1), dtype=np.uint8)
    plate[60:220, 100:300] = white  # a window or a white wall
    figure = np.full((40, 14), 60, np.float32)
    if textured:
        figure[:8], figure[8:24], figure[24:] = 150, 40, 90
        figure += rng.normal(0, 12, figure.shape).astype(np.float32)
    level, frames = 1.0, []
    for index in range(200):
        if light == "tv" and index % 15 == 0:
            level = float(rng.uniform(1.04, 1.3))
        gain = level * (1 + 0.02 * rng.standard_normal()) if light == "tv" else 1.0
        image = plate.astype(np.float32)
        if shade and index >= WALKS:  # 30 px either way and back every 4 s
            centre = 200 + 30 * np.sin(2 * np.pi * (index - WALKS) / 40)
            image[70:210] *= 1 - 0.5 * np.exp(-0.5 * ((np.arange(width) - centre) / 12) ** 2)[None, :, None]
        elif index >= WALKS:  # 14 x 40 px (0.51 % of the frame), 2 px a frame, all the way over the patch
            x = 110 + (index - WALKS) * 2
            image[150:190, x:x + 14] = figure[..., None]
        frames.append(np.clip(image * gain + rng.normal(0, 3, image.shape), 0, 255).astype(np.uint8))
    return frames


def branch_clip(at_edge: bool) -> list[np.ndarray]:
    """200 frames under a TV's light (``clip``'s): a dark, textured branch swaying before a clipped white sky.

    From frame WALKS on, ``clip``'s textured figure swings 12 px either way every 2 s; ``at_edge``: the sky and
    the branch hang from the frame's top edge, else the sky is ``clip``'s patch and the branch is in its middle.
    """
    rng = np.random.default_rng(3)
    width, height = SIZE
    top = 0 if at_edge else 60
    plate = np.full((height, width, 3), 140, np.uint8) + rng.integers(0, 20, (height, width, 1), dtype=np.uint8)
    plate[top:top + 160, 100:300] = 255
    branch = np.full((40, 14), 60, np.float32)
    branch[:8], branch[8:24], branch[24:] = 150, 40, 90
    branch += rng.normal(0, 12, branch.shape).astype(np.float32)
    level, frames = 1.0, []
    for index in range(200):
        if index % 15 == 0:
            level = float(rng.uniform(1.04, 1.3))
        gain = level * (1 + 0.02 * rng.standard_normal())
        image = plate.astype(np.float32)
        if index >= WALKS:
            x = int(round(190 + 12 * np.sin(2 * np.pi * (index - WALKS) / 20)))
            y = 0 if at_edge else 90
            image[y:y + 40, x:x + 14] = branch[..., None]
        frames.append(np.clip(image * gain + rng.normal(0, 3, image.shape), 0, 255).astype(np.uint8))
    return frames


def _motion(light: str, white: int, textured: bool = False) -> list[bool]:
    """Per frame of the figure (``clip``), whether the motion core shows motion."""
    detector = create_detector(MotionConfig(), fps=10.0)
    return [detector.detect(frame).motion for frame in clip(light, white, textured)][WALKS:]


def _motion_share(light: str, white: int, textured: bool = False) -> float:
    seen = _motion(light, white, textured)
    return sum(seen) / len(seen)


def test_a_figure_before_white_is_seen_on_every_frame_in_steady_light_and_before_grey_under_a_tv() -> None:
    assert _motion_share("steady", 255) == 1.0
    assert _motion_share("tv", 200) >= 0.9  # under the TV, before a grey that is not clipped: 0.98


def test_a_person_before_clipped_white_under_a_tv_is_caught_on_his_first_frames() -> None:
    seen = _motion("tv", 255, textured=True)
    assert seen[0] and seen[1]  # two frames in a row (``trigger_frames``): an event from his first frame
    assert sum(seen) / len(seen) >= 0.9  # 0.98 (before left_out's solid shapes: 0.17, none of the first six)


def test_a_curtains_soft_shadow_over_clipped_white_under_a_tv_leaves_the_white_clipped_in_the_background() -> None:
    # What left_out gives back must be a body: a soft shadow's pixels fall under the clip too, and given back
    # they were a blob taken for light, the whole background re-learnt at once (``_absorb``), the white's
    # clipped pixels with it; never learnt back while a gain is divided out, the difference lasted minutes
    # and a walker by a curtain lost his first frames (seed 61's quiet 19, benchmarks 7c).
    def white_left(frames: list[np.ndarray]) -> int:
        detector = create_detector(MotionConfig(), fps=10.0)
        seen = [detector.detect(frame) for frame in frames]
        assert not any(result.motion for result in seen)
        height, width = detector.reference.shape
        patch = detector.reference[height * 65 // 288:height * 215 // 288, width * 105 // 384:width * 295 // 384]
        return int(np.count_nonzero(patch >= CLIPPED))

    frames = clip("tv", 255, shade=True)
    before = white_left(frames[:WALKS])  # the whole patch
    assert white_left(frames) >= before // 2  # 0.82 of it (the shade given back: none; main 0.82)


@pytest.mark.xfail(strict=True, reason="known: a flat grey figure before clipped white is as smooth as light, and "
                                       "under a TV's light the context rule takes it for light; 0.27 of the frames")
def test_a_figure_before_clipped_white_under_a_tv_is_seen_as_before_grey() -> None:
    assert _motion_share("tv", 255) >= 0.9


def test_a_shape_before_clipped_white_at_the_frames_edge_is_not_given_back_away_from_it_it_is() -> None:
    # lighting.left_out gives back no piece touching the frame's edge: its opening counts outside the frame as
    # set, so a strip there survives it, and a branch against a clipped sky at the top (or a curtain's edge) was
    # given back, compared, and started events (benchmarks 7c, seed 67's quiet 11). Without the edge check the
    # branch at the edge is motion on every one of its first 20 frames (checked by hand); away from the edge,
    # the same branch is a solid body and is compared from its first frame (the rule is the edge's alone).
    def first_frames(at_edge: bool) -> list[bool]:
        detector = create_detector(MotionConfig(), fps=10.0)
        return [detector.detect(frame).motion for frame in branch_clip(at_edge)][WALKS:WALKS + 20]

    assert not any(first_frames(at_edge=True))
    assert all(first_frames(at_edge=False))
