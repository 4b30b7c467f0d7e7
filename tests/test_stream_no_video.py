"""A stream that opens and then brings no video says why in ``quickcam status``, in both detectors.

HTTP MPEG-TS from a fake camera on 127.0.0.1:

- its video announced but never sent, its audio going on: ``failing``, the fault saying
  ``opened but gives no frame: no video for 10 s while the stream sends other data (audio?)``.
  The native detector said only ``it went away soon after it opened`` (the reason was in its
  log alone); the Python one ``NoVideo: no video …`` (a class name);
- its video sent for a while, then nothing at all on a connection held open: ``lost`` within
  the stream timeout, the fault saying ``no video packet for 10 s (the stream stopped, or sends
  nothing readable)``. The native detector said ``lost: no frame from <URL>`` with no reason;
- its audio alone, then nothing at all, before the first open was done with: ``failing``, with
  a reason in words and no password. The Python detector said ``ExitError: [Errno 1414092869]
  Immediate exit requested: 'http://user:password@…'``, the password in its log and status;
- a stream that does not open: the Python detector's debug line quoted PyAV's error, URL and password.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from quickcam.detector.sources import Walk
from tests.conftest import QUICKCAM, free_port
from tests.fakes.h264 import write_h264
from tests.fakes.http_camera import Answer, HttpCamera
from tests.native_build import native_detector
from tests.pipeline import Pipeline
from tests.waiting import wait_until

FPS = 10.0
CHUNK_S = 0.1
PASSWORD = "hunter2secret"
OPENED_NO_VIDEO = "opened but gives no frame: no video for 10 s while the stream sends other data (audio?)"
SILENT = "no video packet for 10 s (the stream stopped, or sends nothing readable)"
SILENT_4 = SILENT.replace("10 s", "4 s")  # [camera] stream_timeout_s = 4


def _ts(tmp_path: Path, video_s: float, audio_s: float, video_packets: bool = True) -> list[bytes]:
    """An MPEG-TS (H.264 video of a walk, MP2 audio if ``audio_s``) cut into ``CHUNK_S`` pieces of its own time;
    ``video_packets=False`` announces the video stream and sends none of it."""
    clip = write_h264(tmp_path / "walk.mp4", max(video_s, 1.0), FPS, 1.0, walks=(Walk(0.2, 0.8),))
    buffer = io.BytesIO()
    with av.open(str(clip)) as source, av.open(buffer, mode="w", format="mpegts",
                                                    options={"max_interleave_delta": "1"}) as output:
        video = output.add_stream_from_template(source.streams.video[0])
        audio = output.add_stream("mp2", rate=16_000, layout="mono") if audio_s else None
        timed: list[tuple[float, av.Packet]] = []
        for packet in source.demux(source.streams.video[0]) if video_packets else ():
            if packet.dts is not None and float(packet.dts * packet.time_base) < video_s:
                packet.stream = video
                timed.append((float(packet.dts * packet.time_base), packet))
        samples = 1152  # an MP2 frame
        for number in range(round(audio_s * 16_000 / samples)) if audio else ():
            frame = av.AudioFrame.from_ndarray(np.zeros((1, samples), np.int16), format="s16", layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = 16_000, number * samples, Fraction(1, 16_000)
            timed += [(number * samples / 16_000, packet) for packet in audio.encode(frame)]
        timed.sort(key=lambda pair: pair[0])
        return _muxed_in_pieces(buffer, output, timed)


def _muxed_in_pieces(buffer: io.BytesIO, output: av.container.OutputContainer,
                     timed: list[tuple[float, av.Packet]]) -> list[bytes]:
    """``timed`` (packets in time order) muxed into ``output``, which writes into ``buffer``, cut into ``CHUNK_S``
    pieces of their own time. ``output`` is closed before the last piece is taken: what the muxer still holds
    (its last packets) is written at the close, and a piece taken before it lacked them."""
    pieces, start, cut_s = [], 0, CHUNK_S
    for at_s, packet in timed:
        while at_s >= cut_s:
            pieces.append(buffer.getvalue()[start:])
            start, cut_s = len(buffer.getvalue()), cut_s + CHUNK_S
        output.mux(packet)
    output.close()
    pieces.append(buffer.getvalue()[start:])
    return pieces


class Run:
    """One detector on its own fake camera, in its own folder."""

    def __init__(self, root: Path, detector: str, pieces: list[bytes], hold: bool, timeout_s: int) -> None:
        root.mkdir()
        self.detector, self.root = detector, root
        self.camera = HttpCamera(lambda n: Answer(pieces, "video/mp2t", chunk_s=CHUNK_S, hold=hold), path="/cam.ts")
        url = self.camera.url.replace("http://", f"http://viewer:{PASSWORD}@")
        self.pipe = Pipeline(root, detector=[str(native_detector())] if detector == "native" else None,
                             QUICKCAM_CAMERA__SOURCE="stream", QUICKCAM_CAMERA__PATH=url,
                             QUICKCAM_CAMERA__FPS=str(FPS), QUICKCAM_CAMERA__STREAM_TIMEOUT_S=str(timeout_s))
        self.pipe.start("detector")

    def camera_status(self) -> dict:
        try:
            return json.loads((self.root / "outbox" / "detector-status.json").read_text())["cameras"]["cam0"]
        except (OSError, ValueError, KeyError):  # not written yet
            return {}

    def fault(self) -> str:
        return self.camera_status().get("fault", "")

    def status(self) -> str:
        return subprocess.run([QUICKCAM, "status"], cwd=self.root, env=self.pipe.env, capture_output=True,
                              text=True, timeout=30).stdout

    def output(self) -> str:
        return self.pipe.output("detector")

    def close(self) -> None:
        try:
            if self.pipe.procs["detector"].poll() is None:
                self.pipe.stop("detector", timeout=60)
        finally:
            self.pipe.close()
            self.camera.close()


@contextmanager
def both(tmp_path: Path, pieces: list[bytes], hold: bool, timeout_s: int = 10) -> Iterator[list[Run]]:
    """Both detectors at once, each on its own camera sending ``pieces``: the waits for their timeout overlap.

    ``timeout_s`` is their ``[camera] stream_timeout_s``: kept at its 10 s where the open itself needs ~8 s (FFmpeg's
    probe waiting for a video stream that sends nothing), shorter where the stream opens at once."""
    runs: list[Run] = []
    try:
        for detector in ("python", "native"):
            runs.append(Run(tmp_path / detector, detector, pieces, hold, timeout_s))
        yield runs
    finally:
        for run in runs:
            run.close()
    for run in runs:
        assert PASSWORD not in run.output(), (run.detector, [line for line in run.output().splitlines()
                                                             if PASSWORD in line])


def test_a_stream_whose_video_never_comes_while_its_audio_does_is_failing_with_the_reason(tmp_path: Path) -> None:
    with both(tmp_path, _ts(tmp_path, 0, 60, video_packets=False), hold=False) as runs:
        for run in runs:
            # its open (FFmpeg's probe waits for the video's parameters: ~8 s), then 10 s of audio alone
            assert wait_until(lambda r=run: OPENED_NO_VIDEO in r.fault(), 60), (
                run.detector, run.camera_status(), run.output()[-3000:])
            assert run.camera_status()["state"] == "failing", (run.detector, run.camera_status())
            status = run.status()
            assert "camera cam0: FAILING (" in status and OPENED_NO_VIDEO in status, (run.detector, status)


def test_a_stream_that_goes_silent_on_an_open_connection_is_lost_with_the_reason_within_its_timeout(
        tmp_path: Path) -> None:
    with both(tmp_path, _ts(tmp_path, 8, 0), hold=True, timeout_s=4) as runs:
        for run in runs:
            assert wait_until(lambda r=run: r.camera_status().get("state") == "ok", 60), (
                run.detector, run.output()[-3000:])
        for run in runs:
            # 8 s of video, then nothing: 'stalled' while the read waits, 'lost' once it has waited 4 s
            assert wait_until(lambda r=run: r.camera_status().get("state") == "lost", 8 + 4 + 20), (
                run.detector, run.camera_status(), run.output()[-3000:])
            fault = run.fault()
            assert fault.startswith("lost: ") and SILENT_4 in fault, (run.detector, fault)


def test_a_stream_that_goes_silent_before_its_first_open_is_done_is_failing_in_words_without_its_password(
        tmp_path: Path) -> None:
    # audio alone for 12 s, then nothing: the first open (~8 s of probing) and its first reads meet the silence
    with both(tmp_path, _ts(tmp_path, 0, 12, video_packets=False), hold=True) as runs:
        for run in runs:
            assert wait_until(lambda r=run: "opened but gives no frame: " in r.fault(), 60), (
                run.detector, run.camera_status(), run.output()[-3000:])
            camera_status = run.camera_status()
            assert camera_status["state"] == "failing", (run.detector, camera_status)
            # which of the two a detector meets first depends on when its open's reads began
            assert SILENT in camera_status["fault"] or "no video for 10 s" in camera_status["fault"], (
                run.detector, camera_status)
            assert PASSWORD not in json.dumps(camera_status) and PASSWORD not in run.status(), run.detector


def _slowing_ts(tmp_path: Path, full_s: float, slow_fps: float, slow_s: float) -> list[bytes]:
    """An MPEG-TS that sends ``FPS`` for ``full_s`` (what FFmpeg's probe sees: the rate it declares), then the
    rest of its frames ``slow_fps`` a second (their times spread out: nothing dropped), cut as ``_ts`` cuts."""
    frames = round(full_s * FPS + slow_s * slow_fps)
    clip = write_h264(tmp_path / "slowing.mp4", frames / FPS, FPS, 1.0, 160, 120, walks=())
    buffer = io.BytesIO()
    with av.open(str(clip)) as source, av.open(buffer, mode="w", format="mpegts") as output:
        video = output.add_stream_from_template(source.streams.video[0])
        timed = []
        for packet in source.demux(source.streams.video[0]):
            if packet.dts is None:
                continue
            at_s = float(packet.dts * packet.time_base)
            slowed_s = at_s if at_s < full_s else full_s + (at_s - full_s) * FPS / slow_fps
            shift = round((slowed_s - at_s) / packet.time_base)
            packet.dts, packet.pts, packet.stream = packet.dts + shift, packet.pts + shift, video
            timed.append((slowed_s, packet))
        return _muxed_in_pieces(buffer, output, timed)


def test_a_stream_that_sends_well_under_its_declared_rate_for_long_is_degraded_with_both_rates(tmp_path: Path) -> None:
    """4 of its 10 fps (a camera or network that does not keep up) read ``ok at 4.0 fps``: now ``degraded``
    once it has lasted (detector/pipeline/delivery_rate.py: under 45 % for 15 s, judged over 5 s)."""
    with both(tmp_path, _slowing_ts(tmp_path, 3.0, 4.0, 40.0), hold=True) as runs:
        slow = re.compile(r"delivering (3\.[6-9]|4\.[0-4]) of its 10\.0 fps for ")  # 18-22 frames in its 5 s
        for run in runs:
            assert wait_until(lambda r=run: slow.search(r.fault()), 60), (
                run.detector, run.camera_status(), run.output()[-3000:])
            assert run.camera_status()["state"] == "degraded", (run.detector, run.camera_status())
            status = run.status()
            assert re.search(r"camera cam0: delivering \d\.\d of its 10\.0 fps for ", status), (run.detector, status)


def test_a_stream_that_does_not_open_leaves_no_password_in_the_debug_log(tmp_path: Path) -> None:
    """PyAV's error names the URL it could not open: the Python detector's debug line quoted it, password and all."""
    url = f"http://viewer:{PASSWORD}@127.0.0.1:{free_port()}/cam.ts"  # nothing listening: refused
    pipe = Pipeline(tmp_path, QUICKCAM_CAMERA__SOURCE="stream", QUICKCAM_CAMERA__PATH=url,
                    QUICKCAM_LOGGING__LEVEL="DEBUG")
    try:
        pipe.start("detector")
        assert wait_until(lambda: pipe.output("detector").count("PyAV cannot open the source: ") >= 2, 30), (
            pipe.output("detector")[-3000:])
    finally:
        pipe.stop("detector", timeout=60)
        pipe.close()
    output = pipe.output("detector")
    assert "PyAV cannot open the source: Connection refused" in output, output[-3000:]
    assert PASSWORD not in output, [line for line in output.splitlines() if PASSWORD in line]
