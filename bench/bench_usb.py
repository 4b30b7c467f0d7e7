"""USB cameras: what an H.264 and an MJPEG camera cost to watch and to record, side by side in one run.

There is no camera here, so each camera's stream is fed in real time through a
FIFO, as its driver would hand it on: H.264 as Annex B access units (keyframes
every second, a fixed bitrate), MJPEG as one JPEG per frame, every other one
without Huffman tables as UVC cameras send them. It is read by the source the
detector uses for /dev/videoN (``UsbCamera``, with FFmpeg's ``h264`` / ``mjpeg``
demuxer in place of ``v4l2``): the driver's part is missing, everything after it
is the detector's. One camera pipeline runs in a process of its own (no
uploader); its CPU is that process's user + system time after a warm-up, as a
share of one core, and its peak RSS comes from /proc.

    .venv/bin/python -m bench.bench_usb [--seconds 15] [--rounds 1]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from fractions import Fraction
from pathlib import Path

import av

from bench._util import commit, cpu_seconds, machine, median, peak_rss_mb
from quickcam.detector.sources import DemoSource, Walk
from tests.fakes.h264 import write_h264

FPS = 15.0
WARMUP_S = 4.0
SIZES = {"640x480": (640, 480, 1_000_000), "1280x720": (1280, 720, 2_000_000)}
FORMATS = ("h264", "mjpeg")


def continuous(seconds: float) -> tuple[Walk, ...]:
    return tuple(Walk(t, t + 3.0, left_to_right=bool(i % 2)) for i, t in enumerate(range(0, int(seconds) + 3, 3)))


def h264_units(folder: Path, size: tuple[int, int, int], seconds: float, walks: tuple[Walk, ...]) -> list[bytes]:
    width, height, bitrate = size
    video = write_h264(folder / f"{width}-{len(walks)}.mp4", seconds, FPS, 1.0, width, height, walks=walks,
                       bitrate=bitrate)
    with av.open(str(video)) as container:
        to_annex_b = av.BitStreamFilterContext("h264_mp4toannexb", container.streams.video[0])
        return [bytes(unit) for packet in container.demux(video=0) if packet.size
                for unit in to_annex_b.filter(packet)]


def jpeg_units(size: tuple[int, int, int], seconds: float, walks: tuple[Walk, ...]) -> list[bytes]:
    from tests.detector.test_usb_camera import _without_huffman_tables

    width, height, _ = size
    demo = DemoSource(width, height, FPS, realtime=False, walks=walks, period_s=10_000.0)
    encoder = av.CodecContext.create("mjpeg", "w")
    encoder.width, encoder.height, encoder.pix_fmt = width, height, "yuvj420p"
    encoder.time_base = Fraction(1, int(FPS))
    encoder.bit_rate = int(width * height * FPS * 1.2)  # about 45 KB a 640x480 frame, as webcams send
    units = []
    for number in range(round(seconds * FPS)):
        for packet in encoder.encode(av.VideoFrame.from_ndarray(demo.read().image, format="bgr24")):
            units.append(_without_huffman_tables(bytes(packet)) if number % 2 else bytes(packet))
    return units


def feed(fifo: Path, units: list[bytes], done: threading.Event) -> None:
    """The camera: one unit per frame, in real time, until the reader goes away."""
    try:
        with open(fifo, "wb", buffering=0) as pipe:
            start = time.monotonic()
            for number, unit in enumerate(units):
                if done.wait(max(0.0, start + number / FPS - time.monotonic())):
                    return
                pipe.write(unit)
    except BrokenPipeError:
        pass


def run(folder: Path, units: list[bytes], demuxer: str, size: tuple[int, int, int], seconds: float) -> dict:
    """One camera process on the fed stream: CPU share after the warm-up, peak RSS, segments written."""
    width, height, _ = size
    fifo = folder / f"video-{time.monotonic_ns()}"
    os.mkfifo(fifo)
    outbox = folder / f"outbox-{fifo.name}"
    done = threading.Event()
    feeder = threading.Thread(target=feed, args=(fifo, units, done), daemon=True)
    feeder.start()
    child = subprocess.Popen([sys.executable, "-m", "bench.bench_usb", "--child", str(fifo), demuxer, str(width),
                              str(height), str(outbox), str(WARMUP_S + seconds + 1)], stderr=subprocess.DEVNULL)
    time.sleep(WARMUP_S)
    cpu0, t0 = cpu_seconds(child.pid), time.monotonic()
    time.sleep(seconds)
    share = 100 * (cpu_seconds(child.pid) - cpu0) / (time.monotonic() - t0)
    rss = peak_rss_mb(child.pid)
    child.wait(60)
    done.set()
    feeder.join(10)
    return {"cpu": share, "rss": rss, "segments": len(list(outbox.glob("*.bin"))) // 2}


def child(fifo: str, demuxer: str, width: int, height: int, outbox: str, seconds: float) -> None:
    """The measured process: one camera pipeline, as the detector builds it, for ``seconds``."""
    import logging

    from quickcam.common.config import CameraConfig, FacesConfig, RecordingConfig
    from quickcam.detector.outbox import Outbox
    from quickcam.detector.pipeline import CameraPipeline
    from quickcam.detector.usb_source import UsbCamera

    logging.basicConfig(level=logging.WARNING)
    camera = CameraConfig(id="cam0", source="camera", fps=FPS, width=width, height=height,
                          recording=RecordingConfig(outbox_dir=Path(outbox)), faces=FacesConfig(enabled=False))
    stop = threading.Event()
    pipeline = CameraPipeline(camera, Outbox(Path(outbox)), stop,
                              source_factory=lambda cam: UsbCamera(cam, fifo, demuxer))
    pipeline.start()
    time.sleep(seconds)
    stop.set()
    pipeline.join(20)


def report(folder: Path, seconds: float, rounds: int) -> None:
    print(f"Commit {commit()}; {machine()}; shared with other engineers' builds and tests.\n")
    print(f"One USB camera pipeline fed through a FIFO in real time at {FPS:g} fps, {seconds:g} s per run after a "
          f"{WARMUP_S:g} s warm-up, {rounds} round(s), median; CPU is the camera process's own time as a share of "
          "one core (no uploader)\n")
    print("| camera sends | resolution | watching | recording | peak RSS (recording) | segments while recording | "
          "cameras per 2-core machine, recording |")
    print("|---|---|---|---|---|---|---|")
    length = WARMUP_S + seconds + 2
    for label, size in SIZES.items():
        scenes = {"watching": (), "recording": continuous(length)}
        units = {(kind, scene): (h264_units(folder, size, length, walks) if kind == "h264"
                                 else jpeg_units(size, length, walks))
                 for kind in FORMATS for scene, walks in scenes.items()}
        results: dict[tuple[str, str], list[dict]] = {key: [] for key in units}
        for _ in range(rounds):  # interleaved: the machine's load falls on every case alike
            for (kind, scene), fed in units.items():
                results[(kind, scene)].append(run(folder, fed, kind, size, seconds))
        for kind in FORMATS:
            watching = median([r["cpu"] for r in results[(kind, "watching")]])
            recording = median([r["cpu"] for r in results[(kind, "recording")]])
            rss = median([r["rss"] for r in results[(kind, "recording")]])
            segments = median([r["segments"] for r in results[(kind, "recording")]])
            kept = "H.264, passed through" if kind == "h264" else "MJPEG, re-encoded"
            print(f"| {kept} | {label}@{FPS:g} | {watching:.1f}% | {recording:.1f}% | {rss:.0f} MB | {segments:.0f} | "
                  f"{int(200 * 0.8 // recording) if recording > 0 else '-'} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--child", nargs=6, metavar=("FIFO", "DEMUXER", "WIDTH", "HEIGHT", "OUTBOX", "SECONDS"))
    args = parser.parse_args()
    if args.child:
        fifo, demuxer, width, height, outbox, seconds = args.child
        child(fifo, demuxer, int(width), int(height), outbox, float(seconds))
        return
    with tempfile.TemporaryDirectory(prefix="bench_usb_") as folder:
        report(Path(folder), args.seconds, args.rounds)


if __name__ == "__main__":
    main()
