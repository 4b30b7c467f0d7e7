"""Synthetic motion on real stills: wind in foliage, a curtain in a draught, water, cloud shadows, TV light.

Why synthetic: no registry package ships more real footage of a quiet scene
with foliage, curtains or water than OpenCV's tree.avi, and that clip was
looked at while the busy-place rules (detector/motion/activity.py) were
designed. These generators are new and share nothing with the ones the
detector was designed on (``detection_corpus.swaying_bush`` shifts one noise
patch rigidly on a sine): the pictures are real photographs from Debian's
opencv-doc (``building.jpg``, ``leuvenA.jpg``, ``squirrel_cls.jpg``,
``stuff.jpg``, ``home.jpg``), and only their motion is made, from simple
physics:

- **wind**: leaves are displaced by a smooth field (branches bending) driven
  by gusts (an Ornstein-Uhlenbeck process) and by a few natural sway modes
  whose phase varies over the crown, plus a fast small flutter per leaf
  cluster that also turns leaves (a brightness flicker);
- **curtain**: a cloth whose folds travel across it (a sum of travelling
  waves), shaded by the fold slope, billowing with the gusts, its edge opening
  a gap onto a bright window;
- **water**: the scene's reflection refracted by ripples obeying deep-water
  dispersion (omega^2 = g k), with glints where the slope catches the sky;
- **cloud shadows**: a soft, thresholded noise field drifting with the wind
  over the whole scene;
- **TV light**: the light of a television out of view on the room: a pool
  whose level cuts every few seconds, with a small flicker.

Each generator is a callable ``(image, index) -> None`` drawn on the picture
before walkers are pasted (foliage, curtain, water) or a gain field per frame
(light). All randomness comes from the ``numpy`` generator handed in.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "tests/data"
STILLS = ("building.jpg", "leuvenA.jpg", "squirrel_cls.jpg", "stuff.jpg", "home.jpg")

Draw = Callable[[np.ndarray, int], None]
Light = Callable[[int], np.ndarray | float]


def still(name: str, size: tuple[int, int]) -> np.ndarray:
    """A real photograph from opencv-doc, cropped to the aspect of ``size`` and resized to it."""
    image = cv2.imread(str(DATA / name))
    if image is None:
        raise SystemExit(f"fresh corpus: cannot read {DATA / name}; run scripts/install_test_tools.sh")
    height, width = image.shape[:2]
    want = size[0] / size[1]
    if width / height > want:
        cut = int(round(height * want))
        image = image[:, (width - cut) // 2:(width - cut) // 2 + cut]
    else:
        cut = int(round(width / want))
        image = image[(height - cut) // 2:(height - cut) // 2 + cut]
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def smooth_noise(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Gaussian-blurred white noise, scaled to unit standard deviation."""
    field = cv2.GaussianBlur(rng.standard_normal(shape).astype(np.float32), (0, 0), sigma)
    return field / max(1e-6, float(field.std()))


class Gust:
    """Wind strength over time: an Ornstein-Uhlenbeck process around ``mean`` (time constant ``tau_s``)."""

    def __init__(self, rng: np.random.Generator, fps: float, mean: float, spread: float, tau_s: float) -> None:
        self.rng, self.mean, self.spread = rng, mean, spread
        self.decay = math.exp(-1 / (tau_s * fps))
        self.value, self.index = mean, -1

    def at(self, index: int) -> float:
        while self.index < index:  # frames are asked for in order; a repeat returns the same value
            shock = self.rng.standard_normal() * self.spread * math.sqrt(1 - self.decay ** 2)
            self.value = self.mean + (self.value - self.mean) * self.decay + shock
            self.index += 1
        return max(0.0, self.value)


def foliage_mask(image: np.ndarray, region: tuple[float, float, float, float] | None = None) -> np.ndarray:
    """Where the picture is leaves: green-to-dark-green and textured, softened; ``region`` limits it (shares)."""
    hsv = cv2.cvtColor(image, cv2.COLOR_BGR2HSV)
    hue, sat, val = hsv[..., 0].astype(np.int16), hsv[..., 1], hsv[..., 2]
    green = ((hue >= 25) & (hue <= 95) & (sat >= 40)) | (val < 60)
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(np.float32)
    texture = cv2.GaussianBlur(np.abs(gray - cv2.GaussianBlur(gray, (0, 0), 2)), (0, 0), 3) > 4
    mask = (green & texture).astype(np.float32)
    if region is not None:
        height, width = mask.shape
        x0, y0, x1, y1 = region
        keep = np.zeros_like(mask)
        keep[int(y0 * height):int(y1 * height), int(x0 * width):int(x1 * width)] = 1
        mask *= keep
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    return cv2.GaussianBlur(mask, (0, 0), 2)


def wind(base: np.ndarray, rng: np.random.Generator, fps: float, mask: np.ndarray, strength: float = 1.0) -> Draw:
    """Leaves under ``mask`` moved by gusts: branches bend (smooth field), leaves flutter and turn."""
    height, width = mask.shape
    grid_x, grid_y = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    bend = smooth_noise(rng, (height, width), 18) * 0.5 + 1.0  # how far each part of the crown bends
    phase = smooth_noise(rng, (height, width), 25) * 1.2  # the sway travels over the crown
    modes = [(float(rng.uniform(0.35, 0.6)), 1.0), (float(rng.uniform(0.8, 1.3)), 0.45)]  # Hz, weight
    flutter = [smooth_noise(rng, (height, width), 1.5) for _ in range(4)]
    flutter_hz = [float(f) for f in rng.uniform(2.0, 4.0, 4)]
    gust = Gust(rng, fps, mean=1.4 * strength, spread=0.9 * strength, tau_s=3.0)
    pull = float(rng.uniform(-1, 1))  # the wind's mean direction pushes the crown one way

    def draw(image: np.ndarray, index: int) -> None:
        t = index / fps
        g = gust.at(index)
        sway = sum(w * np.sin(2 * math.pi * hz * t + phase * (n + 1)) for n, (hz, w) in enumerate(modes))
        flick = sum(f * math.sin(2 * math.pi * hz * t + n)
                    for n, (f, hz) in enumerate(zip(flutter, flutter_hz, strict=True)))
        flick *= 0.35 * (0.4 + g)
        dx = mask * (bend * g * (0.6 * pull + sway) + flick)
        dy = mask * (0.35 * bend * g * sway * 0.5 - 0.5 * flick)
        moved = cv2.remap(base, grid_x - dx, grid_y - dy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        turn = 1.0 + 0.06 * mask * np.clip(flick, -2, 2)  # leaves turning show their lighter undersides
        image[:] = np.clip(moved * turn[..., None], 0, 255).astype(np.uint8)

    return draw


def curtain(base: np.ndarray, rng: np.random.Generator, fps: float, box: tuple[int, int, int, int]) -> Draw:
    """A cloth hanging in ``box`` (x, y, w, h) before a bright window, its folds moved by a draught."""
    x, y, w, h = box
    window = np.clip(base[y:y + h, x:x + w].astype(np.float32) * 0.4 + 170, 0, 255)  # daylight behind
    weave = 1.0 + 0.05 * smooth_noise(rng, (h, w), 0.7)
    colour = np.array([175, 190, 205], np.float32)  # a light beige cloth (BGR)
    waves = [(float(rng.uniform(0.09, 0.13)), float(rng.uniform(0.15, 0.4)), float(rng.uniform(0, 6.3)), 5.0),
             (float(rng.uniform(0.2, 0.3)), float(rng.uniform(0.3, 0.7)), float(rng.uniform(0, 6.3)), 1.5)]  # k, Hz
    gust = Gust(rng, fps, mean=1.0, spread=0.7, tau_s=4.0)
    xs = np.arange(w, dtype=np.float32)
    ys = np.linspace(0, 1, h, dtype=np.float32)[:, None]  # the hem moves more than the rod

    def draw(image: np.ndarray, index: int) -> None:
        t = index / fps
        g = gust.at(index)
        # fold height and its slope: waves travelling across the cloth, larger towards the hem
        height = sum(a * np.sin(k * xs - 2 * math.pi * hz * t + p) for k, hz, p, a in waves)
        slope = sum(a * k * np.cos(k * xs - 2 * math.pi * hz * t + p) for k, hz, p, a in waves)
        reach = 0.3 + 0.7 * ys * g
        shade = 0.9 + 0.3 * np.tanh(1.5 * slope[None, :] * (0.6 + 0.4 * reach))
        shift = (height[None, :] * reach).astype(np.float32)
        gx = np.broadcast_to(xs[None, :], (h, w)) - shift
        gy = np.broadcast_to(np.arange(h, dtype=np.float32)[:, None], (h, w))
        cloth = cv2.remap(weave, gx.astype(np.float32), np.ascontiguousarray(gy), cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REFLECT)
        lit = cloth[..., None] * shade[..., None] * colour
        edge = w - 1 - (3 + 6 * g * ys * (0.5 + 0.5 * math.sin(2 * math.pi * 0.2 * t)))  # the gap at the hem
        gap = np.clip(xs[None, :] - edge, 0, 1)[..., None]
        part = lit * (1 - gap) + window * gap
        image[y:y + h, x:x + w] = np.clip(part, 0, 255).astype(np.uint8)

    return draw


def water(base: np.ndarray, rng: np.random.Generator, fps: float, top: int) -> Draw:
    """Below row ``top``, the scene's reflection on rippling water (deep-water waves, wind from one side)."""
    height, width = base.shape[:2]
    depth = height - top
    mirror = cv2.flip(base[max(0, top - depth):top], 0)
    mirror = cv2.resize(mirror, (width, depth)).astype(np.float32) * np.float32([0.75, 0.7, 0.6])
    grid_x, grid_y = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(depth, dtype=np.float32))
    waves = []
    for _ in range(12):
        length = float(rng.uniform(5, 40))  # pixels; the far water (top) is foreshortened below
        k = 2 * math.pi / length
        angle = float(rng.normal(0.3, 0.9))
        omega = math.sqrt(9.81 * k * 40) / fps * 0.6  # deep water: omega^2 = g k (scene scale folded in)
        waves.append((k * math.cos(angle), k * math.sin(angle), omega, float(rng.uniform(0, 6.3)),
                      float(rng.uniform(0.1, 0.5))))
    near = (0.3 + 0.7 * grid_y / max(1, depth - 1))  # ripples look larger close to the camera
    gust = Gust(rng, fps, mean=1.0, spread=0.5, tau_s=5.0)

    def draw(image: np.ndarray, index: int) -> None:
        g = gust.at(index)
        dy = np.zeros_like(grid_x)
        for kx, ky, omega, p, a in waves:
            dy += a * np.sin(kx * grid_x + ky * grid_y * 2.5 - omega * index + p)
        dy *= 1.6 * g * near
        moved = cv2.remap(mirror, grid_x, np.clip(grid_y + dy, 0, depth - 1), cv2.INTER_LINEAR)
        glint = np.clip((np.gradient(dy, axis=0) - 0.6) * 150, 0, 80)[..., None]  # slopes facing the sky
        image[top:] = np.clip(moved + glint, 0, 255).astype(np.uint8)

    return draw


def periodic_noise(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Like ``smooth_noise`` but tileable (smoothed in the Fourier domain), so it can drift without a seam."""
    height, width = shape
    fy, fx = np.fft.fftfreq(height)[:, None], np.fft.fftfreq(width)[None, :]
    kernel = np.exp(-2 * (math.pi * sigma) ** 2 * (fx ** 2 + fy ** 2))
    field = np.real(np.fft.ifft2(np.fft.fft2(rng.standard_normal(shape)) * kernel)).astype(np.float32)
    return field / max(1e-6, float(field.std()))


def cloud_shadows(rng: np.random.Generator, fps: float, size: tuple[int, int], depth: float = 0.35,
                  speed_px_s: float = 12.0) -> Light:
    """Shadows of clouds drifting over the scene: a soft-edged, thresholded noise field moved by the wind."""
    width, height = size
    sky = periodic_noise(rng, (height * 2, width * 2), 30)
    cover = np.clip((sky - 0.3) * 1.5, 0, 1)
    cover = np.tile(cover, (2, 2))  # a window of the size of the frame anywhere in one period stays inside
    angle = float(rng.uniform(0, 2 * math.pi))
    vx, vy = math.cos(angle) * speed_px_s / fps, math.sin(angle) * speed_px_s / fps

    def gain(index: int) -> np.ndarray:
        ox = int(vx * index) % (width * 2)
        oy = int(vy * index) % (height * 2)
        shade = cover[oy:oy + height, ox:ox + width]
        return (1.0 - depth * shade)[..., None].astype(np.float32)

    return gain


def tv_light(rng: np.random.Generator, fps: float, size: tuple[int, int], side: float = 0.0) -> Light:
    """A television out of view, lighting the room from ``side`` (share of width): cuts every 1-6 s, flicker."""
    width, height = size
    xs, ys = np.meshgrid(np.arange(width) / width, np.arange(height) / height)
    pool = np.exp(-((xs - side) ** 2 / (2 * 0.45 ** 2) + (ys - 0.5) ** 2 / (2 * 0.6 ** 2))).astype(np.float32)
    tint = np.float32([1.0, 0.93, 0.85])  # the screen's light is bluish
    state = {"until": -1, "level": 0.1}

    def gain(index: int) -> np.ndarray:
        if index >= state["until"]:
            state["until"] = index + int(rng.uniform(1, 6) * fps)
            state["level"] = float(rng.uniform(0.04, 0.3))
        level = state["level"] * (1 + 0.08 * float(rng.standard_normal()))
        return 1.0 + level * pool[..., None] * tint

    return gain
