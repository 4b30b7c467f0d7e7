"""Does the native detector see what the Python detector sees? Per-frame verdicts of both motion cores.

    .venv/bin/python bench/native_parity.py [--split held-out|tune] [--condition NAME ...] [--binary PATH] [--video]

Every frame of each condition's clip (bench/detection_corpus.py) is turned gray once
(OpenCV's BGR to gray, as the Python detector does after shrinking) and fed, the same bytes,
to Python's ``MotionDetector`` (``create_detector``, defaults) and to the native core
(``quickcam-native-detector --motion-trace``, the same defaults). Per condition:

- **agree**: share of frames with the same motion verdict;
- **area**: frames where both see motion and their areas differ by under 10 % (or 0.001 of the frame);
- **threshold**: frames whose pixel thresholds differ by under 5 % (the noise estimate's trace);
- **view**: frames with the same view guard verdict (ok, blocked, moved, frozen), each core's guard fed
  its own prepared gray (``MotionDetector.gray``, ``RunningAverageMotion::gray()``) at the same times;
  and the frames either guard said a fault on (a corpus of real scenes should have none: docs/benchmarks.md 7f);
- detection quality of each, through the same event logic (``EventClock``) and scoring as
  bench/detection_quality.py: caught, onset, false events (lighting / quiet).

``--video`` takes each detector's own camera path instead: the clip is encoded to H.264
(libx264, CRF 18, 4:2:0) and decoded by PyAV; Python's core gets the luma plane as its
file/stream source hands it on (``decode.shrink_luma``: halved towards the detection size,
stretched from 16..235 to full range), the native core the luma plane as decoded (it halves
and stretches it itself, as in ``camera.cpp``).

Why verdicts may differ at all: the native core halves the frame before its area shrink when
the ratio allows (the same box mean, rounded once more), and its sums run in another order;
a pixel exactly at the threshold may fall either way, and a blob exactly at the minimum area.
(The opencv-python wheel's IPP, which rounded the background's floats otherwise on x86-64, is
off while Python's core runs: ``base._without_ipp``; bench/float_drift.py shows where it mattered.)
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from detection_corpus import FPS, SPLITS, Composer  # noqa: E402
from detection_quality import Run, Score, _cell, score  # noqa: E402

from quickcam.common.config import MotionConfig, RecordingConfig  # noqa: E402
from quickcam.detector.decode import shrink_luma  # noqa: E402
from quickcam.detector.events import Action, EventClock  # noqa: E402
from quickcam.detector.motion import create_detector  # noqa: E402
from quickcam.detector.pipeline.view_guard import ViewGuard  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
AREA_TOLERANCE = 0.10  # relative
AREA_FLOOR = 0.001  # share of the frame: areas this close agree whatever their ratio
THRESHOLD_TOLERANCE = 0.05  # relative


@dataclass(frozen=True)
class Verdict:
    motion: bool
    area: float
    global_change: bool
    lighting_blobs: int
    dark: bool
    noise: float
    threshold: float
    view: str = "ok"  # the view guard's verdict after this frame


def python_trace(frames: Iterable[np.ndarray], config: MotionConfig, fps: float,
                 zone_mask: np.ndarray | None = None, every: int = 1) -> list[Verdict]:
    """Python's motion core on gray frames, watching ``zone_mask`` (``zones.build_zone_mask``; None: all), and its
    view guard at the native trace's clock (frame n at 1 s + n x every / fps).

    ``every``: each frame is a look that many source frames after the last
    (sparse looks, ``detector/motion/looks.py``), as the native trace's ``--every``."""
    cv2.setNumThreads(1)
    detector, guard = create_detector(config, fps=fps, zone_mask=zone_mask), ViewGuard(watch_frozen=True)
    out = []
    for n, gray in enumerate(frames):
        r = detector.detect(gray, every if n else 1)
        guard.look(detector.gray, 10**9 + int(n * every * 1e9 / fps))
        out.append(Verdict(r.motion, r.area_fraction, r.global_change, r.lighting_blobs, r.dark, r.noise,
                           r.threshold, guard.fault.kind if guard.fault else "ok"))
    return out


def native_trace(binary: Path, frames: Iterable[np.ndarray], size: tuple[int, int], fps: float,
                 config_path: Path | None = None, video_range: bool = False, every: int = 1) -> list[Verdict]:
    """The native motion core on the same gray frames (``--motion-trace``), one verdict per frame.

    ``config_path``: its first camera's motion settings and zones (the mask made at ``size``);
    ``every``: each frame a look that many source frames after the last (``--every``)."""
    command = [str(binary), "--motion-trace", f"{size[0]}x{size[1]}", "--fps", str(fps)]
    if every != 1:
        command += ["--every", str(every)]
    if video_range:
        command.append("--video-range")
    if config_path is not None:
        command[1:1] = ["--config", str(config_path)]
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdin is not None and process.stdout is not None
    failure: list[BaseException] = []

    def feed() -> None:
        try:
            for gray in frames:
                process.stdin.write(np.ascontiguousarray(gray, np.uint8).tobytes())
        except BaseException as exc:  # noqa: BLE001 - reported below, after the reader is done
            failure.append(exc)
        finally:
            process.stdin.close()

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    out = []
    for line in process.stdout:
        if line.startswith(b"#"):
            continue
        motion, area, glob, lighting, dark, noise, threshold, _, view, *_ = line.split()
        out.append(Verdict(motion == b"1", float(area), glob == b"1", int(lighting), dark == b"1", float(noise),
                           float(threshold), view.decode()))
    writer.join()
    process.wait()
    if process.returncode or failure:
        raise RuntimeError(f"native trace failed ({process.returncode}): "
                           f"{process.stderr.read().decode(errors='replace').strip() or failure}")
    return out


@dataclass
class Agreement:
    frames: int = 0
    same_motion: int = 0
    both_motion: int = 0
    same_area: int = 0
    same_threshold: int = 0
    same_view: int = 0
    faulted: int = 0  # frames on which either guard said a fault
    only_python: list[int] = field(default_factory=list)  # frames where only Python saw motion
    only_native: list[int] = field(default_factory=list)

    @property
    def motion_share(self) -> float:
        return self.same_motion / max(1, self.frames)

    @property
    def area_share(self) -> float:
        return self.same_area / max(1, self.both_motion)

    @property
    def threshold_share(self) -> float:
        return self.same_threshold / max(1, self.frames)

    @property
    def view_share(self) -> float:
        return self.same_view / max(1, self.frames)

    def add(self, other: Agreement) -> None:
        for name in ("frames", "same_motion", "both_motion", "same_area", "same_threshold", "same_view", "faulted"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


def compare(python: list[Verdict], native: list[Verdict]) -> Agreement:
    if len(python) != len(native):
        raise ValueError(f"python saw {len(python)} frames, native {len(native)}")
    a = Agreement(frames=len(python))
    for index, (p, n) in enumerate(zip(python, native, strict=True)):
        if p.motion == n.motion:
            a.same_motion += 1
        elif p.motion:
            a.only_python.append(index)
        else:
            a.only_native.append(index)
        if p.motion and n.motion:
            a.both_motion += 1
            a.same_area += abs(p.area - n.area) <= max(AREA_FLOOR, AREA_TOLERANCE * max(p.area, n.area))
        a.same_threshold += abs(p.threshold - n.threshold) <= THRESHOLD_TOLERANCE * max(p.threshold, n.threshold)
        a.same_view += p.view == n.view
        a.faulted += p.view != "ok" or n.view != "ok"
    return a


def events(verdicts: list[Verdict], config: MotionConfig, recording: RecordingConfig) -> Run:
    """The detector's event logic (``EventClock``) over a verdict stream, as detection_quality's Watcher."""
    clock = EventClock(int(recording.post_roll_s * 1e9), int(recording.max_event_s * 1e9),
                       int(recording.min_event_s * 1e9), config.trigger_frames)
    run, start, onset = Run(), 0, 0
    for index, v in enumerate(verdicts):
        action = clock.step(int(index * 1e9 / FPS), v.motion)
        if action is Action.START:
            start, onset = index, round(clock.onset_ns * FPS / 1e9)
        elif action is Action.END:
            run.events.append((onset, start, index))
    if clock.recording:
        run.events.append((onset, start, len(verdicts)))
    return run


def gray_frames(frames: Iterator[np.ndarray]) -> list[np.ndarray]:
    return [cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for f in frames]


def encode(frames: Iterable[np.ndarray], path: Path) -> None:
    """The clip as H.264 (libx264, CRF 18, 4:2:0), as a camera or a stream would deliver it."""
    import av

    with av.open(str(path), "w") as container:
        stream = None
        for image in frames:
            if stream is None:
                stream = container.add_stream("libx264", rate=int(FPS))
                stream.height, stream.width = image.shape[:2]
                stream.pix_fmt, stream.options = "yuv420p", {"crf": "18", "preset": "veryfast"}
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")):
                container.mux(packet)
        if stream is not None:
            for packet in stream.encode():
                container.mux(packet)


def decoded(path: Path, native: bool, detection_width: int) -> Iterator[np.ndarray]:
    """The file's frames as each detector takes them from its decoder: the luma plane as decoded
    (native), or that plane halved and stretched to full range by ``shrink_luma`` (Python's av_source)."""
    import av

    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            if native:
                plane = frame.planes[0]
                yield np.frombuffer(plane, np.uint8).reshape(frame.height, plane.line_size)[:, :frame.width]
            else:
                yield shrink_luma(frame, detection_width)[0]


def default_binary() -> Path:
    return REPO / "build" / "native" / "quickcam-native-detector"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", choices=sorted(SPLITS), default="held-out")
    parser.add_argument("--condition", action="append", default=[], help="only this condition (repeatable)")
    parser.add_argument("--binary", type=Path, default=default_binary(), help="the native detector (built by "
                        "scripts/build_native.sh)")
    parser.add_argument("--video", action="store_true", help="through H.264, each detector's decoder path")
    args = parser.parse_args(argv)
    config, recording = MotionConfig(), RecordingConfig()
    pre_roll, post_roll = int(recording.pre_roll_s * FPS), int(recording.post_roll_s * FPS)
    composer = Composer(SPLITS[args.split])
    started = time.monotonic()
    rows, total = [], Agreement()
    totals = {"python": Score(), "native": Score()}
    for condition in args.condition or composer.conditions():
        clip = composer.clip(condition)
        if args.video:
            with tempfile.TemporaryDirectory() as tmp:
                video = Path(tmp, "clip.mp4")
                encode(clip.frames, video)
                height, width = next(decoded(video, True, config.detection_width)).shape
                python = python_trace(decoded(video, False, config.detection_width), config, FPS)
                native = native_trace(args.binary, decoded(video, True, config.detection_width), (width, height),
                                      FPS, video_range=True)
        else:
            frames = gray_frames(clip.frames)
            height, width = frames[0].shape
            python = python_trace(frames, config, FPS)
            native = native_trace(args.binary, frames, (width, height), FPS)
        agreement = compare(python, native)
        total.add(agreement)
        scores = {name: score(events(v, config, recording), clip, pre_roll, post_roll)
                  for name, v in (("python", python), ("native", native))}
        for name, s in scores.items():
            totals[name].add(s)
        rows.append([condition, str(agreement.frames), f"{agreement.motion_share:.2%}",
                     f"{agreement.area_share:.2%}" if agreement.both_motion else "-",
                     f"{agreement.threshold_share:.2%}", f"{agreement.view_share:.2%}", str(agreement.faulted),
                     *_cell(scores["python"]), *_cell(scores["native"])])
        print(f"  {condition}: {agreement.frames} frames, motion differs at {agreement.only_python[:8]} (python only) "
              f"{agreement.only_native[:8]} (native only)", file=sys.stderr)
    rows.append(["**all**", str(total.frames), f"{total.motion_share:.2%}", f"{total.area_share:.2%}",
                 f"{total.threshold_share:.2%}", f"{total.view_share:.2%}", str(total.faulted),
                 *_cell(totals["python"]), *_cell(totals["native"])])
    header = ["condition", "frames", "same motion verdict", "same area (both moving)", "same threshold",
              "same view verdict", "view faulted (frames)",
              "python: caught", "onset (median / worst)", "time recorded", "false (lighting / quiet)",
              "native: caught", "onset (median / worst)", "time recorded", "false (lighting / quiet)"]
    feed = ("through H.264, the luma plane to both, as their decoders hand it on" if args.video
            else "the same gray frames to both cores")
    print(f"Split: **{args.split}**; {feed}; defaults; onset in frames at {FPS:.0f} fps.\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print(f"\n({time.monotonic() - started:.0f} s; command: .venv/bin/python bench/native_parity.py"
          f"{' ' + ' '.join(sys.argv[1:]) if len(sys.argv) > 1 else ''})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
