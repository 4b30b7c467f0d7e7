"""``[camera] event_keyframes_only``: while an event records by passthrough, keyframes only for detection.

Real H.264 files paced in real time as live cameras (``realtime = true``), each run
beside the same file without the option, in one go. What is decoded is read from the
camera's status (``frames``: the frames the decoder handed to detection, what
``quickcam status`` shows); what is recorded from the outbox.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest

from quickcam.common.config import ConfigError, load_config
from quickcam.detector.outbox import Outbox
from quickcam.detector.pipeline import CameraPipeline
from quickcam.detector.sources import Walk
from tests.detector.fakes import camera_config, header, journal, run
from tests.fakes.h264 import write_h264

pytestmark = pytest.mark.realtime  # paced in real time: detection must keep up with the camera

FPS = 15.0
GOP = 15  # frames: a keyframe every second


def _camera(outbox_dir: Path, video: Path, keyframes: bool, post_roll_s: float = 1.0) -> CameraPipeline:
    camera = camera_config(outbox_dir, pre_roll_s=1.0, post_roll_s=post_roll_s, segment_s=1.0)
    camera = camera.model_copy(update={"source": "file", "path": str(video), "realtime": True, "fps": FPS,
                                       "event_keyframes_only": keyframes})
    return CameraPipeline(camera, Outbox(outbox_dir), threading.Event())


def _side_by_side(tmp_path: Path, video: Path, post_roll_s: float = 1.0) -> dict[bool, CameraPipeline]:
    """The file played as a live camera twice at once: with ``event_keyframes_only`` (True) and without."""
    pipelines = {on: _camera(tmp_path / f"outbox-{on}", video, on, post_roll_s) for on in (True, False)}
    run(list(pipelines.values()), timeout=60)
    return pipelines


def _segments(outbox_dir: Path) -> list[tuple[dict, bytes]]:
    return [(header(outbox_dir, e["id"]), (outbox_dir / f"{e['id']}.bin").read_bytes())
            for e in journal(outbox_dir) if e["type"] == "segment"]


def _snapshots(outbox_dir: Path) -> list[dict]:
    return [header(outbox_dir, e["id"]) for e in journal(outbox_dir) if e["type"] == "snapshot"]


def test_an_event_decodes_keyframes_only_after_its_onset_snapshot_and_records_the_same_bytes(tmp_path: Path) -> None:
    """A walker from 1 s to the end of the file (motion at every keyframe), a post-roll shorter than the GOP.

    With the option, every frame is decoded until the onset snapshot's GOP ends, then keyframes only
    (the motion core sees this walker on every keyframe);
    the event runs to the file's end as without it (one event), and its segments are the same bytes,
    the packets after the last keyframe included (read, never decoded).
    """
    frames = 90
    video = write_h264(tmp_path / "walk.mp4", frames / FPS, FPS, GOP / FPS, walks=(Walk(1.0, 9.0),))
    pipelines = _side_by_side(tmp_path, video, post_roll_s=0.5)
    decoded = {on: pipeline.status()["frames"] for on, pipeline in pipelines.items()}
    assert decoded[False] == frames
    for on in (True, False):
        assert pipelines[on].status()["events"] == 1, f"event_keyframes_only={on}: the event ended while the " \
                                                      "walker was still there"
    outbox_on = tmp_path / "outbox-True"
    segments = {on: _segments(tmp_path / f"outbox-{on}") for on in (True, False)}
    assert segments[True] and segments[True][-1][0]["final"]
    assert [data for _, data in segments[True]] == [data for _, data in segments[False]]
    assert sum(h["frames"] for h, _ in segments[True]) == frames  # the pre-roll reaches the file's start
    onset = next(h for h in _snapshots(outbox_on) if h["seq"] == 0)
    onset_index = round((onset["time_ms"] - segments[True][0][0]["start_ms"]) * FPS / 1000)
    next_key = (onset_index // GOP + 1) * GOP  # every frame until the onset's GOP ends, then keyframes only
    expected = next_key + len(range(next_key, frames, GOP))
    assert expected <= decoded[True] <= expected + GOP, (decoded, onset_index)  # + a GOP: detection's lag


def test_a_quiet_keyframe_after_motion_counts_the_post_roll_from_just_before_itself(tmp_path: Path) -> None:
    """The walker leaves just before the keyframe at 4 s; post-roll 0.5 s, keyframes 1 s apart.

    Counted from the last look with motion (3 s), the event would end at the quiet keyframe (4 s),
    before the post-roll every frame gives (it ends 0.5 s after the walker's last motion): with the
    option it ends a post-roll after that keyframe (every frame looked at again from it), never before.
    """
    video = write_h264(tmp_path / "walk.mp4", 6.0, FPS, GOP / FPS, walks=(Walk(0.5, 3.7),))
    pipelines = _side_by_side(tmp_path, video, post_roll_s=0.5)
    ends = {}
    for on in (True, False):
        segments = _segments(tmp_path / f"outbox-{on}")
        assert segments and segments[-1][0]["final"] and pipelines[on].status()["events"] == 1
        ends[on] = segments[-1][0]["end_ms"] - segments[0][0]["start_ms"]
    assert ends[True] >= ends[False], ends
    assert ends[True] < ends[False] + 1000 + 100, ends  # at most a GOP later


def test_in_the_dark_an_event_decodes_every_frame(tmp_path: Path) -> None:
    """At night a person is a few gray levels, found by averaging frames: every frame is decoded, event or not."""
    frames = 60
    video = write_h264(tmp_path / "night.mp4", frames / FPS, FPS, GOP / FPS, walks=(Walk(0.5, 6.0),),
                       bitrate=600_000, light=0.06)
    pipeline = _camera(tmp_path / "outbox", video, keyframes=True, post_roll_s=0.5)
    run([pipeline], timeout=60)
    status = pipeline.status()
    assert status["dark"] and status["events"] >= 1, status
    assert status["frames"] == frames


def test_an_event_wants_keyframes_only_after_its_onset_snapshot_while_looks_show_motion_and_it_is_not_dark(
        tmp_path: Path) -> None:
    video = write_h264(tmp_path / "walk.mp4", 1.0, FPS, GOP / FPS)
    pipeline = _camera(tmp_path / "outbox", video, keyframes=True)
    detect = pipeline.detect
    assert pipeline.source.every_frame == detect.wants_every_frame
    assert detect.wants_every_frame()  # idle_keyframes_only is off: every frame while idle
    detect.clock.recording = detect.moving = True
    assert detect.wants_every_frame()  # the onset snapshot is not taken yet
    detect.onset_taken = True
    assert not detect.wants_every_frame()
    detect.moving = False  # a quiet look: the end (or a missed person) is looked for at the full rate
    assert detect.wants_every_frame()
    detect.moving, detect.dark.dark = True, True
    assert detect.wants_every_frame()


def test_a_bad_value_is_a_one_line_config_error(tmp_path: Path) -> None:
    file = tmp_path / "q.toml"
    file.write_text('[camera]\nevent_keyframes_only = "sometimes"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(file, environ={})
    assert str(caught.value).startswith("config error: camera.event_keyframes_only:")
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(("update", "why"), [
    ({"realtime": False}, "a file analysed as fast as possible"),
    ({"record": "reencode"}, "the camera is re-encoded"),
])
def test_where_it_cannot_apply_one_line_says_it_is_ignored_and_why(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, update: dict, why: str) -> None:
    from quickcam.detector.av_source import AvSource

    video = write_h264(tmp_path / "walk.mp4", 1.0, FPS, GOP / FPS)
    camera = camera_config(tmp_path).model_copy(
        update={"source": "file", "path": str(video), "event_keyframes_only": True, **update})
    caplog.set_level(logging.INFO, logger="quickcam.detector.av_source")
    source = AvSource(camera)
    assert source.open() and source.idle_keys is None
    source.close()
    lines = [r.getMessage() for r in caplog.records if "event_keyframes_only ignored" in r.getMessage()]
    assert len(lines) == 1 and why in lines[0] and lines[0].endswith("every frame is decoded"), lines


def test_a_substream_whose_pictures_are_recorded_is_decoded_in_full_with_keyframes_only(tmp_path: Path) -> None:
    """``detect_path`` beside a ``path`` that cannot be passed through (MPEG-4): the substream's pictures are the
    footage, so every frame of it is decoded whatever the options. Before, ``idle_keyframes_only`` applied to the
    substream (its own H.264 could pass through): the event's pre-roll was recorded at one picture a GOP (2
    frames in its first second instead of 16) and its last segment cut short (3 frames instead of 12)."""
    frames = 90
    walk = (Walk(2.5, 4.5),)
    main = write_h264(tmp_path / "main.mp4", frames / FPS, FPS, GOP / FPS, width=640, height=480, walks=walk,
                      codec="mpeg4")
    sub = write_h264(tmp_path / "sub.mp4", frames / FPS, FPS, GOP / FPS, walks=walk)
    pipelines = {}
    for on in (True, False):
        camera = camera_config(tmp_path / f"outbox-{on}", pre_roll_s=1.0, post_roll_s=1.0, segment_s=1.0)
        camera = camera.model_copy(update={"source": "file", "path": str(main), "detect_path": str(sub),
                                           "realtime": True, "fps": FPS, "idle_keyframes_only": on,
                                           "event_keyframes_only": on})
        pipelines[on] = CameraPipeline(camera, Outbox(tmp_path / f"outbox-{on}"), threading.Event())
    run(list(pipelines.values()), timeout=60)
    for on, pipeline in pipelines.items():
        assert pipeline.status()["frames"] == frames and pipeline.status()["recorder"] == "reencode", on
    recorded = {on: sum(h["frames"] for h, _ in _segments(tmp_path / f"outbox-{on}")) for on in (True, False)}
    assert recorded[True] >= recorded[False] - 2, recorded  # the same footage (a paced read may miss a frame)


def test_keyframes_that_stop_coming_while_idle_bring_every_frame_back_at_once_decoded_right(tmp_path: Path) -> None:
    """Keyframes at 0, 1 and 2 s, then none, with ``idle_keyframes_only`` and ``max_gop_s = 2``: past max_gop_s
    passthrough is given up (re-encoded) and every frame is decoded again, the skipped references first (as the
    native detector does). Before, nothing was decoded until the next keyframe or the no-picture watchdog
    (5 s + max_gop_s): the walker from 5.5 s was never seen (no event). Each snapshot is the file's own frame."""
    from datetime import UTC, datetime

    import av
    import cv2
    import numpy as np

    frames = 120
    video = write_h264(tmp_path / "walk.mp4", frames / FPS, FPS, walks=(Walk(5.5, 7.5),), keyframes=(0, 15, 30))
    camera = camera_config(tmp_path / "outbox", pre_roll_s=1.0, post_roll_s=1.0, segment_s=1.0).model_copy(
        update={"source": "file", "path": str(video), "realtime": True, "fps": FPS, "idle_keyframes_only": True,
                "max_gop_s": 2.0, "start": datetime(2026, 1, 1, tzinfo=UTC)})
    pipeline = CameraPipeline(camera, Outbox(tmp_path / "outbox"), threading.Event())
    run([pipeline], timeout=60)
    status = pipeline.status()
    assert status["events"] == 1 and status["recorder"] == "reencode", status
    # keyframes at 0, 1 and 2 s, none decoded from 2 s to 4 s (max_gop_s), then every frame: about 3 + 60
    assert 50 < status["frames"] < 75, status
    with av.open(str(video)) as container:
        reference = [f.to_ndarray(format="bgr24") for f in container.decode(container.streams.video[0])]
    start_ms = int(camera.start.timestamp() * 1000)
    snapshots = [e["id"] for e in journal(tmp_path / "outbox") if e["type"] == "snapshot"]
    assert snapshots
    for name in snapshots:  # decoded without the skipped references, a picture is off the file's own
        head = header(tmp_path / "outbox", name)
        index = round((head["time_ms"] - start_ms) * FPS / 1000)
        payload = (tmp_path / "outbox" / f"{name}.bin").read_bytes()
        picture = cv2.imdecode(np.frombuffer(payload, np.uint8), cv2.IMREAD_COLOR)
        expected = cv2.imdecode(cv2.imencode(".jpg", reference[index], [cv2.IMWRITE_JPEG_QUALITY,
                                                                         camera.recording.snapshot_quality])[1],
                                cv2.IMREAD_COLOR)
        assert np.array_equal(picture, expected), f"snapshot {head['seq']} (frame {index})"
