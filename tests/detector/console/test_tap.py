"""The live tap: nothing kept or encoded without a viewer; bounded size and rate; one encoding for all."""

from __future__ import annotations

import threading

import numpy as np

from quickcam.detector.console.tap import LiveTap

SECOND = 1_000_000_000


def test_without_a_viewer_an_offer_keeps_nothing() -> None:
    tap = LiveTap(max_width=320, max_fps=5.0)
    tap.offer("cam0", np.zeros((480, 640, 3), np.uint8), SECOND)
    assert tap.status() == {} and tap.viewers("cam0") == 0


def test_a_viewer_gets_frames_no_faster_than_max_fps_and_no_wider_than_max_width() -> None:
    now = [0]
    tap = LiveTap(max_width=320, max_fps=5.0, clock=lambda: now[0])
    with tap.watch("cam0") as viewer:
        kept = 0
        for i in range(30):  # one second at 30 fps
            before = tap._slots["cam0"].seq
            now[0] = i * SECOND // 30
            tap.offer("cam0", np.full((480, 640, 3), i, np.uint8), 123 + i)  # the capture time does not matter
            kept += tap._slots["cam0"].seq - before
        assert kept == 5
        jpeg = viewer.next_jpeg(1.0)
        assert jpeg is not None and jpeg[:2] == b"\xff\xd8"
        import cv2

        assert cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR).shape == (240, 320, 3)
        assert viewer.skipped == 4  # four kept frames were replaced before this viewer asked
        assert viewer.next_jpeg(0.05) is None  # nothing newer yet
    assert tap._slots["cam0"].image is None and tap.viewers("cam0") == 0


def test_two_viewers_share_one_encoding_of_each_frame() -> None:
    tap = LiveTap()
    encodings = []
    original = tap._encode
    tap._encode = lambda image: encodings.append(1) or original(image)  # count, then encode as usual
    with tap.watch("cam0") as first, tap.watch("cam0") as second:
        tap.offer("cam0", np.zeros((48, 64, 3), np.uint8), SECOND)
        results = []
        threads = [threading.Thread(target=lambda v=v: results.append(v.next_jpeg(1.0))) for v in (first, second)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len(results) == 2 and results[0] == results[1] and len(encodings) == 1
