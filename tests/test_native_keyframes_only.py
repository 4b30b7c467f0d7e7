"""The native detector's ``idle_keyframes_only`` and ``event_keyframes_only`` (docs/benchmarks.md section 12d), as
``tests/detector/test_event_keyframes.py`` and ``test_fast_decode.py`` hold the Python detector to.

Real H.264 files played as live cameras (``realtime = true``) by the real binary, each beside the same file without
the option, at once. What is decoded is the camera's status ``frames`` (the pictures handed to detection); what is
recorded, the segments the uploader's stand-in kept. Before, the native detector only warned the options and
decoded every frame (``frames`` was the file's every frame with them on).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import pytest

from quickcam.detector.sources import Walk
from tests.fakes.h264 import probe, write_h264
from tests.test_native_fast_decode import SnapshotKeeper, as_snapshot
from tests.test_native_passthrough import KeepingPeer, _packets, _playable, record_with

FPS = 15.0
GOP = 15  # frames: a keyframe every second
PACED = f'source = "file"\nrealtime = true\nfps = {FPS:g}'
Run = tuple[list[tuple[dict, Path]], str, dict]


def _run(root: Path, video: Path, settings: str, source: str = PACED) -> Run:
    segments, log, camera, _ = record_with(root, video, settings, 40, source, KeepingPeer)
    return segments, log, camera


def _side_by_side(tmp_path: Path, video: Path, option: str, settings: str = "") -> dict[bool, Run]:
    """The file played as a live camera twice at once: with ``option = true`` (True) and without (False)."""
    with ThreadPoolExecutor(2) as pool:
        runs = {on: pool.submit(_run, tmp_path / f"run-{on}", video, (f"{option} = true\n" if on else "") + settings)
                for on in (True, False)}
        return {on: run.result() for on, run in runs.items()}


def _contiguous_source_run(segments: list[tuple[dict, Path]], source: list[bytes]) -> tuple[int, int]:
    """The recorded packets are the file's own, one contiguous run of them from a keyframe: (first, end) indexes."""
    recorded = [packet for _, path in segments for packet in _packets(path)]
    first = source.index(recorded[0])
    assert recorded == source[first:first + len(recorded)], "a packet was lost, added or changed"
    return first, first + len(recorded)


@pytest.mark.realtime
def test_idle_keyframes_only_decodes_keyframes_while_nothing_moves_and_records_the_cameras_every_packet(
        tmp_path: Path) -> None:
    """Quiet for 3 s, a walker from 3.5 s to 5.5 s, quiet again to 8 s. While nothing moves only keyframes are
    decoded; motion on a keyframe brings every frame back until the event is over; the event's segments are a
    contiguous run of the file's own packets (those never decoded included), playable, covering the walk."""
    frames = 120
    video = write_h264(tmp_path / "walk.mp4", frames / FPS, FPS, GOP / FPS, walks=(Walk(3.5, 5.5),))
    runs = _side_by_side(tmp_path, video, "idle_keyframes_only")
    decoded = {on: camera["frames"] for on, (_, _, camera) in runs.items()}
    assert decoded[False] == frames
    segments, log, camera = runs[True]
    assert camera["events"] == 1 and camera["recorder"] == "passthrough", camera
    assert "camera cam0: decoding keyframes only while idle" in log, log
    # 3 keyframes before the walker, then every frame from the keyframe that shows it to the event's end (its
    # post-roll, 1 s after the walker leaves at 5.5 s), then keyframes again: about 8 + 45 pictures, not 120
    assert 20 < decoded[True] < 75, decoded
    _playable(segments, slack_ms=20)  # paced: each frame timed when it is read
    first, end = _contiguous_source_run(segments, _packets(video))
    assert first % GOP == 0 and first <= 3.5 * FPS and end >= 5.5 * FPS, (first, end)


@pytest.mark.realtime
def test_event_keyframes_only_decodes_keyframes_after_the_onsets_gop_and_records_the_same_bytes(
        tmp_path: Path) -> None:
    """A walker from 1 s to past the file's end (6 s; motion on every keyframe), post-roll 0.5 s, shorter than
    the GOP. With the option every frame is decoded until the onset's GOP ends, then keyframes only; the event runs
    to the end as without it (one event), and its segments are the same bytes, the packets after the last
    keyframe (read, never decoded: the file ends in the middle of that GOP) included."""
    frames = 90
    video = write_h264(tmp_path / "walk.mp4", frames / FPS, FPS, GOP / FPS, walks=(Walk(1.0, 9.0),))
    runs = _side_by_side(tmp_path, video, "event_keyframes_only", "[camera.recording]\npost_roll_s = 0.5\n")
    decoded = {on: camera["frames"] for on, (_, _, camera) in runs.items()}
    assert decoded[False] == frames
    for on, (_, _, camera) in runs.items():
        assert camera["events"] == 1, f"event_keyframes_only={on}: the event ended while the walker was there"
    segments = {on: segments for on, (segments, _, _) in runs.items()}
    # the same packets, the file's own (where segments are cut follows the paced reads' timing, in both runs)
    recorded = {on: [packet for _, path in segments[on] for packet in _packets(path)] for on in (True, False)}
    assert recorded[True] == recorded[False] == _packets(video)
    _playable(segments[True], slack_ms=20)
    assert sum(h["frames"] for h, _ in segments[True]) == frames  # the pre-roll reaches the file's start
    # the walker is seen within the first GOP after 1 s: every frame to the end of that GOP (at 2 s or 3 s), then
    # the keyframes at 3, 4 and 5 s only
    assert 2 * GOP + 3 <= decoded[True] <= 3 * GOP + 2, decoded


@pytest.mark.parametrize(("source", "settings", "why"), [
    ('source = "file"\nrealtime = false', "", "a file analysed as fast as possible (realtime = false) would run "
                                             "ahead of detection"),
    (PACED, 'record = "reencode"\n', "the camera is re-encoded"),
])
def test_where_keyframes_only_cannot_apply_one_line_says_it_is_ignored_and_why(
        tmp_path: Path, source: str, settings: str, why: str) -> None:
    frames = 30
    video = write_h264(tmp_path / "walk.mp4", frames / FPS, FPS, GOP / FPS)
    _, log, camera = _run(tmp_path / "run", video, settings + "idle_keyframes_only = true\n"
                          "event_keyframes_only = true\n", source)
    lines = [line for line in log.splitlines() if "idle_keyframes_only and event_keyframes_only ignored" in line]
    assert len(lines) == 1 and why in lines[0] and "every frame is decoded" in lines[0], log
    assert camera["frames"] == frames


@pytest.mark.realtime
def test_event_keyframes_only_a_quiet_keyframe_counts_the_post_roll_from_just_before_itself(tmp_path: Path) -> None:
    """The walker leaves just before the keyframe at 4 s; post-roll 0.5 s, keyframes 1 s apart. Counted from the
    last look with motion (3 s), the event would end at the quiet keyframe (4 s), before the post-roll every frame
    gives: with the option it ends a post-roll after that keyframe (every frame looked at again from it), never
    before the event without it, at most a GOP after."""
    video = write_h264(tmp_path / "walk.mp4", 6.0, FPS, GOP / FPS, walks=(Walk(0.5, 3.7),))
    runs = _side_by_side(tmp_path, video, "event_keyframes_only", "[camera.recording]\npost_roll_s = 0.5\n")
    ends = {}
    for on, (segments, _, camera) in runs.items():
        assert segments and segments[-1][0]["final"] and camera["events"] == 1, camera
        ends[on] = segments[-1][0]["end_ms"] - segments[0][0]["start_ms"]
    assert ends[False] - 50 <= ends[True] < ends[False] + 1000 + 100, ends  # 50 ms: a paced read's jitter
    assert runs[True][2]["frames"] < runs[False][2]["frames"] - GOP // 2  # keyframes only while it was seen


@pytest.mark.realtime
def test_in_the_dark_every_frame_is_decoded_and_in_daylight_only_keyframes_while_the_walker_is_seen(
        tmp_path: Path) -> None:
    """At night a person is a few gray levels, found by averaging frames: every frame is decoded, event or not; the
    same walk in daylight is decoded at keyframes while nothing moves and while the event's keyframes show it."""
    frames = 60
    options = "idle_keyframes_only = true\nevent_keyframes_only = true\n[camera.recording]\npost_roll_s = 0.5\n"
    clips = {light: write_h264(tmp_path / f"walk-{light}.mp4", frames / FPS, FPS, GOP / FPS, walks=(Walk(0.5, 6.0),),
                               bitrate=600_000, light=light) for light in (0.06, 1.0)}
    with ThreadPoolExecutor(2) as pool:
        runs = {light: pool.submit(_run, tmp_path / f"run-{light}", video, options) for light, video in clips.items()}
        night, day = (runs[light].result()[2] for light in (0.06, 1.0))
    assert night["dark"] and night["events"] >= 1 and night["frames"] == frames, night
    assert not day["dark"] and day["events"] >= 1 and day["frames"] < frames - GOP, day


@pytest.mark.realtime
def test_with_a_detect_path_the_substream_is_decoded_at_keyframes_while_idle_and_paths_packets_recorded(
        tmp_path: Path) -> None:
    frames = 120
    main = write_h264(tmp_path / "main.mp4", frames / FPS, FPS, GOP / FPS, width=640, height=480, walks=(),
                      bitrate=400_000)
    sub = write_h264(tmp_path / "sub.mp4", frames / FPS, FPS, GOP / FPS, walks=(Walk(3.5, 5.5),))
    segments, log, camera = _run(tmp_path / "run", main, f'detect_path = "{sub}"\nidle_keyframes_only = true\n')
    assert "camera cam0: decoding keyframes only while idle (the detection stream" in log, log
    assert camera["events"] == 1 and camera["recorder"] == "passthrough", camera
    assert 20 < camera["frames"] < 75, camera  # not the substream's 120
    _playable(segments, slack_ms=20)
    first, end = _contiguous_source_run(segments, _packets(main))  # path's own packets, at path's size
    assert first % GOP == 0 and first <= 3.5 * FPS and end >= 5.5 * FPS, (first, end)


@pytest.mark.realtime
def test_keyframes_that_stop_coming_bring_every_frame_back_decoded_right_and_a_later_walker_is_seen(
        tmp_path: Path) -> None:
    """Keyframes at 0, 1 and 2 s, then none: past max_gop_s passthrough is given up (re-encoded from then on), so
    every frame must be decoded again, the references skipped so far first. Keyframes only for ever would leave
    the camera blind (the walker from 5.5 s never seen); without those references every picture after would be
    wrong (the snapshot is compared with the file's own decode)."""
    frames = 120
    video = write_h264(tmp_path / "walk.mp4", frames / FPS, FPS, walks=(Walk(5.5, 7.5),), keyframes=(0, 15, 30))
    segments, log, camera, peer = record_with(tmp_path / "run", video, "idle_keyframes_only = true\nmax_gop_s = 2\n",
                                              40, PACED, SnapshotKeeper)
    assert isinstance(peer, SnapshotKeeper)
    assert "camera cam0: decoding every frame in full from now on (re-encoded)" in log, log
    assert camera["events"] == 1 and camera["recorder"] == "reencode", camera
    # keyframes at 0, 1 and 2 s, none decoded from 2 s to 4 s (max_gop_s), then every frame: about 3 + 59
    assert 50 < camera["frames"] < 75, camera
    assert segments and segments[-1][0]["final"] and all(probe(path)["errors"] == 0 for _, path in segments)
    onset = next(payload for head, payload in peer.snapshots if head["seq"] == 0)
    picture = cv2.imdecode(np.frombuffer(onset, np.uint8), cv2.IMREAD_COLOR).astype(np.int16)
    nearest = min(float(np.mean(np.abs(picture - full))) for full in as_snapshot(video, False, 85))
    # one of the file's own pictures, through the same JPEG: equal (0.0); decoded without the skipped references
    # (a build that dropped them) it was 0.095 off, the static background's small drift
    assert nearest < 0.02, nearest


@pytest.mark.realtime
def test_a_stream_lost_in_the_middle_of_a_gop_records_its_packets_never_decoded_to_its_last(tmp_path: Path) -> None:
    """An RTSP camera (GStreamer's server): a walker from 2.5 s to past the clip's end at 127 frames, keyframes every
    15; with event_keyframes_only the 6 packets after the last keyframe (120) are read, never decoded, when the
    stream ends (lost). The event ends at the last of them: from its first keyframe to frame 126, so its frame
    count is 7 past a multiple of 15 (ended at the last keyframe, it would be 1)."""
    from tests.detector.test_passthrough_rtsp import serving

    frames = 127
    video = write_h264(tmp_path / "camera.mp4", frames / FPS, FPS, GOP / FPS, walks=(Walk(2.5, 20.0),),
                       bitrate=300_000)
    with serving(video) as (url, _server):
        segments, log, camera, _ = record_with(
            tmp_path / "run", url, "event_keyframes_only = true\n", frames / FPS + 4,
            f'source = "stream"\nfps = {FPS:g}\nwidth = 320\nheight = 240', KeepingPeer)
    assert "camera cam0: decoding keyframes only while an event records" in log, log
    first_event = segments[0][0]["event"]
    recorded = [(head, path) for head, path in segments if head["event"] == first_event]
    assert recorded[-1][0]["final"], recorded
    count = sum(head["frames"] for head, _ in recorded)
    assert count % GOP == frames % GOP and count >= (frames / FPS - 2.5) * FPS, (count, log)
    assert camera["frames"] < frames + 2 * GOP, camera  # the first pass decoded at keyframes after its onset's GOP


@pytest.mark.realtime
def test_a_substream_whose_keyframes_stop_coming_is_decoded_in_full_again_and_a_later_walker_is_seen(
        tmp_path: Path) -> None:
    """With a detect_path, keyframes only on the substream: its keyframes stop after 2 s. Past max_gop_s without
    one every frame is decoded again (said once), the skipped references first; keyframes only for ever would
    leave the camera blind to the walker from 5.5 s (no event, the status still ok)."""
    frames = 120
    main = write_h264(tmp_path / "main.mp4", frames / FPS, FPS, GOP / FPS, width=640, height=480, walks=(),
                      bitrate=400_000)
    sub = write_h264(tmp_path / "sub.mp4", frames / FPS, FPS, walks=(Walk(5.5, 7.5),), keyframes=(0, 15, 30))
    segments, log, camera = _run(tmp_path / "run", main, f'detect_path = "{sub}"\nidle_keyframes_only = true\n'
                                 "max_gop_s = 2\n")
    assert log.count("camera cam0: no keyframe for more than max_gop_s = 2 s while decoding keyframes only; "
                     "decoding every frame from now on") == 1, log
    # every frame until path has opened (its pictures may be the footage), keyframes, none for 2 s, then every one
    assert camera["events"] == 1 and 50 < camera["frames"] < 100, camera
    _playable(segments, slack_ms=20)
