"""Stores of encrypted events made with the project's own code, for the viewer's tests.

Clips are real H.264 MP4s (PyAV, libx264) and snapshots real JPEGs, encrypted with
``cryptofile.encrypt`` under the names the uploader gives them
(``FOLDER/CAMERA/DAY/EVENT/KIND-SEQ-ID.qsc``), so the viewer reads what a real run leaves.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from quickcam.common.cryptofile import Context, RecipientPublicKey, SymmetricKey, encrypt
from tests.conftest import REPO

FOLDER = "webcam_captures"
FACE_JPEG = REPO / "tests" / "data" / "messi5.jpg"


def make_clip(seconds: float = 1.0, fps: int = 10, size: tuple[int, int] = (160, 120), shade: int = 0) -> bytes:
    """A small H.264 MP4 in memory: a square moving across a grey field."""
    frames = []
    for n in range(int(seconds * fps)):
        image = np.full((size[1], size[0], 3), 60 + shade, np.uint8)
        x = (n * 7) % (size[0] - 20)
        image[40:60, x:x + 20] = (255, 255, 255)
        frames.append(image)
    return encode_mp4(frames, fps, preset="ultrafast", tune="zerolatency")


def encode_mp4(frames: list[np.ndarray], fps: int, **options: str) -> bytes:
    """BGR ``frames`` as an H.264 MP4 in memory (PyAV, libx264 with these ``options``), one frame a tick."""
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        stream.options = options
        stream.codec_context.time_base = Fraction(1, fps)
        for n, image in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            frame.pts = n
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return buf.getvalue()


def make_jpeg(shade: int = 90, size: tuple[int, int] = (160, 120)) -> bytes:
    image = np.full((size[1], size[0], 3), shade, np.uint8)
    cv2.circle(image, (size[0] // 2, size[1] // 2), 20, (0, 0, 255), -1)
    return cv2.imencode(".jpg", image)[1].tobytes()


def day_of(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d")


def new_id(ms: int) -> str:
    """An id shaped as the Python detector makes them: 13 hex digits of ms, 13 random."""
    return f"{ms:013x}{os.urandom(7).hex()[:13]}"


@dataclass
class StoredEventFixture:
    camera: str
    day: str
    event_id: str
    start_ms: int
    files: dict[str, Path] = field(default_factory=dict)  # "segment-0" / "snapshot-0" -> path
    plaintexts: dict[str, bytes] = field(default_factory=dict, repr=False)

    @property
    def url(self) -> str:
        return f"/event/{self.camera}/{self.day}/{self.event_id}"


def put_file(root: Path, camera: str, day: str, event_id: str, kind: str, seq: int, item_id: str,
             plaintext: bytes, key: SymmetricKey | RecipientPublicKey, start_ms: int, content_type: str) -> Path:
    path = root / FOLDER / camera / day / event_id / f"{kind}-{seq:04d}-{item_id}.qsc"
    path.parent.mkdir(parents=True, exist_ok=True)
    context = Context(camera_id=camera, message_id=item_id, sequence=seq, start_ms=start_ms,
                      content_type=content_type, plaintext_length=len(plaintext))
    with open(path, "wb") as out:
        encrypt(plaintext, out, key, context)
    return path


def add_event(root: Path, key: SymmetricKey | RecipientPublicKey, start_ms: int, clips: list[bytes],
              snapshots: list[bytes], camera: str = "cam0", segment_s: float = 1.0) -> StoredEventFixture:
    """One event: its snapshots (taken at the start) and segments (``segment_s`` apart)."""
    event = StoredEventFixture(camera, day_of(start_ms), new_id(start_ms), start_ms)
    for seq, jpeg in enumerate(snapshots):
        name = f"snapshot-{seq}"
        event.files[name] = put_file(root, camera, event.day, event.event_id, "snapshot", seq,
                                     new_id(start_ms + seq), jpeg, key, start_ms + seq, "image/jpeg")
        event.plaintexts[name] = jpeg
    for seq, clip in enumerate(clips):
        at = start_ms + round(seq * segment_s * 1000)
        name = f"segment-{seq}"
        event.files[name] = put_file(root, camera, event.day, event.event_id, "segment", seq,
                                     new_id(at), clip, key, at, "video/mp4")
        event.plaintexts[name] = clip
    return event


REAL_FOOTAGE = REPO / "tests" / "data" / "vtest.avi"


def real_clips(count: int, seconds: float = 2.0, fps: int = 10, width: int = 384) -> tuple[list[bytes], list[bytes]]:
    """``count`` H.264 segments cut from OpenCV's pedestrian sample (``vtest.avi``), and a JPEG of
    each segment's first frame; generated footage where the sample is not installed."""
    if not REAL_FOOTAGE.is_file():
        return [make_clip(seconds, fps, shade=30 * n) for n in range(count)], [make_jpeg(90)]
    capture = cv2.VideoCapture(str(REAL_FOOTAGE))
    clips, jpegs = [], []
    try:
        for _ in range(count):
            frames = []
            for _ in range(int(seconds * fps)):
                for _ in range(2):  # the sample runs at ~10 fps of real time per 2 frames kept
                    ok, image = capture.read()
                if not ok:
                    break
                height = round(image.shape[0] * width / image.shape[1]) // 2 * 2
                frames.append(cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA))
            jpegs.append(cv2.imencode(".jpg", frames[0], [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes())
            clips.append(encode_mp4(frames, fps, preset="ultrafast"))
    finally:
        capture.release()
    return clips, jpegs


def size_change_event(folder: Path) -> list[tuple[dict, bytes]]:
    """A real event whose camera switches from 320x240 to 640x480 while someone walks: the Python detector's
    segments (header, MP4) of an MPEG-TS camera whose SPS/PPS change in band at an IDR 3 s in."""
    import threading

    from quickcam.detector.outbox import Outbox
    from quickcam.detector.pipeline import CameraPipeline
    from tests.detector.fakes import camera_config, header, journal
    from tests.fakes.h264 import size_change_video

    video = size_change_video(folder, "file")
    outbox = folder / "outbox"
    camera = camera_config(outbox).model_copy(update={"source": "file", "path": str(video)})
    pipeline = CameraPipeline(camera, Outbox(outbox), threading.Event())
    pipeline.start()
    pipeline.join(60)
    return [(header(outbox, e["id"]), (outbox / f"{e['id']}.bin").read_bytes())
            for e in journal(outbox) if e["type"] == "segment"]
