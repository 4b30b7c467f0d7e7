"""The face crop sent beside a motion snapshot: the largest face found, with a margin."""

from __future__ import annotations

MARGIN = 0.4  # of the face size on each side: hair, chin and a bit of context
QUALITY = 85


def face_crop(jpeg: bytes, faces: tuple[tuple[int, int, int, int], ...]) -> bytes | None:
    """JPEG of the largest face box in ``jpeg``, or None (no face, or an image that does not decode)."""
    if not faces:
        return None
    import cv2  # only here: the uploader needs OpenCV for nothing else
    import numpy as np

    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        return None
    x, y, w, h = max(faces, key=lambda box: box[2] * box[3])
    mx, my = int(w * MARGIN), int(h * MARGIN)
    height, width = image.shape[:2]
    x0, y0 = max(0, x - mx), max(0, y - my)
    x1, y1 = min(width, x + w + mx), min(height, y + h + my)
    if x1 <= x0 or y1 <= y0:
        return None
    ok, data = cv2.imencode(".jpg", image[y0:y1, x0:x1], [cv2.IMWRITE_JPEG_QUALITY, QUALITY])
    return data.tobytes() if ok else None
