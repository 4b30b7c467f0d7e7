"""The real `quickcam detector` on a video file sees what the detection bench sees on the same frames.

bench/detection_quality.py feeds frames straight into the motion core and the
event clock; strangers run the real detector on files. A short clip of the
corpus (a real walker from vtest.avi, a light step with no one in view) is
written as a stranger would, as H.264 with B-frames (PyAV's luma path,
passthrough recording) and as MJPEG .avi (the JPEG path), and analysed by the
real process; its events must be the harness's: the same count, each onset
within a frame, each end within a frame (passed-through H.264 may run on by its
B-frames' reordering: it is cut in decode order), and the walker's frames inside segments.
bench/detection_pipeline.py does the same on the whole held-out corpus.
"""

from __future__ import annotations

import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
VTEST = REPO / "tests/data/vtest.avi"
pytestmark = pytest.mark.skipif(not VTEST.exists(), reason="tests/data/vtest.avi missing: "
                                "scripts/install_test_tools.sh extracts it from opencv-doc")

H264_WITH_B_FRAMES = {"preset": "veryfast", "bf": "2", "g": "10", "keyint_min": "10", "sc_threshold": "0"}


@pytest.fixture(scope="module")
def clip_files() -> tuple:
    """The clip's frames in two files, its truth, and the in-process harness's events on its frames."""
    from bench import detection_pipeline as bench  # noqa: I001 - it puts bench/ on sys.path for the next two
    from detection_corpus import SPLITS, Clip, Composer, Scene
    from detection_quality import Watcher

    from quickcam.common.config import MotionConfig, RecordingConfig

    composer = Composer(SPLITS["tune"], limit=60)  # walkers of vtest.avi's first 6 s: quick to make
    scene = Scene(composer.plate, composer.frames, composer.split, "parity")
    clip = Clip("parity", iter(()))

    def frames():
        yield from composer._quiet(scene, clip, 3)
        yield from composer._change(scene, clip, [1.6], hold_s=5)  # a light step, no one in view
        yield from composer._walkers(scene, clip, 1, offset=1, gap_s=4)

    folder = Path(tempfile.mkdtemp(prefix="parity_"))
    files = {"h264": folder / "clip.mp4", "mjpeg": folder / "clip.avi"}
    writers = [bench.AvWriter(files["h264"], 600_000, H264_WITH_B_FRAMES), bench.CvWriter(files["mjpeg"], "MJPG")]
    watcher = Watcher(MotionConfig(), RecordingConfig())
    index = -1
    for index, frame in enumerate(frames()):
        watcher.feed(index, frame)
        for writer in writers:
            writer.write(frame)
    for writer in writers:
        writer.close()
    return bench, folder, files, clip, watcher.finish(index)


def test_the_real_detector_on_h264_and_mjpeg_files_gives_the_harness_events(clip_files: tuple) -> None:
    bench, folder, files, clip, harness = clip_files
    (first, last), = clip.people
    assert any(start <= last and end > first for _, start, end in harness.events), \
        f"the harness misses the walker ({harness.events}): the clip proves nothing"
    with ThreadPoolExecutor(2) as pool:
        runs = {name: pool.submit(bench.run_detector, path, False, folder / f"run-{name}")
                for name, path in files.items()}
        results = {name: bench.events_of(run.result()[0]) for name, run in runs.items()}
    expected = [(start, end) for _, start, end in harness.events]
    for name, result in results.items():
        got = [(start, end) for _, start, end in result.run.events]
        assert len(got) == len(expected), f"{name}: the detector's events {got}, the harness's {expected}"
        for (start, end), (want_start, want_end) in zip(got, expected, strict=True):
            # passed-through H.264 with B-frames is cut in decode order: up to a GOP's reordering more
            assert abs(start - want_start) <= 1 and want_end - 1 <= end <= want_end + (4 if name == "h264" else 1), \
                f"{name}: the detector's events {got} (frames), the harness's {expected}"
        missing = [f for f in range(first, last + 1) if f not in result.recorded]
        assert not missing, f"{name}: walker frames {missing[:5]}... are in no segment"


def test_a_looped_file_with_b_frames_gives_every_frame_on_one_timeline(tmp_path: Path) -> None:
    """The decoder's held-back frames end each pass (they were lost), and the next pass follows the last shown."""
    from bench.detection_pipeline import START, AvWriter
    from quickcam.common.config import CameraConfig
    from quickcam.detector.av_source import AvSource
    from quickcam.detector.sources import DemoSource

    path, demo = tmp_path / "b.mp4", DemoSource(320, 240, 10, realtime=False)
    writer = AvWriter(path, 300_000, H264_WITH_B_FRAMES)
    for _ in range(30):
        writer.write(demo.read().image)
    writer.close()
    source = AvSource(CameraConfig(source="file", path=str(path), realtime=False, start=START, fps=10, loop=True))
    assert source.open()
    start_ns = int(START.timestamp() * 1e9)
    stamps = [(source.read().time_ns - start_ns) // 1_000_000 for _ in range(95)]
    assert stamps == [100 * n for n in range(95)], stamps
