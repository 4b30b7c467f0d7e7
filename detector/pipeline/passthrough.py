"""The passthrough recorder: the camera's own encoded packets remuxed into MP4 segments (no decode, no encode).

One more recorder beside the re-encoding one in ``record.py``: the same
commands (start, end, stop), the same outbox and disk handling, the same
segment headers. Only what goes into a segment differs:

- an event starts at the last keyframe at or before its first pre-roll time
  (the buffer keeps packets back to it), so its first segment plays on its own;
- a segment is *at least* ``segment_s`` long and is cut at the next keyframe,
  so every segment starts with a keyframe: with keyframes every G seconds a
  segment lasts between ``segment_s`` and ``segment_s`` + G;
- packets lost on the way (a live buffer that overflowed) or a reconnected
  stream end the segment, and the next one starts at the next keyframe: never
  an unplayable segment; a camera clock that jumps is taken out (``Remuxer``);
- parameter sets that change in band (a camera set to another resolution) end the
  segment at the keyframe bringing them, and the next one has them in its header
  (``stream_parameters.py``), the event going on;
- a source whose keyframes stop coming (more than ``max_gop_s``) gives frames
  instead of packets from then on, and they are re-encoded (``RecordStage``);
- reduced recording (a full disk, or an outbox over its budget) keeps only
  keyframes: one picture per keyframe interval, still the camera's own bytes,
  with ``fps`` in the header the rate actually kept.

The header stays exact: ``frames`` is the number of packets written (one per
frame), ``start_ms``/``end_ms`` the first and last presentation times,
``fps`` the stream's rate.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from quickcam.common import protocol
from quickcam.common.mp4_tags import tag_for_apple
from quickcam.detector.av_source import Packet, StreamInfo
from quickcam.detector.av_stream import LEADING_MAX
from quickcam.detector.outbox import Outbox
from quickcam.detector.pipeline.disk import FULL, REDUCED
from quickcam.detector.pipeline.record import Command, RecordStage, Segment
from quickcam.detector.sources import Frame
from quickcam.detector.stream_clock import DRIFT_NS
from quickcam.detector.stream_parameters import annex_b, nal_length_size, nal_units

log = logging.getLogger(__name__)


class Remuxer:
    """Writes packets into one MP4 file, with timestamps starting at zero.

    A stream whose clock jumps (a camera setting its clock: over RTSP with audio
    FFmpeg times packets by the camera's NTP clock; an MPEG-TS camera rebooting,
    its times back to 0 read as a 33-bit wrap, ~26 h ahead) has its later packets
    moved by the jump: the file keeps the wall clock's spacing (``pts_ns``,
    re-anchored by the stream clock), after a step back the last frame's step
    (a file analysed fast goes on a frame after its latest time:
    ``AvSource._stepped_back``). Before, a jump ahead showed one frame for
    hours (or, past the MP4's 32 bits, squeezed every later frame into one tick),
    and one back ended the segment mid-GOP: the frames up to the next keyframe lost.
    """

    def __init__(self, path: Any, info: StreamInfo) -> None:
        import av

        self.codec = info.codec
        self.container = av.open(str(path), mode="w", format="mp4")
        self.stream = self.container.add_stream_from_template(info.template)
        self.length_size = 0  # the packets' NAL lengths, when they are written as Annex B
        if info.extradata:  # parameter sets changed in band: the header says this segment's (``stream_parameters``)
            context = self.stream.codec_context
            self.length_size = nal_length_size(info.codec, context.extradata)  # a file's packets: made Annex B too
            context.extradata, context.width, context.height = info.extradata, info.width, info.height
        tag_for_apple(self.stream, info.codec)
        self.time_base = info.time_base
        self.zero: int | None = None
        self.last_dts: int | None = None
        self.last_out_dts = -1
        self.ahead_ns: int | None = None  # the last packet's stream time less its wall time (``_jumped``)
        self.shift = 0  # ticks taken out of the times after jumps
        self.step = 1  # the last step between decode times, in ticks (one frame)
        self._av = av

    def write(self, packet: Packet) -> None:
        dts = packet.dts if packet.dts is not None else packet.pts
        pts = packet.pts if packet.pts is not None else dts
        if self.zero is None:
            self.zero = min(dts, pts)
        if self.last_dts is not None and dts <= self.last_dts:  # gone back: on one step after the last packet
            self.shift += dts - self.last_dts - self.step
        elif self.last_dts is not None:
            self.step = dts - self.last_dts
        self.shift += self._jumped(pts, packet.pts_ns)
        self.last_dts = dts
        out = self._av.Packet(annex_b(nal_units(packet.data, self.length_size)) if self.length_size else packet.data)
        out.stream = self.stream
        out.time_base = self.time_base
        out_dts = max(dts - self.zero - self.shift, self.last_out_dts + 1)
        out.pts, out.dts = max(pts - self.zero - self.shift, out_dts), out_dts
        self.last_out_dts = out_dts
        out.duration = packet.duration
        out.is_keyframe = packet.keyframe
        self.container.mux(out)

    def _jumped(self, pts: int, pts_ns: int) -> int:
        """The ticks the stream's clock jumped ahead of the wall clock since the last packet (0 under
        ``DRIFT_NS``, the stream clock's own bound: a stalled stream falls behind, and slowing a fast
        clock moves it half a frame at most)."""
        ahead_ns = int(pts * self.time_base * 1_000_000_000) - pts_ns
        jump_ns = 0 if self.ahead_ns is None else ahead_ns - self.ahead_ns
        self.ahead_ns = ahead_ns
        return round(jump_ns / 1e9 / self.time_base) if jump_ns > DRIFT_NS else 0

    def close(self) -> None:
        self.container.close()


class PassthroughSegment(Segment):
    """A segment file being remuxed in the outbox's staging area (the attributes ``RecordStage`` reads)."""

    def __init__(self, outbox: Outbox, info: StreamInfo, seconds: float) -> None:
        self.id = protocol.new_message_id()
        self.path = outbox.staging_path(f"{self.id}.mp4")
        self.encoder = Remuxer(self.path, info)
        self.info = info
        self.width, self.height, self.fps = info.width, info.height, info.fps
        self.max_ns = int(seconds * 1e9)
        self.frames = 0
        self.start_ns = self.end_ns = 0
        self.forced_reduced = False  # reduced because the disk refused a full one
        self.reduced = False  # keyframes only

    def write(self, packet: Packet) -> None:
        self.encoder.write(packet)
        if self.frames == 0:
            self.start_ns = self.end_ns = packet.pts_ns
        self.start_ns, self.end_ns = min(self.start_ns, packet.pts_ns), max(self.end_ns, packet.pts_ns)
        self.frames += 1
        if self.reduced and self.frames > 1:  # the rate kept, not the camera's
            self.fps = (self.frames - 1) * 1e9 / max(1, self.end_ns - self.start_ns)


class PassthroughStage(RecordStage):
    """Remuxes each event's packets into segments cut at keyframes.

    ``stream_info`` gives the source's current stream (codec parameters for the
    MP4 header); it is read when a segment opens, so a reopened stream is followed.
    """

    thins_at_stop = False  # a packet decodes only from its keyframe on: a stop's backlog is remuxed whole

    def __init__(self, *args: Any, stream_info: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stream_info = stream_info
        self.hold_ns = 0  # the event's hold on the buffer (its first pre-roll time)
        self.previous_index = -1
        self.skipped = 0  # packets before the event's first keyframe
        self.gop: list[Packet] = []  # the packets written since the last keyframe (``_replay``)

    def _next_command(self, wait: bool) -> Command | None:
        """A ``start`` is moved back to the keyframe its first pre-roll packet decodes from."""
        command = super()._next_command(wait)
        if command is not None and command.kind == "start":
            self.hold_ns, self.previous_index, self.skipped = command.time_ns, -1, 0
            key = self.buffer.keyframe_at_or_before(command.time_ns)
            if key is not None:
                command = replace(command, time_ns=key)
        return command

    def _event_done(self) -> None:
        self._shown_before_the_end()
        self.from_ns = self.hold_ns  # release the hold the detect stage set
        if self.skipped:
            log.info("camera %s: event %s: %d packet(s) before its first keyframe not recorded", self.camera.id,
                     self.event_id, self.skipped)
        super()._event_done()

    def _record(self, packet: Packet | Frame) -> None:  # type: ignore[override]
        """A packet is remuxed; a frame (the source gave up passthrough: keyframes stopped) is re-encoded."""
        if isinstance(packet, Frame):
            if isinstance(self.segment, PassthroughSegment):
                self._close(final=False)
            super()._record(packet)
            return
        if self.segment is not None and not isinstance(self.segment, PassthroughSegment):
            self._close(final=False)
        gap = self.previous_index >= 0 and packet.index != self.previous_index + 1
        self.previous_index = packet.index
        if self._snapshots_only():
            return
        if self.segment is not None and (gap or self.segment.forced_reduced and self.disk.rung == FULL):
            self._close(final=False)  # packets lost in between, or the disk is back: from the next keyframe
        elif isinstance(self.segment, PassthroughSegment) and packet.info is not None and (
                packet.info is not self.segment.info):
            self._close(final=False)  # parameters changed at this keyframe: the next segment has them
        reduced = self.disk.rung == REDUCED or (self.segment is not None and self.segment.reduced)
        if not packet.keyframe and (self.segment is None or reduced):
            if reduced:
                return  # reduced recording: one picture per GOP, by design
            if self.seq == 0 and not self.lost_frames:
                if self._replay(packet):
                    return
                self.skipped += 1  # pre-roll older than the first keyframe the buffer still had
            else:  # after a gap: undecodable until the next keyframe
                self.lost_frames += 1
                self.disk.not_recorded()
            return
        self._remux(packet)

    def _shown_before_the_end(self) -> None:
        """The B-frames decoded after the event's last packet but shown before it, into its last segment.

        The event ends by decode time; with B-frames its last packet (a P-frame) is
        shown after frames that are decoded after it. Without them the last segment
        jumped over those frames (2 frames 400 ms apart at 10 fps, x264's
        ``bframes = 3``): they are the packets right after it, not keyframes, shown
        before the segment's last time. They are in the buffer already: detection
        has seen the frames up to the end, so their packets have been demuxed.
        """
        if not isinstance(self.segment, PassthroughSegment) or self.camera_lost or self.segment.reduced:
            return
        for item in self.buffer.following(self.last_index, LEADING_MAX):
            if (not isinstance(item, Packet) or item.keyframe or item.index != self.previous_index + 1
                    or item.pts_ns >= self.segment.end_ns):
                break
            self.last_index = self.previous_index = item.index
            self._remux(item)

    def _remux(self, packet: Packet) -> None:
        if packet.keyframe:
            self.gop = []
        self.gop.append(packet)
        self._write(packet, may_cut=packet.keyframe, failure="remuxing failed (%d packet(s) of event %s lost); "
                    "the next segment starts at the next keyframe")

    def _replay(self, packet: Packet) -> bool:
        """An event that starts inside the GOP the previous event ended in: that GOP again, then ``packet``.

        The previous event took the GOP's packets out of the buffer, so without
        them this event's first frames could not be decoded and were not
        recorded (walkers' frames lost between two close events). They are
        written again at the head of this event's first segment. False when the
        last GOP written does not lead up to ``packet``.
        """
        if not self.gop or not self.gop[0].keyframe or self.gop[-1].index != packet.index - 1:
            return False
        for earlier in list(self.gop):
            self._remux(earlier)
        self._remux(packet)
        return True

    def _new_segment(self, packet: Packet | Frame) -> Any:
        if isinstance(packet, Frame):
            return super()._new_segment(packet)
        info = packet.info or self.stream_info()
        if info is None:
            raise RuntimeError("the source has no stream to pass through")
        chosen = self.outbox.segment_format(info.width, info.height, info.fps, self.recording)
        segment = PassthroughSegment(self.outbox, info, chosen.seconds)
        segment.forced_reduced = self.disk.rung == REDUCED
        segment.reduced = chosen.reduced or segment.forced_reduced
        return segment
