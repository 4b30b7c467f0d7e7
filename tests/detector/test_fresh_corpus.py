"""The fresh held-out set and the quiet hours (bench/fresh_corpus.py) are deterministic, labelled and moving.

The benchmark's false events per hour mean something only if the same frames
come back on every machine and run, the truth (walkers, quiet frames) is
counted where the frames are made, and the synthetic wind, curtain and water
really move the picture.
"""

from __future__ import annotations

import hashlib
import itertools
import math
from pathlib import Path

import cv2
import numpy as np
import pytest

pytestmark = pytest.mark.one_worker  # the corpus (2-3 s to make) is a module fixture: made once, on one worker

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "bench"
NEEDED = [REPO / "tests/data" / name for name in ("vtest.avi", "building.jpg", "leuvenA.jpg", "squirrel_cls.jpg",
                                                   "stuff.jpg", "home.jpg")]


@pytest.fixture(scope="module")
def fresh():
    missing = [p.name for p in NEEDED if not p.exists()]
    if missing:
        pytest.skip(f"tests/data/{missing[0]} missing: run scripts/install_test_tools.sh")
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(BENCH))
        import fresh_corpus
    # the first 12 s of vtest.avi for walkers, 55-second quiet segments: the same code, quick to make
    return fresh_corpus, fresh_corpus.FreshComposer(hours=2 * 55 / 3600, segment_s=55, source=(0, 120))


def _digest(frames, count: int) -> tuple[str, list[np.ndarray]]:
    taken = list(itertools.islice(frames, count))
    return hashlib.sha256(b"".join(f.tobytes() for f in taken)).hexdigest(), taken


def test_each_fresh_scene_renders_the_same_frames_twice_and_its_motion_moves_the_picture(fresh) -> None:
    _, composer = fresh
    for name in composer.conditions():
        first, frames = _digest(composer.clip(name).frames, 12)
        again, _ = _digest(composer.clip(name).frames, 12)
        assert first == again, name
        # blurred, the sensor noise (sigma 3) leaves about 0.5 of mean difference; the scene's motion adds to it
        start, end = (cv2.GaussianBlur(frames[i], (0, 0), 2).astype(np.int16) for i in (0, -1))
        assert np.abs(end - start).mean() > 1.0, name


def test_a_quiet_segment_counts_its_walkers_and_its_quiet_frames(fresh) -> None:
    module, composer = fresh
    names = composer.quiet_segments()
    assert names == ["quiet 01: wind in a hedge and tree", "quiet 02: strong wind in leaves"]
    clip = composer.clip(names[1])
    total = sum(1 for _ in clip.frames)
    assert len(clip.people) == 2
    assert all(last - first >= 19 for first, last in clip.people)  # each walker is seen for 2 s or more
    third = int((55 - 20 - 32) / 3 * module.FPS)
    assert clip.quiet_frames == 3 * third
    assert total == 20 * module.FPS + clip.quiet_frames + sum(last - first + 1 for first, last in clip.people) \
        + 2 * 10 * module.FPS


def test_another_seed_gives_new_quiet_hours_and_the_default_stays_the_documented_ones(fresh) -> None:
    """``bench/detection_fresh.py --seed``: new held-out quiet hours (never seen by any rule) must really be
    other frames, and the default seed must give back the documented hours."""
    module, composer = fresh
    name = composer.quiet_segments()[0]
    other = module.FreshComposer(hours=55 / 3600, segment_s=55, source=(0, 120), seed=7)
    default, _ = _digest(composer.clip(name).frames, 12)
    assert module.FreshComposer(hours=55 / 3600, segment_s=55, source=(0, 120)).split.seed == 3
    assert _digest(other.clip(name).frames, 12)[0] != default


def test_the_quiet_hours_recall_counts_walkers_of_the_target_size_and_reports_the_smaller_ones_apart() -> None:
    """Issue 13's recall target names people of 0.5 % of the frame; the quiet hours' two misses on every seed
    were a far pedestrian (0.17 %) and a pair of legs behind a signpost (0.16 %). They stay in the footage and
    in the report, but not in recall; an event a small walker starts is still no false event."""
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(BENCH))
        import detection_fresh
        from detection_corpus import TARGET_COVER, Clip
        from detection_quality import Run

    clip = Clip("quiet 04: rippling water", iter(()), quiet_frames=9000)
    clip.people = [(100, 159), (300, 333), (500, 559), (700, 759)]
    area, median = 384 * 288, 1237.0  # a walker shrunk to the target (``cover=``): rounding must not drop him
    scale = math.sqrt(TARGET_COVER * area / median)
    shrunk = median * scale * scale / area
    clip.coverage = [0.01, 0.0016, min(shrunk, TARGET_COVER * (1 - 1e-12)), 0.0017]
    # walker 1 caught; the small walker 2 starts an event; walker 3 (at the target) and small walker 4 missed;
    # one event with no one in view
    run = Run(events=[(110, 111, 170), (320, 321, 360), (900, 901, 931)])
    recording = detection_fresh.RecordingConfig()

    got, lines = detection_fresh.fresh_score(run, clip, recording, TARGET_COVER)
    assert (got.people, got.caught, got.small, got.small_caught) == (2, 1, 2, 1)
    assert (got.false_quiet, got.false_lighting) == (1, 0)
    assert got.frames == 60 + 60  # people-time over the two walkers of the target size only
    assert lines == ["- false event: quiet 04: rippling water, at 90.1 s, 3.0 s long",
                     "- walker missed: quiet 04: rippling water, 50.0-55.9 s",
                     "- walker under the target missed (0.17 % of the frame, not in recall): "
                     "quiet 04: rippling water, 70.0-75.9 s"]

    every, _ = detection_fresh.fresh_score(run, clip, recording, None)
    assert (every.people, every.caught, every.small, every.false_quiet) == (4, 2, 0, 1)


def test_an_event_begun_in_the_warm_up_is_a_start_up_event_not_one_of_the_quiet_hours(fresh) -> None:
    """Each clip starts the detector afresh; its first 20 s are not quiet time (not in the hours divided by), so
    an event begun there is counted per start, apart: dividing it by quiet time mixed a per-start rate into the
    per-hour one (seed 17: 4 of 6 events were start-ups). It is still printed, as such."""
    module, composer = fresh
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(BENCH))
        import detection_fresh
        from detection_quality import Run

    clip = composer.clip(composer.quiet_segments()[1])
    assert clip.warmup == module.WARMUP_S * module.FPS == 200
    clip.people = [(400, 459)]
    run = Run(events=[(5, 6, 40), (199, 199, 230), (200, 200, 231), (410, 411, 470), (600, 601, 640)])
    got, lines = detection_fresh.fresh_score(run, clip, detection_fresh.RecordingConfig(), None)
    assert (got.startup, got.starts, got.false_quiet, got.false_lighting, got.caught) == (2, 1, 2, 0, 1)
    assert [line.split(",")[0] for line in lines] == ["- start-up event: quiet 02: strong wind in leaves"] * 2 \
        + ["- false event: quiet 02: strong wind in leaves"] * 2
    total = detection_fresh.FreshScore()
    total.add(got)
    total.add(got)
    assert (total.startup, total.starts, total.false_quiet) == (4, 2, 4)
    summary = detection_fresh.rows({"a": got})[-1]
    assert "**2 false events in" in summary and "**2 start-up events in 1 starts**" in summary
