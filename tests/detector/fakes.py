"""Sources and helpers for driving a CameraPipeline without a camera."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path

import msgpack
import numpy as np

from quickcam.common.config import CameraConfig, FacesConfig, RecordingConfig
from quickcam.detector.outbox import Outbox
from quickcam.detector.pipeline import CameraPipeline
from quickcam.detector.sources import EndOfSource, Frame

T0_NS = 1_700_000_000_000_000_000


class ScriptedSource:
    """Frames made by ``draw(index)``; ``None`` from draw means the camera is gone for that read.

    ``opens_failing`` makes that many open() calls fail first (a camera not yet plugged in).
    It ends like a file after ``frames`` frames. Not live: the pipeline waits for nothing.
    """

    def __init__(self, draw: Callable[[int], np.ndarray | None], frames: int, fps: float = 10.0,
                 opens_failing: int = 0) -> None:
        self.draw, self.total, self.fps = draw, frames, fps
        self.live = False
        self.opens_failing = opens_failing
        self.opens = 0
        self.position = 0
        self.index = 0
        self.width, self.height = 0, 0

    def open(self) -> bool:
        self.opens += 1
        return self.opens > self.opens_failing

    def read(self) -> Frame | None:
        if self.position >= self.total:
            raise EndOfSource("script")
        image = self.draw(self.position)
        self.position += 1
        if image is None:
            return None
        self.height, self.width = image.shape[:2]
        frame = Frame(image, T0_NS + int(self.position * 1e9 / self.fps), self.index)
        self.index += 1
        return frame

    def close(self) -> None:
        pass


def camera_config(outbox: Path, camera_id: str = "cam0", **recording: float) -> CameraConfig:
    settings = {"outbox_dir": outbox, "pre_roll_s": 1.0, "post_roll_s": 1.0, "segment_s": 1.0, **recording}
    return CameraConfig(id=camera_id, source="demo", realtime=False, width=320, height=240, fps=10.0,
                        reopen_max_s=0.2, recording=RecordingConfig(**settings),
                        faces=FacesConfig(enabled=False))


def run(pipelines: list[CameraPipeline], timeout: float = 60.0) -> None:
    for pipeline in pipelines:
        pipeline.start()
    deadline = time.monotonic() + timeout
    for pipeline in pipelines:
        pipeline.join(max(0.1, deadline - time.monotonic()))
        assert pipeline.finished, f"camera {pipeline.camera.id} did not finish in {timeout} s"


def pipeline_for(camera: CameraConfig, outbox: Outbox, source: object,
                 stop: threading.Event | None = None) -> CameraPipeline:
    return CameraPipeline(camera, outbox, stop or threading.Event(), source_factory=lambda _cfg: source)


def journal(outbox_dir: Path) -> list[dict]:
    """What the outbox committed, in commit order."""
    path = outbox_dir / "produced.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def header(outbox_dir: Path, message_id: str) -> dict:
    return msgpack.unpackb((outbox_dir / f"{message_id}.hdr").read_bytes())
