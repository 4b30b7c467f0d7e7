"""Decoding only what detection needs: a small full-range gray picture, and the full one kept compact.

Detection works on gray pictures some 160 pixels wide; decoding every frame of
a camera to full-size BGR for it is most of what watching costs. So:

- a decoded video frame's luma (Y) plane is used as it is, halved with 2x2
  means (the cheap exact case of an area resize) towards the detection size,
  and stretched from video's limited range (16-235) to full-range gray;
- an MJPEG frame is decoded at 1/2-1/8 scale straight to gray (libjpeg's
  reduced decode) and kept as its JPEG bytes (``Jpeg``);
- a BGR frame of a source that must be re-encoded (the demo, a USB camera) is
  kept as YUV 4:2:0 (``compact``): half the bytes in the pre-roll, and the
  encoder takes it without a conversion.

The full picture is made only for the frames that need it: a snapshot, a face
search, a frame being re-encoded (``Frame.bgr()``, ``Frame.gray()``).
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from quickcam.detector.sources import Frame

# Video's luma is "limited range" (black 16, white 235); detection's thresholds are in full-range gray.
LIMITED_TO_FULL = np.clip((np.arange(256) - 16) * 255 / 219 + 0.5, 0, 255).astype(np.uint8)


def halve_towards(luma: np.ndarray, detection_width: int, limited: bool = True) -> tuple[np.ndarray, int]:
    """``luma`` halved (2x2 means, the cheap exact case of an area resize) while it stays at least twice
    the detection width, and by how much; a limited-range luma is stretched to full-range gray (what
    ``COLOR_BGR2GRAY`` gives), so detection's thresholds mean what they meant on BGR frames. Detection's
    own area resize then gives the same picture as from the full frame, for a fraction of the cost."""
    scale = 1
    while luma.shape[1] >= 4 * detection_width and luma.shape[1] % 2 == 0 and luma.shape[0] % 2 == 0:
        luma = cv2.resize(luma, (luma.shape[1] // 2, luma.shape[0] // 2), interpolation=cv2.INTER_AREA)
        scale *= 2
    return (cv2.LUT(luma, LIMITED_TO_FULL) if limited else luma), scale


def compact(frame: Frame, detection_width: int) -> Frame:
    """A BGR frame kept as YUV 4:2:0 (half the bytes: the pre-roll of a source that must be re-encoded),
    with its luma, halved towards the detection size, for detection. Odd sizes stay BGR."""
    image = frame.image
    if image.ndim != 3 or image.shape[0] % 2 or image.shape[1] % 2:
        return frame
    i420 = cv2.cvtColor(image, cv2.COLOR_BGR2YUV_I420)
    luma, scale = halve_towards(i420[:image.shape[0]], detection_width)
    return Frame(luma, frame.time_ns, frame.index, i420, scale)


class Jpeg:
    """An MJPEG frame kept as its JPEG bytes (a tenth of the raw picture, for the pre-roll)."""

    def __init__(self, data: bytes, width: int, height: int) -> None:
        self.data, self.width, self.height = data, width, height

    def to_ndarray(self, format: str = "bgr24") -> np.ndarray:  # noqa: A002 - PyAV's VideoFrame signature
        """The full picture, decoded now (BGR)."""
        if format != "bgr24":
            raise ValueError(f"a JPEG frame gives bgr24, not {format}")
        image = cv2.imdecode(np.frombuffer(self.data, np.uint8), cv2.IMREAD_COLOR)
        if image is None:
            raise ValueError("a JPEG frame of the pre-roll does not decode")
        return image


def shrink_luma(frame: Any, detection_width: int) -> tuple[np.ndarray, int]:
    """The Y plane of a decoded frame (no copy), halved towards the detection size (``halve_towards``)."""
    plane = frame.planes[0]
    luma = np.frombuffer(plane, np.uint8).reshape(frame.height, plane.line_size)[:, :frame.width]
    return halve_towards(luma, detection_width, limited=not frame.format.name.startswith("yuvj"))


def jpeg_for_detection(data: bytes, time_ns: int, index: int, width: int, height: int,
                       detection_width: int) -> Frame | None:
    """An MJPEG frame for detection: gray at the largest reduction that keeps twice the detection width."""
    factor = next((f for f in (8, 4, 2) if width / f >= 2 * detection_width), 1)
    flag = {8: cv2.IMREAD_REDUCED_GRAYSCALE_8, 4: cv2.IMREAD_REDUCED_GRAYSCALE_4,
            2: cv2.IMREAD_REDUCED_GRAYSCALE_2, 1: cv2.IMREAD_GRAYSCALE}[factor]
    small = cv2.imdecode(np.frombuffer(data, np.uint8), flag)
    if small is None:
        return None
    return Frame(small, time_ns, index, Jpeg(data, width, height), factor)
