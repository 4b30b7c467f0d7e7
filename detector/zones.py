"""Zones: which part of a camera's picture is watched.

A zone mask is a uint8 image at detection size, 255 where motion counts and 0
where it is ignored. It is built once per frame size from the camera's
``[cameras.zones]``: include polygons (none = the whole frame), minus exclude
polygons, and with an optional mask image (white = watched) on top.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from quickcam.common.config import Point, ZonesConfig


class ZoneError(Exception):
    """A zone cannot be built (an unreadable mask image, a zone that watches nothing)."""


def _pixels(polygon: list[Point], width: int, height: int) -> np.ndarray:
    points = [(round(x * (width - 1)), round(y * (height - 1))) for x, y in polygon]
    return np.array(points, dtype=np.int32).reshape(-1, 1, 2)


def load_mask_image(path: Path) -> np.ndarray:
    """A mask image as gray levels; raises ZoneError naming the file if it cannot be read."""
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise ZoneError(f"zone mask image {path} cannot be read (missing, or not an image)")
    return image


def build_zone_mask(zones: ZonesConfig, width: int, height: int,
                    mask_image: np.ndarray | None = None) -> np.ndarray | None:
    """The watched area at ``width`` x ``height``, or None when the whole frame is watched."""
    if not zones.include and not zones.exclude and zones.mask is None:
        return None
    if zones.include:
        mask = np.zeros((height, width), np.uint8)
        cv2.fillPoly(mask, [_pixels(p, width, height) for p in zones.include], 255)
    else:
        mask = np.full((height, width), 255, np.uint8)
    if zones.exclude:
        cv2.fillPoly(mask, [_pixels(p, width, height) for p in zones.exclude], 0)
    if zones.mask is not None:
        image = mask_image if mask_image is not None else load_mask_image(zones.mask)
        image = cv2.resize(image, (width, height), interpolation=cv2.INTER_NEAREST)
        mask[image < 128] = 0
    if not mask.any():
        raise ZoneError("the zones leave nothing of the picture to watch; check include/exclude/mask")
    return mask
