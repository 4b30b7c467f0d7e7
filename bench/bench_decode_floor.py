"""Where a watching camera's CPU goes: decoding alone, the luma for detection, the motion core.

The floor under passthrough's "watching" share (section 12): the same H.264
files as ``bench_passthrough`` (15 fps, keyframes every second), decoded in
this process as ``AvSource`` decodes them (PyAV, slice threads), then the
steps detection adds, each timed as CPU time of this process per frame and
given as a share of one core at 15 fps:

- decoding alone (every frame; H.264 has no cheaper partial decode here: this
  build of libavcodec ignores ``flags=gray``, and skipping the loop filter
  changes the pixels: ``bench_decode_options`` measures what that and the
  decoder's other options save, and their price);
- the luma plane brought to the detection size (``decode.shrink_luma``);
- the same, decoding and luma, at the camera's pace (a frame every 1/15 s,
  caches cold between frames, as in the detector);
- the motion core on those frames back to back, and at the camera's pace.

    .venv/bin/python -m bench.bench_decode_floor [--paced-frames 150]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import av
import cv2

from bench._util import median
from bench.bench_passthrough import FPS, SIZES, SUB, scene
from quickcam.common.config import MotionConfig
from quickcam.detector.av_source import DECODER_THREADS
from quickcam.detector.decode import shrink_luma
from quickcam.detector.motion import create_detector

ROUNDS = 3


def share(seconds_per_frame: float) -> float:
    """CPU seconds per frame as a share (%) of one core at FPS."""
    return 100 * seconds_per_frame * FPS


def decode(video: Path, shrink: bool, paced_frames: int = 0) -> tuple[float, list]:
    """CPU seconds per frame to decode ``video`` (and shrink the luma), and the detection images.

    ``paced_frames``: only that many frames, one every 1/FPS s (caches cold between frames, as a
    camera delivers them), timing only the work.
    """
    container = av.open(str(video))
    stream = container.streams.video[0]
    stream.codec_context.thread_type = "SLICE"
    stream.codec_context.thread_count = DECODER_THREADS
    images, frames, spent = [], 0, 0.0
    started = time.process_time()
    for packet in container.demux(stream):
        if paced_frames:
            time.sleep(1 / FPS)
            started = time.process_time()
        for frame in stream.codec_context.decode(packet):
            frames += 1
            if shrink:
                images.append(shrink_luma(frame, MotionConfig().detection_width)[0])
        if paced_frames:
            spent += time.process_time() - started
            if frames >= paced_frames:
                break
    if not paced_frames:
        spent = time.process_time() - started
    container.close()
    return spent / max(1, frames), images


def motion(images: list, paced: bool) -> float:
    """CPU seconds per frame of the motion core, frames back to back or one every 1/FPS s."""
    detector = create_detector(MotionConfig(), fps=FPS)
    for image in images[:15]:
        detector.detect(image)
    spent = 0.0
    for image in images[15:]:
        if paced:
            time.sleep(1 / FPS)
        started = time.thread_time()
        detector.detect(image)
        spent += time.thread_time() - started
    return spent / max(1, len(images) - 15)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paced-frames", type=int, default=150)
    args = parser.parse_args()
    cv2.setNumThreads(1)
    print(f"Per frame, as a share of one core at {FPS:g} fps (median of {ROUNDS} rounds in this process; "
          "quiet scene):\n")
    print("| stream | decoding alone | + luma to detection size | decoding + luma, paced (as in the detector) | "
          "motion core, back to back | motion core, paced (as in the detector) |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="bench_decode_floor_") as tmp:
        for label, size in [*SIZES.items(), ("640x360", SUB)]:
            video = scene(Path(tmp), f"quiet_{label}", size, 30.0, ())
            bare = median([decode(video, shrink=False)[0] for _ in range(ROUNDS)])
            shrunk = [decode(video, shrink=True) for _ in range(ROUNDS)]
            images = shrunk[0][1]
            tight = median([motion(images, paced=False) for _ in range(ROUNDS)])
            paced = motion(images[:args.paced_frames + 15], paced=True)
            paced_decode = decode(video, shrink=True, paced_frames=args.paced_frames)[0]
            print(f"| {label}@{FPS:g} | {share(bare):.2f}% | {share(median([s[0] for s in shrunk])):.2f}% | "
                  f"{share(paced_decode):.2f}% | {share(tight):.2f}% | {share(paced):.2f}% |", flush=True)


if __name__ == "__main__":
    main()
