"""The native detector's ``[camera] fast_decode`` (docs/benchmarks.md section 12d), as
``tests/detector/test_fast_decode.py`` holds the Python detector to: detection's decoder skips the deblocking filter,
and every snapshot, what a person looks at, is its frame decoded again in full from its GOP. Before, the native
detector warned the option and decoded every frame in full.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np

from quickcam.common import protocol
from quickcam.detector.sources import Walk
from tests.fakes.h264 import write_h264
from tests.test_native_passthrough import KeepingPeer, record_with

FPS = 15.0
GOP = 30  # frames: 2 s, so the drift without deblocking grows for long


class SnapshotKeeper(KeepingPeer):
    """Keeps each snapshot's header and JPEG too."""

    def __init__(self, endpoint: str) -> None:
        self.snapshots: list[tuple[dict[str, Any], bytes]] = []
        super().__init__(endpoint)

    def answer(self, peer: bytes, message: protocol.Message) -> dict[str, Any] | None:
        if message.type == "snapshot":
            with self.lock:
                self.snapshots.append((message.header, message.payload or b""))
        return super().answer(peer, message)


def as_snapshot(path: Path, fast: bool, quality: int) -> list[np.ndarray]:
    """Each frame of ``path`` decoded (without deblocking when ``fast``), made a JPEG as the native snapshot is
    (I420 to BGR by OpenCV, then JPEG at ``quality``), decoded again."""
    pictures = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        if fast:
            stream.codec_context.options = {"skip_loop_filter": "all"}
        for frame in container.decode(stream):
            bgr = cv2.cvtColor(frame.to_ndarray(format="yuv420p"), cv2.COLOR_YUV2BGR_I420)
            jpeg = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])[1]
            pictures.append(cv2.imdecode(jpeg, cv2.IMREAD_COLOR).astype(np.int16))
    return pictures


def test_fast_decode_says_so_and_every_snapshot_is_its_frame_decoded_in_full(tmp_path: Path) -> None:
    """A low bitrate (where deblocking works hardest) and a 2 s GOP; the walker from 1 s. Each snapshot is nearer
    its frame decoded in full than the same frame decoded without deblocking (what detection saw)."""
    video = write_h264(tmp_path / "walk.mp4", 4.0, FPS, GOP / FPS, width=640, height=480, walks=(Walk(1.0, 3.5),),
                       bitrate=150_000)
    segments, log, camera, peer = record_with(tmp_path / "run", video, "fast_decode = true\n", 30,
                                              'source = "file"\nrealtime = false', SnapshotKeeper)
    assert isinstance(peer, SnapshotKeeper)
    assert "camera cam0: fast decoding for detection (snapshots decoded in full)" in log, log
    assert segments and peer.snapshots
    start_ms = segments[0][0]["start_ms"]  # the pre-roll reaches the file's first frame
    full, cheap = as_snapshot(video, False, 85), as_snapshot(video, True, 85)  # snapshot_quality
    compared = 0
    for head, payload in peer.snapshots:
        index = round((head["time_ms"] - start_ms) * FPS / 1000)
        picture = cv2.imdecode(np.frombuffer(payload, np.uint8), cv2.IMREAD_COLOR).astype(np.int16)
        to_full, to_cheap = (float(np.mean(np.abs(picture - other[index]))) for other in (full, cheap))
        if index % GOP:  # a keyframe is the same either way
            assert to_full < to_cheap / 2, (head["seq"], index, to_full, to_cheap)
            compared += 1
    assert compared, "no snapshot in the middle of a GOP"
