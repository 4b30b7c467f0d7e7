"""A file or stream demuxed with PyAV: the camera's own encoded packets, and cheap frames for detection.

The source stage of passthrough recording (and of cheap decoding: an MJPEG
stream is decoded at 1/2-1/8 scale in gray for detection, its pre-roll kept as
the JPEG bytes, see ``Jpeg``). Every video packet is kept as it
came (``Packet``: bytes, timestamps, keyframe flag) for the recorder to remux
without decoding or encoding; detection gets frames decoded outside the GIL
(slice threads where the stream has slices), and only the luma plane is handed on, halved towards the detection
size (``Frame.image``, ``Frame.scale``); the full BGR picture is made only when a
snapshot or the re-encoding recorder asks for it (``Frame.bgr()``).

Times: a packet's ``time_ns`` is its decode time on the wall clock (always
increasing, so the buffer can trim and cut by it); ``pts_ns`` is when it is
shown, and a decoded frame's ``time_ns`` is that same presentation time, so a
frame and the packet it came from carry one time. A stream's times are put on
the wall clock by ``stream_clock.py`` (anchored when its packets were sent: the
~2 s FFmpeg read while it opened are read ahead at the open, ``_read_burst``, to
tell when; kept near the wall clock, never going back), and so are a file's played
in real time without a start (a stand-in for a live camera, anchored at its first
packet); any other file's is its own timeline (``[camera] start``, else its
creation time), as ``FileTimeline`` has it.

``mode`` says after the first open what the recorder can do with this source:
``passthrough`` (a codec an MP4 can carry, a keyframe within ``max_gop_s``) or
``reencode``, with one log line saying why (decided in ``av_stream.py``, which
also has the ``Packet`` and ``StreamInfo`` the recorder gets).
"""

from __future__ import annotations

import logging
import os
import time
from collections import deque
from collections.abc import Callable, Iterator
from functools import partial
from itertools import chain
from pathlib import Path
from typing import Any

from quickcam.common.config import CameraConfig
from quickcam.detector.av_stream import (
    OPEN_GOP_WHY,
    PASSTHROUGH_CODECS,
    LeadingWatch,
    Packet,
    StreamInfo,
    decide_mode,
    parameters_of,
    probe_gop,
)
from quickcam.detector.clock import footage_ns
from quickcam.detector.damaged_packets import DamagedPackets
from quickcam.detector.decode import jpeg_for_detection, shrink_luma
from quickcam.detector.idle_keyframes import IdleKeyframes
from quickcam.detector.redecode import RecentPackets
from quickcam.detector.sources import EndOfSource, Frame, _creation_time_ns, _Pacer, cut_short
from quickcam.detector.stream_clock import OpenBurst, StreamClock, opened_anchor
from quickcam.detector.stream_parameters import ParameterWatch, new_extradata

log = logging.getLogger(__name__)

STEP_BACK_NS = 1_000_000_000  # a file's times going back more than this are a step (less: B-frames' order)
RAW_ELEMENTARY = ("h264", "hevc")  # FFmpeg's demuxers of raw elementary streams (no container, no timestamps)

STREAM_TIMEOUT_S = 10.0  # a USB device's open limit; a stream's is its [camera] stream_timeout_s (10 by default)
NO_PICTURE_S = 5.0  # a live source whose packets decode to no picture this long is lost (corrupt, another codec)
BURST_MAX_S = 10.0  # a stream's packets read ahead at its open: at most this long of them (FFmpeg probes up to 5 s)
DECODER_THREADS = 2


class AvSource:
    """A file or stream through PyAV; ``decode=False`` gives packets only (the recorded main stream)."""

    def __init__(self, config: CameraConfig, path: str | None = None, decode: bool = True) -> None:
        self.config, self.path, self.decode = config, path or config.path, decode
        self.fps, self.width, self.height = config.fps, config.width, config.height
        self.live = config.source == "stream" or config.realtime
        self.mode: str | None = None  # passthrough / reencode, known after the first open
        self.why = ""
        self.info: StreamInfo | None = None
        self.parameters: ParameterWatch | None = None  # the parameter sets sent in band (``stream_parameters``)
        self.container: Any = None
        self.stream: Any = None
        self.packets: deque[Packet] = deque()  # demuxed, not yet taken by the capture stage
        # demuxed at open (a stream's burst, the keyframe probe), not yet decoded: (packet, when handed over)
        self.pending: deque[tuple[Any, int]] = deque()
        self.opened_ns = 0  # when the last open began (the detector's clock)
        self.held_ns: int | None = None  # the packet being taken was read ahead at a stream's open: when handed over
        self.frames: deque[Frame] = deque()  # decoded, not yet read
        self.index = self.frame_index = 0
        self.pacer: _Pacer | None = None
        self.anchor_ns: int | None = None  # a file on its own timeline: the wall clock of pts 0 (after offset)
        self.stream_clock = StreamClock(config.id)  # any other source's times on the wall clock
        self.origin_ticks: int | None = None  # a file's first presentation time (its stream's start_time)
        self.loop_offset_ns = 0
        self.last_ns = self.shown_ns = 0  # the last packet's decode time, the latest presentation time
        self.given_ns = 0  # the last frame's time handed on: the next one comes after it, whatever its pts
        self.file_start_ns: int | None = None
        self.timeline_ns = 0  # a file on its own timeline: the latest time given (its times never go back)
        self.steps_back = 0  # times the file's own times stepped back (the first is a warning)
        self.demuxer: Any = iter(())
        self.untimed: deque[Any] = deque()  # packets without a timestamp, before the first one with one
        self.next_dts: int | None = None
        self.elementary = False  # a raw H.264/H.265 file: no timestamps, timed from 0 at its rate
        self.last_key_ns, self.gop_warned, self.long_gops = 0, False, 0
        self.last_key_stream_ns = 0  # the last keyframe's decode time on the stream's own clock
        self.leading: LeadingWatch | None = None  # an open GOP seen while passing through ends passthrough
        self.tick_num, self.tick_den, self.frame_ticks = 1, 90_000, 6000  # the stream's time base, set at open
        self.ended = False
        self.opened_bytes = -1  # a file's size when it last opened: one smaller at its end was cut short
        # A file reopened after a read error resumes where it was (``_resume``), not from its start:
        self.taken_dts: int | None = None  # the last packet demuxed and kept (decode time, in stream ticks)
        self.shown_pts: int | None = None  # the last frame decoded (presentation time, stream ticks)
        self.skip_dts: int | None = None  # after a reopen: packets up to here were kept already
        self.skip_pts: int | None = None  # ... and frames up to here decoded already
        self.lost_why = ""  # why the last read gave None (a stream lost), for the camera's fault
        self.open_error = ""  # why the last open failed, when the source knows (capture.py shows it, else a guess)
        self.picture_at, self.pictures = 0.0, 0  # when the last picture was decoded (monotonic), how many since open
        self.recent: RecentPackets | None = None  # fast_decode: the packets a snapshot is decoded from again
        self.idle_keys: IdleKeyframes | None = None  # idle_keyframes_only: keyframes only while detection is idle
        self.every_frame: Callable[[], bool] = lambda: True  # the detect stage: does it want every frame now?
        self.heartbeat: Callable[[], None] = lambda: None  # the capture loop's beat, for packets not decoded
        # packets that did not decode cleanly: counted, said a streak
        self.damaged = DamagedPackets(config.id, config.damaged_clear_s)

    # -- opening ----------------------------------------------------------------
    def open(self) -> bool:
        import av

        self.close()
        self.opened_ns, self.open_error = footage_ns(), ""
        # A named pipe, a device or a folder at a file source's path: FFmpeg's open of a pipe with no writer never
        # returned, and the camera stayed `starting` with no fault (open_failure says "not a file", as cv_source).
        # Its own path: the substream's checked against `path` left detection blind while the main file was missing
        if self.config.source == "file" and not os.path.isfile(self.path):
            return False
        try:
            self.container = self._open_container()
        except (av.FFmpegError, OSError) as exc:
            # its words without the URL PyAV puts in them (a password: tests/test_stream_no_video.py)
            log.debug("camera %s: PyAV cannot open the source: %s", self.config.id,
                      getattr(exc, "strerror", None) or type(exc).__name__)
            return False
        if not self.container.streams.video:
            self.close()
            return False
        self.opened_bytes = self.container.size if self.config.source == "file" else -1  # the file's size then
        self.stream = stream = self.container.streams.video[0]
        context = stream.codec_context
        if self.decode:
            # Decoding runs without the GIL, so it never holds up detection or recording. The codec's own
            # threads only for slices: frame threads cost about 15 % more CPU and a frame of delay.
            context.thread_type = "SLICE"
            context.thread_count = DECODER_THREADS
        # A raw H.264/H.265 file (no container: what a DVR export or `ffmpeg -f h264` writes) has no timestamps
        # at all and the demuxer makes its rate up (25): its packets are timed from 0 at the rate the stream's
        # own parameters give (guessed_rate: the SPS's timing), else none was ever decoded and the file gave
        # no frame and no event, silently
        self.elementary = self.config.source == "file" and self.container.format.name in RAW_ELEMENTARY
        rate = (stream.guessed_rate or stream.average_rate) if self.elementary else (
            stream.average_rate or stream.guessed_rate)
        self.fps = float(rate) if rate and 1 <= float(rate) <= 120 else self.config.fps
        self.width, self.height = context.width or self.config.width, context.height or self.config.height
        codec = context.codec.canonical_name  # the format's name (av1), not its decoder's (libdav1d)
        template, self._holder = parameters_of(stream) if codec in PASSTHROUGH_CODECS else (None, None)
        self.info = StreamInfo(codec, self.width, self.height, self.fps, stream.time_base, template)
        self.parameters = ParameterWatch(self.config.id, self.info, context.extradata) if template else None
        self.tick_num, self.tick_den = stream.time_base.numerator, stream.time_base.denominator
        self.origin_ticks = stream.start_time
        self.frame_ticks = max(1, round(self.tick_den / (self.fps * self.tick_num)))
        if self.config.source == "file":
            if self.config.realtime:
                self.pacer = _Pacer(self.fps)
            on_own_timeline = self.config.start is not None or not self.config.realtime
            if self.file_start_ns is None and on_own_timeline:
                self.file_start_ns = self._file_start_ns()
        self.anchor_ns, self.ended, self.next_dts = None, False, 0 if self.elementary else None
        self.stream_clock.restart()
        resuming = self._resume()
        if not resuming:
            self.index += 1 if self.index else 0  # a new timeline: the gap ends a passed-through segment here
        self.demuxer = _video_packets(self.container, self.stream, self._live_timeout_s())
        if self.config.source == "stream":
            self._read_burst()
        try:
            self._decide_mode()
        except (av.FFmpegError, OSError) as exc:  # the first open's probe read what the burst met: no video came
            self.close()
            why = _read_failure(exc, self.config.stream_timeout_s)  # the URL not said: passwords
            self.open_error = f"opened but gives no frame: {why}"
            return False
        if self.config.source == "stream":
            handed = [(self._ns(p.dts if p.dts is not None else p.pts), at) for p, at in self.pending
                      if p.dts is not None or p.pts is not None]
            self.stream_clock.restart(opened_anchor(handed, self.opened_ns), max(self.last_ns, self.shown_ns))
        self.lost_why, self.picture_at, self.pictures = "", time.monotonic(), 0  # after the keyframe probe
        self.damaged.opened()
        self.recent = None
        if self.decode and self.config.fast_decode and self.mode == "passthrough":  # never for frames re-encoded
            context.options = {"skip_loop_filter": "all"}  # no deblocking: section 12d of docs/benchmarks.md
            self.recent = RecentPackets(context.name, context.extradata, self.config.id)
        self.idle_keys = None
        if self.decode and self._keyframes_only_applies():
            self.idle_keys = IdleKeyframes(self.config.id, lambda: self.every_frame())
            self.idle_keys.damaged = lambda: self.damaged.damaged(self.last_ns)  # as those decoded for detection
        # beside a detect_path neither stream's own mode is what is recorded: the recorded stream's loop says it
        recording = "" if self.config.detect_path else f"; recording by {self.mode}"
        log.info("camera %s: opened %s (PyAV, %s) at %dx%d %.1f fps%s%s", self.config.id,
                 self._name(), context.name, self.width, self.height, self.fps, recording,
                 ("; fast decoding for detection (snapshots decoded in full)" if self.recent else "")
                 + (f"; keyframes only {self._keyframes_when()}" if self.idle_keys else ""))
        return True

    def _keyframes_when(self) -> str:
        when = [("while idle", self.config.idle_keyframes_only),
                ("while an event records", self.config.event_keyframes_only)]
        return " and ".join(words for words, asked in when if asked)

    def _keyframes_only_applies(self) -> bool:
        """Whether ``idle_keyframes_only`` / ``event_keyframes_only`` can skip decoding here; one log line if not.

        Only for a live source recorded by passthrough: a re-encoded camera encodes every frame of an
        event again (each must be decoded), and a file analysed as fast as possible would run ahead of
        detection's "every frame again" (its frames wait for detection, its packets do not).
        """
        asked = [key for key in ("idle_keyframes_only", "event_keyframes_only") if getattr(self.config, key)]
        if not asked or self.mode is None:
            return False
        why = ("" if self.mode == "passthrough" and self.live else
               f"the camera is re-encoded ({self.why or 'record = reencode'}), so every frame is decoded"
               if self.mode != "passthrough" else
               "a file analysed as fast as possible (realtime = false) would run ahead of detection")
        if not why:
            return True
        log.info("camera %s: %s ignored: %s; every frame is decoded", self.config.id, " and ".join(asked), why)
        return False

    def _resume(self) -> bool:
        """A file reopened after a read error (a network share's hiccup) goes on after what it gave already.

        From its start, it was analysed again: every event before the error a second time, as new
        footage. Seeks to the keyframe at or before the last packet kept; the packets from there to
        it are decoded again only for the decoder's references, and neither they nor the frames
        already decoded are given again (``_take``, ``_frame``). Nothing is lost either: packets and
        frames read before the error are still queued. Where the seek fails, the file is read from
        its start with the same skipping (slower, still exact).
        """
        import av

        if self.config.source != "file" or self.taken_dts is None:
            return False
        self.skip_dts, self.skip_pts = self.taken_dts, self.shown_pts
        try:
            self.container.seek(self.taken_dts, backward=True, any_frame=False, stream=self.stream)
        except (av.FFmpegError, OSError) as exc:
            log.warning("camera %s: cannot seek back to where the read failed (%s); reading the file from its "
                        "start, without analysing again what was analysed", self.config.id, exc)
        log.info("camera %s: resuming the file after what was read before the error", self.config.id)
        return True

    def _open_container(self) -> Any:
        """The demuxer for ``path``, a file or a stream URL (``usb_source.py`` opens a device its own way)."""
        import av

        # RTSP over TCP (no lost packets), and its video only: a camera's audio track kept the connection
        # reading after its video stopped, so no read timed out and the camera was never reopened
        options = {"rtsp_transport": "tcp", "allowed_media_types": "video"} if self.path.startswith("rtsp") else {}
        return av.open(self.path, options=options, timeout=float(self.config.stream_timeout_s))

    def _live_timeout_s(self) -> float | None:
        """How long a read may bring no video before it fails: a stream's ``stream_timeout_s``; a file's, never."""
        return float(self.config.stream_timeout_s) if self.config.source == "stream" else None

    def _name(self) -> str:
        from quickcam.detector.pipeline.capture import redacted

        return redacted(self.path)

    def _file_start_ns(self) -> int:
        cfg = self.config
        if cfg.start is not None:
            start = cfg.start if cfg.start.tzinfo else cfg.start.astimezone()
            return int(start.timestamp() * 1e9)
        created, why = _creation_time_ns(Path(self.path)), "its creation time"
        if created is None:
            length_ns = int(self.container.duration * 1000) if self.container.duration else 0
            created, why = Path(self.path).stat().st_mtime_ns - length_ns, "its mtime minus its length"
        log.info("camera %s: the file's first frame is at %s (%s); set [camera] start or --start to change it",
                 cfg.id, time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(created / 1e9)), why)
        return created

    def _decide_mode(self) -> None:
        """Passthrough or re-encode, for this camera, decided once at its first open (``av_stream.py``)."""
        if self.mode is None:
            packets = chain([packet for packet, _ in self.pending], self._demux_ahead())
            codec = self.info.codec if self.info else "?"
            reorders = bool(self.stream.codec_context.has_b_frames)
            probe = partial(probe_gop, packets, self.fps, self.config.max_gop_s, codec, reorders)
            self.mode, self.why = decide_mode(self.config, codec, probe, said=not self.config.detect_path)

    def _demux_ahead(self) -> Iterator[Any]:
        """The demuxer's next packets, each kept in ``pending`` with when it was handed over."""
        for packet in self.demuxer:
            if packet.size:
                self.pending.append((packet, footage_ns()))
                yield packet

    def _read_burst(self) -> None:
        """Read ahead what FFmpeg read while the stream opened, to tell when its packets were sent.

        They are handed over at once, then the next as they are sent (``stream_clock.OpenBurst``
        says when that is). Each is kept with when it was handed over (``pending``), and
        ``stream_clock.opened_anchor`` puts the stream's time 0 where the packets handed
        over as they came say. A read error is raised again when the packets read ahead
        have been taken, as if they had not been (at the first open the keyframe probe
        meets it first, as it did before).
        """
        import av

        burst = OpenBurst(self.opened_ns, footage_ns(), int(1e9 / self.fps))
        ahead, most = self._demux_ahead(), round(BURST_MAX_S * self.fps)
        try:
            while len(self.pending) < most and (packet := next(ahead, None)) is not None:
                ticks = packet.dts if packet.dts is not None else packet.pts
                if burst.over(self._ns(ticks) if ticks is not None else None, self.pending[-1][1]):
                    return
        except (av.FFmpegError, OSError) as exc:
            self.demuxer = _raising(exc)

    # -- reading ----------------------------------------------------------------
    def read(self) -> Frame | None:
        """The next decoded frame; None when the stream is lost; ``EndOfSource`` at the end of a file."""
        return self._read_into(self.frames)

    def read_packet(self) -> Packet | None:
        """Packets only (the recorded main stream beside a ``detect_path``): the next packet."""
        return self._read_into(self.packets)

    def _read_into(self, ready: deque[Any]) -> Any:
        """Demux until ``ready`` (frames or packets) has one, paced; the flush at a file's end may fill it."""
        if self.container is None:
            return None
        while not ready:
            packet = self._next_packet()
            if packet is None:
                if ready:
                    break
                if self.ended:
                    raise EndOfSource(self.path, self._cut_short())
                return None
            self._take(packet)
            if not ready and ready is self.frames and self._no_picture():
                return None
        if self.pacer:
            self.pacer.wait()
        return ready.popleft()

    def _cut_short(self) -> str:
        """Why a file that ended was not read to its end ('' when it was): the open file shrank while it was read."""
        now = self.container.size if self.container is not None and self.config.source == "file" else -1
        return cut_short(self.path, self.opened_bytes, now)

    def take_packets(self) -> list[Packet]:
        """The packets demuxed since the last call, in decode order."""
        packets = list(self.packets)
        self.packets.clear()
        return packets

    def _next_packet(self) -> Any:
        import av

        self.held_ns = None
        if self.pending:
            packet, handed_ns = self.pending.popleft()
            if self.config.source == "stream":
                self.held_ns = handed_ns
            return packet
        while True:
            try:
                packet = next(self.demuxer, None)
            except (av.FFmpegError, OSError) as exc:
                self.lost_why = _read_failure(exc, self.config.stream_timeout_s)
                log.warning("camera %s: %s", self.config.id, self.lost_why)
                return None
            if packet is None or (packet.size == 0 and packet.dts is None):
                return self._at_end()
            if packet.size:
                return packet

    def _at_end(self) -> Any:
        """A stream that ends is lost (None); a file ends, or starts again when looped."""
        if self.config.source != "file":
            self.lost_why = "the stream ended (the camera or server closed it)"
            return None
        if self.config.loop and self.elementary:  # FFmpeg cannot seek a raw stream back to its start
            log.warning("camera %s: a raw %s file cannot be looped (it has no index to seek in): read once; "
                        "put it in a container to loop it (ffmpeg -i %s -c copy file.mp4)", self.config.id,
                        self.info.codec if self.info else "video", Path(self.path).name)
        if not self.config.loop or self.index == 0 or self.elementary:
            self._flush_decoder()
            self.ended = True
            return None
        self._flush_decoder()  # the frames it still holds (B-frames) end this pass
        # the next pass starts a frame after the last frame *shown* (B-frames: after the last decoded)
        self.loop_offset_ns = max(self.last_ns, self.shown_ns) + int(1e9 / self.fps) - (self.file_start_ns or 0)
        self.anchor_ns, self.next_dts = None, None
        self.taken_dts = self.shown_pts = self.skip_dts = self.skip_pts = None  # the next pass's ticks start over
        self.stream_clock.restart()
        self.index += 1  # a new timeline: the gap ends a passed-through segment here
        self.container.seek(0)
        self.demuxer = _video_packets(self.container, self.stream, self._live_timeout_s())
        packet = next(self.demuxer, None)
        return packet if packet is not None and packet.size else None

    def _no_picture(self) -> bool:
        """True (the stream is lost) when a live source's packets have decoded to no picture for too long.

        Packets that keep coming but never decode (garbage with valid framing, the
        camera switched to another codec) would otherwise stall the capture loop for
        as long as they flow: the event left open, no reconnect, the packets piling up
        here. Allowed longer before the first picture and while only keyframes are
        decoded (a keyframe may be up to ``max_gop_s`` away).
        """
        if not (self.live and self.decode):
            return False
        waiting_s = time.monotonic() - self.picture_at
        slack_s = self.config.max_gop_s if self.idle_keys is not None or not self.pictures else 0.0
        if waiting_s <= NO_PICTURE_S + slack_s:
            return False
        codec = self.info.codec if self.info else "its"
        self.lost_why = (f"no picture decoded for {waiting_s:.0f} s while packets kept coming: the stream sends "
                         f"what the {codec} decoder cannot read (corrupt, or another codec)")
        log.warning("camera %s: %s; %d packet(s) since the last picture not recorded; reconnecting", self.config.id,
                    self.lost_why, len(self.packets))
        self.packets.clear()  # they would reach the next event's pre-roll, passed through as video they are not
        return True

    def _flush_decoder(self) -> None:
        if self.decode and self.stream is not None:
            try:
                for decoded in self.stream.codec_context.decode(None):
                    self._frame(decoded)
                self.stream.codec_context.flush_buffers()  # ready for a looped file's next pass
            except Exception as exc:  # a broken tail: what was decoded is kept
                log.debug("camera %s: flushing the decoder: %s", self.config.id, exc)

    def _given(self, stamp_ns: int) -> int:
        """A frame's time, after every frame handed on before, across reads and reopens (native: frame_time_ns).

        Checked against the queue's last frame only, a frame decoded with an earlier time than one already
        read (a file overwritten under its reader, garbage a decoder made a frame of) went back: the
        recorder's segment then ended before it began and the link refused it (kept in outbox/refused).
        """
        self.given_ns = max(stamp_ns, self.given_ns + 1)
        return self.given_ns

    def _ns(self, ticks: int) -> int:
        return ticks * self.tick_num * 1_000_000_000 // self.tick_den  # integers: Fraction is slow

    def _wall_ns(self, ticks: int, arrived: bool = False) -> int:
        """A timestamp in stream ticks on the wall clock: a file's own timeline, else the stream's clock
        (``stream_clock.py``; ``arrived``: the decode time of a packet that arrived just now)."""
        offset_ns = self._ns(ticks)
        if self.file_start_ns is None:
            held_ns = self.held_ns if arrived else None  # read ahead at the open: handed over then
            return self.stream_clock.wall_ns(offset_ns, self.shown_ns, int(1e9 / self.fps), arrived, held_ns,
                                             held=held_ns is not None)
        if self.anchor_ns is None:  # the first frame shown is at the start, not the first packet decoded
            origin_ns = self._ns(self.origin_ticks) if self.origin_ticks is not None else offset_ns
            self.anchor_ns = (self.file_start_ns or 0) + self.loop_offset_ns - origin_ns
        at_ns = self.anchor_ns + offset_ns
        if at_ns < self.timeline_ns - STEP_BACK_NS:
            at_ns = self._stepped_back(at_ns, offset_ns)
        self.timeline_ns = max(self.timeline_ns, at_ns)
        return at_ns

    def _stepped_back(self, at_ns: int, offset_ns: int) -> int:
        """A file's own times that step back (parts joined without their times made continuous: ``cat`` of
        MPEG-TS files, a DVR's export) go on a frame after the latest, never back: an event's segments and
        snapshots went back in time with them (``start_ms`` before the previous segment's end: protocol.md, 4).
        The native detector's ``timeline_ns`` does the same, in the same words."""
        back_s = (self.timeline_ns - at_ns) / 1e9
        said = log.warning if not self.steps_back else log.info
        self.steps_back += 1
        said("camera %s: the file's times step back by %.1f s (parts joined without their times made continuous?); "
             "its timeline goes on a frame after the latest, never back", self.config.id, back_s)
        self.anchor_ns = self.timeline_ns + int(1e9 / self.fps) - offset_ns
        return self.anchor_ns + offset_ns

    def _take(self, packet: Any) -> None:
        """Keep a demuxed packet (and decode it for detection); one without a timestamp gets one."""
        if packet.pts is None and packet.dts is None:
            if self.next_dts is None:  # the stream's first packets: timed from the next timed one
                self.untimed.append(packet)
                return
            packet.pts = packet.dts = self.next_dts
        elif self.untimed:
            first = packet.dts if packet.dts is not None else packet.pts
            step = packet.duration or self.frame_ticks
            untimed, self.untimed = list(self.untimed), deque()
            for back, early in enumerate(reversed(untimed), start=1):
                early.pts = early.dts = first - back * step
            for early in untimed:
                self._take(early)
        dts = packet.dts if packet.dts is not None else packet.pts
        if self.skip_dts is not None:
            if dts <= self.skip_dts:  # resumed: kept before the error (``_resume``)
                self._decode_again(packet)
                return
            self.skip_dts = None
        self.taken_dts = dts
        self.next_dts = dts + (packet.duration or self.frame_ticks)
        pts = packet.pts if packet.pts is not None else dts
        time_ns = max(self._wall_ns(dts, arrived=True), self.last_ns + 1)
        self.last_ns = time_ns
        pts_ns = self._wall_ns(pts)
        self.shown_ns = max(self.shown_ns, pts_ns)
        keyframe = bool(packet.is_keyframe)
        data = bytes(packet)
        if keyframe and self.parameters is not None and self.info is not None:  # a camera switching resolution
            self.info = self.parameters.see(self.info, data, new_extradata(packet))
            self.width, self.height = self.info.width, self.info.height
        self.packets.append(Packet(data, packet.pts, packet.dts, packet.duration or 0,
                                   keyframe, time_ns, pts_ns, self.index, self.info))
        self._watch_keyframes(keyframe, time_ns, self._ns(dts))
        self._watch_leading(self.packets[-1])
        if self.recent is not None:
            self.recent.add(self.packets[-1])
        self.index += 1
        if not self.decode:
            return
        if self.info is not None and self.info.codec == "mjpeg":
            self._jpeg(self.packets[-1])
            return
        if self.idle_keys is not None and self.idle_keys.skip(packet, keyframe, self.stream.codec_context):
            self.heartbeat()  # no frame for a while: not a stall
            if self.pacer:  # a file paced as a camera: each packet takes its time, decoded or not
                self.pacer.wait()
            return
        self._decode(packet)

    def _decode(self, packet: Any) -> None:
        """Decode a packet for detection; one that does not decode is counted (``DamagedPackets``)."""
        try:
            decoded_frames = self.stream.codec_context.decode(packet)
        except Exception as exc:  # a damaged packet: the next keyframe recovers; recording keeps it
            log.debug("camera %s: a packet did not decode: %s", self.config.id, exc)
            self.damaged.damaged(self.last_ns)
            return
        for decoded in decoded_frames:
            self._frame(decoded)

    def _decode_again(self, packet: Any) -> None:
        """A packet read before a reopen, decoded only as the reference of those after it."""
        if not self.decode or (self.info is not None and self.info.codec == "mjpeg"):
            return
        self._decode(packet)  # a frame the old decoder still held is new; the others are skipped in _frame

    def _watch_keyframes(self, keyframe: bool, time_ns: int, stream_ns: int) -> None:
        """Say so when keyframes stop coming: the open segment then grows until the next one.

        The GOP is measured on both clocks, the shorter counting: a stream that stalled (no
        packet for seconds, then the rest of its GOP) has a long GOP by arrival only, and one
        whose own timestamps jumped has one by the stream's clock only; neither is a camera
        whose keyframes are too far apart (a stall had turned passthrough into re-encoding for good).
        """
        if keyframe or self.last_key_ns == 0:
            if keyframe and self.gop_warned:
                log.info("camera %s: keyframes again after %.1f s%s", self.config.id,
                         (time_ns - self.last_key_ns) / 1e9,
                         "; still re-encoding until the detector restarts" if self.mode == "reencode" else "")
            self.last_key_ns, self.last_key_stream_ns, self.gop_warned = time_ns, stream_ns, False
            return
        stream_gop_ns = stream_ns - self.last_key_stream_ns
        gop_ns = time_ns - self.last_key_ns if stream_gop_ns < 0 else min(time_ns - self.last_key_ns, stream_gop_ns)
        if not self.gop_warned and gop_ns > self.config.max_gop_s * 1e9:
            self.gop_warned = True
            self.long_gops += 1
            if self.mode == "passthrough" and self.decode:
                self.mode = "reencode"
                self.why = f"no keyframe for more than max_gop_s = {self.config.max_gop_s:g} s"
                self.frame_index = max(self.frame_index, self.index)  # frames now come after every packet
            if self.idle_keys is not None:  # else nothing decoded until the next keyframe: a camera blind till then
                self.idle_keys.catch_up(self.stream.codec_context)  # the references of the frames to come
                self.idle_keys = None
                log.warning("camera %s: no keyframe for more than max_gop_s = %g s while decoding keyframes only; "
                            "decoding every frame from now on", self.config.id, self.config.max_gop_s)
            log.warning("camera %s: no keyframe for %.0f s (max_gop_s = %g); %s; set the camera's keyframe "
                        "interval lower", self.config.id, gop_ns / 1e9, self.config.max_gop_s,
                        "re-encoding from now on" if self.mode == "reencode" else "the open segment grows until "
                        "the next keyframe")

    def _watch_leading(self, packet: Packet) -> None:
        """An open GOP the first packets did not show (``decide_mode`` probed them) ends passthrough, said once."""
        if self.mode != "passthrough" or not self.decode or not self.stream.codec_context.has_b_frames:
            return  # no B-frames (the decoder knows from the parameters it has decoded): no leading frames
        if self.leading is None:
            self.leading = LeadingWatch(self.info.codec if self.info else "?")
        self.leading.see(packet.data, packet.pts, packet.keyframe)
        if self.leading.open:
            self.mode, self.why = "reencode", OPEN_GOP_WHY
            self.frame_index = max(self.frame_index, self.index)  # frames now come after every packet
            log.warning("camera %s: re-encoding from now on: %s", self.config.id, OPEN_GOP_WHY)

    def _jpeg(self, packet: Packet) -> None:
        frame = jpeg_for_detection(packet.data, packet.pts_ns, self.frame_index, self.width, self.height,
                                   self.config.motion.detection_width)
        if frame is None:
            log.debug("camera %s: a JPEG frame did not decode", self.config.id)
            self.damaged.damaged(packet.pts_ns, "JPEG frame")
            return
        self.damaged.decoded(True, packet.pts_ns)  # each JPEG stands alone
        self.frames.append(frame)
        self.frame_index += 1
        self.picture_at, self.pictures = time.monotonic(), self.pictures + 1

    def _frame(self, decoded: Any) -> None:
        if not decoded.is_corrupt:  # a keyframe decoded again after a reopen is whole all the same
            self.damaged.decoded(decoded.key_frame, self.last_ns)
        if self.skip_pts is not None and decoded.pts is not None:
            if decoded.pts <= self.skip_pts:  # resumed: decoded (and queued or read) before the error
                return
            self.skip_pts = None
        if decoded.pts is not None:
            self.shown_pts = decoded.pts
        if decoded.is_corrupt:  # decoded, but parts of the picture could not be read
            self.damaged.damaged(self.last_ns)
        # recorded, not analysed: flagged corrupt, or predicted from a damaged packet (``damaged_packets.py``)
        damaged = self.damaged.not_analysed(decoded.is_corrupt, self.last_ns)
        stamp = self._given(self._wall_ns(decoded.pts) if decoded.pts is not None else self.last_ns)
        luma, scale = shrink_luma(decoded, self.config.motion.detection_width)
        full = partial(self.recent.picture, stamp) if self.recent is not None else None
        self.frames.append(Frame(luma, stamp, self.frame_index, decoded, scale, full, damaged))
        self.frame_index += 1
        self.picture_at, self.pictures = time.monotonic(), self.pictures + 1

    def close(self) -> None:
        if self.container is not None:
            try:
                self.container.close()
            finally:
                self.container = self.stream = None
        self.demuxer = iter(())
        self.pending.clear()


class NoVideo(OSError):
    """A stream whose reads go on but bring no video: lost as one that sends nothing (``stream_timeout_s``)."""


def _video_packets(container: Any, video: Any, timeout_s: float | None) -> Iterator[Any]:
    """The container's packets of ``video``; the others (audio, data) dropped as they are read, never decoded.

    PyAV's ``demux(video)`` drops them too, but inside one read whose timeout each of
    them starts again: a stream whose video stopped while its audio went on was read
    for good, never lost, never reopened. Here a live stream's read that meets only
    other packets for ``timeout_s`` (its ``stream_timeout_s``; None: never) fails as a silent one does.

    A read that PyAV's timeout cut short may still give a packet: the one FFmpeg's parser held (an RTSP
    stream's last frame, flushed when the read failed). That packet is given, and the stream is lost at
    once after it: the next read began its own timeout, so a frozen RTSP camera was lost only after two
    (20 s for a 10 s ``stream_timeout_s``).
    """
    asked = time.monotonic()
    for packet in container.demux():
        late = timeout_s is not None and time.monotonic() - asked >= timeout_s
        if packet.stream_index == video.index:
            yield packet
            if late:
                raise NoVideo(silent_words(timeout_s))
            asked = time.monotonic()
        elif late:
            raise NoVideo(f"no video for {timeout_s:.0f} s while the stream sends other data (audio?)")


def silent_words(timeout_s: float) -> str:
    """Why a stream that gave nothing for its ``stream_timeout_s`` is lost (the native detector's words)."""
    return f"no video packet for {timeout_s:.0f} s (the stream stopped, or sends nothing readable)"


def _read_failure(exc: Exception, timeout_s: int) -> str:
    """Why a stream's read failed, in words (never its URL, which may hold a password)."""
    import av

    if isinstance(exc, av.ExitError):
        return silent_words(timeout_s)
    if isinstance(exc, NoVideo):
        return str(exc)
    return f"reading it failed ({getattr(exc, 'strerror', None) or type(exc).__name__})"


def _raising(exc: BaseException) -> Iterator[Any]:
    """A demuxer that failed while packets were read ahead: it fails when they have been taken."""
    raise exc
    yield  # a generator: raises at its first ``next``
