"""A labelled detection corpus composed from real footage, split into a tune part and a held-out part.

The only real footage of people that a registry package ships is OpenCV's
``vtest.avi`` (Debian's opencv-doc; ``scripts/install_test_tools.sh``
extracts it into ``tests/data/``): a fixed camera over a pavement, 768x576 at
10 fps, with someone always in view. Its pedestrians are cut out (difference
with the scene's median plate, followed frame to frame) and pasted, one at a
time, onto the empty plate, so the truth is known frame by frame. Each
*condition* below then renders that scene through a deterministic transform
(seeded noise, lighting gain fields, a camera model) at 384x288, 10 fps.

The split (``SPLITS``), so that the defaults are never judged on what they
were tuned on:

- **tune**: the pedestrians of the video's first 40 s, the scene as filmed,
  seed 1, and one set of condition parameters (dark at 8 %, lamp on the right,
  steps x1.5 / x0.6, ...);
- **held-out**: the pedestrians of the last 40 s, the scene mirrored left to
  right, seed 2, and other parameters (dark at 5 %, lamp top-left, a door
  opening onto a lit corridor, steps x1.8 / x0.45, ...).

Every condition is a clip of its own: a warm-up, quiet stretches (for false
events per hour), lighting changes with no one in view (for false events per
change) and walkers (for recall, onset and share of people-time recorded).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

FPS = 10.0
SIZE = (384, 288)  # width, height
REPO = Path(__file__).resolve().parent.parent
VIDEO = REPO / "tests/data/vtest.avi"
TREE = REPO / "tests/data/tree.avi"  # a real tree swaying outside a window (opencv-doc), no people


@dataclass(frozen=True)
class Split:
    name: str
    frames: tuple[int, int]  # which part of vtest.avi the pedestrians come from
    mirror: bool
    seed: int
    dark_gain: float  # brightness of the dark condition, share of normal
    steps: tuple[float, ...]  # global light steps, each relative to normal light
    lamp_centre: tuple[float, float]  # a lamp's centre, share of width and height
    lamp_gain: float
    door: bool  # the partial change also opens a door onto a lit corridor
    fade_to: float
    ir_gain: float  # the IR picture's contrast against the colour one
    jpeg_quality: int
    shake_px: int
    small_scale: float  # walkers shrunk by this for the small-people condition
    # the burglar's conditions (issue 13's second round)
    sneak_s: tuple[float, ...] = (30.0,)  # how long each sneaking walker takes over his track, seconds
    linger_s: tuple[float, ...] = (15.0,)  # how long each lingering walker stays (nearly) still, seconds
    dark_clothes: float = 0.4  # a dark-clothed walker's colours, share of the real ones (on a floor at 60 %)
    flat_colour: tuple[int, int, int] = (70, 60, 55)  # a uniformly dressed walker (BGR)
    flat_step: float = 1.4  # the light step a flat walker comes in during or just after
    curtain_x: float = 0.74  # where the curtain hangs (share of the width); it covers a quarter of the frame
    curtain_cover: float = 0.0025  # share of the frame the small walker before the curtain covers


SPLITS = {
    "tune": Split("tune", (0, 400), False, 1, 0.08, (1.5, 1.0, 0.6, 1.0), (0.8, 0.5), 1.7, False, 0.2, 1.3,
                  25, 1, 0.75, sneak_s=(25.0, 40.0), linger_s=(12.0, 20.0), dark_clothes=0.4,
                  flat_colour=(70, 60, 55), flat_step=1.4, curtain_x=0.74, curtain_cover=0.0025),
    "held-out": Split("held-out", (400, 795), True, 2, 0.05, (1.8, 1.0, 0.45, 1.0, 1.3, 1.0), (0.25, 0.3), 2.0,
                      True, 0.12, 0.8, 15, 2, 0.6, sneak_s=(30.0, 55.0), linger_s=(15.0, 28.0), dark_clothes=0.3,
                      flat_colour=(95, 80, 150), flat_step=0.65, curtain_x=0.05, curtain_cover=0.0018),
}
TARGET_COVER = 0.005  # issue 13: a person covering 0.5 % of the frame (across a garden)


@dataclass
class Walker:
    frames: list[int]  # source frame per step
    masks: list[np.ndarray]  # bool, SIZE


@dataclass
class Clip:
    """One condition's frames and truth; ``frames`` is a generator made once."""

    condition: str
    frames: Iterator[np.ndarray]
    people: list[tuple[int, int]] = field(default_factory=list)  # [first, last] frame of each walker
    changes: list[int] = field(default_factory=list)  # frames where a lighting change begins
    quiet_frames: int = 0  # frames with no one and no lighting change nearby
    coverage: list[float] = field(default_factory=list)  # median share of the frame each walker covers
    warmup: int = 0  # first frames, where the detector first learns the place: an event begun there is a start-up


def load_video(path: Path = VIDEO, every: float = 1.0, limit: int | None = None) -> list[np.ndarray]:
    """The video's frames at SIZE; ``every`` > 1 keeps one frame in that many (a higher frame rate)."""
    capture = cv2.VideoCapture(str(path))
    frames, index, keep = [], 0, 0.0
    while limit is None or len(frames) < limit:
        ok, frame = capture.read()
        if not ok:
            break
        index += 1
        if index - 1 < keep:
            continue
        keep += every
        frames.append(cv2.resize(frame, SIZE, interpolation=cv2.INTER_AREA))
    capture.release()
    if not frames:
        raise SystemExit(f"detection corpus: cannot read {path}; run scripts/install_test_tools.sh")
    return frames


def plate_of(frames: list[np.ndarray]) -> np.ndarray:
    """The empty scene: the per-pixel median (someone is always in view, never in the same place)."""
    return np.median(np.stack(frames[::2]), axis=0).astype(np.uint8)


def foreground(frame: np.ndarray, plate: np.ndarray) -> np.ndarray:
    diff = cv2.absdiff(cv2.GaussianBlur(frame, (3, 3), 0), cv2.GaussianBlur(plate, (3, 3), 0)).max(axis=2)
    mask = (diff > 30).astype(np.uint8)
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    return cv2.dilate(mask, np.ones((5, 5), np.uint8))


def walker_tracks(frames: list[np.ndarray], plate: np.ndarray, first: int = 0, min_len: int = 20) -> list[Walker]:
    """Pedestrians followed frame to frame by overlapping blobs (greedy, good enough to label)."""
    open_tracks: list[tuple[Walker, tuple[int, int, int, int]]] = []
    done: list[Walker] = []
    for index in range(first, len(frames)):
        mask = foreground(frames[index], plate)
        count, labels, stats, _ = cv2.connectedComponentsWithStats(mask)
        blobs = [(labels == i, tuple(int(v) for v in stats[i, :4])) for i in range(1, count) if stats[i, 4] >= 150]
        still_open, used = [], set()
        for track, (x, y, w, h) in open_tracks:
            best = next((j for j, (_, (bx, by, bw, bh)) in enumerate(blobs) if j not in used
                         and bx < x + w + 4 and x < bx + bw + 4 and by < y + h + 4 and y < by + bh + 4), None)
            if best is None:
                if len(track.frames) >= min_len:
                    done.append(track)
                continue
            used.add(best)
            track.frames.append(index)
            track.masks.append(blobs[best][0])
            still_open.append((track, blobs[best][1]))
        still_open.extend((Walker([index], [m]), box) for j, (m, box) in enumerate(blobs) if j not in used)
        open_tracks = still_open
    done.extend(t for t, _ in open_tracks if len(t.frames) >= min_len)
    return sorted(done, key=lambda t: t.frames[0])


class Scene:
    """Renders frames of one condition: plate + walker -> camera -> light -> sensor -> codec."""

    def __init__(self, plate: np.ndarray, source: list[np.ndarray], split: Split, condition: str) -> None:
        self.plate, self.source, self.split = plate, source, split
        seed = split.seed * 1000 + sum(map(ord, condition))
        self.rng = np.random.default_rng(seed)
        cv2.setRNGSeed(seed)
        self.noise = np.empty(plate.shape, np.int16)
        self.index = 0
        self.gain: np.ndarray | float = 1.0
        self.sigma = 3.0
        self.gray = False  # IR: the picture turns gray
        self.jpeg = 0
        self.shake = 0
        self.sway: Callable[[np.ndarray, int], None] | None = None
        self.backdrop: list[np.ndarray] | None = None  # real footage played instead of the plate
        self.dress: Callable[[np.ndarray], np.ndarray] | None = None  # the walker's pixels, re-coloured
        self.floor = 1.0  # the scene's own brightness under any light (a dark room: under 1)

    def render(self, walker: Walker | None = None, step: float = 0, scale: float = 1.0) -> np.ndarray:
        """One frame; a fractional ``step`` blends the walker's two nearest frames (a slowed walk, no stutter)."""
        if self.backdrop is not None:  # played forwards and backwards: no jump cut
            period = 2 * len(self.backdrop) - 2
            at = self.index % period
            image = self.backdrop[at if at < len(self.backdrop) else period - at].copy()
        else:
            image = self.plate.copy()
        if self.sway is not None:
            self.sway(image, self.index)
        if self.floor != 1.0:
            image = (image * np.float32(self.floor)).astype(np.uint8)
        if walker is not None:
            whole = int(step)
            if step == whole:
                self._paste(image, walker, whole, scale)
            else:  # a slowed walk: the two nearest frames, blended
                later = image.copy()
                self._paste(image, walker, whole, scale)
                self._paste(later, walker, min(whole + 1, len(walker.frames) - 1), scale)
                image = cv2.addWeighted(image, 1 - (step - whole), later, step - whole, 0)
        if self.shake:
            dx, dy = (int(v) for v in self.rng.integers(-self.shake, self.shake + 1, 2))
            image = cv2.warpAffine(image, np.float32([[1, 0, dx], [0, 1, dy]]), SIZE, borderMode=cv2.BORDER_REFLECT)
        if self.gray:
            gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(np.float32)
            gray = (gray - 110) * self.split.ir_gain + 120
            image = cv2.cvtColor(np.clip(gray, 0, 255).astype(np.uint8), cv2.COLOR_GRAY2BGR)
        jitter = 1.0 + self.rng.uniform(-0.01, 0.01)
        lit = image.astype(np.float32) * (np.asarray(self.gain, np.float32) * jitter)
        cv2.randn(self.noise, 0, self.sigma)
        lit += self.noise
        out = np.clip(lit, 0, 255).astype(np.uint8)
        if self.jpeg:
            _, data = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, self.jpeg])
            out = cv2.imdecode(data, cv2.IMREAD_COLOR)
        self.index += 1
        return out

    def _paste(self, image: np.ndarray, walker: Walker, step: int, scale: float) -> None:
        source = self.source[walker.frames[step]]
        paste(image, source if self.dress is None else self.dress(source), walker.masks[step], scale)


def paste(image: np.ndarray, source: np.ndarray, mask: np.ndarray, scale: float) -> None:
    """The walker's pixels of ``source`` onto ``image``; shrunk by ``scale`` about the mask's foot."""
    if scale == 1.0:
        image[mask] = source[mask]
        return
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return
    x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
    w, h = max(1, round((x1 - x0) * scale)), max(1, round((y1 - y0) * scale))
    crop = cv2.resize(source[y0:y1, x0:x1], (w, h), interpolation=cv2.INTER_AREA)
    small = cv2.resize(mask[y0:y1, x0:x1].astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST) > 0
    tx, ty = x0 + ((x1 - x0) - w) // 2, y1 - h  # keep the feet where they were
    image[ty:ty + h, tx:tx + w][small] = crop[small]


def lamp_field(split: Split, on: float) -> np.ndarray:
    """A lamp lighting part of the room: a smooth pool of light, ``on`` from 0 (off) to 1."""
    width, height = SIZE
    cx, cy = split.lamp_centre
    xs, ys = np.meshgrid(np.arange(width) / width, np.arange(height) / height)
    pool = np.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * 0.18 ** 2))
    return (1 + on * (split.lamp_gain - 1) * pool).astype(np.float32)[..., None]


def door_field(split: Split, open_share: float) -> np.ndarray:
    """A door opening onto a lit corridor: a wedge of light with a soft edge, on the floor."""
    width, height = SIZE
    xs, ys = np.meshgrid(np.arange(width) / width, np.arange(height) / height)
    edge = 0.55 + 0.35 * open_share * (ys - 0.3)  # the wedge widens towards the bottom
    inside = np.clip((xs - (1 - edge)) / 0.04 + 0.5, 0, 1) * np.clip((ys - 0.3) / 0.05, 0, 1)
    if split.mirror:
        inside = inside[:, ::-1]
    return (1 + 1.2 * open_share * inside).astype(np.float32)[..., None]


def swaying_bush(plate: np.ndarray, rng: np.random.Generator) -> Callable[[np.ndarray, int], None]:
    """A patch of the scene (about 1.5 % of the frame) swaying a few pixels, period 1.3 s."""
    height, width = plate.shape[:2]
    bw, bh = width // 9, height // 9
    x, y = int(rng.integers(0, width - bw - 8)), int(rng.integers(0, height // 3))
    leaves = cv2.GaussianBlur(plate[y:y + bh, x:x + bw], (3, 3), 0)
    texture = np.clip(leaves.astype(np.int16) + rng.integers(-40, 40, leaves.shape), 0, 255).astype(np.uint8)

    def draw(image: np.ndarray, index: int) -> None:
        shift = round(3 * math.sin(2 * math.pi * index / (1.3 * FPS)))
        image[y:y + bh, x + 4 + shift:x + 4 + shift + bw] = texture

    return draw


class Composer:
    """The clips of one split, one per condition, in a fixed order."""

    def __init__(self, split: Split, video: Path = VIDEO, limit: int | None = None,
                 loaded: tuple[list[np.ndarray], np.ndarray] | None = None) -> None:
        """``loaded``: the video's frames and their plate (``load_video``, ``plate_of``) made once for several
        splits (tests: 5 s of the 9 s a composer takes); neither is changed here."""
        frames, plate = loaded if loaded is not None else (None, None)
        if frames is None:
            frames = load_video(video, limit=limit)  # limit: the first frames only (a fast test)
            plate = plate_of(frames)
        self.split = split
        first, last = split.frames
        self.walkers = [w for w in walker_tracks(frames[:last], plate, first) if w.frames[0] >= first]
        if split.mirror:
            frames = [f[:, ::-1].copy() for f in frames]
            plate = plate[:, ::-1].copy()
            for walker in self.walkers:
                walker.masks = [m[:, ::-1].copy() for m in walker.masks]
        self.frames, self.plate = frames, plate
        self.frame_area = SIZE[0] * SIZE[1]

    def conditions(self) -> list[str]:
        return list(CONDITIONS)

    def clip(self, condition: str) -> Clip:
        clip = Clip(condition, iter(()))
        clip.frames = CONDITIONS[condition](self, Scene(self.plate, self.frames, self.split, condition), clip)
        return clip

    def full_size(self, n: int) -> Walker:
        """The ``n``-th walker (round the list) of those covering at least TARGET_COVER of the frame."""
        large = [w for w in self.walkers if _median_area(w, len(w.frames)) >= TARGET_COVER * self.frame_area]
        return large[n % len(large)]

    # -- building blocks (generators that also fill the clip's truth) ------------
    def _quiet(self, scene: Scene, clip: Clip, seconds: float, count: bool = True) -> Iterator[np.ndarray]:
        for _ in range(int(seconds * FPS)):
            if count:
                clip.quiet_frames += 1
            yield scene.render()

    def _walkers(self, scene: Scene, clip: Clip, count: int, offset: int = 0, scale: float = 1.0,
                 gap_s: float = 6.0, during: Callable[[int], None] | None = None,
                 cover: float | None = None) -> Iterator[np.ndarray]:
        """``count`` walkers one after the other (at most 6 s each), ``gap_s`` of quiet between.

        ``cover``: each walker shrunk to cover that share of the frame (median), instead of ``scale``.
        """
        for n in range(count):
            walker = self.walkers[(offset + n * 3) % len(self.walkers)] if cover is None else self.full_size(offset + n)
            steps = min(len(walker.frames), int(6 * FPS))
            if cover is not None:
                scale = min(1.0, math.sqrt(cover * self.frame_area / _median_area(walker, steps)))
            start = scene.index
            for step in range(steps):
                if during is not None:
                    during(step)
                yield scene.render(walker, step, scale)
            clip.people.append((start, scene.index - 1))
            clip.coverage.append(float(np.median([m.sum() for m in walker.masks[:steps]])) * scale * scale
                                 / self.frame_area)
            yield from self._quiet(scene, clip, gap_s, count=False)

    def _paced(self, scene: Scene, clip: Clip, walker: Walker, steps: list[float]) -> Iterator[np.ndarray]:
        """One walker through the (fractional) steps of his track given, then 6 s of quiet."""
        start = scene.index
        for step in steps:
            yield scene.render(walker, step)
        clip.people.append((start, scene.index - 1))
        clip.coverage.append(_median_area(walker, len(walker.frames)) / self.frame_area)
        yield from self._quiet(scene, clip, 6.0, count=False)

    def _change(self, scene: Scene, clip: Clip, gains: list, hold_s: float = 12.0) -> Iterator[np.ndarray]:
        clip.changes.append(scene.index)
        for gain in gains:
            scene.gain = gain
            yield scene.render()
        yield from self._quiet(scene, clip, hold_s, count=False)


Condition = Callable[[Composer, Scene, Clip], Iterator[np.ndarray]]


def _median_area(walker: Walker, steps: int) -> float:
    return max(1.0, float(np.median([m.sum() for m in walker.masks[:steps]])))


def _day(c: Composer, s: Scene, clip: Clip) -> Iterator[np.ndarray]:
    yield from c._quiet(s, clip, 10, count=False)
    yield from c._quiet(s, clip, 60)
    yield from c._walkers(s, clip, 6)
    yield from c._quiet(s, clip, 180)  # for false events per hour of quiet


def _small(c: Composer, s: Scene, clip: Clip) -> Iterator[np.ndarray]:
    yield from c._quiet(s, clip, 10, count=False)
    yield from c._walkers(s, clip, 6, offset=1, scale=c.split.small_scale)
    yield from c._quiet(s, clip, 30)


def _dark(c: Composer, s: Scene, clip: Clip) -> Iterator[np.ndarray]:
    """Lights off, walkers in near-darkness (sensor noise unchanged), lights on again."""
    yield from c._quiet(s, clip, 10, count=False)
    yield from c._change(s, clip, [c.split.dark_gain])
    yield from c._quiet(s, clip, 30)
    yield from c._walkers(s, clip, 5, offset=2)
    yield from c._change(s, clip, [1.0])


def _steps(c: Composer, s: Scene, clip: Clip) -> Iterator[np.ndarray]:
    yield from c._quiet(s, clip, 10, count=False)
    for gain in c.split.steps:
        yield from c._change(s, clip, [gain])
    for gain in (1.25, 1.0):  # a ramp over 2 s and back
        start = float(np.mean(s.gain))
        yield from c._change(s, clip, list(np.linspace(start, gain, int(2 * FPS))))


def _partial(c: Composer, s: Scene, clip: Clip) -> Iterator[np.ndarray]:
    yield from c._quiet(s, clip, 10, count=False)
    yield from c._change(s, clip, [lamp_field(c.split, 1.0)])
    yield from c._change(s, clip, [1.0])
    yield from c._change(s, clip, [lamp_field(c.split, 0.5)])
    yield from c._change(s, clip, [1.0])
    if c.split.door:
        yield from c._change(s, clip, [door_field(c.split, k / 10) for k in range(1, 11)])
        yield from c._change(s, clip, [door_field(c.split, k / 10) for k in range(9, -1, -1)])


def _fade(c: Composer, s: Scene, clip: Clip) -> Iterator[np.ndarray]:
    yield from c._quiet(s, clip, 10, count=False)
    to = c.split.fade_to
    yield from c._change(s, clip, list(np.geomspace(1.0, to, int(20 * FPS))))
    yield from c._change(s, clip, list(np.geomspace(to, 1.0, int(20 * FPS))))


def _ir(c: Composer, s: Scene, clip: Clip) -> Iterator[np.ndarray]:
    yield from c._quiet(s, clip, 10, count=False)
    s.gray = True
    yield from c._change(s, clip, [1.0])
    yield from c._walkers(s, clip, 3, offset=3)
    s.gray = False
    yield from c._change(s, clip, [1.0])


def _ramp_walker(c: Composer, s: Scene, clip: Clip) -> Iterator[np.ndarray]:
    """A walker enters while the light ramps up (or a lamp comes on); the change itself is not counted."""
    yield from c._quiet(s, clip, 10, count=False)
    ramps = [np.linspace(1.0, 1.6, 20), np.linspace(1.6, 1.0, 20)]

    def during(ramp: np.ndarray) -> Callable[[int], None]:
        def set_gain(step: int) -> None:
            s.gain = float(ramp[min(step, len(ramp) - 1)])
        return set_gain

    for n, ramp in enumerate(ramps * 2):
        yield from c._walkers(s, clip, 1, offset=n, during=during(ramp))
    lamp = [lamp_field(c.split, k / 10) for k in range(11)]
    yield from c._walkers(s, clip, 1, offset=4, during=lambda step: setattr(s, "gain", lamp[min(step, 10)]))
    yield from c._change(s, clip, [1.0], hold_s=10)  # the lamp goes off again


def _noise(c: Composer, s: Scene, clip: Clip) -> Iterator[np.ndarray]:
    s.sigma = 12.0
    yield from c._quiet(s, clip, 10, count=False)
    yield from c._quiet(s, clip, 60)
    yield from c._walkers(s, clip, 4, offset=5)


def _compression(c: Composer, s: Scene, clip: Clip) -> Iterator[np.ndarray]:
    s.jpeg = c.split.jpeg_quality
    yield from c._quiet(s, clip, 10, count=False)
    yield from c._quiet(s, clip, 40)
    yield from c._walkers(s, clip, 3, offset=6)


def _shake(c: Composer, s: Scene, clip: Clip) -> Iterator[np.ndarray]:
    s.shake = c.split.shake_px
    yield from c._quiet(s, clip, 10, count=False)
    yield from c._quiet(s, clip, 40)
    yield from c._walkers(s, clip, 3, offset=7)


def _sway(c: Composer, s: Scene, clip: Clip) -> Iterator[np.ndarray]:
    s.sway = swaying_bush(c.plate, s.rng)
    yield from c._quiet(s, clip, 10, count=False)
    yield from c._quiet(s, clip, 40)
    yield from c._walkers(s, clip, 3, offset=8)


def _trees(c: Composer, s: Scene, clip: Clip) -> Iterator[np.ndarray]:
    """Real footage of a tree in the wind (tests/data/tree.avi), filling the frame; no one in view."""
    if not TREE.exists():
        return
    s.backdrop = load_video(TREE, every=1.5)  # 15 fps to 10
    if c.split.mirror:
        s.backdrop = [f[:, ::-1].copy() for f in s.backdrop]
    yield from c._quiet(s, clip, 10, count=False)
    yield from c._quiet(s, clip, 60)


def _walker_before_trees(c: Composer, s: Scene, clip: Clip) -> Iterator[np.ndarray]:
    """Walkers pasted over the real swaying tree: motion in a busy place must still be seen."""
    if not TREE.exists():
        return
    s.backdrop = load_video(TREE, every=1.5)
    if c.split.mirror:
        s.backdrop = [f[:, ::-1].copy() for f in s.backdrop]
    yield from c._quiet(s, clip, 20, count=False)  # long enough for the tree to be known as busy
    yield from c._walkers(s, clip, 3, offset=9, gap_s=8.0)


# -- a burglar's conditions: slow, still, dark, small, flat, before a curtain ------------------------------------


def _sneaking(c: Composer, s: Scene, clip: Clip) -> Iterator[np.ndarray]:
    """Walkers slowed down to cross in ``sneak_s`` (20-60 s): does the background absorb them?"""
    yield from c._quiet(s, clip, 10, count=False)
    for n, seconds in enumerate(c.split.sneak_s):
        walker = c.full_size(2 + 5 * n)
        last = len(walker.frames) - 1
        count = int(seconds * FPS)
        yield from c._paced(s, clip, walker, [last * k / (count - 1) for k in range(count)])


def _lingering(c: Composer, s: Scene, clip: Clip) -> Iterator[np.ndarray]:
    """Walk in, stay nearly still for ``linger_s`` (a drawer searched: the body sways by half a step), walk out."""
    yield from c._quiet(s, clip, 10, count=False)
    for n, seconds in enumerate(c.split.linger_s):
        walker = c.full_size(4 + 5 * n)
        middle = len(walker.frames) // 2
        still = [middle + 0.5 * math.sin(2 * math.pi * k / (2.5 * FPS)) for k in range(int(seconds * FPS))]
        yield from c._paced(s, clip, walker, list(range(middle)) + still + list(range(middle, len(walker.frames))))


def _dark_clothes(c: Composer, s: Scene, clip: Clip) -> Iterator[np.ndarray]:
    """A dark room (the floor at 60 %) at night (``dark_gain``, sensor noise), walkers in dark clothes."""
    s.floor = 0.6
    clothes = np.float32(c.split.dark_clothes)
    s.dress = lambda source: (source * clothes).astype(np.uint8)
    yield from c._quiet(s, clip, 10, count=False)
    yield from c._change(s, clip, [c.split.dark_gain])
    yield from c._quiet(s, clip, 30)
    yield from c._walkers(s, clip, 4, offset=10)


def _small_dark(c: Composer, s: Scene, clip: Clip) -> Iterator[np.ndarray]:
    """Walkers covering 0.5 % of the frame (across a garden), at night."""
    yield from c._quiet(s, clip, 10, count=False)
    yield from c._change(s, clip, [c.split.dark_gain])
    yield from c._quiet(s, clip, 30)
    yield from c._walkers(s, clip, 4, offset=11, cover=TARGET_COVER)


def _small_noise(c: Composer, s: Scene, clip: Clip) -> Iterator[np.ndarray]:
    """Walkers covering 0.5 % of the frame in heavy sensor noise."""
    s.sigma = 12.0
    yield from c._quiet(s, clip, 10, count=False)
    yield from c._quiet(s, clip, 30)
    yield from c._walkers(s, clip, 4, offset=12, cover=TARGET_COVER)


def _flat_after_light(c: Composer, s: Scene, clip: Clip) -> Iterator[np.ndarray]:
    """Uniformly dressed walkers coming in while the light steps (``flat_step`` and back) or 1 s after it."""
    flat = np.array(c.split.flat_colour, np.uint8)

    def dress(source: np.ndarray) -> np.ndarray:
        return np.broadcast_to(flat, source.shape)

    s.dress = dress
    yield from c._quiet(s, clip, 10, count=False)
    for n, gain in enumerate((c.split.flat_step, 1.0, c.split.flat_step, 1.0)):
        if n % 2 == 0:  # the light steps as the walker comes in (his 5th frame)
            clip.changes.append(s.index + 5)
            yield from c._walkers(s, clip, 1, offset=13 + n, during=lambda step, g=gain: _step_at(s, step, 5, g))
        else:  # the light steps, and 1 s later a walker comes in
            clip.changes.append(s.index)
            s.gain = gain
            yield from c._quiet(s, clip, 1.0, count=False)
            yield from c._walkers(s, clip, 1, offset=13 + n)
        yield from c._quiet(s, clip, 6.0, count=False)


def _step_at(scene: Scene, step: int, at: int, gain: float) -> None:
    if step == at:
        scene.gain = gain


def _small_before_curtain(c: Composer, s: Scene, clip: Clip) -> Iterator[np.ndarray]:
    """A curtain in a draught over a quarter of the frame; small walkers (``curtain_cover``) pass before the room."""
    from fresh_scenes import curtain  # noqa: PLC0415 (bench/fresh_scenes.py, section 7c's curtain)

    width, height = SIZE
    s.sway = curtain(c.plate, s.rng, FPS, (int(width * c.split.curtain_x), 0, int(width * 0.26), height))
    yield from c._quiet(s, clip, 20, count=False)  # long enough for the curtain to be known as busy
    yield from c._quiet(s, clip, 30)
    yield from c._walkers(s, clip, 4, offset=14, cover=c.split.curtain_cover)


CONDITIONS: dict[str, Condition] = {
    "day": _day, "small people": _small, "dark": _dark, "light steps": _steps, "partial light": _partial,
    "fades": _fade, "IR switch": _ir, "walker during a ramp": _ramp_walker, "heavy noise": _noise,
    "compression": _compression, "shake": _shake, "swaying bush": _sway,
    "trees (real footage)": _trees, "walker before trees": _walker_before_trees,
    "sneaking walker": _sneaking, "lingering walker": _lingering, "dark clothes at night": _dark_clothes,
    "small at night": _small_dark, "small in heavy noise": _small_noise,
    "flat walker and a light step": _flat_after_light, "small before a curtain": _small_before_curtain,
}
