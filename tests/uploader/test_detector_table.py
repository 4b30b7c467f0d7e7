"""The uploader's table of detectors: two detectors with the same camera ids are not taken for one."""

from __future__ import annotations

from quickcam.uploader.detectors import DetectorTable

HELLO = {"detector": "quickcam-detector", "detector_version": "1", "cameras": ["cam0"], "heartbeat_ms": 500}


def test_two_detectors_sending_for_the_same_camera_at_once_are_a_conflict() -> None:
    # Without CURVE both fold into one record, so one of them could die unnoticed while the other speaks.
    table = DetectorTable()
    table.hello(b"a", HELLO, "", "", now=100.0)
    table.hello(b"b", HELLO, "", "", now=100.2)
    assert table.conflict == ""  # b may be a's reconnect
    table.heard(b"a", "", "", ["cam0"], now=100.5)  # a speaks after b appeared, b alive: two detectors
    assert table.conflict.startswith("two detectors send for camera(s) cam0 at the same time")
    assert "give each camera its own [camera] id" in table.conflict


def test_a_detector_that_reconnects_is_not_a_conflict() -> None:
    table = DetectorTable()
    table.hello(b"a", HELLO, "", "", now=100.0)
    table.heard(b"a", "", "", ["cam0"], now=100.5)
    table.hello(b"b", HELLO, "", "", now=103.0)  # the same detector on a new connection; a never speaks again
    for t in (103.5, 104.0, 104.5):
        table.heard(b"b", "", "", ["cam0"], now=t)
    assert table.conflict == ""
    assert len(table.records) == 1


def test_detectors_with_curve_keys_are_told_apart_by_their_keys_not_flagged() -> None:
    table = DetectorTable()
    table.hello(b"a", HELLO, "keyA", "garage", now=100.0)
    table.hello(b"b", HELLO, "keyB", "porch", now=100.1)
    table.heard(b"a", "keyA", "garage", ["cam0"], now=100.5)
    assert table.conflict == "" and len(table.records) == 2
