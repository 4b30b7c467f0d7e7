"""Rules against false events in quiet hours (issue 13): a gust stirring a tree; a walker at start-up kept.

Each rule on the motion core's own pieces or a short synthetic clip, with
the walker it must not lose beside it.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from quickcam.common.config import MotionConfig
from quickcam.detector.motion import create_detector
from quickcam.detector.motion.activity import BusyMap, Persistence
from quickcam.detector.sources import DemoSource, Walk


def _busy_right_half() -> BusyMap:
    busy = BusyMap(fps=10)
    busy.before_busy = np.zeros((120, 160), np.float32)
    busy.before_busy[:, 80:] = 0.3  # the right half is leaves
    return busy


def test_when_a_gust_stirs_the_frame_a_busy_blob_counts_only_from_its_second_frame() -> None:
    """Tune set, real tree footage: a gust turns leaves all over the tree (some of its changes are taken for
    light) and a branch's blob overlaps itself for two frames: an event. Stirred, a busy blob's first frame
    does not count, its overlapping second does; a quiet place still counts at once."""
    busy = _busy_right_half()
    calm, stirred = Persistence(), Persistence()
    branch = [(100, 10, 20, 20), (102, 12, 20, 20), (140, 80, 10, 10)]  # two frames, then elsewhere
    assert [calm.counts([box], busy)[0] for box in branch] == [True, True, False]  # two in a row: an event
    assert [stirred.counts([box], busy, stirred=True)[0] for box in branch] == [False, True, False]
    walker = [(90, 50, 10, 20), (92, 50, 10, 20), (95, 51, 10, 20)]
    walking = Persistence()
    assert [walking.counts([box], busy, stirred=True)[0] for box in walker] == [False, True, True]
    assert Persistence().counts([(10, 60, 10, 10)], busy, stirred=True) == [True]  # a quiet place: at once


def test_a_walker_there_at_start_up_is_still_seen_at_once() -> None:
    """No start-up rule may blind the camera: a walker walking in as the camera starts is motion within four
    frames of its first pixel in view (as on main: the fifth frame) and stays motion while in view (a
    start-up fast learning of busy places, tried on the tune set, failed this: its own trail looked busy to
    the young map; reverted)."""
    demo = DemoSource(320, 240, 10.0, realtime=False, walks=(Walk(0.0, 6.0),), period_s=1000.0)
    entering = next(i for i in range(60) if (box := demo.walker_box(demo.scene_time_s(i))) and box[0] + box[2] > 0)
    detector = create_detector(MotionConfig(), fps=10.0)
    motion = "".join("1" if detector.detect(demo.read().image).motion else "0" for _ in range(40))
    assert "1" in motion[entering:entering + 5], (entering, motion)
    assert "1" * 20 in motion, motion


def test_the_h264_pulsing_artefact_gives_back_every_frame_in_order_with_keyframe_pulses(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """bench/quiet_artefacts.py's H.264 condition: frames through libx264 at a low bitrate and back, one for
    one (the truth, counted where the frames are made, must line up), and the picture really pulses at each
    keyframe (else the condition tests nothing)."""
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[2] / "bench"))
    quiet_artefacts = pytest.importorskip("quiet_artefacts")
    rng = np.random.default_rng(3)
    base = cv2.GaussianBlur(rng.integers(0, 255, (288, 384, 3)).astype(np.uint8), (0, 0), 2)
    frames = [np.clip(base.astype(np.int16) + rng.integers(-6, 7, base.shape), 0, 255).astype(np.uint8)
              for _ in range(40)]
    out = list(quiet_artefacts.h264(iter(frames), bitrate=150_000, gop=10))
    assert len(out) == len(frames) and out[0].shape == frames[0].shape
    steps = [float(np.abs(out[i].astype(np.float32) - out[i - 1]).mean()) for i in range(1, len(out))]
    keyframes = [steps[i - 1] for i in (10, 20, 30)]
    others = [s for i, s in enumerate(steps, start=1) if i % 10]
    assert min(keyframes) > 1.5 * float(np.median(others)), (keyframes, float(np.median(others)))
