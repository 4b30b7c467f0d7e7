"""Joining segments without re-encoding, and faces on snapshots: the viewer's functional core."""

from __future__ import annotations

import io
from pathlib import Path

import av
import numpy as np
import pytest

from quickcam.uploader.viewer.footage import OpenedItem, draw_faces, find_faces, join_segments
from quickcam.uploader.viewer.store import StoredItem
from tests.uploader.viewer.footage_store import FACE_JPEG, encode_mp4, make_clip, make_jpeg, size_change_event


def _opened(seq: int, plaintext: bytes | None, problem: str = "") -> OpenedItem:
    item = StoredItem(f"k{seq}", "segment", seq, f"id{seq}", 0, None)
    return OpenedItem(item, plaintext=plaintext, problem=problem)


def _b_frame_clip(frames: int = 20, fps: int = 10) -> bytes:
    """A clip with B-frames (decode order differs from display order), as many IP cameras send."""
    images = []
    for n in range(frames):
        image = np.full((120, 160, 3), 40, np.uint8)
        image[30:50, n * 6 % 140:n * 6 % 140 + 20] = 255
        images.append(image)
    return encode_mp4(images, fps, preset="medium", bf="2")


def _frame_times(mp4: bytes) -> list[float]:
    with av.open(io.BytesIO(mp4)) as video:
        return [float(frame.time) for frame in video.decode(video=0)]


@pytest.mark.parametrize("make", [lambda: make_clip(2.0), _b_frame_clip], ids=["no-b-frames", "b-frames"])
def test_joined_segments_play_back_to_back_without_gaps(make: object) -> None:
    clip = make()  # type: ignore[operator]
    joined = join_segments([_opened(0, clip), _opened(1, clip), _opened(2, clip)])
    times = _frame_times(joined.parts[0].mp4)
    assert len(times) == 60 and joined.joined == [0, 1, 2] and joined.left_out == {}
    steps = {round(b - a, 3) for a, b in zip(times, times[1:], strict=False)}
    assert steps == {0.1}, steps  # one frame apart everywhere, across the joins too
    assert times[0] == pytest.approx(0.0, abs=0.01)
    assert joined.duration_s == pytest.approx(6.0)


def test_unplayable_segments_are_left_out_with_the_reason_and_another_size_is_a_part_of_its_own() -> None:
    clip = make_clip(1.0)
    joined = join_segments([_opened(0, clip), _opened(1, b"not a video"), _opened(2, None, "damaged: tag"),
                            _opened(3, clip), _opened(4, make_clip(1.0, size=(320, 240))), _opened(5, clip)])
    assert [part.joined for part in joined.parts] == [[0, 3], [4], [5]]  # a run goes on over what is left out
    assert [(part.width, part.height) for part in joined.parts] == [(160, 120), (320, 240), (160, 120)]
    assert list(joined.left_out) == ["k1", "k2"] and joined.left_out["k1"].reason.startswith("not a playable video")
    assert joined.left_out["k2"] == (2, "id2", "damaged: tag")
    assert [len(_frame_times(part.mp4)) for part in joined.parts] == [20, 10, 10]


def test_an_event_whose_camera_changed_size_is_shown_whole_in_two_parts(tmp_path: Path) -> None:
    """A real event from the detector, the camera set from 320x240 to 640x480 mid-event: the segments after the
    change have another avcC and size. Before, they were left out ("encoded unlike the first joined segment"):
    the footage of the intruder after the change was not shown."""
    segments = size_change_event(tmp_path)
    joined = join_segments([_opened(h["seq"], mp4) for h, mp4 in segments])
    assert joined.left_out == {} and joined.joined == [h["seq"] for h, _ in segments]
    assert [(part.width, part.height) for part in joined.parts] == [(320, 240), (640, 480)]
    for part in joined.parts:
        expected = sum(h["frames"] for h, _ in segments if h["seq"] in part.joined)
        with av.open(io.BytesIO(part.mp4)) as video:
            frames = [(f.width, f.height) for f in video.decode(video=0)]
        assert frames == [(part.width, part.height)] * expected  # every frame, no decoding error
        assert part.duration_s == pytest.approx(expected / 10, abs=0.01)


def _h265_clip(frames: int = 10, fps: int = 10) -> bytes:
    """An H.265 MP4 as FFmpeg's muxer writes it by default (tagged hev1)."""
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        stream = out.add_stream("libx265", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        stream.options = {"x265-params": "log-level=none"}
        for n in range(frames):
            frame = av.VideoFrame.from_ndarray(np.full((120, 160, 3), 20 * n, np.uint8), format="bgr24")
            frame.pts = n
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    return buf.getvalue()


def test_joined_h265_is_tagged_for_apples_players() -> None:
    clip = _h265_clip()
    with av.open(io.BytesIO(clip)) as source:
        assert source.streams.video[0].codec_tag == "hev1"  # what the segments may hold
    joined = join_segments([_opened(0, clip), _opened(1, clip)])
    assert joined.joined == [0, 1] and len(_frame_times(joined.parts[0].mp4)) == 20
    with av.open(io.BytesIO(joined.parts[0].mp4)) as video:
        assert video.streams.video[0].codec_tag == "hvc1"  # Safari and iOS refuse hev1


def test_nothing_playable_gives_no_video() -> None:
    joined = join_segments([_opened(0, None, "wrong key: ...")])
    assert joined.parts == [] and joined.left_out == {"k0": (0, "id0", "wrong key: ...")}


@pytest.mark.skipif(not FACE_JPEG.is_file(), reason="tests/data/messi5.jpg comes from opencv-doc "
                                                    "(scripts/install_test_tools.sh)")
def test_faces_are_found_and_boxed_on_a_real_photo() -> None:
    jpeg = FACE_JPEG.read_bytes()
    image, faces = find_faces(jpeg)
    assert image is not None and len(faces) >= 1
    drawn, count = draw_faces(jpeg, width=320)
    assert count == len(faces) and drawn != jpeg and drawn.startswith(b"\xff\xd8")
    assert find_faces(make_jpeg())[1] == []
    assert draw_faces(b"not a jpeg") == (b"not a jpeg", 0)
