"""H.264 test videos made here: the demo scene's walkers encoded by libx264 with a chosen keyframe interval."""

from __future__ import annotations

from collections.abc import Collection
from fractions import Fraction
from pathlib import Path

import av

from quickcam.detector.sources import DemoSource, Walk


def write_h264(path: Path, seconds: float, fps: float = 10.0, gop_s: float = 1.0, width: int = 320,
               height: int = 240, walks: tuple[Walk, ...] = (Walk(1.0, 3.0),), bitrate: int = 0,
               container: str = "mp4", keyframes: tuple[int, ...] = (), codec: str = "libx264",
               light: float = 1.0, start_s: float = 0.0, bframes: int = 0, open_gop: bool = False,
               profile: str = "") -> Path:
    """An H.264 file of the demo scene: keyframes exactly every ``gop_s``, no B-frames (as cameras send).

    ``keyframes``: only at these frame numbers instead (a camera whose keyframes stop coming);
    ``light``: the scene's brightness times this (0.05: night, below ``dark_threshold``);
    ``start_s``: the scene's time at the first frame (a walker already in view when the clip begins);
    ``bframes``, ``open_gop``: as an encoder other than a camera's may write (x265's defaults are an open GOP);
    ``profile``: libx264's (``baseline``, ``high``), else its choice.
    """
    demo = DemoSource(width, height, fps, realtime=False, walks=walks, period_s=10_000.0, start_s=start_s)
    with av.open(str(path), mode="w", format=container) as output:
        stream = output.add_stream(codec, rate=Fraction(fps).limit_denominator(1001))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        gop = max(1, round(gop_s * fps)) if not keyframes else 100_000
        options = {"preset": "veryfast", "bf": str(bframes), "g": str(gop), "keyint_min": str(gop),
                   "sc_threshold": "0", "x264-params": f"open-gop={int(open_gop)}"}
        if not bframes:
            options["tune"] = "zerolatency"
        if profile:
            options["profile"] = profile
        if codec == "libsvtav1":  # another codec than H.264/H.265, keyframes as asked
            options = {"preset": "12", "g": str(gop)}
        if codec == "libx265":  # the same settings, in x265's own words
            options = {"preset": "veryfast", "x265-params": f"keyint={gop}:min-keyint={gop}:scenecut=0:"
                       f"bframes={bframes}:open-gop={int(open_gop)}:log-level=error"}
        if bitrate:
            stream.bit_rate = bitrate
        else:
            options["crf"] = "28"
        stream.options = options
        stream.codec_context.thread_count = 1
        for number in range(round(seconds * fps)):
            image = demo.read().image
            if light != 1.0:
                image = (image * light).clip(0, 255).astype(image.dtype)
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            if number in keyframes:
                frame.pict_type = av.video.frame.PictureType.I
            for packet in stream.encode(frame):
                output.mux(packet)
        for packet in stream.encode():
            output.mux(packet)
    return path


def probe(path: Path) -> dict:
    """What PyAV finds in a stored segment: frames decoded, keyframe first, decoding errors, duration."""
    frames, errors, first_key = 0, 0, None
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        codec = stream.codec_context.name
        for packet in container.demux(stream):
            if packet.size == 0:
                continue
            if first_key is None:
                first_key = bool(packet.is_keyframe)
            try:
                frames += len(packet.decode())
            except av.FFmpegError:
                errors += 1
        try:
            frames += len(stream.codec_context.decode(None))
        except av.FFmpegError:
            errors += 1
    return {"frames": frames, "errors": errors, "keyframe_first": first_key, "codec": codec}


def shown_s(path: Path) -> float:
    """The time from a stored segment's first frame shown to its last, by the MP4's own times (what a player plays)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        times = [packet.pts for packet in container.demux(stream) if packet.size and packet.pts is not None]
        return float((max(times) - min(times)) * stream.time_base)  # inside: PyAV 18.1.1 refuses a closed stream's


def write_covered_lens(path: Path, clear_s: float, covered_s: float, fps: float = 10.0, width: int = 320,
                       height: int = 240, fade_s: float = 1.0, options: dict[str, str] | None = None) -> Path:
    """The demo scene without a walker for ``clear_s``, then a cloth over the lens for ``covered_s``: a
    smooth fade over ``fade_s`` to a dark blur with a little sensor noise (what the view guard calls blocked)."""
    import cv2
    import numpy as np

    demo = DemoSource(width, height, fps, realtime=False, walks=())
    with av.open(str(path), mode="w") as output:
        stream = output.add_stream("libx264", rate=Fraction(int(fps)))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = options or {"preset": "veryfast"}
        for n in range(int((clear_s + covered_s) * fps)):
            image = demo.read().image.astype(np.float32)
            k = min(1.0, max(0.0, (n / fps - clear_s) / fade_s))
            if k:
                cloth = cv2.GaussianBlur(image, (0, 0), 30) * 0.3 + 10 + cv2.randn(np.empty_like(image), 0, 2)
                image = image * (1 - k) + cloth * k
            frame = av.VideoFrame.from_ndarray(np.clip(image, 0, 255).astype(np.uint8), format="bgr24")
            for packet in stream.encode(frame):
                output.mux(packet)
        for packet in stream.encode():
            output.mux(packet)
    return path


def damage_h264(source: Path, path: Path, packets: Collection[int]) -> Path:
    """``source`` remuxed to ``path`` with the middle third of each P-frame packet in ``packets`` inverted
    (numbers in decode order): what a camera's bitrate the network cannot carry leaves of its stream.

    The decoder still reads the packets' framing and the slice headers, then finds their macroblocks
    damaged (FFmpeg flags the pictures corrupt); a keyframe after them decodes whole again.
    """
    with av.open(str(source)) as given, av.open(str(path), mode="w", format="mp4") as output:
        stream = given.streams.video[0]
        copy = output.add_stream_from_template(stream)
        number = 0
        for packet in given.demux(stream):
            if packet.size == 0:
                continue
            data = bytearray(bytes(packet))
            if number in packets and not packet.is_keyframe:
                third = len(data) // 3
                data[third:2 * third] = bytes(b ^ 0xFF for b in data[third:2 * third])
            damaged = av.Packet(bytes(data))
            damaged.pts, damaged.dts, damaged.time_base = packet.pts, packet.dts, packet.time_base
            damaged.is_keyframe, damaged.stream = packet.is_keyframe, copy
            output.mux(damaged)
            number += 1
    return path


def join_clips(parts: list[Path], path: Path, container: str = "mpegts") -> Path:
    """One file of ``parts`` (each from ``write_h264``) one after the other, timed on: a camera whose encoder
    changes its settings mid-stream. MPEG-TS parts into MPEG-TS: the parameters travel in band, Annex B; into MP4
    (``container``), length-prefixed with them still in band (``-c copy`` of such a stream). MP4 parts (their
    parameters only in their header) into MP4: each part's header is its first packet's ``new_extradata`` side
    data, written as the file's next sample description (an FLV's next sequence header reads back the same)."""
    from av.packet import PacketSideData, packet_sidedata_type_from_literal

    with av.open(str(path), mode="w", format=container) as output:
        stream, shift, header = None, 0, b""
        for part in parts:
            with av.open(str(part)) as source:
                video = source.streams.video[0]
                stream = stream or output.add_stream_from_template(video)
                extradata = bytes(video.codec_context.extradata or b"")
                new_header, header = extradata[:1] == b"\x01" and header not in (b"", extradata), extradata
                first, last = None, 0
                for packet in source.demux(video):
                    if packet.dts is None:
                        continue
                    if first is None and new_header:
                        side = PacketSideData(packet_sidedata_type_from_literal("new_extradata"), len(extradata))
                        side.update(extradata)
                        packet.set_sidedata(side)
                    first = packet.dts if first is None else first
                    last = max(last, packet.pts - first + (packet.duration or 0))
                    packet.pts, packet.dts = packet.pts - first + shift, packet.dts - first + shift
                    packet.stream = stream
                    output.mux(packet)
                shift += last
    return path


def jump_mpegts(source: Path, path: Path, at: int, jump_s: float) -> Path:
    """``source`` (an MPEG-TS from ``write_h264``) as ``path``, its times from packet ``at`` on (in decode order,
    mid-GOP or not) moved by ``jump_s``: a camera's clock set back or ahead, or a camera rebooting (its times
    back to 0). Two MPEG-TS files back to back (a muxer refuses times going back), read as one stream."""
    parts = [path.with_suffix(".before.ts"), path.with_suffix(".after.ts")]
    with av.open(str(source)) as given:
        video = given.streams.video[0]
        packets = [packet for packet in given.demux(video) if packet.dts is not None]
        jump = round(jump_s / video.time_base)
        for part, kept, shift in ((parts[0], packets[:at], 0), (parts[1], packets[at:], jump)):
            with av.open(str(part), mode="w", format="mpegts") as output:
                stream = output.add_stream_from_template(video)
                for packet in kept:
                    packet.pts, packet.dts, packet.stream = packet.pts + shift, packet.dts + shift, stream
                    output.mux(packet)
    path.write_bytes(b"".join(part.read_bytes() for part in parts))
    return path



def sps_agree(path: Path) -> tuple[bool, tuple[int, int]]:
    """Whether a stored H.264 segment's ``avcC`` holds the SPS its first keyframe carries in band (if any),
    and the size its first frame decodes to: what a player trusting the MP4's header shows."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        header = bytes(stream.codec_context.extradata or b"")
        packet = next(p for p in container.demux(stream) if p.size)
        first, frame = bytes(packet), packet.decode()[0]
    header_sps = header[8:8 + int.from_bytes(header[6:8], "big")] if header[:1] == b"\x01" else b""
    in_band, at = [], 0
    while at + 4 < len(first):
        length = int.from_bytes(first[at:at + 4], "big")
        if first[at + 4] & 0x1F == 7:
            in_band.append(first[at + 4:at + 4 + length])
        at += 4 + length
    return all(sps == header_sps for sps in in_band), (frame.width, frame.height)


def check_a_size_change(segments: list[tuple[dict, Path]], fps: float) -> None:
    """Asserts what a recording across a resolution change must be (both detectors' tests): one event, every
    segment whole and true to its header and ``avcC``, the small size then the large, frame after frame."""
    assert segments and segments[-1][0]["final"] and len({h["event"] for h, _ in segments}) == 1
    for head, payload in segments:
        assert probe(payload) == {"frames": head["frames"], "errors": 0, "keyframe_first": True, "codec": "h264"}
        agree, size = sps_agree(payload)
        assert agree and size == (head["width"], head["height"]), (head, size)
    sizes = [(h["width"], h["height"]) for h, _ in segments]
    assert sizes == sorted(sizes) and set(sizes) == {(320, 240), (640, 480)}, sizes
    starts, ends = [h["start_ms"] for h, _ in segments], [h["end_ms"] for h, _ in segments]
    assert all(abs(b - a - 1000 / fps) <= 1 for a, b in zip(ends, starts[1:], strict=False)), (starts, ends)


def relevel_mpegts(source: Path, path: Path, level: int) -> Path:
    """``source`` (an MPEG-TS from ``write_h264``) as ``path`` with the SPS sent in band at every keyframe but the
    first saying another ``level_idc``: a camera whose SPS in band differs byte for byte from the one it gave first
    (its SDP's), the pictures the same."""
    with av.open(str(source)) as given, av.open(str(path), mode="w", format="mpegts") as output:
        video = given.streams.video[0]
        stream, keyframes = output.add_stream_from_template(video), 0
        for packet in given.demux(video):
            if packet.dts is None:
                continue
            data = bytes(packet)
            keyframes += bool(packet.is_keyframe)
            if packet.is_keyframe and keyframes > 1:
                at = data.find(b"\x00\x00\x01\x67") + 4  # the SPS: profile, constraints, level
                data = data[:at + 2] + bytes([level]) + data[at + 3:]
            changed = av.Packet(data)
            changed.pts, changed.dts, changed.time_base = packet.pts, packet.dts, packet.time_base
            changed.is_keyframe, changed.stream = packet.is_keyframe, stream
            output.mux(changed)
    return path


def size_change_video(folder: Path, source: str, fps: float = 10.0) -> Path:
    """A camera's video that goes from 320x240 to 640x480 at an IDR 3 s in, while someone walks: ``file``/``stream``
    an MPEG-TS (new SPS/PPS in band, Annex B); ``mp4-in-band`` the same remuxed into MP4 (in band, length-prefixed);
    ``mp4-new-header`` two MP4s joined, the second's header as the ``new_extradata`` of its first packet."""
    walk, kind = (Walk(1.0, 6.0),), "mp4" if source == "mp4-new-header" else "mpegts"
    small = write_h264(folder / f"small.{kind}", 3.0, fps, 1.0, walks=walk, container=kind)
    large = write_h264(folder / f"large.{kind}", 4.0, fps, 1.0, 640, 480, walks=walk, container=kind, start_s=3.0)
    return join_clips([small, large], folder / ("camera.ts" if source in ("file", "stream") else "camera.mp4"),
                      "mpegts" if source in ("file", "stream") else "mp4")

