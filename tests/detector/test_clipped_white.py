"""A person of the target's size walking before a background clipped at white (benchmarks section 7c).

Seen while tracing the quiet hours' walker under TV light (a pair of legs on
stuff.jpg's white lid: not one changed pixel): while a gain is divided out,
``normalise_gain`` leaves out every pixel clipped now *or in the background*,
so a dark figure before a blown-out window or a white wall was not compared
at all. ``lighting.left_out`` now compares a pixel clipped in the background
that the frame, at the background's exposure, fell a threshold under CLIPPED:
an unchanged one is at CLIPPED or over again (or clipped now, still left out).

Under a camera's small exposure offset (a gain divided out, the light not
moving) the figure before white was seen on 0.09 of his frames (only once he
had left the white), now on every one. Under a television's light he is seen
on 0.27 (0.16 before): his pixels are compared now, but his soft rim is
clipped in the brighter frames, what is left is as smooth as light, and while
the light moves a smooth blob is taken for light (``looks_like_light``'s
context rule) and learnt. That part stays a strict ``xfail``.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from quickcam.common.config import MotionConfig
from quickcam.detector.motion import create_detector

SIZE = (384, 288)
FRAMES, WALKS = 200, 100  # the figure walks from frame WALKS on


def clip(light: str, white: float, seed: int = 3, figure: bool = True) -> Iterator[np.ndarray]:
    """A 0.5 %-of-the-frame dark figure crossing a ``white`` patch (a window or a white wall; over 255: blown out).

    ``light``: "steady"; "offset" (from the second frame on, the exposure 4 % under the first's, as a camera's
    auto-exposure settling a little off: a gain divided out, the light not moving); "tv" (a level 4-30 % above
    normal, cut every 1.5 s, a 2 % flicker on it). ``figure``: False for the light alone.
    """
    rng = np.random.default_rng(seed)
    width, height = SIZE
    plate = (np.full((height, width, 3), 140, np.uint8) + rng.integers(0, 20, (height, width, 1), dtype=np.uint8)
             ).astype(np.float32)
    plate[60:220, 100:300] = white
    level = 1.0
    for index in range(FRAMES):
        if light == "tv" and index % 15 == 0:
            level = float(rng.uniform(1.04, 1.3))
        gain = {"tv": level * (1 + 0.02 * rng.standard_normal()), "offset": 1.0 if index == 0 else 0.96}.get(light, 1.0)
        image = plate.copy()
        if figure and index >= WALKS:  # 14 x 40 px (0.51 % of the frame), 2 px a frame, all the way over the patch
            x = 110 + (index - WALKS) * 2
            image[150:190, x:x + 14] = 60
        yield np.clip(image * gain + rng.normal(0, 3, image.shape), 0, 255).astype(np.uint8)


def _motion(frames: Iterator[np.ndarray]) -> list[bool]:
    detector = create_detector(MotionConfig(), fps=10.0)
    return [detector.detect(frame).motion for frame in frames]


def _motion_share(light: str, white: float) -> float:
    """Share of the figure's frames that show motion."""
    return float(np.mean(_motion(clip(light, white))[WALKS:]))


def test_a_figure_before_white_is_seen_on_every_frame_in_steady_light_and_before_grey_under_a_tv() -> None:
    assert _motion_share("steady", 255) == 1.0
    assert _motion_share("tv", 200) >= 0.9  # under the TV, before a grey that is not clipped: 0.98


@pytest.mark.parametrize("white", [245, 255, 300])
def test_a_figure_before_clipped_white_is_seen_on_every_frame_while_a_small_exposure_offset_is_divided_out(
        white: float) -> None:
    assert _motion_share("offset", white) == 1.0  # before left_out: 0.09 (only once he had left the white)


def side_lit(seed: int) -> Iterator[np.ndarray]:
    """No one; a television to the side: a level 0.7-1.3 and a tilt across the frame of +-30 %, cut every 1.5 s.

    A white wall just over CLIPPED (250) and a window blown out at every level (300): in the darker cuts
    both come out of the clip, and the coarse gain grid's error along the tilt is the margin ``left_out`` needs.
    """
    rng = np.random.default_rng(seed)
    width, height = SIZE
    plate = np.full((height, width, 3), 140, np.float32) + rng.integers(0, 20, (height, width, 1)).astype(np.float32)
    plate[60:220, 100:300] = 300.0
    plate[100:200, 20:90] = 250.0
    across = np.linspace(0, 1, width, dtype=np.float32)[None, :, None]
    level = tilt = 0.0
    for index in range(300):
        if index % 15 == 0:
            level, tilt = float(rng.uniform(0.7, 1.3)), float(rng.uniform(-0.3, 0.3))
        gain = level * (1 + 0.02 * rng.standard_normal()) * (1 + tilt * across)
        yield np.clip(plate * gain + rng.normal(0, 3, plate.shape), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_side_lit_room_with_white_and_a_blown_out_window_shows_no_motion_and_no_blob_of_light(seed: int) -> None:
    # left_out compares only what no gain leaves so dark: without its margin and its "not clipped now", the
    # walls give 3-18 blobs taken for light here and motion on one frame (seed 3); with it, none
    detector = create_detector(MotionConfig(), fps=10.0)
    results = [detector.detect(frame) for frame in side_lit(seed)]
    assert not any(r.motion for r in results)
    assert sum(r.lighting_blobs for r in results) == 0


@pytest.mark.parametrize("light", ["offset", "tv"])
def test_the_light_alone_over_clipped_white_and_a_blown_out_window_shows_no_motion(light: str) -> None:
    for white in (245, 300):
        assert not any(_motion(clip(light, white, figure=False))), white


@pytest.mark.xfail(strict=True, reason="known: under a TV's light the figure's rim clips in the brighter frames and "
                                       "what is left is as smooth as light (looks_like_light's context rule); "
                                       "0.27 of the frames (0.16 before left_out)")
def test_a_figure_before_clipped_white_under_a_tv_is_seen_as_before_grey() -> None:
    assert _motion_share("tv", 255) >= 0.9
