"""The open-GOP probe (``av_stream.probe_gop``, ``LeadingWatch``) on packets made by hand.

The whole-pipeline cases (files encoded by x264/x265, both detectors) are in
test_passthrough.py and test_native_passthrough.py; these pin the rules the
encoders there do not reach: an H.265 IDR's RADL leading pictures against
RASL ones, in both packings, and a stream without B-frames whose time goes
back a little after a keyframe (jitter, not an open GOP).
"""

from __future__ import annotations

from dataclasses import dataclass

from quickcam.detector.av_stream import LeadingWatch, hevc_picture_types, probe_gop


@dataclass
class FakePacket:
    data: bytes
    pts: int | None
    is_keyframe: bool = False

    @property
    def size(self) -> int:
        return len(self.data)

    def __bytes__(self) -> bytes:
        return self.data


def hevc_nal(kind: int, body: bytes = b"\x01\xaa") -> bytes:
    return bytes([kind << 1, 1]) + body


def annex_b(*units: bytes) -> bytes:
    return b"".join(b"\x00\x00\x00\x01" + unit for unit in units)


def length_prefixed(*units: bytes) -> bytes:
    return b"".join(len(unit).to_bytes(4, "big") + unit for unit in units)


def test_hevc_picture_types_are_read_in_both_packings_without_parameter_sets() -> None:
    units = (hevc_nal(32), hevc_nal(35), hevc_nal(8), hevc_nal(1))  # VPS, AUD, RASL, TRAIL_R
    assert hevc_picture_types(annex_b(*units)) == [8, 1]
    assert hevc_picture_types(length_prefixed(*units)) == [8, 1]


def _gop(leading_kind: int, codec: str = "hevc", reorders: bool = True) -> bool:
    """Two GOPs of 4 frames; after the second keyframe (pts 40) one frame shown before it (pts 35)."""
    frame = hevc_nal(1)
    packets = [FakePacket(annex_b(hevc_nal(19)), 0, True)]
    packets += [FakePacket(annex_b(frame), pts) for pts in (10, 20, 30)]
    packets += [FakePacket(annex_b(hevc_nal(21)), 40, True), FakePacket(annex_b(hevc_nal(leading_kind)), 35),
                FakePacket(annex_b(frame), 50), FakePacket(annex_b(frame), 60)]
    found = probe_gop(iter(packets), fps=10.0, max_gop_s=2.0, codec=codec, reorders=reorders)
    assert found.ns == 400_000_000
    return found.open


def test_rasl_leading_pictures_are_an_open_gop_and_radl_ones_are_not() -> None:
    assert _gop(8) and _gop(9)  # RASL_N, RASL_R: predicted from the GOP before too
    assert not _gop(6) and not _gop(7)  # RADL_N, RADL_R: need only their keyframe


def test_an_h264_frame_shown_before_its_keyframe_is_an_open_gop() -> None:
    assert _gop(1, codec="h264")  # H.264 has no leading-picture types: an IDR never has leading frames


def test_a_stream_without_b_frames_whose_time_goes_back_after_a_keyframe_is_not_an_open_gop() -> None:
    assert not _gop(8, reorders=False)


def test_a_keyframe_without_a_time_settles_at_once() -> None:
    watch = LeadingWatch("h264")
    watch.see(b"\x00", None, True)
    watch.see(b"\x00", None, True)
    assert watch.settled == 2 and not watch.open
