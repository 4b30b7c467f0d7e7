"""The native view guard says what Python's says, frame by frame (docs/native.md, "View guard").

One synthetic clip at four frames a second (one look each, as the guard looks four times a
second) goes through both motion cores and their view guards: a textured scene with sensor
noise, a cloth fading over the lens (blocked), the scene back (cleared after CLEAR_S), the
camera turned to another scene (moved), back, then the encoder repeating one frame (frozen),
back, then a covered lens sending black (blocked, never frozen), back. Python's
``MotionDetector`` + ``ViewGuard`` and ``quickcam-native-detector --motion-trace`` (whose lines
end with the guard's verdict, structure and match) get the same gray frames at the same times;
the verdicts must be equal on every frame and the figures behind them close. A native guard
with another threshold or timing fails it (the clip holds each fault a few seconds past its
delay, and every transition is judged to the frame).
"""

from __future__ import annotations

import subprocess

import cv2
import numpy as np

from quickcam.common.config import MotionConfig
from quickcam.detector.motion import create_detector
from quickcam.detector.pipeline.view_guard import BLOCKED_S, CLEAR_S, FROZEN_S, MOVED_S, ViewGuard
from tests.native_build import native_detector

WIDTH, HEIGHT, FPS = 320, 240, 4.0


def _scene(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return cv2.resize(rng.integers(30, 220, (24, 32), dtype=np.uint8), (WIDTH, HEIGHT),
                      interpolation=cv2.INTER_CUBIC).astype(np.float32)


def _clip() -> tuple[list[np.ndarray], dict[str, range]]:
    """The gray frames, and where each fault must be said (frames)."""
    rng = np.random.default_rng(5)
    usual, other = _scene(1), _scene(9)
    cloth = cv2.GaussianBlur(usual, (0, 0), 30) * 0.3 + 10

    def noisy(image: np.ndarray, noise: float = 3.0) -> np.ndarray:
        return np.clip(image + rng.normal(0, noise, image.shape), 0, 255).astype(np.uint8)

    def seconds(s: float) -> int:
        return int(s * FPS)

    frames = [noisy(usual) for _ in range(seconds(8))]  # learnt, warm
    covered_at = len(frames)
    frames += [noisy(usual * (1 - k) + cloth * k, 2.0) for k in np.linspace(0.25, 1, seconds(1))]
    frames += [noisy(cloth, 2.0) for _ in range(seconds(BLOCKED_S + 4))]
    frames += [noisy(usual) for _ in range(seconds(CLEAR_S + 3))]
    turned_at = len(frames)
    frames += [noisy(other) for _ in range(seconds(MOVED_S + 4))]
    frames += [noisy(usual) for _ in range(seconds(CLEAR_S + 3))]
    frozen_at = len(frames)
    still = noisy(usual)
    frames += [still] * seconds(FROZEN_S + 3)
    frames += [noisy(usual) for _ in range(seconds(CLEAR_S + 2))]
    black_at = len(frames)  # a covered lens whose encoder sends black: blocked throughout, never frozen
    frames += [np.zeros((HEIGHT, WIDTH), np.uint8)] * seconds(FROZEN_S + 5)
    frames += [noisy(usual) for _ in range(seconds(CLEAR_S + 2))]
    # each said within a second of its delay (the cloth takes a second to fade in) and held to the clip's end
    said = {"blocked": range(covered_at + seconds(BLOCKED_S + 1), covered_at + seconds(BLOCKED_S + 5)),
            "moved": range(turned_at + seconds(MOVED_S + 1), turned_at + seconds(MOVED_S + 4)),
            "frozen": range(frozen_at + seconds(FROZEN_S + 1), frozen_at + seconds(FROZEN_S + 3)),
            "blocked, black": range(black_at + seconds(BLOCKED_S + 1), black_at + seconds(FROZEN_S + 5))}
    return frames, said


def _python(frames: list[np.ndarray]) -> list[tuple[str, float, float]]:
    detector, guard = create_detector(MotionConfig(), fps=FPS), ViewGuard(watch_frozen=True)
    out = []
    for n, gray in enumerate(frames):
        detector.detect(gray)
        guard.look(detector.gray, 10**9 + int(n * 1e9 / FPS))  # the trace's clock
        out.append((guard.fault.kind if guard.fault else "ok", guard.structure, guard.match))
    return out


def _native(frames: list[np.ndarray]) -> list[tuple[str, float, float]]:
    run = subprocess.run([str(native_detector()), "--motion-trace", f"{WIDTH}x{HEIGHT}", "--fps", str(FPS)],
                         input=b"".join(frame.tobytes() for frame in frames), capture_output=True, timeout=60)
    assert run.returncode == 0, run.stderr.decode(errors="replace")
    rows = [line.split()[-3:] for line in run.stdout.decode().splitlines() if not line.startswith("#")]
    return [(view, float(structure), float(match)) for view, structure, match in rows]


def test_the_native_view_guard_says_every_fault_on_the_same_frame_as_pythons() -> None:
    frames, said = _clip()
    python, native = _python(frames), _native(frames)
    assert len(native) == len(python) == len(frames)
    python_views = [view for view, _, _ in python]
    for kind, where in said.items():  # the clip exercises every fault (else this test could not fail)
        shown = python_views[where.start - 2:where.stop]
        assert all(python_views[n] == kind.split(",")[0] for n in where), (kind, shown)
    quiet = said["blocked"].start - int(FPS)  # the cover began BLOCKED_S + 1 s before: nothing said till its delay
    assert python_views[:quiet] == ["ok"] * quiet
    assert python_views[-1] == "ok"
    differ = [(n, p[0], q[0]) for n, (p, q) in enumerate(zip(python, native, strict=True)) if p[0] != q[0]]
    assert not differ, f"view verdicts differ (frame, python, native): {differ[:10]}"
    structures = [(n, p[1], q[1]) for n, (p, q) in enumerate(zip(python, native, strict=True))
                  if abs(p[1] - q[1]) > 0.02 * max(p[1], 1e-3)]
    matches = [(n, p[2], q[2]) for n, (p, q) in enumerate(zip(python, native, strict=True)) if abs(p[2] - q[2]) > 0.02]
    assert not structures, f"structure differs (frame, python, native): {structures[:10]}"
    assert not matches, f"match differs (frame, python, native): {matches[:10]}"
