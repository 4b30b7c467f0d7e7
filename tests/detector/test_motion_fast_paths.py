"""The motion core's fast paths give, to the bit, what the straightforward code they replace gave.

``mean`` against ``ndarray.mean``; ``cell_medians`` (one sort for the twelve gain cells) against a loop of
``np.median`` per cell; ``normalise_gain`` against the loop it had before;
``_contours`` (no blob search when nothing changed) against the search itself.
On random arrays and on real frames (vtest.avi, under light changes).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from quickcam.common.config import MotionConfig
from quickcam.detector.motion import create_detector
from quickcam.detector.motion.lighting import (
    CLIPPED,
    GAIN_DEADBAND,
    GAIN_GRID,
    KERNEL,
    LIGHT_MOVED,
    MAX_GAIN,
    SAMPLE,
    GainResult,
    cell_medians,
    mean,
    median,
    normalise_gain,
)

VTEST = Path(__file__).resolve().parents[2] / "tests/data/vtest.avi"
needs_vtest = pytest.mark.skipif(
    not VTEST.exists(), reason="tests/data/vtest.avi missing: scripts/install_test_tools.sh extracts it from "
    "Debian's opencv-doc (needs apt-get)")


def plain_cell_medians(ratios: np.ndarray, usable: np.ndarray, fallback: float) -> np.ndarray:
    """The gain grid as the motion core computed it before: a masked ``np.median`` per cell."""
    rows, cols = GAIN_GRID
    grid = np.full((rows, cols), fallback, np.float32)
    height, width = ratios.shape
    for r in range(rows):
        for c in range(cols):
            cell = (slice(r * height // rows, (r + 1) * height // rows),
                    slice(c * width // cols, (c + 1) * width // cols))
            pick = usable[cell]
            if pick.sum() >= pick.size // 4:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)  # an empty cell's median: nan, as before
                    grid[r, c] = np.median(ratios[cell][pick])
    return grid


def plain_normalise_gain(gray: np.ndarray, reference: np.ndarray) -> GainResult:
    """``normalise_gain`` as it was before ``cell_medians`` (main at a120d3f)."""
    ref = reference[::SAMPLE, ::SAMPLE]
    cur = gray[::SAMPLE, ::SAMPLE]
    level, now = float(ref.mean()), float(cur.mean())
    if max(level, now) > 16 and not 1 / MAX_GAIN <= (level + 1) / (now + 1) <= MAX_GAIN:
        return GainResult(None, None, True)
    usable = (cur > 8) & (cur < CLIPPED) & (ref < CLIPPED)
    if usable.sum() < cur.size // 4:
        return GainResult(gray, None, False)
    ratios = ref / np.maximum(cur, 1.0)
    overall = float(median(ratios[usable]))
    if not 1 / MAX_GAIN <= overall <= MAX_GAIN:
        return GainResult(None, None, True)
    grid = plain_cell_medians(ratios, usable, overall)
    np.clip(grid, 1 / MAX_GAIN, MAX_GAIN, out=grid)
    moving = bool(np.any(np.abs(grid - 1) >= LIGHT_MOVED))
    if np.all(np.abs(grid - 1) < GAIN_DEADBAND):
        return GainResult(gray, None, moving)
    gain = cv2.resize(grid, (gray.shape[1], gray.shape[0]), interpolation=cv2.INTER_LINEAR)
    normal = cv2.multiply(gray, gain)
    clipped = cv2.dilate(((gray >= CLIPPED) | (reference >= CLIPPED)).astype(np.uint8), KERNEL)
    return GainResult(normal, clipped.astype(bool), moving)


def same_gain(a: GainResult, b: GainResult) -> bool:
    def as_bytes(array: np.ndarray | None) -> bytes | None:
        return None if array is None else array.tobytes()
    return (as_bytes(a.normal), as_bytes(a.clipped), a.moving) == (as_bytes(b.normal), as_bytes(b.clipped), b.moving)


@st.composite
def sampled_ratios(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, float]:
    height, width = draw(st.integers(1, 45)), draw(st.integers(1, 60))
    # few distinct values (ties, as in flat regions) or any positive float32
    values = st.sampled_from([0.5, 0.75, 1.0, 1.0000001, 1.25]) if draw(st.booleans()) else st.floats(
        0.0, 800.0, width=32)
    ratios = draw(arrays(np.float32, (height, width), elements=values))
    usable = draw(arrays(np.bool_, (height, width)))
    return ratios, usable, draw(st.floats(0.375, 2.875, width=32))


@given(sampled_ratios())
@settings(max_examples=300, deadline=None)
def test_cell_medians_are_a_masked_median_per_cell_to_the_bit(case: tuple[np.ndarray, np.ndarray, float]) -> None:
    ratios, usable, fallback = case
    assert cell_medians(ratios, usable, fallback).tobytes() == plain_cell_medians(ratios, usable, fallback).tobytes()


def _vtest_grays(count: int) -> list[np.ndarray]:
    """Detection-size float gray frames of vtest.avi (as ``_prepare`` makes them: 160 px, blurred)."""
    capture = cv2.VideoCapture(str(VTEST))
    frames = []
    while len(frames) < count:
        ok, image = capture.read()
        if not ok:
            break
        small = cv2.resize(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), (160, 120), interpolation=cv2.INTER_AREA)
        frames.append(cv2.GaussianBlur(small.astype(np.float32), (3, 3), 0))
    capture.release()
    return frames


def _lamp(shape: tuple[int, int], strength: float) -> np.ndarray:
    """A smooth pool of light in one corner: gain 1 + ``strength`` at its centre."""
    height, width = shape
    y, x = np.mgrid[0:height, 0:width]
    return (1 + strength * np.exp(-((x - 0.8 * width) ** 2 + (y - 0.3 * height) ** 2) / (0.1 * width * width))
            ).astype(np.float32)


@needs_vtest
def test_normalise_gain_is_the_plain_loops_to_the_bit_on_real_frames_under_light_changes() -> None:
    frames = _vtest_grays(40)
    reference = frames[0]
    lamp = _lamp(reference.shape, 0.8)
    cases = 0
    for index, gray in enumerate(frames[1:], start=1):
        for lit in (gray, gray * np.float32(1.3), gray * np.float32(0.7), np.minimum(gray * lamp, 255),
                    np.minimum(gray * np.float32(2.2), 255), gray * np.float32(0.2)):
            lit = lit.astype(np.float32)
            assert same_gain(normalise_gain(lit, reference), plain_normalise_gain(lit, reference)), index
            cases += 1
        reference = cv2.accumulateWeighted(gray, reference.copy(), 0.05)
    assert cases == 39 * 6


@given(arrays(np.float32, (30, 40), elements=st.floats(0.0, 255.0, width=32)),
       st.floats(0.25, 3.5, width=32), st.floats(0.0, 4.0, width=32))
@settings(max_examples=200, deadline=None)
def test_normalise_gain_is_the_plain_loops_to_the_bit_on_random_pictures(
        reference: np.ndarray, gain: float, noise: float) -> None:
    rng = np.random.default_rng(int(gain * 1000))
    gray = np.clip(reference * gain + rng.normal(0, noise, reference.shape), 0, 255).astype(np.float32)
    assert same_gain(normalise_gain(gray, reference), plain_normalise_gain(gray, reference))


def plain_contours(changed_mask: np.ndarray, kernel: np.ndarray) -> tuple:
    mask = cv2.morphologyEx(changed_mask, cv2.MORPH_OPEN, kernel)
    mask = cv2.dilate(mask, kernel, iterations=2)
    return cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)[0]


@given(arrays(np.bool_, (24, 32)), st.booleans())
@settings(max_examples=100, deadline=None)
def test_the_blob_search_skipped_when_nothing_changed_finds_what_the_search_finds(
        changed: np.ndarray, empty: bool) -> None:
    detector = create_detector(MotionConfig())
    mask = np.zeros(changed.shape, np.uint8) if empty else changed.astype(np.uint8) * 255
    fast, plain = detector._contours(mask), plain_contours(mask, detector.kernel)
    assert [c.tobytes() for c in fast] == [c.tobytes() for c in plain]


@given(arrays(np.float32, st.tuples(st.integers(1, 50), st.integers(1, 70)), elements=st.floats(0.0, 1000.0, width=32)),
       st.sampled_from([1, 3]))
@settings(max_examples=200, deadline=None)
def test_the_gain_estimates_mean_is_numpys_to_the_bit(values: np.ndarray, step: int) -> None:
    sampled = values[::step, ::step]  # as the gain estimate reads it: every third pixel of every third row
    assert np.float64(mean(sampled)).tobytes() == np.float64(float(sampled.mean())).tobytes()
