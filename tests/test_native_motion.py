"""The native motion core gives Python's verdicts, frame by frame (docs/native.md, "Motion").

A short synthetic clip exercises what issue 13 added to the motion core: daylight with a
walker, a lamp's pool of light coming on with no one there (normalise_gain, looks_like_light),
a light switched off (global change and relearn), the dark (temporal denoising, a threshold
that follows the measured noise) and a faint walker in it. The same gray frames go to Python's
``MotionDetector`` and to ``quickcam-native-detector --motion-trace``; the verdicts must match.
Tolerance: one frame of the clip's 206 may differ (a pixel exactly at the threshold falls
either way after float sums in another order); thresholds within 5 %. Removing the noise
threshold or the light test from the native core fails this test (checked by hand when it
was written: the thresholds part in the dark, and the lamp's frames become motion).

A second clip holds a person who walks in and stands still for longer than ``HOLD_S``:
their pixels stay out of the background for ``HOLD_S`` (motion all along), then join it
(motion ends before they leave). A native core without the hold, or whose hold never ends,
fails it (checked by hand: 57 and 42 frames of its 170 differ).

A third clip flickers (benchmarks 7c, ``switch_watch.py``'s ``watch`` and ``crept_in``): a
person who steps in and stands, a stain that creeps in, a lamp that goes off while someone
stands, all under a 2 % flicker. The native core before the flicker rule differs on 73 of its
230 frames; one that never takes a jump in a flicker for a switch on 50, one that counts a still
blob that crept in on 29 (checked by hand).

A fourth pair of clips (``tests/detector/test_flicker_glint.py``'s) puts a person who appears
at once, or walks in, and stands on water the busy map knows, under the flicker: the stood
rule in a busy place. A core with the busy-place rule tried on branch s6-detection2
(reverted) and one without it disagree on 29 of the first clip's 90 frames (checked by hand).

A fifth pair of clips is ``tests/detector/test_flicker_person.py``'s: a plain, dark person steps in
under a random 2 % flicker (``lighting.FlickerBand``). Python before that rule lost him in both (taken
for light); a native core without it would lose him where Python now sees him.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from bench.native_parity import THRESHOLD_TOLERANCE, Agreement, compare, native_trace, python_trace
from quickcam.common.config import MotionConfig
from quickcam.detector.decode import halve_towards
from quickcam.detector.motion.base import HOLD_S
from tests.detector.test_clipped_white import SIZE as CLIPPED_SIZE
from tests.detector.test_clipped_white import WALKS as CLIPPED_WALKS
from tests.detector.test_clipped_white import branch_clip
from tests.detector.test_clipped_white import clip as clipped_white_clip
from tests.detector.test_flicker_person import ENTERS, SIZE, needs_vtest, person_clip
from tests.native_build import native_detector

WIDTH, HEIGHT, FPS = 320, 240, 10.0
TREE = Path(__file__).resolve().parent / "data" / "tree.avi"


def assert_cores_agree(python: list, native: list) -> None:
    """The two motion cores' traces agree: verdicts on all but one frame, areas and thresholds nearly everywhere."""
    agreement = compare(python, native)
    assert len(agreement.only_python) + len(agreement.only_native) <= 1, (
        f"motion differs at frames {agreement.only_python} (python only), {agreement.only_native} (native only)")
    assert agreement.area_share >= 0.95, f"areas agree on {agreement.area_share:.0%} of the frames both see motion"
    assert agreement.threshold_share >= 0.99, (
        f"pixel thresholds within {THRESHOLD_TOLERANCE:.0%} on only {agreement.threshold_share:.0%} of the frames")


def assert_same_verdicts(python: list, native: list, name: str = "") -> Agreement:
    """The two motion cores' traces give the same motion verdict on every frame (``name`` starts the message)."""
    agreement = compare(python, native)
    assert not agreement.only_python and not agreement.only_native, (
        f"{name}{': ' if name else ''}motion differs at frames {agreement.only_python} (python only), "
        f"{agreement.only_native} (native only)")
    return agreement



def _scene(rng: np.random.Generator) -> np.ndarray:
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    scene = 90 + 40 * np.sin(xx / 23.0) * np.cos(yy / 17.0) + rng.normal(0, 12, (HEIGHT, WIDTH))
    return cv2.GaussianBlur(scene.astype(np.float32), (0, 0), 1.0)


def _clip(seed: int = 3) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    scene = _scene(rng)
    lamp = 0.8 * np.exp(-(((xx - 250) / 45) ** 2 + ((yy - 60) / 40) ** 2))

    def frame(gain: float, noise: float, person: tuple[int, int, float] | None = None,
              lamp_on: float = 0.0) -> np.ndarray:
        image = scene * gain * (1 + lamp * lamp_on)
        if person is not None:
            x, y, level = person
            image[y:y + 60, x:x + 24] = level * gain
        return np.clip(image + rng.normal(0, noise, image.shape), 0, 255).astype(np.uint8)

    frames = [frame(1.0, 2) for _ in range(30)]  # daylight, quiet
    frames += [frame(1.0, 2, (20 + 8 * i, 120, 30)) for i in range(30)]  # a walker
    frames += [frame(1.0, 2) for _ in range(20)]
    frames += [frame(1.0, 2, lamp_on=(i + 1) / 6) for i in range(6)]  # a lamp comes on, no one there
    frames += [frame(1.0, 2, lamp_on=1.0) for _ in range(30)]
    frames += [frame(0.06, 3) for _ in range(40)]  # the light goes out: dark and noisy
    frames += [frame(0.06, 3, (280 - 8 * i, 100, 160)) for i in range(30)]  # a faint walker in the dark
    frames += [frame(0.06, 3) for _ in range(20)]
    return frames


HOLD_FPS = 2.0  # HOLD_S is 60 frames: a person held, then let go, in a short clip
STAND = range(30, 140)  # frames in which the person stands still (55 s)


def _still_person_clip(seed: int = 5) -> list[np.ndarray]:
    """20 quiet frames; a person walks in (10 frames), stands still for 55 s, walks off; 20 quiet frames."""
    rng = np.random.default_rng(seed)
    scene = _scene(rng)

    def frame(x: int | None = None) -> np.ndarray:
        image = scene.copy()
        if x is not None:
            image[120:180, x:x + 24] = 30
        return np.clip(image + rng.normal(0, 2, image.shape), 0, 255).astype(np.uint8)

    frames = [frame() for _ in range(20)]
    frames += [frame(20 + 10 * i) for i in range(10)]
    frames += [frame(110) for _ in STAND]
    frames += [frame(110 + 10 * i) for i in range(10)]
    return frames + [frame() for _ in range(20)]


def test_the_native_motion_core_holds_a_still_person_for_hold_s_then_lets_go_as_python_does() -> None:
    binary = native_detector()
    frames = _still_person_clip()
    python = python_trace(frames, MotionConfig(), HOLD_FPS)
    native = native_trace(binary, frames, (WIDTH, HEIGHT), HOLD_FPS)

    hold_frames = round(HOLD_S * HOLD_FPS)
    assert all(v.motion for v in python[STAND.start:STAND.start + hold_frames]), "held: motion while they stand"
    assert not any(v.motion for v in python[STAND.stop - 10:STAND.stop]), "let go: part of the background after HOLD_S"
    agreement = compare(python, native)
    assert len(agreement.only_python) + len(agreement.only_native) <= 1, (
        f"motion differs at frames {agreement.only_python} (python only), {agreement.only_native} (native only)")
    assert agreement.area_share >= 0.95, f"areas agree on {agreement.area_share:.0%} of the frames both see motion"


FLICKER_SIZE = (384, 288)
STANDS = range(60, 100)  # a person steps in and stands under the flicker
CREEPS = range(130, 150)  # a stain fades in without moving, and stays
LAMP_OFF = 180  # the lamp goes off (the mean drops 20 %) while a second person stands
STANDS_AT_SWITCH = range(170, 205)


def _flicker_clip(seed: int = 6) -> list[np.ndarray]:
    """230 frames at 10 fps: a textured wall under a +-2 % flicker (every other frame, then random from frame 160)."""
    noise = np.random.default_rng(5).normal(0, 1, FLICKER_SIZE[::-1]).astype(np.float32)
    texture = cv2.GaussianBlur(noise, (0, 0), 3)
    wall = np.clip(120 + 30 * texture / texture.std(), 0, 255).astype(np.float32)
    rng = np.random.default_rng(seed)
    stain = 65 + cv2.resize(rng.normal(0, 40, (8, 6)).astype(np.float32), (28, 40), interpolation=cv2.INTER_NEAREST)
    frames = []
    for index in range(230):
        image = wall.copy()
        if index in STANDS:
            image[150:190, 180:208] = 45
        if index >= CREEPS.start:
            patch = image[60:100, 80:108]
            image[60:100, 80:108] = patch + min(1.0, (index - CREEPS.start + 1) / len(CREEPS)) * (stain - patch)
        if index in STANDS_AT_SWITCH:
            image[180:230, 280:300] = 200
        level = 1.0 if index < LAMP_OFF else 0.8
        flicker = (0.02 if index % 2 else -0.02) if index < 160 else 0.02 * float(rng.standard_normal())
        image = image * level * (1 + flicker) + rng.normal(0, 2, image.shape)
        frames.append(np.clip(image, 0, 255).astype(np.uint8))
    return frames


def test_the_native_motion_core_tells_a_flicker_from_a_switch_as_pythons_does() -> None:
    binary = native_detector()
    frames = _flicker_clip()
    python = python_trace(frames, MotionConfig(), FPS)
    native = native_trace(binary, frames, FLICKER_SIZE, FPS)

    # The clip exercises each branch of the rule (else agreement would prove little).
    assert all(v.motion for v in python[STANDS.start:STANDS.stop]), "in a flicker, a person who stands counts"
    assert not any(v.motion for v in python[CREEPS.start:LAMP_OFF - 10]), "a stain that crept in is absorbed"
    assert any(v.lighting_blobs for v in python[CREEPS.start:LAMP_OFF - 10]), "... as a still blob, not as light"
    assert all(v.motion for v in python[STANDS_AT_SWITCH.start:LAMP_OFF]), "the second person, before the switch"
    assert not any(v.motion for v in python[LAMP_OFF:STANDS_AT_SWITCH.stop]), "after a switch, a still blob is not"

    agreement = assert_same_verdicts(python, native)
    assert agreement.area_share >= 0.95, f"areas agree on {agreement.area_share:.0%} of the frames both see motion"
    assert [v.lighting_blobs for v in python] == [v.lighting_blobs for v in native]


@needs_vtest
@pytest.mark.parametrize(("seed", "x", "top"), [(2, 150, 60), (5, 50, 75)])
def test_the_native_motion_core_sees_a_person_step_in_under_a_random_flicker_as_python_does(seed: int, x: int,
                                                                                           top: int) -> None:
    binary = native_detector()
    frames = [cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) for image in person_clip(seed, x, top)]
    python = python_trace(frames, MotionConfig(), 10.0)
    native = native_trace(binary, frames, SIZE, 10.0)

    assert all(v.motion for v in python[ENTERS + 2:]), "Python sees him stand (the flicker band is exercised)"
    assert_same_verdicts(python, native)
    assert [v.lighting_blobs for v in python] == [v.lighting_blobs for v in native]


@pytest.mark.parametrize("figure", ["textured", "flat", "shade"])
def test_the_native_motion_core_compares_a_figure_before_clipped_white_under_a_tv_as_python_does(
        figure: str) -> None:
    # lighting.left_out: a solid dark shape before a background clipped white is compared
    # (tests/detector/test_clipped_white.py), unless it has the shape of light (a curtain's soft shade).
    # A native core without it differs on the textured figure's first frames (Python: motion from his
    # first frame on); one that gives the shade back, on its lighting blobs.
    textured = figure == "textured"
    frames = [cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
              for image in clipped_white_clip("tv", 255, textured, shade=figure == "shade")]
    python = python_trace(frames, MotionConfig(), 10.0)
    native = native_trace(native_detector(), frames, CLIPPED_SIZE, 10.0)

    if textured:
        assert all(v.motion for v in python[CLIPPED_WALKS:CLIPPED_WALKS + 3]), "Python sees him from his first frame"
    assert_same_verdicts(python, native)
    assert [v.lighting_blobs for v in python] == [v.lighting_blobs for v in native]


def test_the_native_motion_core_leaves_out_a_shape_before_clipped_white_at_the_frames_edge_as_python_does() -> None:
    # lighting.left_out gives back no piece touching the frame's edge (tests/detector/test_clipped_white.py): a
    # branch swaying from the top edge before a clipped sky under a TV's light. A native core without its edge
    # check sees motion on the branch's first frames, where Python sees none (checked by hand).
    frames = [cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) for image in branch_clip(at_edge=True)]
    python = python_trace(frames, MotionConfig(), 10.0)
    native = native_trace(native_detector(), frames, CLIPPED_SIZE, 10.0)

    assert not any(v.motion for v in python[CLIPPED_WALKS:CLIPPED_WALKS + 20]), "Python leaves the branch out"
    assert_same_verdicts(python, native)


def test_the_native_motion_core_gives_pythons_verdicts_frame_by_frame_in_day_lamp_light_and_dark() -> None:
    binary = native_detector()
    frames = _clip()
    python = python_trace(frames, MotionConfig(), FPS)
    native = native_trace(binary, frames, (WIDTH, HEIGHT), FPS)

    # The clip exercises what must be mirrored (else agreement would prove little).
    assert sum(v.motion for v in python[30:60]) >= 25, "the daylight walker"
    assert any(v.lighting_blobs for v in python[80:116]), "the lamp's pool judged as light"
    assert not any(v.motion for v in python[80:116]), "the lamp is not motion"
    assert any(v.global_change for v in python[116:120]), "the light switched off"
    assert all(v.dark for v in python[120:]) and python[-1].threshold < 5, "the dark, threshold from the noise"
    assert any(v.motion for v in python[156:186]), "the walker in the dark"

    assert_cores_agree(python, native)
    lit_python = [i for i, v in enumerate(python) if v.lighting_blobs]
    lit_native = [i for i, v in enumerate(native) if v.lighting_blobs]
    assert len(set(lit_python) ^ set(lit_native)) <= 1, f"light blobs at {lit_python} (python), {lit_native} (native)"
    assert [v.global_change for v in python] == [v.global_change for v in native]


def test_the_native_motion_core_takes_a_videos_luma_as_pythons_decoder_path_does() -> None:
    """The camera path: native halves and stretches the raw luma plane itself (``--video-range``);
    Python's decoder source hands its core ``decode.halve_towards``'s picture. At 640x480 both
    halve once, stretch 16..235 to full range, then shrink to 160 pixels."""
    binary = native_detector()
    lumas = [np.round(cv2.resize(f, (640, 480), interpolation=cv2.INTER_LINEAR) * (219 / 255) + 16).astype(np.uint8)
             for f in _clip(seed=4)]
    config = MotionConfig()
    python = python_trace((halve_towards(y, config.detection_width)[0] for y in lumas), config, FPS)
    native = native_trace(binary, lumas, (640, 480), FPS, video_range=True)

    assert sum(v.motion for v in python[30:60]) >= 25 and any(v.lighting_blobs for v in python[80:116])
    agreement = compare(python, native)
    assert len(agreement.only_python) + len(agreement.only_native) <= 1, (
        f"motion differs at frames {agreement.only_python} (python only), {agreement.only_native} (native only)")
    assert agreement.threshold_share >= 0.99


@pytest.mark.skipif(not TREE.exists(), reason="tests/data/tree.avi missing: scripts/install_test_tools.sh extracts "
                    "it from Debian's opencv-doc (needs apt-get)")
def test_the_native_motion_core_judges_a_gust_in_real_tree_footage_as_pythons_does() -> None:
    """tree.avi (a real tree in the wind, 68 frames at 320x240) played three times in a row: on some frames
    leaves turning all over the tree are taken for light, and a busy blob of such a frame does not count on
    its first frame (``Persistence``'s ``stirred``). A native core without that rule sees motion on 5 frames
    Python does not (checked by hand)."""
    binary = native_detector()
    capture = cv2.VideoCapture(str(TREE))
    frames = []
    while (read := capture.read())[0]:
        frames.append(cv2.cvtColor(read[1], cv2.COLOR_BGR2GRAY))
    capture.release()
    frames *= 3
    python = python_trace(frames, MotionConfig(), FPS)
    native = native_trace(binary, frames, (frames[0].shape[1], frames[0].shape[0]), FPS)

    assert sum(v.lighting_blobs > 0 for v in python) >= 10, "gusts partly taken for light: the rule is exercised"
    agreement = compare(python, native)
    assert len(agreement.only_python) + len(agreement.only_native) <= 1, (
        f"motion differs at frames {agreement.only_python} (python only), {agreement.only_native} (native only)")
    assert agreement.threshold_share >= 0.99


def test_the_native_motion_core_keeps_a_person_standing_on_flickering_water_as_pythons_does() -> None:
    """``test_flicker_glint.py``'s clips (the stood rule in a busy place): the same verdict on every frame."""
    from tests.detector.test_flicker_glint import SIZE, frames

    binary = native_detector()
    for walk_frames in (0, 6):
        clip = frames(walk_frames)
        python = python_trace(clip, MotionConfig(), FPS)
        native = native_trace(binary, clip, SIZE, FPS)
        assert all(v.motion for v in python[60:]), f"walk {walk_frames}: the person who stands was lost"
        assert_same_verdicts(python, native, f"walk {walk_frames}")
        assert [v.lighting_blobs for v in python] == [v.lighting_blobs for v in native]


HOME_JPG = Path(__file__).resolve().parent / "data" / "home.jpg"


@pytest.mark.skipif(not HOME_JPG.exists(), reason="tests/data/home.jpg missing: scripts/install_test_tools.sh")
@pytest.mark.parametrize("seed", [7, 17])
def test_the_native_motion_core_gives_pythons_verdicts_on_a_walker_over_a_flickering_curtain(seed: int) -> None:
    """``bench/float_drift.py``'s curtain walkers: the background re-learnt under a random flicker carries any
    last-bit difference of the cores' floats until a verdict flips. With the wheel's IPP on (x86-64), Python's
    core differed from the native one on one frame of each of these clips; every frame must agree."""
    from bench.float_drift import FPS as CURTAIN_FPS
    from bench.float_drift import SIZE as CURTAIN_SIZE
    from bench.float_drift import WALKS, curtain_walker

    frames = curtain_walker(seed)
    python = python_trace(frames, MotionConfig(), CURTAIN_FPS)
    native = native_trace(native_detector(), frames, CURTAIN_SIZE, CURTAIN_FPS)
    assert any(v.motion for v in python[WALKS.start:WALKS.stop]), "the walker is seen (the core did its full work)"
    differ = [index for index, (p, n) in enumerate(zip(python, native, strict=True)) if p.motion != n.motion]
    assert not differ, f"motion verdicts differ at frames {differ}"


LOOKS_EVERY = 5  # a look every fifth source frame: 2 fps on this 10 fps clip, the low-power governor's floor


def test_the_native_motion_core_denoises_the_dark_over_sparse_looks_as_python_does() -> None:
    """The same clip, looked at every fifth frame (low power, ``dark_interval_s``): the dark's averaging counts frames.

    ``looks.smoothing_weight``: a look 0.5 s after the last is not averaged with it as
    if it were the next frame. A native core that averages per look (before this
    rule) parts from Python's in the dark (checked by hand: motion differs on 6 of
    the 42 looks, the walker's, and the thresholds on 16).
    """
    binary = native_detector()
    frames = _clip()[::LOOKS_EVERY]
    python = python_trace(frames, MotionConfig(), FPS, every=LOOKS_EVERY)
    native = native_trace(binary, frames, (WIDTH, HEIGHT), FPS, every=LOOKS_EVERY)

    dark = [i for i, v in enumerate(python) if v.dark]
    assert len(dark) >= 15, "the clip's dark part, looked at sparsely"
    assert any(python[i].motion for i in dark), "the walker in the dark, seen at sparse looks"
    assert_cores_agree(python, native)


def test_the_native_motion_core_lets_no_glint_start_motion_and_sees_a_figure_as_pythons_does() -> None:
    """``tests/detector/test_glints.py``'s clips (``glints.on_water``, ``is_glint``): faint glints on water never
    motion, the same specks on a calm street, bright specks and plain figures motion, the same verdict on every
    frame. A native core without the glint rule sees the glint 60 on water (checked by hand at s8-water). A glint
    after a first frame that is none is motion on that first frame only (``_motion_run``), on both while someone
    moved 3 s before (``_young_after_calm``): the same in both. A glint cut by the frame's edge is judged by its
    uncut box (``uncut_size``): no motion; a figure coming in there over water is."""
    from tests.detector.test_glints import BEFORE, EDGE_SPECKS, SIZE, figure_clip, glint_clip

    binary = native_detector()
    for name, clip, seen in [("glint 40", glint_clip(40.0), False), ("glint 60", glint_clip(60.0), False),
                             ("specks on a street", glint_clip(50.0, water=False), True),
                             ("bright specks", glint_clip(90.0), True), ("bright figure", figure_clip(200.0), True),
                             ("dark figure", figure_clip(30.0), True),
                             ("a glint after a first frame", glint_clip(60.0, frames=4, first_lift=110.0), True),
                             ("the same 3 s after someone moved",
                              glint_clip(60.0, frames=4, first_lift=110.0, moved_before=30), True),
                             ("a glint on the edge", glint_clip(50.0, specks=EDGE_SPECKS), False),
                             ("a figure on the edge over water", figure_clip(170.0, left=0, water=True), True)]:
        python = python_trace(clip, MotionConfig(), FPS)
        native = native_trace(binary, clip, SIZE, FPS)
        assert any(v.motion for v in python[BEFORE:]) == seen, f"{name}: python's verdict"
        assert_same_verdicts(python, native, name)


def test_the_native_motion_core_lets_no_insect_start_motion_and_sees_a_tall_speck_as_pythons_does() -> None:
    """``tests/detector/test_insects.py``'s clips (``glints.is_speck``): a faint round speck crossing fast never
    motion, a faint tall speck (a walker far off) motion, the same verdict on every frame in both cores."""
    from tests.detector.test_glints import BEFORE, SIZE
    from tests.detector.test_insects import speck_clip

    binary = native_detector()
    for name, clip, seen in [("insect 42", speck_clip(42.0), False), ("insect 44", speck_clip(44.0), False),
                             ("tall speck", speck_clip(40.0, tall=True), True)]:
        python = python_trace(clip, MotionConfig(), FPS)
        native = native_trace(binary, clip, SIZE, FPS)
        assert any(v.motion for v in python[BEFORE:]) == seen, f"{name}: python's verdict"
        assert_same_verdicts(python, native, name)


def test_the_native_motion_core_learns_a_busy_places_still_shading_as_pythons_does() -> None:
    """``tests/detector/test_still_shading.py``'s clips (``shading.StillShading``): a faint, smooth brightening that
    stands in a place the footage made busy is never motion in either core; the same where nothing flashed is,
    and so are a plain dark person standing there, the brightening sliding across, and a faint plain person coming
    out into the busy place (held and learnt before SMOOTH); every verdict agrees."""
    from tests.detector.test_still_shading import BEFORE, SIZE, emerging_clip, shading_clip

    binary = native_detector()
    for name, clip, seen in [("standing shading", shading_clip("shading"), False),
                             ("shading in a quiet place", shading_clip("shading", busy=False), True),
                             ("sliding", shading_clip("sliding"), True),
                             ("person", shading_clip("person", frames=40), True),
                             ("emerging faint person", emerging_clip(), True)]:
        python = python_trace(clip, MotionConfig(), FPS)
        native = native_trace(binary, clip, SIZE, FPS)
        assert any(v.motion for v in python[BEFORE:]) == seen, f"{name}: python's verdict"
        assert_same_verdicts(python, native, name)


def test_the_native_motion_core_holds_a_swinging_edges_overshoot_as_pythons_does() -> None:
    """``tests/detector/test_swing_overshoot.py``'s clips (``swing.SwingOvershoot``): a window strip that creeps in
    where a curtain's edge swings and falls back is never motion in either core; a faint person stepping in there,
    and one creeping out there (held a second, not learnt while held), are; every verdict agrees."""
    from tests.detector.test_swing_overshoot import BEFORE, EDGE_RAMP, SIZE, _clip, _window, overshoot_cover

    binary = native_detector()
    step_in = np.full((SIZE[1], SIZE[0]), 1.35 * 170, np.float32)
    creep = [min(1.0, (k + 1) / EDGE_RAMP) for k in range(40)]
    for name, clip, seen in [("overshoot", _clip(overshoot_cover(), _window(), len(overshoot_cover())), False),
                             ("faint person stepping in", _clip([1.0] * 20, step_in, 20), True),
                             ("faint person creeping out", _clip(creep, _window(), len(creep)), True)]:
        python = python_trace(clip, MotionConfig(), FPS)
        native = native_trace(binary, clip, SIZE, FPS)
        assert any(v.motion for v in python[BEFORE:]) == seen, f"{name}: python's verdict"
        assert_same_verdicts(python, native, name)
