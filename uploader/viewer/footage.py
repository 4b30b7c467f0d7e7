"""An event's footage in memory: decrypted files, one joined MP4, snapshots with face boxes.

Plaintext exists only in this process's memory: files are read from the back end
into bytes, decrypted with ``cryptofile.decrypt`` into a ``BytesIO``, and PyAV reads
and writes ``BytesIO`` objects too, so no temporary file is ever made. A file that
fails (wrong key, damaged, truncated, a name that does not match its header) is
reported with its reason and left out; the rest of the event still plays.

Segments are joined by remuxing: their packets are copied into one MP4 with their
timestamps shifted to follow one another, never decoded or re-encoded; a run of segments
encoded otherwise (the camera set to another resolution mid-event) is a second MP4. The storage
holds no face metadata (the wire's ``faces`` field is not stored), so faces are found
here on the decrypted snapshots with OpenCV's bundled Haar cascade.
"""

from __future__ import annotations

import hashlib
import io
import threading
from dataclasses import dataclass, field
from fractions import Fraction
from typing import NamedTuple

import av
import cv2
import numpy as np

from quickcam.common.cryptofile import CryptoFileError, Header, Keyring, decrypt
from quickcam.common.mp4_tags import tag_for_apple
from quickcam.uploader.backends import BackendError, Reader
from quickcam.uploader.viewer.store import StoredEvent, StoredItem

Box = tuple[int, int, int, int]
THUMB_WIDTH = 320
_CASCADE = "haarcascade_frontalface_default.xml"
_face_lock = threading.Lock()
_face_model: list[cv2.CascadeClassifier] = []


@dataclass(frozen=True)
class OpenedItem:
    """A stored file after decryption: its plaintext, or the reason there is none."""

    item: StoredItem
    plaintext: bytes | None = field(default=None, repr=False)
    problem: str = ""
    cause: str = ""  # "wrong key", "damaged", ... (CryptoFileError.cause) when it failed

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.plaintext).hexdigest() if self.plaintext is not None else ""


def open_item(reader: Reader, item: StoredItem, keyring: Keyring) -> OpenedItem:
    """Read and decrypt one file in memory; every failure becomes ``problem``, never an exception."""
    if item.problem:
        return OpenedItem(item, problem=item.problem, cause=item.problem.split(":", 1)[0])
    try:
        data = reader.read(item.key)
    except BackendError as exc:
        return OpenedItem(item, problem=f"unreadable: {exc}", cause="unreadable")
    try:
        plaintext = decrypt_bytes(data, keyring)[1]
    except CryptoFileError as exc:
        return OpenedItem(item, problem=str(exc), cause=exc.cause)
    return OpenedItem(item, plaintext=plaintext)


def decrypt_bytes(data: bytes, keyring: Keyring) -> tuple[Header, bytes]:
    """Decrypt a whole ``.qsc`` file held in memory; raises CryptoFileError naming the cause."""
    out = io.BytesIO()
    header = decrypt(io.BytesIO(data), out, keyring)
    return header, out.getvalue()


# -- video ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VideoPart:
    """One MP4 of consecutive segments encoded alike (same codec, size and parameter sets)."""

    mp4: bytes = field(repr=False)
    duration_s: float
    joined: list[int]  # seq of each segment inside, in order
    width: int
    height: int


@dataclass(frozen=True)
class JoinedVideo:
    """An event's playable segments as MP4s, one per run of segments encoded alike, and what was left out and why.

    A camera set to another resolution mid-event sends another size and other parameter sets from a
    keyframe on, and the detector starts a segment there with them in its header; one MP4 header cannot
    say both, so the segments from there on are the event's next part, not left out.
    """

    parts: list[VideoPart]
    # stored name -> its seq, id and why: an ``adopted/`` folder holds several events' files, each numbered from 0,
    # so keyed by seq one event's segment 0 hid another's (two left out, one said)
    left_out: dict[str, LeftOut]

    @property
    def duration_s(self) -> float:
        return sum(part.duration_s for part in self.parts)

    @property
    def joined(self) -> list[int]:
        return [seq for part in self.parts for seq in part.joined]


class LeftOut(NamedTuple):
    """A segment not in the video: its number in its event, its id and why."""

    seq: int
    item_id: str
    reason: str


Encoding = tuple[str, int, int, bytes]  # codec, width, height, extradata: what one MP4 header says


def join_segments(segments: list[OpenedItem]) -> JoinedVideo:
    """Copy the packets of every decrypted segment into MP4s, back to back (no re-encode): one MP4 per run of
    consecutive segments encoded alike (a segment that is left out does not end a run)."""
    left_out = {s.item.key: LeftOut(s.item.seq, s.item.item_id, s.problem) for s in segments if s.plaintext is None}
    runs: list[tuple[Encoding, list[OpenedItem]]] = []
    for opened in segments:
        if opened.plaintext is None:
            continue
        try:
            encoding = _encoding(opened.plaintext)
        except (av.error.FFmpegError, ValueError) as exc:
            left_out[opened.item.key] = _unplayable(opened, exc)
            continue
        if runs and runs[-1][0] == encoding:
            runs[-1][1].append(opened)
        else:
            runs.append((encoding, [opened]))
    parts = [part for encoding, run in runs if (part := _join_run(encoding, run, left_out)) is not None]
    in_order = {s.item.key: left_out[s.item.key] for s in segments if s.item.key in left_out}
    return JoinedVideo(parts, in_order)


def _encoding(plaintext: bytes) -> Encoding:
    with av.open(io.BytesIO(plaintext), "r") as clip:
        if not clip.streams.video:
            raise ValueError("it holds no video stream")
        codec = clip.streams.video[0].codec_context
        return codec.name, codec.width, codec.height, bytes(codec.extradata or b"")


def _unplayable(opened: OpenedItem, exc: Exception) -> LeftOut:
    return LeftOut(opened.item.seq, opened.item.item_id, f"not a playable video: {exc}")


def _join_run(encoding: Encoding, run: list[OpenedItem], left_out: dict[str, LeftOut]) -> VideoPart | None:
    """One MP4 of a run's segments; a segment that does not demux is left out with the reason."""
    out_buf = io.BytesIO()
    joined: list[int] = []
    offset = Fraction(0)  # seconds of video already written
    with av.open(out_buf, "w", format="mp4") as out:
        out_stream = None
        for opened in run:
            try:
                with av.open(io.BytesIO(opened.plaintext), "r") as clip:
                    stream = clip.streams.video[0]
                    if out_stream is None:
                        out_stream = out.add_stream_from_template(stream)
                        tag_for_apple(out_stream, encoding[0])
                    offset += _copy_packets(clip, stream, out, out_stream, offset)
                    joined.append(opened.item.seq)
            except (av.error.FFmpegError, ValueError) as exc:
                left_out[opened.item.key] = _unplayable(opened, exc)
    if not joined:
        return None
    return VideoPart(out_buf.getvalue(), float(offset), joined, encoding[1], encoding[2])


def _copy_packets(clip: av.container.InputContainer, stream: av.video.stream.VideoStream,
                  out: av.container.OutputContainer, out_stream: av.video.stream.VideoStream,
                  offset: Fraction) -> Fraction:
    """Mux one clip's packets shifted by ``offset`` seconds; returns the clip's length in seconds."""
    tb = stream.time_base or Fraction(1, 90000)
    shift = round(offset / tb)
    packets = [p for p in clip.demux(stream) if p.dts is not None]
    if not packets:
        raise ValueError("it holds no video packets")
    # The first frame shown (smallest pts) goes right after the previous clip. With B-frames
    # decoding starts earlier (dts < pts); the decode delay is the same in every clip of one
    # encoder, so decode times still rise across the join.
    first = min(p.pts if p.pts is not None else p.dts for p in packets)
    end = 0
    for packet in packets:
        pts = packet.pts if packet.pts is not None else packet.dts
        end = max(end, pts - first + (packet.duration or 0))
        packet.dts = packet.dts - first + shift
        packet.pts = pts - first + shift
        packet.stream = out_stream
        out.mux(packet)
    return Fraction(end) * tb


def video_duration_s(plaintext: bytes) -> float:
    """A clip's length in seconds from its container, or 0.0 if it cannot be read."""
    try:
        with av.open(io.BytesIO(plaintext), "r") as clip:
            if clip.duration:
                return clip.duration / av.time_base
            stream = clip.streams.video[0]
            if stream.duration and stream.time_base:
                return float(stream.duration * stream.time_base)
    except (av.error.FFmpegError, IndexError):
        pass
    return 0.0


# -- snapshots ----------------------------------------------------------------------------------


def find_faces(jpeg: bytes) -> tuple[np.ndarray | None, list[Box]]:
    """The decoded image and the faces in it (OpenCV's frontal-face Haar cascade)."""
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        return None, []
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    with _face_lock:  # one classifier, used by one thread at a time
        if not _face_model:
            _face_model.append(cv2.CascadeClassifier(cv2.data.haarcascades + _CASCADE))
        found = _face_model[0].detectMultiScale(gray, scaleFactor=1.15, minNeighbors=5, minSize=(24, 24))
    return image, [tuple(int(v) for v in box) for box in found]


def draw_faces(jpeg: bytes, width: int | None = None) -> tuple[bytes, int]:
    """The snapshot with a box around each face (optionally shrunk to ``width``), and the count."""
    image, faces = find_faces(jpeg)
    if image is None:
        return jpeg, 0
    for x, y, w, h in faces:
        cv2.rectangle(image, (x, y), (x + w, y + h), (0, 200, 255), max(2, image.shape[1] // 320))
    if width and image.shape[1] > width:
        height = round(image.shape[0] * width / image.shape[1])
        image = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])
    return (encoded.tobytes() if ok else jpeg), len(faces)


# -- an event's summary for the timeline ----------------------------------------------------------


@dataclass(frozen=True)
class EventSummary:
    """What a timeline block shows beyond the listing: computed once per event, kept in memory."""

    duration_s: float
    faces: int
    thumbnail: bytes | None = field(repr=False)
    problems: int
    transient: bool = False  # a back end failed to deliver a file: worth asking again later


def summarize(reader: Reader, event: StoredEvent, keyring: Keyring) -> EventSummary:
    """Thumbnail and face count from the snapshots, duration from the segments' times."""
    faces, thumbnail, problems, transient = 0, None, len(event.damaged), False
    for item in event.snapshots:
        opened = open_item(reader, item, keyring)
        if opened.plaintext is None:
            problems += 0 if item.problem else 1
            transient = transient or opened.cause == "unreadable"
            continue
        drawn, count = draw_faces(opened.plaintext, THUMB_WIDTH)
        faces = max(faces, count)
        if thumbnail is None:
            thumbnail = drawn
    return EventSummary(_duration(reader, event, keyring), faces, thumbnail, problems, transient)


def _duration(reader: Reader, event: StoredEvent, keyring: Keyring) -> float:
    """From the first file's start to the end of the last segment (whose own length is read)."""
    whole = [s for s in event.segments if s.header and not s.problem]
    if not whole:
        return 0.0
    last = whole[-1]
    opened = open_item(reader, last, keyring)
    tail = video_duration_s(opened.plaintext) if opened.plaintext is not None else 0.0
    return max(0.0, (last.start_ms or 0) / 1000 + tail - event.start_ms / 1000)
