"""What FFmpeg's cheaper H.264 decoding costs and what it changes: CPU, picture, detection.

The options a libavcodec decoder offers through PyAV, timed at the camera's
pace (a frame every 1/15 s, caches cold between frames, as in the detector;
CPU time of this process per frame, as a share of one core at 15 fps), every
variant in turn, ``--rounds`` times, medians:

- ``skip_loop_filter = all``: no deblocking (the in-loop filter that smooths
  block edges); every later frame of the GOP is predicted from an unfiltered
  one, so the picture drifts from the encoder's until the next keyframe;
- ``skip_loop_filter = nokey``: deblocking on keyframes only;
- ``flags2 = fast``: the decoder's non-spec-compliant speed-ups;
- one decoding thread instead of two slice threads;
- ``skip_frame = nokey``: keyframes only (a low-power idea: one look a GOP).

Then the price: PSNR and SSIM of the luma decoded without deblocking against
the normal decode, at full size and at the detection size (what motion
detection sees), by position in the GOP (the drift grows until the next
keyframe), at a camera's bitrate and at a low one; and whether the motion
core decides differently on the two (every frame's motion flag and area,
walkers crossing the scene).

    .venv/bin/python -m bench.bench_decode_options [--rounds 2] [--paced-frames 90]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import av
import cv2
import numpy as np

from bench._util import commit, machine, median
from bench.bench_passthrough import FPS, continuous, scene
from quickcam.common.config import MotionConfig
from quickcam.detector.decode import shrink_luma
from quickcam.detector.motion import create_detector

SIZES = {"640x480": (640, 480, 1_000_000), "1280x720": (1280, 720, 2_000_000), "1920x1080": (1920, 1080, 4_000_000)}
LOW = {"640x480": (640, 480, 250_000), "1920x1080": (1920, 1080, 1_000_000)}

# label -> (thread_type, thread_count, codec options, flags2)
VARIANTS: dict[str, tuple[str, int, dict[str, str], int]] = {
    "normal (2 slice threads)": ("SLICE", 2, {}, 0),
    "1 thread": ("SLICE", 1, {}, 0),
    "no deblocking": ("SLICE", 2, {"skip_loop_filter": "all"}, 0),
    "deblocking keyframes only": ("SLICE", 2, {"skip_loop_filter": "nokey"}, 0),
    "fast": ("SLICE", 2, {}, 1),
    "no deblocking + fast": ("SLICE", 2, {"skip_loop_filter": "all"}, 1),
    "no deblocking, 1 thread": ("SLICE", 1, {"skip_loop_filter": "all"}, 0),
    "keyframes only": ("SLICE", 2, {"skip_frame": "nokey"}, 0),
}


def share(seconds_per_frame: float) -> float:
    return 100 * seconds_per_frame * FPS


def open_decoder(video: Path, variant: str) -> tuple[av.container.InputContainer, av.video.stream.VideoStream]:
    thread_type, threads, options, flags2 = VARIANTS[variant]
    container = av.open(str(video))
    stream = container.streams.video[0]
    context = stream.codec_context
    context.thread_type, context.thread_count = thread_type, threads
    if options:
        context.options = dict(options)
    if flags2:
        context.flags2 = flags2
    return container, stream


def paced_cpu(video: Path, variant: str, frames: int, shrink: bool = True) -> float:
    """CPU seconds per camera frame (packet) at the camera's pace, decoding (and the luma) only."""
    container, stream = open_decoder(video, variant)
    spent, packets = 0.0, 0
    width = MotionConfig().detection_width
    for packet in container.demux(stream):
        if packet.size == 0:
            continue
        time.sleep(1 / FPS)
        started = time.process_time()
        for frame in stream.codec_context.decode(packet):
            if shrink:
                shrink_luma(frame, width)
        spent += time.process_time() - started
        packets += 1
        if packets >= frames:
            break
    container.close()
    return spent / max(1, packets)


def lumas(video: Path, variant: str) -> list[np.ndarray]:
    """Every frame's full-size luma (a copy), decoded with ``variant``."""
    container, stream = open_decoder(video, variant)
    out = []
    for packet in container.demux(stream):
        for frame in stream.codec_context.decode(packet):
            plane = frame.planes[0]
            out.append(np.frombuffer(plane, np.uint8).reshape(frame.height, plane.line_size)[:, :frame.width].copy())
    container.close()
    return out


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255 ** 2 / mse)


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM (Wang et al. 2004: 11x11 Gaussian window, sigma 1.5)."""
    x, y = a.astype(np.float64), b.astype(np.float64)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    blur = lambda v: cv2.GaussianBlur(v, (11, 11), 1.5)  # noqa: E731
    mx, my = blur(x), blur(y)
    sxx, syy, sxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
    return float(np.mean((2 * mx * my + c1) * (2 * sxy + c2) / ((mx * mx + my * my + c1) * (sxx + syy + c2))))


def small(luma: np.ndarray) -> np.ndarray:
    """What motion detection sees: the luma halved towards the detection size, then its area resize."""
    width = MotionConfig().detection_width
    halved = luma
    while halved.shape[1] >= 4 * width:
        halved = cv2.resize(halved, (halved.shape[1] // 2, halved.shape[0] // 2), interpolation=cv2.INTER_AREA)
    height = round(halved.shape[0] * width / halved.shape[1])
    return cv2.resize(halved, (width, height), interpolation=cv2.INTER_AREA)


def motion_flags(images: list[np.ndarray]) -> list[tuple[bool, float]]:
    detector = create_detector(MotionConfig(), fps=FPS)
    out = []
    for image in images:
        width = MotionConfig().detection_width
        halved = image
        while halved.shape[1] >= 4 * width:
            halved = cv2.resize(halved, (halved.shape[1] // 2, halved.shape[0] // 2), interpolation=cv2.INTER_AREA)
        result = detector.detect(cv2.LUT(halved, LIMITED))
        out.append((bool(result.motion), float(result.area_fraction)))
    return out


LIMITED = np.clip((np.arange(256) - 16) * 255 / 219 + 0.5, 0, 255).astype(np.uint8)


def cpu_table(folder: Path, rounds: int, frames: int) -> None:
    print(f"Decoding at the camera's pace ({frames} frames a run, a frame every 1/{FPS:g} s), luma to the "
          f"detection size included; CPU of this process as a share of one core at {FPS:g} fps, median of "
          f"{rounds} rounds, variants in turn:\n")
    cases = [(label, size, 1.0) for label, size in SIZES.items()] + [("1920x1080", SIZES["1920x1080"], 2.0)]
    names = list(VARIANTS)
    print("| stream | GOP | " + " | ".join(names) + " |")
    print("|---|---|" + "---|" * len(names))
    for label, size, gop in cases:
        video = scene(folder, f"quiet_{label}_gop{gop:g}", size, max(8.0, frames / FPS + 2), (), gop)
        results: dict[str, list[float]] = {name: [] for name in names}
        for _ in range(rounds):
            for name in names:
                results[name].append(paced_cpu(video, name, frames))
        base = median(results[names[0]])
        cells = [f"{share(base):.2f}%"] + [f"{share(median(results[n])):.2f}% ({median(results[n]) / base - 1:+.0%})"
                                            for n in names[1:]]
        print(f"| {label}@{FPS:g} quiet | {gop:g} s | " + " | ".join(cells) + " |", flush=True)


def luma_cost(folder: Path) -> None:
    print("\nThe luma to the detection size (`decode.shrink_luma`), back to back, thread CPU per frame:\n")
    print("| stream | ms a frame | share of one core at 15 fps |")
    print("|---|---|---|")
    for label, size in SIZES.items():
        video = scene(folder, f"quiet_{label}_gop1", size, 8.0, (), 1.0)
        container, stream = open_decoder(video, "normal (2 slice threads)")
        frames = [f for p in container.demux(stream) for f in stream.codec_context.decode(p)]
        width = MotionConfig().detection_width
        spent = []
        for _ in range(3):
            started = time.thread_time()
            for frame in frames:
                shrink_luma(frame, width)
            spent.append((time.thread_time() - started) / len(frames))
        container.close()
        print(f"| {label} | {median(spent) * 1000:.2f} | {share(median(spent)):.2f}% |", flush=True)


def quality_table(folder: Path) -> None:
    print("\nThe picture without deblocking against the normal decode (walkers crossing; luma): PSNR (dB) and "
          "SSIM at full size, by position in the GOP (first frame = the keyframe), and at the detection size "
          "(160 px wide, what motion detection sees); then the motion core on both:\n")
    print("| stream | bitrate | GOP | PSNR keyframe / mid-GOP / last frame | SSIM worst | detection size: PSNR worst "
          "| SSIM worst | frames with motion (normal / no deblocking) | frames where the motion flag differs "
          "| largest area difference |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    cases = [(label, size, gop, "camera") for label, size in SIZES.items() for gop in (1.0, 2.0)]
    cases += [(label, size, gop, "low") for label, size in LOW.items() for gop in (1.0, 2.0)]
    for label, size, gop, kind in cases:
        seconds = 12.0
        video = scene(folder, f"busy_{label}_{kind}_gop{gop:g}", size, seconds, continuous(seconds), gop)
        normal, cheap = lumas(video, "normal (2 slice threads)"), lumas(video, "no deblocking")
        g = round(gop * FPS)
        by_pos: dict[int, list[float]] = {}
        for i, (a, b) in enumerate(zip(normal, cheap, strict=True)):
            by_pos.setdefault(i % g, []).append(psnr(a, b))
        ssims = [ssim(a, b) for a, b in zip(normal[g - 1::g], cheap[g - 1::g], strict=True)]
        small_psnr = [psnr(small(a), small(b)) for a, b in zip(normal, cheap, strict=True)]
        small_ssim = [ssim(small(a), small(b)) for a, b in zip(normal[g - 1::g], cheap[g - 1::g], strict=True)]
        flags_a, flags_b = motion_flags(normal), motion_flags(cheap)
        differ = sum(a[0] != b[0] for a, b in zip(flags_a, flags_b, strict=True))
        area = max(abs(a[1] - b[1]) for a, b in zip(flags_a, flags_b, strict=True))
        kbit = video.stat().st_size * 8 / 1000 / seconds
        print(f"| {label}@{FPS:g} | {kbit:.0f} kbit/s ({kind}) | {gop:g} s | {median(by_pos[0]):.1f} / "
              f"{median(by_pos[g // 2]):.1f} / {median(by_pos[g - 1]):.1f} | {min(ssims):.4f} | "
              f"{min(small_psnr):.1f} | {min(small_ssim):.4f} | {sum(a[0] for a in flags_a)} / "
              f"{sum(b[0] for b in flags_b)} of {len(flags_a)} | {differ} | {area:.4f} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--paced-frames", type=int, default=90)
    parser.add_argument("--skip-cpu", action="store_true", help="only the picture and detection tables")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    print(f"Commit {commit()}; {machine()}; shared with other engineers' builds and tests.\n")
    with tempfile.TemporaryDirectory(prefix="bench_decode_options_") as tmp:
        folder = Path(tmp)
        if not args.skip_cpu:
            cpu_table(folder, args.rounds, args.paced_frames)
            luma_cost(folder)
        quality_table(folder)


if __name__ == "__main__":
    main()
