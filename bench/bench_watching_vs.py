"""A real ``quickcam detector`` watching a quiet 640x480@15 file, this code and another revision's in turn.

    .venv/bin/python -m bench.bench_watching_vs --vs REV [--rounds 4] [--seconds 20] [--dark]

The whole detector (decoding, the motion core, the glue) as section 12's
"watching" rows run it (``bench_passthrough.run``: passthrough recording, the
file paced in real time, the detector's own CPU time, user + sys, over
``--seconds`` after a 4 s warm-up), this tree's code and REV's alternating
(ABAB...: a loaded machine's drift falls on both). ``--dark``: the scene dimmed
under ``dark_threshold`` (the motion core's dark mode) instead.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from bench._util import commit
from bench.bench_passthrough import FPS, SIZES, checkout, run, scene
from quickcam.detector.sources import DemoSource


def dark_scene(folder: Path, seconds: float) -> Path:
    """The quiet 640x480 scene dimmed to about a twentieth (gray level ~6, a night picture), with sensor noise."""
    path = folder / "dark_640x480.mp4"
    width, height, bitrate = SIZES["640x480"]
    demo, rng = DemoSource(width, height, FPS, realtime=False, walks=(), period_s=10_000.0), np.random.default_rng(3)
    with av.open(str(path), mode="w") as output:
        stream = output.add_stream("libx264", rate=Fraction(FPS).limit_denominator(1001))
        stream.width, stream.height, stream.pix_fmt, stream.bit_rate = width, height, "yuv420p", bitrate
        stream.options = {"preset": "veryfast", "tune": "zerolatency", "bf": "0", "g": str(round(FPS)),
                          "keyint_min": str(round(FPS)), "sc_threshold": "0"}
        for _ in range(round(seconds * FPS)):
            image = demo.read().image * 0.06 + rng.normal(0, 1.5, (height, width, 1))
            frame = av.VideoFrame.from_ndarray(np.clip(image, 0, 255).astype(np.uint8), format="bgr24")
            for packet in stream.encode(frame):
                output.mux(packet)
        for packet in stream.encode():
            output.mux(packet)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vs", required=True, metavar="REV")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--dark", action="store_true")
    args = parser.parse_args()
    here = commit()
    size = SIZES["640x480"]
    shares: dict[str, list[float]] = {here: [], args.vs: []}
    with tempfile.TemporaryDirectory(prefix="bench_watching_vs_") as tmp:
        folder = Path(tmp)
        code = checkout(args.vs, folder)
        video = dark_scene(folder, 30.0) if args.dark else scene(folder, "quiet_640x480", size, 30.0, ())
        print(f"{'dark' if args.dark else 'quiet'} 640x480@{FPS:g}, {args.seconds:g} s a run, load average "
              f"{os.getloadavg()[0]:.1f} at the start", flush=True)
        for index in range(args.rounds):
            order = [(here, None), (args.vs, code)]
            for name, path in order if index % 2 == 0 else order[::-1]:
                share = run(video, "passthrough", size, args.seconds, code=path)["cpu"]
                shares[name].append(share)
                print(f"round {index + 1}: {name}: {share:.2f} % of a core", flush=True)
        print(f"load average {os.getloadavg()[0]:.1f} at the end; {time.strftime('%H:%M UTC', time.gmtime())}")
    for name, values in shares.items():
        print(f"- {name}: median {statistics.median(values):.2f} % of a core "
              f"({' / '.join(f'{v:.2f}' for v in values)})")


if __name__ == "__main__":
    main()
