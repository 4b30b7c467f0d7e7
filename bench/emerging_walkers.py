"""People of the target's size who come out from behind a curtain or a bush in a busy place: held or learnt as shading?

    .venv/bin/python bench/emerging_walkers.py [--vs a86b5aa] [--walkers 2]
    .venv/bin/python bench/emerging_walkers.py --lights day dim --paces creeping --clothes flat faint

The still-shading rule (``detector/motion/shading.py``) holds a busy place's
smooth, faint blob that continues no motion, and learns it if it grows in
place for SHADING_FRAMES frames. A person emerging from behind something
grows in place too. So each clip here (tune split only: ``detection_corpus``'s
tune walkers, scaled to TARGET_COVER) has an occluder drawn *over* the walker
where his track begins, swaying from the start so that its place is busy
(20 s before he comes), and the walker walks out of it: a curtain in a
draught (``fresh_scenes.curtain``, the hem on the side he comes out of) or a
bush in the wind (an ellipse of leaves with gaps, its crown swaying). In
day light, dim light (0.3) and the split's night (``dark_gain``, the room at
60 %), at normal pace and at a third of it (``--paces creeping``: a sixth,
a peek round the edge), in his own clothes, dark clothes
(``dark_clothes``), one flat colour (``flat_colour``: the smoothest change) or
one colour a quarter brighter than the place he walks into (the faintest).

For each clip and each core (this code's and ``--vs``'s, fed the same frames
through the detector's loop): onset (frames from the first frame he shows a
tenth of his body to the first event frame), time recorded (as
``detection_quality.score``) and, for this code's core, the still-shading
verdicts on blobs overlapping his visible pixels: frames held, blobs learnt
("shading"), the longest run of held frames; and the two figures the rule
reads (``shading.faint_shading``: detail over departure, departure) on his
blobs it looked at. The scene has no shake, codec or IR (``EmergeScene``).
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _motion_at import factory_at  # noqa: E402
from detection_corpus import FPS, SIZE, SPLITS, TARGET_COVER, Clip, Composer, Scene, Walker, _median_area, paste  # noqa: E402
from detection_quality import Watcher, score  # noqa: E402
from fresh_scenes import curtain, smooth_noise  # noqa: E402

import quickcam.detector.motion.base as base  # noqa: E402
from quickcam.common.config import MotionConfig, RecordingConfig  # noqa: E402
from quickcam.detector.motion import create_detector, shading  # noqa: E402
from quickcam.detector.motion.activity import PERSIST_SCORE, _overlap  # noqa: E402
from quickcam.detector.motion.lighting import LIGHTING_ROUGHNESS, ratio_window  # noqa: E402

SMOOTH = getattr(shading, "SMOOTH", LIGHTING_ROUGHNESS)  # the rule's limits, whichever this code has

WARM_S = 20.0  # the occluder sways this long before he comes: its place is busy
SHOWN = 0.1  # he is "out" once this share of his body shows
SWING_PX = 10  # how far the occluder's edge on his side swings (full size; 384 x 288)

Draw = Callable[[np.ndarray, int], None]


def walker_plan(c: Composer, walker: Walker, scale: float) -> tuple[list[np.ndarray], bool]:
    """His pasted masks (full size) per step, and whether he walks to the right."""
    blank = np.zeros((SIZE[1], SIZE[0]), np.uint8)
    white = np.full((SIZE[1], SIZE[0]), 255, np.uint8)
    masks = []
    for m in walker.masks:
        image = blank.copy()
        paste(image, white, m, scale)
        masks.append(image > 0)
    xs = [np.nonzero(m)[1].mean() for m in masks if m.any()]
    return masks, xs[-1] >= xs[0]


def occluder(kind: str, plate: np.ndarray, rng: np.random.Generator, first: np.ndarray,
             rightward: bool) -> tuple[Draw, list[np.ndarray]]:
    """A swaying curtain or bush over his first mask: its draw (over the walker) and, after each draw, where it hid.

    Its edge on his side swings over the place he comes out into (a hem in a
    draught, up to SWING_PX; a bush's crown swaying, with gaps between the
    leaves), so that place is busy before he comes and his first pixels
    appear in it.
    """
    ys, xs = np.nonzero(first)
    x0, x1, y0, y1 = int(xs.min()), int(xs.max()) + 1, int(ys.min()), int(ys.max()) + 1
    width, height = SIZE
    hid: list[np.ndarray] = [np.zeros((height, width), bool)]
    gx, gy = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    if not rightward:  # mirror the geometry: the occluder's swinging edge on his side
        x0, x1 = width - x1, width - x0
    if kind == "curtain":  # full height, from 40 px behind him to his near side; the hem swings past it
        left, right = max(0, x0 - 40), min(width, x1 + 2 + SWING_PX)
        base = plate if rightward else np.ascontiguousarray(plate[:, ::-1])
        cloth = curtain(base, rng, FPS, (left, 0, right - left, height))
        gust_phase = float(rng.uniform(0, 6.3))
        reach = 0.4 + 0.6 * gy / height  # the hem moves more than the rod

        def draw(image: np.ndarray, index: int) -> None:
            view = image if rightward else image[:, ::-1]
            t = index / FPS
            swing = SWING_PX * (0.5 + 0.3 * math.sin(2 * math.pi * 0.3 * t + gust_phase)
                                + 0.2 * math.sin(2 * math.pi * 0.9 * t)) * reach
            alpha = np.clip(x1 + 2 + swing - gx, 0, 1) * (gx >= left)
            drawn = view.copy()
            cloth(drawn, index)
            view[:] = (view * (1 - alpha[..., None]) + drawn * alpha[..., None]).astype(np.uint8)
            hid[0] = (alpha > 0.5) if rightward else (alpha > 0.5)[:, ::-1]

        return draw, hid
    # a bush: an ellipse of leaves a little larger than him, gaps between them, the crown swaying
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    ax, ay = (x1 - x0) / 2 + 10, (y1 - y0) / 2 + 6
    inside = (((gx - cx) / ax) ** 2 + ((gy - cy) / ay) ** 2 <= 1).astype(np.float32)
    leafy = (smooth_noise(rng, (height, width), 1.0) > -0.8).astype(np.float32)  # about a fifth is gaps
    crown = cv2.GaussianBlur(inside * leafy, (0, 0), 0.7)
    tone = 1.0 + 0.35 * smooth_noise(rng, (height, width), 1.2)
    leaves = np.clip(np.float32([40, 110, 60]) * tone[..., None], 0, 255)
    phase = float(rng.uniform(0, 6.3))

    def draw(image: np.ndarray, index: int) -> None:
        view = image if rightward else image[:, ::-1]
        t = index / FPS
        dx = SWING_PX / 2 * (math.sin(2 * math.pi * 0.45 * t + phase) + 0.4 * math.sin(2 * math.pi * 1.1 * t))
        dy = 1.5 * math.sin(2 * math.pi * 0.6 * t)
        shift = np.float32([[1, 0, dx], [0, 1, dy]])
        alpha = cv2.warpAffine(crown, shift, SIZE)
        moved = cv2.warpAffine(leaves, shift, SIZE)
        view[:] = (view * (1 - alpha[..., None]) + moved * alpha[..., None]).astype(np.uint8)
        hid[0] = (alpha > 0.5) if rightward else (alpha > 0.5)[:, ::-1]

    return draw, hid


class EmergeScene(Scene):
    """A Scene whose occluder is drawn over the walker (``sway`` under him stays as it is)."""

    cover: Draw | None = None

    def render(self, walker: Walker | None = None, step: float = 0, scale: float = 1.0) -> np.ndarray:
        if self.cover is None:
            return super().render(walker, step, scale)
        image = self._composed(walker, step, scale)
        self.cover(image, self.index)  # over the walker, before light and sensor
        return self._sensor(image)

    def _composed(self, walker: Walker | None, step: float, scale: float) -> np.ndarray:
        image = self.plate.copy()
        if walker is not None:
            whole = int(step)
            if step == whole:
                self._paste(image, walker, whole, scale)
            else:
                later = image.copy()
                self._paste(image, walker, whole, scale)
                self._paste(later, walker, min(whole + 1, len(walker.frames) - 1), scale)
                image = cv2.addWeighted(image, 1 - (step - whole), later, step - whole, 0)
        return image

    def _sensor(self, image: np.ndarray) -> np.ndarray:
        if self.floor != 1.0:
            image = (image * np.float32(self.floor)).astype(np.uint8)
        jitter = 1.0 + self.rng.uniform(-0.01, 0.01)
        lit = image.astype(np.float32) * (np.asarray(self.gain, np.float32) * jitter)
        cv2.randn(self.noise, 0, self.sigma)
        lit += self.noise
        self.index += 1
        return np.clip(lit, 0, 255).astype(np.uint8)


LIGHTS = {"day": (1.0, 1.0), "dim": (0.3, 1.0), "night": (None, 0.6)}  # gain (None: the split's dark_gain), floor
PACES = {"normal": 1.0, "slow": 1 / 3, "creeping": 1 / 6}  # "creeping": --paces only (a peek round the edge)
CLOTHES = ("own", "dark", "flat", "faint")  # his own; dark_clothes; flat_colour; one colour 1.25 x the place's


def compose(c: Composer, n: int, kind: str, light: str, pace: str, clothes: str,
            visible: list[np.ndarray]) -> Clip:
    """One clip: WARM_S of the occluder swaying, the walker coming out of it, 6 s of quiet; ``visible`` filled."""
    split = c.split
    walker = c.full_size(n)
    steps_n = min(len(walker.frames), int(6 * FPS))
    scale = min(1.0, math.sqrt(TARGET_COVER * c.frame_area / _median_area(walker, steps_n)))
    masks, rightward = walker_plan(c, walker, scale)
    scene = EmergeScene(c.plate, c.frames, split, f"emerge {kind} {light} {pace} {clothes} {n}")
    gain, floor = LIGHTS[light]
    scene.gain, scene.floor = (split.dark_gain if gain is None else gain), floor
    if clothes == "dark":
        shade = np.float32(split.dark_clothes)
        scene.dress = lambda source: (source * shade).astype(np.uint8)
    elif clothes == "flat":
        flat = np.array(split.flat_colour, np.uint8)
        scene.dress = lambda source: np.broadcast_to(flat, source.shape)
    if clothes == "faint":  # one colour a quarter brighter than the place he walks into: as faint as a person gets
        ys, xs = np.nonzero(masks[min(len(masks) - 1, steps_n // 2)])
        near = np.median(c.plate[ys, xs].astype(np.float32), axis=0) * 1.25
        flat_near = np.clip(near, 0, 255).astype(np.uint8)
        scene.dress = lambda source: np.broadcast_to(flat_near, source.shape)
    draw, hid = occluder(kind, c.plate, scene.rng, masks[0], rightward)
    scene.cover = draw
    clip = Clip(f"{kind}, {light}, {pace}, {clothes}, walker {n}", iter(()))
    steps = [k * PACES[pace] for k in range(int((steps_n - 1) / PACES[pace]) + 1)]
    body = float(np.median([m.sum() for m in masks[:steps_n]]))

    def frames():  # noqa: ANN202
        for _ in range(int(WARM_S * FPS)):
            visible.append(np.zeros(0, bool))
            yield scene.render()
        first = last = None
        for step in steps:
            frame = scene.render(walker, step, scale)
            shown = masks[min(round(step), steps_n - 1)] & ~hid[0]
            if shown.sum() >= SHOWN * body:
                first = scene.index - 1 if first is None else first
                last = scene.index - 1
            visible.append(shown)
            yield frame
        if first is not None:
            clip.people.append((first, last))
            clip.coverage.append(body / c.frame_area)
        for _ in range(int(6 * FPS)):
            visible.append(np.zeros(0, bool))
            yield scene.render()

    clip.frames = frames()
    return clip


def measure(normal: np.ndarray, reference: np.ndarray, changed_mask: np.ndarray,
            box: tuple[int, int, int, int]) -> tuple[float, float]:
    """``shading.faint_shading``'s two figures: the log ratio's detail over its departure, and the departure."""
    x, y, w, h = box
    pick = changed_mask[y:y + h, x:x + w] > 0
    if pick.sum() < 16:
        return math.inf, math.inf
    _, log_ratio, inner = ratio_window(normal, reference, box)
    departure = float(np.sqrt(np.mean(log_ratio[inner][pick] ** 2)))
    detail = float(np.std((log_ratio - cv2.GaussianBlur(log_ratio, (0, 0), 1.5))[inner][pick]))
    return detail / max(departure, 1e-9), departure


class Verdicts:
    """Records this core's still-shading verdicts on the boxes overlapping the walker's visible pixels."""

    def __init__(self, detector, visible: list[np.ndarray]) -> None:  # noqa: ANN001
        self.visible, self.index = visible, -1
        self.frames: dict[int, list[str]] = {}
        self.measured: list[tuple[float, float]] = []  # (detail / departure, departure) of his watched-for blobs
        rule = detector.shading
        judge = rule.judge

        def watched(boxes, moving, busy, normal, reference, changed_mask):  # noqa: ANN001, ANN202
            verdicts = judge(boxes, moving, busy, normal, reference, changed_mask)
            shown = self.visible[self.index] if self.index < len(self.visible) else np.zeros(0, bool)
            if shown.any():
                small = cv2.resize(shown.astype(np.uint8), (normal.shape[1], normal.shape[0]),
                                   interpolation=cv2.INTER_AREA) > 0
                for (x, y, w, h), verdict in zip(boxes, verdicts, strict=True):
                    if not small[y:y + h, x:x + w].any():
                        continue
                    if verdict:
                        self.frames.setdefault(self.index, []).append(verdict)
                    box = (x, y, w, h)
                    if (not any(_overlap(box, old) for old in moving) and busy.score(box) >= PERSIST_SCORE):
                        self.measured.append(measure(normal, reference, changed_mask, box))
            return verdicts

        rule.judge = watched

    def summary(self) -> tuple[int, int, int]:
        """Frames held, blobs learnt as shading, the longest run of frames held."""
        held = sorted(i for i, v in self.frames.items() if "held" in v)
        learnt = sum(v.count("shading") for v in self.frames.values())
        run = best = 0
        for k, i in enumerate(held):
            run = run + 1 if k and held[k - 1] == i - 1 else 1
            best = max(best, run)
        return len(held), learnt, best

    def margin(self) -> str:
        """The smoothest and the faintest of his blobs the rule looked at (busy, continuing no motion)."""
        if not self.measured:
            return "none watched"
        smooth = min(self.measured)
        faint = min(self.measured, key=lambda m: m[1])
        return (f"{len(self.measured)}: smoothest {smooth[0]:.2f} ({smooth[1]:.2f}), "
                f"faintest {faint[1]:.2f} ({faint[0]:.2f})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vs", default="a86b5aa", help="the other core's commit (default a86b5aa: before the rule)")
    parser.add_argument("--walkers", type=int, default=2, help="walkers per setting (the tune split's full-size ones)")
    parser.add_argument("--kinds", nargs="+", default=["curtain", "bush"])
    parser.add_argument("--lights", nargs="+", default=list(LIGHTS))
    parser.add_argument("--paces", nargs="+", default=["normal", "slow"])
    parser.add_argument("--clothes", nargs="+", default=list(CLOTHES))
    args = parser.parse_args(argv)
    cv2.setNumThreads(1)
    base.MotionDetector.glints = True
    other = factory_at(args.vs)
    config, recording = MotionConfig(), RecordingConfig()
    pre_roll = int(recording.pre_roll_s * FPS)
    post_roll = int(recording.post_roll_s * FPS)
    composer = Composer(SPLITS["tune"])
    print(f"| occluder, light, pace, clothes, walker | onset {args.vs} | onset here | time {args.vs} | time here "
          "| here: frames held / learnt / longest held run | his blobs watched for: detail / departure (departure) |")
    print("|---|---|---|---|---|---|---|")
    started = time.monotonic()
    onsets: dict[str, list[int]] = {"vs": [], "here": []}
    worst = [0, 0, 0]
    missed = {"vs": 0, "here": 0}
    measured: list[tuple[float, float]] = []
    for kind in args.kinds:
        for light in args.lights:
            for pace in args.paces:
                for clothes in args.clothes:
                    for n in range(args.walkers):
                        visible: list[np.ndarray] = []
                        clip = compose(composer, 3 * n + 1, kind, light, pace, clothes, visible)
                        watchers = {"vs": Watcher(config, recording, other),
                                    "here": Watcher(config, recording, create_detector)}
                        trace = Verdicts(watchers["here"].detector, visible)
                        index = -1
                        for index, frame in enumerate(clip.frames):
                            trace.index = index
                            for watcher in watchers.values():
                                watcher.feed(index, frame)
                        cells = []
                        for name, watcher in watchers.items():
                            got = score(watcher.finish(index), clip, pre_roll, post_roll)
                            if got.onsets:
                                onsets[name].append(got.onsets[0])
                            else:
                                missed[name] += got.people
                            onset = str(got.onsets[0]) if got.onsets else ("missed" if got.people else "-")
                            share = f"{got.recorded / got.frames:.2f}" if got.frames else "-"
                            cells.append((onset, share))
                        held, learnt, run = trace.summary()
                        worst = [max(worst[0], held), worst[1] + learnt, max(worst[2], run)]
                        print(f"| {clip.condition} | {cells[0][0]} | {cells[1][0]} | {cells[0][1]} | {cells[1][1]} "
                              f"| {held} / {learnt} / {run} | {trace.margin()} |", flush=True)
                        measured += [m for m in trace.measured if m[0] != math.inf]
    def med(values: list[int]) -> str:  # noqa: E306
        return f"{statistics.median(values):.0f} / {max(values)}" if values else "-"

    print(f"\n**all**: onset median / worst {args.vs} {med(onsets['vs'])}, here {med(onsets['here'])}; missed "
          f"{missed['vs']} / {missed['here']}; here: most frames held on one walker {worst[0]}, blobs learnt "
          f"{worst[1]}, longest held run {worst[2]}; his blobs watched for: {len(measured)}, "
          f"{sum(1 for d, f in measured if d < SMOOTH and f < shading.FAINT)} smooth and faint, "
          f"{sum(1 for d, f in measured if d < SMOOTH)} smooth, "
          f"{sum(1 for d, f in measured if f < shading.FAINT)} faint "
          f"({time.monotonic() - started:.0f} s wall)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
