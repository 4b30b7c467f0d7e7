"""What one camera costs the detector: CPU share watching and recording, memory, ms per frame.

Part 1 runs the real `quickcam detector` process on 30 s video files at 640x480@15 fps,
paced in real time (as a camera delivers frames), once on a quiet scene and once on a
scene with continuous motion, with the uploader running, and reads the detector's CPU
time and peak RSS from /proc. Decoding the file is included, as a USB camera's MJPG
decoding would be. Part 2 times each motion algorithm alone on the same frames.

    .venv/bin/python -m bench.bench_detector_cost [--seconds 30] [--runs 3]
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import av
import cv2

from bench._util import QUICKCAM, cpu_seconds, median, peak_rss_mb, scratch_setup
from quickcam.common.config import MotionConfig
from quickcam.detector.motion import ALGORITHMS, create_detector
from quickcam.detector.sources import DemoSource, Walk

FPS = 15.0


def render(path: Path, seconds: float, walks: tuple[Walk, ...]) -> list:
    """Write a near-lossless H.264 file of the demo scene; return its frames too."""
    source = DemoSource(640, 480, FPS, realtime=False, walks=walks, period_s=seconds + 1)
    frames = [source.read().image for _ in range(int(seconds * FPS))]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=int(FPS))
        stream.width, stream.height, stream.pix_fmt = 640, 480, "yuv420p"
        stream.options = {"crf": "12", "preset": "veryfast"}
        for image in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return frames


def process_cost(video: Path, seconds: float, **overrides: str) -> tuple[float, float]:
    """Detector CPU share (% of one core) over the run, and its peak RSS in MB."""
    with tempfile.TemporaryDirectory() as tmp:
        env = scratch_setup(Path(tmp), QUICKCAM_CAMERA__SOURCE="file", QUICKCAM_CAMERA__PATH=str(video),
                            QUICKCAM_CAMERA__LOOP="true", QUICKCAM_LOGGING__LEVEL="WARNING", **overrides)
        uploader = subprocess.Popen([QUICKCAM, "uploader"], cwd=tmp, env=env, stderr=subprocess.DEVNULL)
        detector = subprocess.Popen([QUICKCAM, "detector"], cwd=tmp, env=env, stderr=subprocess.DEVNULL)
        time.sleep(3)  # imports and start-up are not the steady state
        cpu0, t0 = cpu_seconds(detector.pid), time.monotonic()
        time.sleep(seconds)
        share = 100 * (cpu_seconds(detector.pid) - cpu0) / (time.monotonic() - t0)
        rss = peak_rss_mb(detector.pid)
        for proc in (detector, uploader):
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
    return share, rss


def decode_cost(video: Path) -> float:
    """ms per frame to decode the file alone: the part a camera's own decoding would replace."""
    capture = cv2.VideoCapture(str(video))
    started, count = time.perf_counter(), 0
    while capture.read()[0]:
        count += 1
    return (time.perf_counter() - started) * 1000 / max(1, count)


def algorithm_costs(frames: list) -> dict[str, float]:
    costs = {}
    for name in ALGORITHMS:
        detector = create_detector(MotionConfig(algorithm=name), fps=FPS)
        for image in frames[:30]:  # warm up and learn the background
            detector.detect(image)
        started = time.perf_counter()
        for image in frames:
            detector.detect(image)
        costs[name] = (time.perf_counter() - started) * 1000 / len(frames)
    return costs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    cv2.setNumThreads(1)
    with tempfile.TemporaryDirectory() as tmp:
        quiet, busy = Path(tmp, "quiet.mp4"), Path(tmp, "busy.mp4")
        render(quiet, args.seconds, ())
        # Someone always crossing: the detector records the whole time.
        walks = tuple(Walk(t, t + 5.0) for t in range(0, int(args.seconds), 5))
        busy_frames = render(busy, args.seconds, walks)
        results = {}
        for name, video in (("watching (quiet scene)", quiet), ("recording (continuous motion)", busy)):
            runs = [process_cost(video, args.seconds) for _ in range(args.runs)]
            results[name] = (median([r[0] for r in runs]), max(r[1] for r in runs))
        decode_ms = decode_cost(quiet)
    print(f"`quickcam detector` on a 640x480@15 fps file paced in real time, {args.seconds:.0f} s per run, "
          f"median of {args.runs} runs, cv2.setNumThreads(1)\n")
    print("| state | CPU, share of one core | peak RSS | cameras per 2-core machine |")
    print("|---|---|---|---|")
    for name, (share, rss) in results.items():
        print(f"| {name} | {share:.1f}% | {rss:.0f} MB | {int(200 // max(share, 0.1))} |")
    print(f"\nDecoding the file alone costs {decode_ms:.2f} ms a frame ({decode_ms * FPS / 10:.1f}% of a core) "
          "of the figures above.")
    print("\nMotion detection alone, per 640x480 frame (same frames, one run each after a warm-up):\n")
    print("| algorithm | ms per frame | share of a core at 15 fps |")
    print("|---|---|---|")
    for name, ms in algorithm_costs(busy_frames).items():
        print(f"| {name} | {ms:.2f} | {ms * FPS / 10:.1f}% |")


if __name__ == "__main__":
    main()
