"""The native detector records an H.264 file by passthrough: the camera's own packets, remuxed, never re-encoded.

As ``tests/detector/test_passthrough.py`` holds the Python detector to: each segment decodes from its
first packet (a keyframe) with no error, holds exactly the frames its header says, is at least
``segment_s`` and cut at a keyframe, and carries the source's own bytes (its size per second is the
source's); the event starts at the keyframe at or before its first pre-roll time. A codec an MP4
cannot carry, or keyframes further apart than ``max_gop_s``, is re-encoded with one line saying why.
The native binary re-encoded every event before (libx264: other bytes, no such line).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import av
import pytest

from quickcam.common import protocol
from quickcam.detector.sources import Walk
from tests.conftest import private_endpoint
from tests.detector.test_passthrough_rtsp import serving
from tests.fakes.h264 import (
    check_a_size_change,
    join_clips,
    jump_mpegts,
    probe,
    relevel_mpegts,
    shown_s,
    size_change_video,
    write_h264,
)
from tests.fakes.shims import preload_shim
from tests.fakes.uploader_peer import AckingPeer
from tests.native_build import native_detector
from tests.waiting import wait_until

FPS = 10.0
WALK = Walk(2.0, 4.0)


class KeepingPeer(AckingPeer):
    """Acks everything and keeps each segment's payload by its id (the outbox deletes what was acked)."""

    def __init__(self, endpoint: str) -> None:
        self.payloads: dict[str, bytes] = {}
        super().__init__(endpoint)

    def answer(self, peer: bytes, message: protocol.Message) -> dict[str, Any] | None:
        if message.type == "segment":
            with self.lock:
                self.payloads[message.header["id"]] = message.payload or b""
        return super().answer(peer, message)


def _record(root: Path, video: Path | str, settings: str = "", seconds: float = 30,
            source: str = 'source = "file"\nrealtime = false') -> tuple[list[tuple[dict, Path]], str, dict]:
    """The native detector on ``video`` (a file read as fast as it decodes, unless ``source`` says otherwise) for
    at most ``seconds``: each segment's header and its file, the log, the camera's last status."""
    segments, log, camera, _ = record_with(root, video, settings, seconds, source, KeepingPeer)
    return segments, log, camera


def record_with(root: Path, video: Path | str, settings: str, seconds: float, source: str,
                peer_class: type[KeepingPeer], extra_env: dict[str, str] | None = None,
                ) -> tuple[list[tuple[dict, Path]], str, dict, KeepingPeer]:
    """``_record`` with the uploader's stand-in of ``peer_class``, handed back too (what else it kept);
    ``extra_env``: added to the detector's environment (a test seam's variable)."""
    root.mkdir()
    endpoint = private_endpoint(root)
    (root / "quickcam.toml").write_text(
        f'[camera]\n{source}\npath = "{video}"\n{settings}'
        '[recording]\npre_roll_s = 1.0\npost_roll_s = 1.0\nsegment_s = 1.0\n'
        f'[link]\nendpoint = "{endpoint}"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUICKCAM_")} | (extra_env or {})
    uploader = peer_class(endpoint)
    try:
        run = subprocess.run([str(native_detector()), "--config", "quickcam.toml", "--seconds", f"{seconds:g}"],
                             cwd=root, env=env, capture_output=True, text=True, timeout=seconds + 30)
    finally:
        uploader.close()
    assert run.returncode == 0, run.stderr
    segments = []
    for head in uploader.segments:
        path = root / f"{head['id']}.mp4"
        path.write_bytes(uploader.payloads[head["id"]])
        segments.append((head, path))
    camera = json.loads((root / "outbox" / "detector-status.json").read_text())["cameras"]["cam0"]
    return segments, run.stderr, camera, uploader


def _packets(path: Path) -> list[bytes]:
    with av.open(str(path)) as container:
        return [bytes(p) for p in container.demux(video=0) if p.size]


def _playable(segments: list[tuple[dict, Path]], slack_ms: float = 1) -> None:
    """Every segment decodes from its first packet, a keyframe, with no error, to exactly the frames its header
    says (passed through or re-encoded: the re-encoder's last frame of each segment was dropped by players)."""
    assert segments and segments[-1][0]["final"] and not any(h["final"] for h, _ in segments[:-1])
    for head, path in segments:
        found = probe(path)
        assert found == {"frames": head["frames"], "errors": 0, "keyframe_first": True, "codec": head["codec"]}, head
        assert head["end_ms"] - head["start_ms"] == pytest.approx((head["frames"] - 1) * 1000 / head["fps"],
                                                                  abs=slack_ms)


@pytest.mark.parametrize("gop_s", [1.0, 2.0])
def test_native_segments_are_the_files_own_h264_packets_cut_at_keyframes(tmp_path: Path, gop_s: float) -> None:
    video = write_h264(tmp_path / "walk.mp4", 7.0, FPS, gop_s, walks=(WALK,), bitrate=400_000)
    segments, log, camera = _record(tmp_path / "run", video)
    _playable(segments)
    source = _packets(video)
    gop = round(gop_s * FPS)
    for head, path in segments:
        assert head["codec"] == "h264" and head["fps"] == FPS and (head["width"], head["height"]) == (320, 240)
        assert head["frames"] % gop == 0 or head["final"], head  # cut at the next keyframe
        assert head["frames"] >= FPS * 1.0 or head["final"], head  # at least segment_s
        assert set(_packets(path)) <= set(source)  # the camera's own bytes: nothing re-encoded
    # one event, contiguous, from the keyframe at or before (onset - pre-roll) to past the walk's end
    starts, ends = [h["start_ms"] for h, _ in segments], [h["end_ms"] for h, _ in segments]
    assert all(b - a == pytest.approx(1000 / FPS, abs=1) for a, b in zip(ends, starts[1:], strict=False))
    first_key = gop * int((WALK.start_s - 1.0) / gop_s)  # pre_roll_s = 1.0
    assert _packets(segments[0][1])[0] == source[first_key]
    recorded = sum(h["frames"] for h, _ in segments)
    assert first_key + recorded >= WALK.end_s * FPS
    # bytes per second: the source's own rate (no re-encode), within 25 %
    stored_bps = sum(path.stat().st_size for _, path in segments) / (recorded / FPS)
    assert stored_bps == pytest.approx(video.stat().st_size / 7.0, rel=0.25)
    assert f"camera cam0: recording by passthrough (h264, keyframes every {gop_s:.1f} s)" in log, log
    assert camera["recorder"] == "passthrough"  # quickcam status says "recording by passthrough"


def test_a_native_h265_file_is_passed_through_tagged_for_apples_players(tmp_path: Path) -> None:
    video = write_h264(tmp_path / "walk.mp4", 7.0, FPS, 1.0, walks=(WALK,), codec="libx265")
    segments, log, camera = _record(tmp_path / "run", video)
    _playable(segments)
    assert "camera cam0: recording by passthrough (hevc, keyframes every 1.0 s)" in log, log
    for head, path in segments:
        assert head["codec"] == "hevc"
        with av.open(str(path)) as clip:  # Safari and iOS refuse FFmpeg's default hev1 (common/mp4_tags.py)
            assert clip.streams.video[0].codec_tag == "hvc1"


OPEN_GOP = ("its keyframes start open GOPs (frames after a keyframe are shown before it and need the GOP before: "
            "segments cut there would lose them; set the camera to closed GOPs, or IDR keyframes)")


@pytest.mark.parametrize("codec", ["libx264", "libx265"])
def test_a_native_open_gop_file_is_re_encoded_so_that_every_segment_plays_all_its_frames(
        tmp_path: Path, codec: str) -> None:
    """An open GOP's leading pictures need the GOP before (x265's default, x264's open-gop): cut at its
    keyframes, each passed-through segment played fewer frames than its header said."""
    video = write_h264(tmp_path / "walk.mp4", 7.0, FPS, 1.0, walks=(WALK,), codec=codec, bframes=3, open_gop=True)
    segments, log, camera = _record(tmp_path / "run", video)
    assert log.count("camera cam0: re-encoding instead of passing the camera's video through: " + OPEN_GOP) == 1, log
    _playable(segments)
    assert camera["recorder"] == "reencode"


def _every_frame_plays(segments: list[tuple[dict, Path]]) -> None:
    """``_playable`` but for the times: B-frames' last segment is cut in decode order (docs/reliability.md)."""
    assert segments and segments[-1][0]["final"]
    for head, path in segments:
        found = probe(path)
        assert found == {"frames": head["frames"], "errors": 0, "keyframe_first": True, "codec": head["codec"]}, head


@pytest.mark.parametrize("codec", ["libx264", "libx265"])
def test_native_closed_gops_with_b_frames_are_passed_through_whole(tmp_path: Path, codec: str) -> None:
    """Closed GOPs with B-frames (an H.265 IDR's leading pictures need only the keyframe) stay passed through, and
    the event's last segment holds the B-frames decoded after its last packet but shown before it, as the Python
    detector's (passthrough.py's _shown_before_the_end): before, it jumped over them (2 frames 400 ms apart)."""
    video = write_h264(tmp_path / "walk.mp4", 7.0, FPS, 1.0, walks=(WALK,), codec=codec, bframes=3)
    segments, log, camera = _record(tmp_path / "run", video)
    _playable(segments)
    starts, ends = [h["start_ms"] for h, _ in segments], [h["end_ms"] for h, _ in segments]
    assert all(b - a == pytest.approx(1000 / FPS, abs=1) for a, b in zip(ends, starts[1:], strict=False))
    assert camera["recorder"] == "passthrough" and "open GOP" not in log


def test_a_native_open_gop_that_starts_mid_stream_ends_passthrough_there(tmp_path: Path) -> None:
    closed = write_h264(tmp_path / "closed.ts", 3.0, FPS, 1.0, walks=(), container="mpegts")
    opened = write_h264(tmp_path / "open.ts", 5.0, FPS, 1.0, walks=(Walk(1.0, 3.0),), container="mpegts", bframes=3,
                        open_gop=True)
    video = join_clips([closed, opened], tmp_path / "camera.ts")
    segments, log, camera = _record(tmp_path / "run", video)
    assert "camera cam0: recording by passthrough (h264, keyframes every 1.0 s)" in log, log
    assert log.count("re-encoding from now on: " + OPEN_GOP) == 1, log
    _every_frame_plays(segments)
    assert camera["recorder"] == "reencode"


def test_a_native_mpeg4_file_is_re_encoded_with_one_line_saying_why(tmp_path: Path) -> None:
    video = write_h264(tmp_path / "walk.mp4", 7.0, FPS, 1.0, walks=(WALK,), codec="mpeg4")
    segments, log, camera = _record(tmp_path / "run", video)
    line = "camera cam0: re-encoding instead of passing the camera's video through: its codec mpeg4 cannot be " \
           "passed through into MP4"
    assert log.count(line) == 1, log
    assert "recording by passthrough" not in log
    _playable(segments)
    assert all(head["codec"] == "h264" for head, _ in segments)  # libx264, the re-encoder's
    assert camera["recorder"] == "reencode"


def test_native_record_reencode_is_obeyed_and_every_segment_plays_all_the_frames_its_header_counts(
    tmp_path: Path,
) -> None:
    """``record = "reencode"``: libx264's segments, each decoding to its header's frames (before, players dropped
    the last frame of every re-encoded segment: libx264's packets had no duration, the MP4's edit list cut it)."""
    video = write_h264(tmp_path / "walk.mp4", 7.0, FPS, 1.0, walks=(WALK,), bitrate=400_000)
    segments, log, camera = _record(tmp_path / "run", video, settings='record = "reencode"\n')
    _playable(segments)
    assert not set(_packets(segments[0][1])) & set(_packets(video))  # encoded again
    assert 'camera cam0: recording by reencode ([camera] record = \\"reencode\\")' in log, log  # logfmt's quoting
    assert camera["recorder"] == "reencode"


def test_a_native_h264_file_with_keyframes_further_apart_than_max_gop_s_is_re_encoded(tmp_path: Path) -> None:
    video = write_h264(tmp_path / "walk.mp4", 7.0, FPS, walks=(WALK,), keyframes=(0, 40))  # 4 s apart
    segments, log, camera = _record(tmp_path / "run", video, settings="max_gop_s = 2\n")
    line = "camera cam0: re-encoding instead of passing the camera's video through: no second keyframe within " \
           "max_gop_s = 2 s (raise it, or set the camera's keyframe interval lower)"
    assert log.count(line) == 1, log
    _playable(segments)
    assert not set(_packets(segments[0][1])) & set(_packets(video))  # encoded again


def test_native_keyframes_that_stop_coming_end_passthrough_and_the_event_goes_on_re_encoded(tmp_path: Path) -> None:
    """Keyframes every second, then none: past max_gop_s without one the rest is re-encoded (said once), and the
    event's segments are all playable, passed through up to the switch, re-encoded after it, none lost."""
    video = write_h264(tmp_path / "walk.mp4", 9.0, FPS, walks=(Walk(1.5, 6.0),), keyframes=(0, 10, 20))
    segments, log, camera = _record(tmp_path / "run", video, settings="max_gop_s = 2\n")
    assert "camera cam0: recording by passthrough (h264, keyframes every 1.0 s)" in log, log
    assert log.count("camera cam0: no keyframe for ") == 1, log
    assert "s (max_gop_s = 2); re-encoding from now on; set the camera's keyframe interval lower" in log
    _playable(segments)
    source = set(_packets(video))
    passed = [set(_packets(path)) <= source for _, path in segments]
    assert passed[0] and not passed[-1] and passed == sorted(passed, reverse=True), passed
    # frames 5..end of the event: one second of pre-roll before the walk, every frame once
    assert sum(h["frames"] for h, _ in segments) >= (6.0 - 0.5) * FPS
    starts, ends = [h["start_ms"] for h, _ in segments], [h["end_ms"] for h, _ in segments]
    assert all(b - a == pytest.approx(1000 / FPS, abs=1) for a, b in zip(ends, starts[1:], strict=False))


@pytest.mark.realtime
@pytest.mark.slow  # in the slow unit: the real-time one was the run's critical path (docs/testing.md)
def test_a_native_rtsp_cameras_h264_is_passed_through_and_again_after_a_reconnect(tmp_path: Path) -> None:
    """A camera's stream (GStreamer's RTSP server, in real time): its own H.264 remuxed, every segment playable
    from its first packet, at the stream's bitrate, the pre-roll back to a keyframe before the onset. The clip
    ends (the stream is lost) and plays again when reopened: the second walk's event plays from a keyframe too."""
    fps, length_s = 15.0, 9.0
    video = write_h264(tmp_path / "camera.mp4", length_s, fps, 1.0, walks=(Walk(2.5, 4.5),), bitrate=300_000)
    with serving(video) as (url, _server):
        segments, log, camera = _record(tmp_path / "run", url, seconds=length_s + 9,
                                source=f'source = "stream"\nfps = {fps:g}\nwidth = 320\nheight = 240')
    assert "camera cam0: recording by passthrough (h264, keyframes every 1.0 s)" in log, log
    assert "camera cam0: ok again" in log, log  # reopened after the clip's end
    events: dict[str, list[tuple[dict, Path]]] = {}
    for head, path in segments:
        events.setdefault(head["event"], []).append((head, path))
    assert len(events) == 2, log
    for recorded in events.values():
        _playable(recorded)
        assert all(head["codec"] == "h264" and head["fps"] == fps for head, _ in recorded)
    first = next(iter(events.values()))
    frames = sum(h["frames"] for h, _ in first)
    assert frames >= (4.5 + 1.0 - 2.5 + 1.0) * fps  # the walk, its pre-roll and post-roll
    stored_bps = sum(path.stat().st_size for _, path in first) / (frames / fps)
    assert stored_bps == pytest.approx(video.stat().st_size / length_s, rel=0.3)


def test_native_passthrough_asked_of_the_demo_scene_is_re_encoded_with_one_line_saying_why(tmp_path: Path) -> None:
    endpoint = private_endpoint(tmp_path)
    (tmp_path / "quickcam.toml").write_text(
        f'[camera]\nsource = "demo"\nrecord = "passthrough"\n[link]\nendpoint = "{endpoint}"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUICKCAM_")}
    uploader = KeepingPeer(endpoint)
    try:
        run = subprocess.run([str(native_detector()), "--config", "quickcam.toml", "--seconds", "2"], cwd=tmp_path,
                             env=env, capture_output=True, text=True, timeout=30)
    finally:
        uploader.close()
    assert run.returncode == 0, run.stderr
    line = ("camera cam0: re-encoding instead of passing the camera's video through: a demo source delivers no "
            "encoded video (passthrough is for file and stream sources)")
    assert run.stderr.count(line) == 1, run.stderr
    camera = json.loads((tmp_path / "outbox" / "detector-status.json").read_text())["cameras"]["cam0"]
    assert camera["recorder"] == "reencode"


@pytest.mark.realtime
def test_native_packets_dropped_behind_a_stalled_disk_end_the_segment_and_the_next_starts_at_a_keyframe(
    tmp_path: Path,
) -> None:
    """A live source (a file played in real time) whose recorder is held up 3 s by the disk (``held_writes.c``):
    the frames queued beyond ``buffer_max_s`` are dropped, a gap in the packets. The segment open at the gap ends
    there and the next starts at the next keyframe: every segment the camera's own packets, playable whole."""
    video = write_h264(tmp_path / "walk.mp4", 10.0, FPS, 1.0, walks=(Walk(2.0, 8.5),), bitrate=400_000)
    root = tmp_path / "run"
    root.mkdir()
    endpoint = private_endpoint(root)
    (root / "quickcam.toml").write_text(
        f'[camera]\nsource = "file"\npath = "{video}"\nrealtime = true\n'
        '[recording]\npre_roll_s = 1.0\npost_roll_s = 1.0\nsegment_s = 1.0\nbuffer_max_s = 1\n'
        f'[link]\nendpoint = "{endpoint}"\n')
    flag = tmp_path / "stall"
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUICKCAM_")}
    env |= {"LD_PRELOAD": str(preload_shim("held_writes", tmp_path)), "QC_HELD_WRITES_WHEN": str(flag),
            "QC_HELD_WRITES_PREFIX": str((root / "outbox" / ".staging").resolve())}
    uploader = KeepingPeer(endpoint)
    log_path = root / "detector.log"
    try:
        with open(log_path, "w") as log_file:
            proc = subprocess.Popen([str(native_detector()), "--config", "quickcam.toml", "--seconds", "30"], cwd=root,
                                    env=env, stdout=log_file, stderr=log_file)
            try:
                assert wait_until(lambda: "motion, event" in log_path.read_text(), 15), log_path.read_text()
                flag.touch()
                assert wait_until(lambda: "held_writes: a write of" in log_path.read_text(), 10), log_path.read_text()
                time.sleep(3.0)
                flag.unlink()
                assert proc.wait(40) == 0, log_path.read_text()
            finally:
                flag.unlink(missing_ok=True)
                if proc.poll() is None:
                    proc.kill()
                    proc.wait(10)
    finally:
        uploader.close()
    log = log_path.read_text()
    # named as the Python detector's frames.py names it: the camera's packets are remuxed, not encoded
    assert re.search(r"the passthrough recorder is \d+ frames behind; dropping the oldest frames of the recording",
                     log), log
    camera = json.loads((root / "outbox" / "detector-status.json").read_text())["cameras"]["cam0"]
    assert camera["dropped_recording"] > 0 and camera["recorder"] == "passthrough", camera
    segments = []
    for head in uploader.segments:
        path = root / f"{head['id']}.mp4"
        path.write_bytes(uploader.payloads[head["id"]])
        segments.append((head, path))
    assert len({head["event"] for head, _ in segments}) == 1, [h for h, _ in segments]
    _playable(segments, slack_ms=1000 / FPS)  # played in real time: each frame timed by the clock
    source = _packets(video)
    keyframes = set(source[::round(FPS)])
    for _, path in segments:
        stored = _packets(path)
        assert stored[0] in keyframes and set(stored) <= set(source)  # each starts at one of the camera's keyframes
    # the gap: the next segment starts at the first keyframe after it; what came between is not recorded
    starts, ends = [h["start_ms"] for h, _ in segments], [h["end_ms"] for h, _ in segments]
    gaps = [b - a for a, b in zip(ends, starts[1:], strict=False)]
    assert any(gap > 1.5 * 1000 / FPS for gap in gaps), gaps
    recorded = sum(h["frames"] for h, _ in segments)
    assert recorded + camera["dropped_recording"] < (8.5 + 1.0 - 2.0 + 1.0) * FPS  # the event: walk, pre- and post-roll



@pytest.mark.realtime
@pytest.mark.parametrize("jump_s", [3 * 3600, -3.0])
def test_a_native_stream_whose_clock_jumps_mid_segment_is_stored_whole_with_the_wall_clocks_spacing(
    tmp_path: Path, jump_s: float,
) -> None:
    """As the Python detector (tests/detector/test_passthrough.py): a camera's clock set 3 h ahead or 3 s back
    mid-GOP while someone walks. The segment across the jump ahead showed one frame for 3 h; the jump back ended
    the segment, the frames up to the next keyframe lost. Whole now, with the wall clock's spacing."""
    whole = write_h264(tmp_path / "whole.ts", 7.0, FPS, 1.0, walks=(Walk(2.0, 9.0),), container="mpegts")
    video = jump_mpegts(whole, tmp_path / "camera.ts", 45, jump_s)
    segments, log, _camera = _record(tmp_path / "run", video, seconds=11, source='source = "file"\nrealtime = true')
    assert segments and segments[-1][0]["final"], log
    assert sum(h["frames"] for h, _ in segments) == 60, log  # from the keyframe at 1.0 s to the end: none lost
    for head, path in segments:
        assert probe(path) == {"frames": head["frames"], "errors": 0, "keyframe_first": True, "codec": "h264"}
        assert shown_s(path) == pytest.approx((head["end_ms"] - head["start_ms"]) / 1000, abs=0.25), head


def test_a_native_cameras_video_that_stops_while_its_audio_goes_on_is_a_lost_camera_reopened(tmp_path: Path) -> None:
    """As the Python detector (tests/detector/test_passthrough_rtsp.py): a camera with an audio track whose video
    stops while the audio goes on. Its audio kept the connection reading: the camera stayed "stalled" for good,
    never reopened. Only the video is asked for now: lost, then reopened. Its stream_timeout_s is 4 s (10 s by
    default): the run is 20 s instead of 30, the loss ~10 s in, as long before the end as it was."""
    video = write_h264(tmp_path / "camera.mp4", 6.0, FPS, 1.0)
    with serving(video, audio=True) as (url, _server):
        _segments, log, camera = _record(tmp_path / "run", url, seconds=20,
                                        source=f'source = "stream"\nfps = {FPS:g}\nwidth = 320\nheight = 240\n'
                                        'stream_timeout_s = 4')
    assert "camera cam0: lost (no frame from rtsp://127.0.0.1:" in log, log
    assert camera["frames"] >= 50, camera  # the clip's video, then the reopen's


@pytest.mark.parametrize("source", ["file", "stream", "mp4-in-band", "mp4-new-header"])
def test_a_native_camera_switching_resolution_mid_event_starts_a_segment_with_the_new_parameters(
        tmp_path: Path, source: str) -> None:
    """As the Python detector (``test_a_camera_switching_resolution_mid_event_...``): 320x240 then 640x480 with new
    SPS/PPS in band at an IDR; the segment ends there and the next one's header and ``avcC`` say the new size.
    Before, each packet kept the first open's parameters: every segment said 320x240 and held the first SPS; in an
    MP4 file (new sets in band length-prefixed, or a new header) the change was not seen at all."""
    video = size_change_video(tmp_path, source, FPS)
    if source != "stream":
        segments, log, camera = _record(tmp_path / "run", video)
    else:  # RTSP (GStreamer's server reads the MPEG-TS in real time); stopped before the clip can play again
        with serving(video) as (url, _server):
            segments, log, camera = _record(tmp_path / "run", url, seconds=9, source=f'source = "stream"\nfps = '
                                            f'{FPS:g}\nwidth = 320\nheight = 240')
    assert camera["recorder"] == "passthrough" and camera["events"] == 1, (camera, log)
    check_a_size_change(segments, FPS)
    line = "camera cam0: the stream's parameters changed at a keyframe (320x240 to 640x480): a new segment from here"
    assert log.count(line) == 1, log


@pytest.mark.parametrize("source", ["file", "stream"])
def test_a_native_camera_whose_sps_in_band_differs_only_in_its_level_is_not_cut(tmp_path: Path, source: str) -> None:
    """As the Python detector (``test_a_camera_whose_sps_in_band_differs_only_in_its_level_is_not_cut``): the SPS
    in band from the second keyframe on says another level than the first (the SDP's): no segment ends there and
    nothing is said. Before, each open cut one with "changed at a keyframe (320x240 to 320x240)"."""
    whole = write_h264(tmp_path / "whole.ts", 8.0, FPS, 1.0, walks=(Walk(1.0, 7.0),), container="mpegts")
    video = relevel_mpegts(whole, tmp_path / "camera.ts", 30)
    env = {"QUICKCAM_RECORDING__SEGMENT_S": "3.0"}
    if source == "file":
        segments, log, camera, _ = record_with(tmp_path / "run", video, "", 30, 'source = "file"\nrealtime = false',
                                               KeepingPeer, env)
    else:  # RTSP: the SDP's SPS is the first one; stopped before the clip can play again
        with serving(video) as (url, _server):
            segments, log, camera, _ = record_with(tmp_path / "run", url, "", 11, f'source = "stream"\nfps = {FPS:g}\n'
                                                   'width = 320\nheight = 240', KeepingPeer, env)
    assert camera["recorder"] == "passthrough" and camera["events"] == 1, (camera, log)
    assert segments and segments[-1][0]["final"]
    for head, path in segments:
        assert probe(path) == {"frames": head["frames"], "errors": 0, "keyframe_first": True, "codec": "h264"}
        assert (head["width"], head["height"]) == (320, 240)
    assert all(head["frames"] >= 30 for head, _ in segments[:-1]), [h["frames"] for h, _ in segments]
    assert "parameters changed" not in log, log

