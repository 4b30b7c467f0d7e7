"""A camera whose frame times go back mid-event: every segment still leaves the machine.

Found by ``bench/outside/file_replaced.py --mode overwrite`` (a file camera's video copied over
in place while it plays, bench/outside/FINDINGS.md, session 20): a frame decoded after the swap
was stamped before one already read, the re-encoding recorder took its segment's start from the
first frame and its end from the last, the header ended before it began, and the link refused it:
the event's footage kept in ``outbox/refused`` for good, never uploaded.
Two guards: the PyAV source never hands on a frame before one it handed on already (the native
source's ``frame_time_ns`` already did not), and a segment's header spans its earliest to its latest
frame whatever their order (as passthrough's did).
"""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

import av

from quickcam.common import protocol_schema
from quickcam.detector.av_source import AvSource
from quickcam.detector.outbox import Outbox
from quickcam.detector.pipeline import CameraPipeline
from quickcam.detector.sources import DemoSource, EndOfSource, Frame, Walk
from tests.detector.fakes import camera_config, header, journal, run
from tests.fakes.h264 import write_h264

STEP_BACK_NS = 2_000_000_000


class SteppingBack(DemoSource):
    """The demo scene, its frames from ``at`` on stamped 2 s earlier (a source's times going back);
    it ends like a file after 70 frames (the walk and the quiet after it)."""

    def __init__(self, at: int) -> None:
        super().__init__(320, 240, 10.0, realtime=False, walks=(Walk(1.0, 4.0),), period_s=60.0)
        self.at = at

    def read(self) -> Frame:
        if self.index >= 70:
            raise EndOfSource("the script's end")
        frame = super().read()
        return replace(frame, time_ns=frame.time_ns - STEP_BACK_NS) if frame.index >= self.at else frame


def test_a_segment_whose_frames_go_back_in_time_gets_a_header_the_link_sends(tmp_path: Path) -> None:
    outbox_dir = tmp_path / "outbox"
    camera = camera_config(outbox_dir, pre_roll_s=0.5, post_roll_s=0.5, segment_s=1.0)
    source = SteppingBack(at=36)  # near the walk's end: the last segment ends before it starts

    run([CameraPipeline(camera, Outbox(outbox_dir), threading.Event(), source_factory=lambda _c: source)])

    segments = [header(outbox_dir, e["id"]) for e in journal(outbox_dir) if e["type"] == "segment"]
    assert segments, "no segment recorded"
    for h in segments:
        assert h["start_ms"] <= h["end_ms"], f"segment {h['seq']} ends before it starts: {h}"
        protocol_schema.validate_header(h)


def test_a_frame_decoded_with_an_earlier_time_than_one_read_comes_after_it(tmp_path: Path) -> None:
    video = tmp_path / "cam.mp4"
    write_h264(video, 3.0, fps=10.0)
    camera = camera_config(tmp_path / "outbox").model_copy(
        update={"source": "file", "path": str(video), "realtime": True})
    source = AvSource(camera)
    assert source.open()
    read = [source.read() for _ in range(5)]
    latest = max(f.time_ns for f in read if f is not None)
    assert not source.frames, "the frames decoded so far were all read"
    with av.open(str(video)) as container:  # a real decoded picture, carrying the file's first time again
        first = next(container.decode(video=0))
    source._frame(first)  # what the decoder hands on after the file changed under it
    again = source.read()
    source.close()
    assert again is not None and again.time_ns > latest, (again and again.time_ns, latest)
