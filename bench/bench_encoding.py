"""Bytes per second of footage for each encoder, and what that means on a home uplink.

Encodes the same demo footage (a walker crossing a textured, noisy scene, 640x480 at
15 fps) as 2-second segments with each encoder, in one run, and prints a markdown table.

    .venv/bin/python bench/bench_encoding.py [--seconds 12] [--runs 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import cv2

from bench._util import median
from quickcam.detector.encoders import H264Encoder, Mp4vEncoder
from quickcam.detector.sources import DemoSource

UPLINKS_MBIT = (2, 10)


def encode(kind: type, frames: list, fps: float, folder: Path) -> tuple[int, float]:
    """Total bytes and encode ms per frame for 2 s segments."""
    per_segment = int(2 * fps)
    total, started = 0, time.perf_counter()
    for n in range(0, len(frames), per_segment):
        path = folder / f"{kind.__name__}-{n}.mp4"
        encoder = kind(path, frames[0].shape[1], frames[0].shape[0], fps)
        for image in frames[n:n + per_segment]:
            encoder.write(image)
        encoder.close()
        total += path.stat().st_size
    return total, (time.perf_counter() - started) * 1000 / len(frames)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=12.0)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    cv2.setNumThreads(1)
    fps = 15.0
    source = DemoSource(640, 480, fps, realtime=False)
    skip = int(4 * fps)  # start as the walker enters: footage is only ever recorded with motion
    frames = [source.read().image for _ in range(skip + int(args.seconds * fps))][skip:]
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for kind in (H264Encoder, Mp4vEncoder):
            sizes, costs = [], []
            for _ in range(args.runs):
                size, ms = encode(kind, frames, fps, Path(tmp))
                sizes.append(size)
                costs.append(ms)
            results[kind.codec] = (median(sizes) / args.seconds, median(costs))
    print(f"Encoding {args.seconds:.0f} s of 640x480@15 demo footage with motion, 2 s segments, "
          f"median of {args.runs} runs\n")
    print("| encoder | KB per s of footage | ms per frame | share of a core at 15 fps "
          "| upload time per s of footage @2 Mbit/s | @10 Mbit/s |")
    print("|---|---|---|---|---|---|")
    for codec, (bps, ms) in results.items():
        uploads = " | ".join(f"{bps * 8 / (mbit * 1e6):.2f} s" for mbit in UPLINKS_MBIT)
        print(f"| {codec} | {bps / 1000:.0f} | {ms:.2f} | {ms * fps / 10:.1f}% | {uploads} |")
    ratio = results["mp4v"][0] / results["h264"][0]
    print(f"\nmp4v makes {ratio:.1f}x the bytes of H.264 on the same footage.")


if __name__ == "__main__":
    main()
