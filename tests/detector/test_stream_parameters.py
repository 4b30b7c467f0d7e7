"""Parameter sets read from every packing (Annex B, length-prefixed, a file's header), and which changes end a
segment: the functional core of ``detector/stream_parameters.py``, fed real libx264 packets."""

from __future__ import annotations

from pathlib import Path

import av

from quickcam.detector.av_stream import StreamInfo
from quickcam.detector.stream_parameters import (
    ParameterWatch,
    annex_b,
    extradata_sets,
    nal_length_size,
    nal_units,
    parameter_sets,
)
from tests.fakes.h264 import write_h264


def _keyframes(path: Path) -> tuple[bytes, list[bytes]]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return (bytes(stream.codec_context.extradata or b""),
                [bytes(p) for p in container.demux(stream) if p.size and p.is_keyframe])


def test_the_sets_are_the_same_from_annex_b_from_length_prefixed_packets_and_from_the_avcc(tmp_path: Path) -> None:
    """An MP4's packets are length-prefixed and its sets are in its avcC: read as the MPEG-TS's Annex B ones.
    Before, a length-prefixed packet and an avcC gave no sets: an MP4's new sets were never seen."""
    ts_header, ts_keys = _keyframes(write_h264(tmp_path / "a.ts", 2.0, container="mpegts"))
    mp4 = tmp_path / "a.mp4"
    with av.open(str(tmp_path / "a.ts")) as given, av.open(str(mp4), "w") as output:  # -c copy into MP4
        copy = output.add_stream_from_template(given.streams.video[0])
        for packet in given.demux(video=0):
            if packet.dts is not None:
                packet.stream = copy
                output.mux(packet)
    avcc, mp4_keys = _keyframes(mp4)
    length = nal_length_size("h264", avcc)
    assert avcc[:1] == b"\x01" and length == 4 and nal_length_size("h264", ts_header) == 0
    sets = parameter_sets("h264", ts_keys[1])
    assert sets and parameter_sets("h264", mp4_keys[1], length) == sets == extradata_sets("h264", avcc)
    assert annex_b(nal_units(mp4_keys[1], length)) == annex_b(nal_units(ts_keys[1]))


def test_only_sets_that_change_the_picture_are_a_change(tmp_path: Path) -> None:
    """Another level in band (a camera's SPS other than its SDP's): the same picture, the stream goes on as it was.
    Another profile at the same size: a change (a player is set up for a profile), with the new sets."""
    base_header, base = _keyframes(write_h264(tmp_path / "b.ts", 2.0, container="mpegts", walks=(), profile="baseline"))
    _, high = _keyframes(write_h264(tmp_path / "h.ts", 2.0, container="mpegts", walks=(), profile="high"))
    info = StreamInfo("h264", 320, 240, 10.0, av.time_base, None)
    watch = ParameterWatch("cam0", info, base_header)
    at = base[1].find(b"\x00\x00\x01\x67") + 4
    releveled = base[1][:at + 2] + bytes([30]) + base[1][at + 3:]
    assert watch.see(info, base[1]) is info and watch.see(info, releveled) is info
    changed = watch.see(info, high[1])
    assert changed is not info and (changed.width, changed.height) == (320, 240)
    assert changed.extradata == parameter_sets("h264", high[1])
