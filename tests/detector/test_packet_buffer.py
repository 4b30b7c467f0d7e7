"""The FrameBuffer holding encoded packets: the pre-roll is trimmed back to a keyframe, never past one."""

from __future__ import annotations

import threading

from quickcam.detector.av_source import Packet
from quickcam.detector.pipeline.frames import FrameBuffer

PERIOD_NS = 100_000_000  # 10 fps
GOP = 10  # a keyframe every second


def packet(index: int) -> Packet:
    return Packet(b"x", index, index, 1, index % GOP == 0, index * PERIOD_NS, index * PERIOD_NS, index)


def take_all(buffer: FrameBuffer, after_index: int, until_ns: int) -> list[Packet]:
    """Every item ``take`` hands out, a few at a time (``TAKE_MAX``), as the recorder takes them."""
    taken: list[Packet] = []
    while batch := buffer.take(after_index, until_ns, timeout=0):
        taken += batch
        after_index = batch[-1].index
    return taken


def test_the_idle_pre_roll_starts_at_the_last_keyframe_before_it() -> None:
    buffer = FrameBuffer(keep_ns=1_500_000_000, max_ns=10**12, live=True, camera_id="c")
    stop = threading.Event()
    for index in range(100):
        buffer.push(packet(index), stop)
        front = buffer.frames[0]
        floor = index * PERIOD_NS - buffer.keep_ns
        assert front.keyframe or front.index == 0
        assert front.time_ns <= max(0, floor)  # the whole pre-roll is there
        assert floor - front.time_ns < GOP * PERIOD_NS  # and at most one GOP more
    assert buffer.keyframe_at_or_before(95 * PERIOD_NS) == 90 * PERIOD_NS


def test_a_hold_keeps_the_keyframe_its_first_packet_decodes_from() -> None:
    buffer = FrameBuffer(keep_ns=500_000_000, max_ns=10**12, live=True, camera_id="c")
    stop = threading.Event()
    for index in range(30):
        buffer.push(packet(index), stop)
    buffer.hold(27 * PERIOD_NS)
    for index in range(30, 80):
        buffer.push(packet(index), stop)
    assert buffer.frames[0].index == 20  # the keyframe before 27, kept for 50 more packets
    taken = take_all(buffer, -1, 80 * PERIOD_NS)
    assert [p.index for p in taken] == list(range(20, 80))
    buffer.release(27 * PERIOD_NS)
    buffer.push(packet(80), stop)
    assert list(buffer.keys) == [80 * PERIOD_NS]  # taken keyframes are forgotten too


def test_packets_before_frames_are_trimmed_once_a_frame_is_older_than_the_pre_roll() -> None:
    """A source that gave up passthrough hands over frames: its last keyframe is not kept for ever."""
    import numpy as np

    from quickcam.detector.sources import Frame

    buffer = FrameBuffer(keep_ns=500_000_000, max_ns=10**12, live=True, camera_id="c")
    stop = threading.Event()
    for index in range(15):
        buffer.push(packet(index), stop)
    image = np.zeros((2, 2), np.uint8)
    for index in range(15, 60):
        buffer.push(Frame(image, index * PERIOD_NS, index), stop)
    assert all(isinstance(item, Frame) for item in buffer.frames) and buffer.dropped == 0
    assert buffer.frames[0].time_ns >= 59 * PERIOD_NS - buffer.keep_ns


def test_a_recorder_that_took_the_keyframe_first_still_gets_the_packets_up_to_the_hold() -> None:
    """The recorder starts an event at the keyframe before its hold and may take it with a packet or two
    (as far as detection had looked when it read the start): the packets after them up to the hold stay."""
    buffer = FrameBuffer(keep_ns=3_000_000_000, max_ns=10**12, live=False, camera_id="c")
    stop = threading.Event()
    for index in range(25):
        buffer.push(packet(index), stop)
    buffer.hold(15 * PERIOD_NS)  # recorded from keyframe 10
    first = buffer.take(9, 11 * PERIOD_NS, timeout=0)
    assert [p.index for p in first] == [10, 11]
    for index in range(25, 40):
        buffer.push(packet(index), stop)
    rest = take_all(buffer, 11, 40 * PERIOD_NS)
    assert [p.index for p in rest] == list(range(12, 40))  # was 15.. : 12-14 trimmed, the segment cut at 2


def test_the_drop_warning_names_the_recorder_that_is_behind(caplog) -> None:
    """Packets dropped behind a stalled passthrough recorder are not said as an encoder's (there is none)."""
    import logging

    import numpy as np

    from quickcam.detector.sources import Frame

    caplog.set_level(logging.WARNING, logger="quickcam.detector.pipeline.frames")
    stop = threading.Event()
    packets = FrameBuffer(keep_ns=PERIOD_NS, max_ns=3 * PERIOD_NS, live=True, camera_id="c")
    packets.hold(0)  # an event the recorder has not taken a packet of
    for index in range(60, 65):  # past the first 5 s: the warning is said at most every 5 s
        packets.push(packet(index), stop)
    frames = FrameBuffer(keep_ns=PERIOD_NS, max_ns=3 * PERIOD_NS, live=True, camera_id="d")
    frames.hold(0)
    for index in range(60, 65):
        frames.push(Frame(np.zeros((2, 2), np.uint8), index * PERIOD_NS, index), stop)
    said = [r.getMessage() for r in caplog.records]
    assert said[0] == ("camera c: the passthrough recorder is 0.3 s behind (recording.buffer_max_s); dropping the "
                       "oldest frames of the recording (1 so far, counted in not_recorded)"), said
    assert said[-1].startswith("camera d: encoder is 0.3 s behind"), said
