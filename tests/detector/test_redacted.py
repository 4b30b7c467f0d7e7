"""A stream URL's password never reaches the log or the status; the user and the rest stay as written."""

from __future__ import annotations

import pytest

from quickcam.detector.pipeline.capture import redacted

# (url, redacted): the native detector is held to the same table (tests/test_native_detector.py).
URLS = [
    ("rtsp://admin:hunter2@192.168.1.9:554/live", "rtsp://admin:***@192.168.1.9:554/live"),
    ("http://alice:s3cret@127.0.0.1:8080/clip.mp4?x=1#f", "http://alice:***@127.0.0.1:8080/clip.mp4?x=1#f"),
    ("rtsp://u:p@ss@Cam.Local/a@b", "rtsp://u:***@Cam.Local/a@b"),  # the last @ of the host part ends the password
    ("RTSP://u:@[fe80::1]:554/x?", "RTSP://u:***@[fe80::1]:554/x?"),
    ("rtsp://token@cam/live", "rtsp://token@cam/live"),  # no password: nothing to hide
    ("rtsp://cam/live", "rtsp://cam/live"),
    ("clip.mp4", "clip.mp4"),
    ("rtsp://u:p@[fe80::1/x", "<the stream URL>"),  # not a URL: said without it
    # a password in the query, as many cameras take it: each secret-named field's value hidden
    ("http://127.0.0.1:81/videostream.cgi?user=admin&PWD=qwerty77&rate=0",
     "http://127.0.0.1:81/videostream.cgi?user=admin&PWD=***&rate=0"),
    ("rtsp://cam/h264Preview_01_main?password=a%26b&token=t0k#x=1", "rtsp://cam/h264Preview_01_main?password=***&token=***#x=1"),
    ("rtsp://u:s3cret@cam/live?channel=1&passwd=&pw=2", "rtsp://u:***@cam/live?channel=1&passwd=***&pw=***"),
    ("rtsp://cam/live?keyonly&x=1", "rtsp://cam/live?keyonly&x=1"),  # a field without a value: nothing to hide
]


@pytest.mark.parametrize(("url", "expected"), URLS)
def test_a_stream_urls_password_is_replaced_and_nothing_else(url: str, expected: str) -> None:
    assert redacted(url) == expected
