"""The native (C++) detector beside the Python one, in one run: CPU, memory, latency.

Part 1 runs each detector process (`quickcam detector` and build/native's
`quickcam-native-detector`) with the uploader, on looping video files paced in real
time at 15 fps, at 640x480 and 1920x1080: a quiet scene (watching) and continuous motion
(recording). It reads each detector's CPU time and peak RSS from /proc. Both decode the
file through OpenCV's FFmpeg back end, as a camera's MJPG or a stream would be decoded;
the cost of decoding alone is measured in the same run with each detector's own OpenCV
and FFmpeg (pip's wheel for Python, Debian's for the native build) and subtracted in the
"without decoding" columns: what the detector itself costs on top of its camera. Part 2
times snapshots and segments into storage on the demo scene (bench/bench_latency.py's
measure), for both detectors.

    .venv/bin/python -m bench.bench_native [--seconds 20] [--runs 1] [--latency-seconds 40] [--before BINARY]
    .venv/bin/python -m bench.bench_native --substream-only [--seconds 20] [--before BINARY]
    .venv/bin/python -m bench.bench_native --keyframes-only [--seconds 12] [--runs 3] [--before BINARY]

--substream-only measures 1920x1080 watched and recorded with detection on a 640x360 substream
(``[camera] detect_path``) against detection on the 1080p stream itself, for each detector.

--keyframes-only measures the native detector watching 640x480 and 1920x1080 (1 s and 2 s GOPs) with every frame
decoded and with ``[camera] idle_keyframes_only`` (docs/benchmarks.md section 11), interleaved.

--before measures a second native binary (an older build) interleaved with the current one
in the same run, and prints the pair: an optimisation proven on a loaded, shared machine.

Targets (issue 15): the native detector watching at 640x480@15 fps at most 1 % of a
core, and at most 40 MB RSS per camera.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av
import cv2

from bench._util import (
    QUICKCAM,
    commit,
    cpu_seconds,
    machine,
    median,
    peak_rss_mb,
    percentile,
    scratch_setup,
    thread_cpu_seconds,
)
from bench.bench_latency import run_config
from quickcam.detector.sources import DemoSource, Walk

ROOT = Path(__file__).resolve().parent.parent
FPS = 15.0
CLIP_S = 10.0  # looped: long enough to hold a walk, short enough to render fast at 1080p
SIZES = ((640, 480), (1920, 1080))
TARGET_CPU_PCT, TARGET_RSS_MB = 1.0, 40.0


def native_binary() -> Path:
    run = subprocess.run([str(ROOT / "scripts" / "build_native.sh")], capture_output=True, text=True)
    lines = run.stdout.strip().splitlines()
    if run.returncode != 0 or not lines:
        raise SystemExit(f"bench_native: the native detector could not be built: {run.stderr.strip()[-500:]}")
    return Path(lines[-1])


def render(path: Path, width: int, height: int, walks: tuple[Walk, ...], gop_s: float = 2.0) -> None:
    """A near-lossless H.264 clip of the demo scene, a keyframe every 2 s as a camera sends (x264's default of
    250 frames made the looping clip's only keyframe its first: a 10 s GOP no camera has)."""
    source = DemoSource(width, height, FPS, realtime=False, walks=walks, period_s=CLIP_S + 1)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=int(FPS))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": "12", "preset": "veryfast", "g": str(int(gop_s * FPS)), "bf": "0"}
        for _ in range(int(CLIP_S * FPS)):
            frame = av.VideoFrame.from_ndarray(source.read().image, format="bgr24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def decode_share(video: Path, native: Path | None = None) -> float:
    """% of one core to decode the clip at 15 fps: with Python's OpenCV, or the native build's (``native``)."""
    if native is not None:
        run = subprocess.run([str(native), "--decode-cost", str(video)], capture_output=True, text=True, check=True)
        return float(run.stdout.split()[1]) * FPS / 10
    cv2.setNumThreads(1)
    capture = cv2.VideoCapture(str(video))
    started, count = time.process_time(), 0
    while capture.read()[0]:
        count += 1
    return (time.process_time() - started) / max(1, count) * FPS * 100


def process_cost(detector: list[str], video: Path, seconds: float, cameras: int = 1,
                 detect_path: Path | None = None, threads: dict[str, float] | None = None,
                 camera_keys: dict[str, str] | None = None) -> tuple[float, float]:
    """CPU share (% of one core) of the detector over `seconds` of steady state, and its peak RSS in MB.

    With ``cameras`` > 1 the detector watches that many copies of the clip ([[cameras]] entries); with
    ``detect_path`` it detects on that clip (a substream) and records ``video``. ``threads``, when given, is
    filled with each thread's share over the same seconds (by thread name).
    """
    with tempfile.TemporaryDirectory() as tmp:
        sub = {"QUICKCAM_CAMERA__DETECT_PATH": str(detect_path)} if detect_path else {}
        sub.update({f"QUICKCAM_CAMERA__{key.upper()}": value for key, value in (camera_keys or {}).items()})
        env = scratch_setup(Path(tmp), QUICKCAM_CAMERA__SOURCE="file", QUICKCAM_CAMERA__PATH=str(video),
                            QUICKCAM_CAMERA__LOOP="true", QUICKCAM_LOGGING__LEVEL="WARNING", **sub)
        entries = "".join(f'[[cameras]]\nid = "cam{k}"\nsource = "file"\npath = "{video}"\nloop = true\n'
                          for k in range(cameras))
        Path(tmp, "quickcam.toml").write_text(entries if cameras > 1 else "")
        uploader = subprocess.Popen([QUICKCAM, "uploader"], cwd=tmp, env=env, stderr=subprocess.DEVNULL)
        proc = subprocess.Popen([*detector, "--config", "quickcam.toml"], cwd=tmp, env=env,
                                stderr=subprocess.DEVNULL)
        time.sleep(3)  # start-up is not the steady state
        cpu0, by_thread0, t0 = cpu_seconds(proc.pid), thread_cpu_seconds(proc.pid), time.monotonic()
        time.sleep(seconds)
        share = 100 * (cpu_seconds(proc.pid) - cpu0) / (time.monotonic() - t0)
        if threads is not None:
            elapsed = time.monotonic() - t0
            threads.update({name: 100 * (used - by_thread0.get(name, 0.0)) / elapsed
                            for name, used in thread_cpu_seconds(proc.pid).items()})
        rss = peak_rss_mb(proc.pid)
        for p in (proc, uploader):
            p.send_signal(signal.SIGTERM)
            p.wait(30)
    return share, rss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="steady-state seconds per CPU run")
    parser.add_argument("--runs", type=int, default=1, help="runs per figure (the median is shown)")
    parser.add_argument("--latency-seconds", type=float, default=40.0)
    parser.add_argument("--before", type=Path, help="an older native binary to measure beside this build")
    parser.add_argument("--native", type=Path, help="this native binary instead of building the worktree's")
    parser.add_argument("--keyframes-only", action="store_true",
                        help="only the native detector watching, every frame decoded against idle_keyframes_only")
    parser.add_argument("--substream-only", action="store_true",
                        help="only 1080p with detection on a 640x360 substream against detection on 1080p")
    args = parser.parse_args()
    native = args.native or native_binary()
    detectors = {"python": [QUICKCAM, "detector"], "native": [str(native)]}
    if args.before:
        detectors["before"] = [str(args.before)]
    if args.keyframes_only:
        keyframes_table({k: v for k, v in detectors.items() if k != "python"}, args.seconds, args.runs)
        return
    if args.substream_only:
        substream_table(detectors, args.seconds, args.runs)
        return
    pairs = []
    print(f"Machine: {machine()}; commit {commit()}\n")
    print(f"Part 1: each detector on a looping {CLIP_S:.0f} s clip paced at {FPS:.0f} fps, with the uploader; "
          f"{args.seconds:.0f} s of steady state per run, median of {args.runs} run(s); CPU is % of one core.\n")
    print("| size | state | python CPU | native CPU | native/python | python without decoding "
          "| native without decoding | python peak RSS | native peak RSS |")
    print("|---|---|---|---|---|---|---|---|---|")
    verdicts = []
    with tempfile.TemporaryDirectory() as tmp:
        for width, height in SIZES:
            quiet, busy = Path(tmp, f"quiet-{width}.mp4"), Path(tmp, f"busy-{width}.mp4")
            render(quiet, width, height, ())
            render(busy, width, height, (Walk(0.0, 5.0), Walk(5.0, 10.0, False)))
            py_decode = median([decode_share(quiet) for _ in range(args.runs)])
            decode = median([decode_share(quiet, native) for _ in range(args.runs)])
            for state, video in (("watching", quiet), ("recording", busy)):
                figures = {}
                for name, command in detectors.items():
                    runs = [process_cost(command, video, args.seconds) for _ in range(args.runs)]
                    figures[name] = (median([r[0] for r in runs]), max(r[1] for r in runs))
                (py_cpu, py_rss), (nat_cpu, nat_rss) = figures["python"], figures["native"]
                if args.before:
                    pairs.append((f"{width}x{height} {state}", figures["before"], figures["native"]))
                print(f"| {width}x{height} | {state} | {py_cpu:.1f}% | {nat_cpu:.1f}% | "
                      f"{nat_cpu / max(py_cpu, 0.01):.2f} | {py_cpu - py_decode:.1f}% | {nat_cpu - decode:.1f}% | "
                      f"{py_rss:.0f} MB | {nat_rss:.0f} MB |")
                if (width, height) == (640, 480) and state == "watching":
                    verdicts.append(("native watching at 640x480@15, whole process", f"{nat_cpu:.1f}%",
                                     nat_cpu <= TARGET_CPU_PCT, f"<= {TARGET_CPU_PCT:.0f}%"))
                    verdicts.append(("native watching at 640x480@15, without decoding", f"{nat_cpu - decode:.1f}%",
                                     nat_cpu - decode <= TARGET_CPU_PCT, f"<= {TARGET_CPU_PCT:.0f}%"))
                verdicts.append((f"native peak RSS, {width}x{height} {state}", f"{nat_rss:.0f} MB",
                                 nat_rss <= TARGET_RSS_MB, f"<= {TARGET_RSS_MB:.0f} MB"))
        decode_figures = {"python": decode_share(Path(tmp, "quiet-640.mp4")),
                          "native": decode_share(Path(tmp, "quiet-640.mp4"), native)}
        # What one more camera costs: the libraries are loaded once, each camera adds its own frames.
        quiet = Path(tmp, "quiet-640.mp4")
        marginal = {}
        for name, command in detectors.items():
            one = median([process_cost(command, quiet, args.seconds, 1)[1] for _ in range(args.runs)])
            three = median([process_cost(command, quiet, args.seconds, 3)[1] for _ in range(args.runs)])
            marginal[name] = (one, three, (three - one) / 2)
    print("\nDecoding alone (a frame of the 640x480 clip, one thread): " + ", ".join(
        f"{name} {share:.1f}% of a core" for name, share in decode_figures.items()))
    print("\nPeak RSS with 1 and 3 cameras (640x480 watching, the same clip each), and what each camera "
          "after the first adds:\n")
    print("| detector | 1 camera | 3 cameras | per extra camera |")
    print("|---|---|---|---|")
    for name, (one, three, each) in marginal.items():
        print(f"| {name} | {one:.0f} MB | {three:.0f} MB | {each:.0f} MB |")
    verdicts.append(("native RSS per extra camera, 640x480 watching", f"{marginal['native'][2]:.0f} MB",
                     marginal["native"][2] <= TARGET_RSS_MB, f"<= {TARGET_RSS_MB:.0f} MB"))
    if args.before:
        print(f"\nNative before ({args.before}) and after (this build), interleaved in this run:\n")
        print("| case | CPU before | CPU after | peak RSS before | peak RSS after |")
        print("|---|---|---|---|---|")
        for case, (cpu0, rss0), (cpu1, rss1) in pairs:
            print(f"| {case} | {cpu0:.1f}% | {cpu1:.1f}% | {rss0:.0f} MB | {rss1:.0f} MB |")
    print("\n| target | measured | limit | verdict |")
    print("|---|---|---|---|")
    for what, measured, met, limit in verdicts:
        print(f"| {what} | {measured} | {limit} | {'met' if met else 'MISSED'} |")

    print(f"\nPart 2: the demo scene at 640x480@15 fps for {args.latency_seconds:.0f} s per detector, local "
          "storage; seconds from the scripted onset to the file's final rename in storage.\n")
    print("| detector | events | snapshot p50 | snapshot p95 | first segment p50 | first segment p95 "
          "| segment lag p50 | segment lag p95 |")
    print("|---|---|---|---|---|---|---|---|")
    for name, command in detectors.items():
        if name == "before":
            continue
        r = run_config(args.latency_seconds, {}, detector=command)
        cells = []
        for key in ("snapshot", "segment", "lag"):
            cells += [f"{median(r[key]):.2f} s", f"{percentile(r[key], 95):.2f} s"]
        print(f"| {name} | {len(r['snapshot'])} | " + " | ".join(cells) + " |")
    sys.stdout.flush()


def substream_table(detectors: dict[str, list[str]], seconds: float, runs: int = 1) -> None:
    """Each detector on a looping 1080p clip, detecting on it, then on a 640x360 substream of the same scene.

    Then each native binary's CPU while watching through the substream, by thread: what the capture thread
    (decoding the substream and detecting), the recorded stream (demuxing path) and the rest take.
    """
    print(f"Machine: {machine()}; commit {commit()}\n")
    print(f"Each detector on a looping {CLIP_S:.0f} s 1920x1080 clip paced at {FPS:.0f} fps (recorded), detecting on "
          f"it or on a 640x360 clip of the same scene (detect_path); {seconds:.0f} s of steady state, median of "
          f"{runs} run(s) interleaved; CPU is % of one core.\n")
    print("| detector | state | detection on | CPU | peak RSS |")
    print("|---|---|---|---|---|")
    by_thread: dict[str, list[dict[str, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        clips = {}
        for state, walks in (("watching", ()), ("recording", (Walk(0.0, 5.0), Walk(5.0, 10.0, False)))):
            clips[state] = (Path(tmp, f"{state}-1080.mp4"), Path(tmp, f"{state}-360.mp4"))
            render(clips[state][0], 1920, 1080, walks)
            render(clips[state][1], 640, 360, walks)
        for state, (main, sub) in clips.items():
            for on, detect_path in (("1920x1080 (path)", None), ("640x360 (detect_path)", sub)):
                figures: dict[str, list[tuple[float, float]]] = {name: [] for name in detectors}
                for _ in range(runs):
                    for name, command in detectors.items():  # interleaved: the machine's load falls on each alike
                        threads: dict[str, float] = {}
                        figures[name].append(process_cost(command, main, seconds, detect_path=detect_path,
                                                          threads=threads))
                        if name != "python" and state == "watching" and detect_path:
                            by_thread.setdefault(name, []).append(threads)
                for name, rows in figures.items():
                    cpu, rss = median([r[0] for r in rows]), max(r[1] for r in rows)
                    print(f"| {name} | {state} | {on} | {cpu:.1f}% | {rss:.0f} MB |")
                sys.stdout.flush()
    print("\nThe native detector watching through the substream, by thread (median % of one core):\n")
    print("| binary | " + " | ".join(THREADS) + " | other threads |")
    print("|---|" + "---|" * (len(THREADS) + 1))
    for name, runs_seen in by_thread.items():
        cells = [median([r.get(thread, 0.0) for r in runs_seen]) for thread in THREADS]
        other = median([sum(v for k, v in r.items() if k not in THREADS) for r in runs_seen])
        print(f"| {name} | " + " | ".join(f"{c:.2f}%" for c in cells) + f" | {other:.2f}% |")


def keyframes_table(detectors: dict[str, list[str]], seconds: float, runs: int) -> None:
    """Each native binary watching a quiet looping clip (paced at 15 fps, recorded by passthrough), decoding every
    frame and with idle_keyframes_only (a binary before it warns the option and decodes every frame): medians."""
    print(f"Machine: {machine()}; commit {commit()}\n")
    print(f"Native detector watching a looping {CLIP_S:.0f} s quiet clip paced at {FPS:.0f} fps; {seconds:.0f} s of "
          f"steady state, median of {runs} run(s) interleaved; CPU is % of one core.\n")
    print("| binary | stream | GOP | every frame | idle_keyframes_only | peak RSS (every frame / keyframes) |")
    print("|---|---|---|---|---|---|")
    variants = {"every frame": {}, "idle_keyframes_only": {"idle_keyframes_only": "true"}}
    with tempfile.TemporaryDirectory() as tmp:
        for width, height in ((640, 480), (1920, 1080)):
            for gop_s in (1.0, 2.0):
                clip = Path(tmp, f"quiet-{width}-{gop_s:g}.mp4")
                render(clip, width, height, (), gop_s)
                figures: dict[tuple[str, str], list[tuple[float, float]]] = {}
                for _ in range(runs):
                    for name, command in detectors.items():  # interleaved: the machine's load falls on each alike
                        for variant, keys in variants.items():
                            figures.setdefault((name, variant), []).append(
                                process_cost(command, clip, seconds, camera_keys=keys))
                for name in detectors:
                    cpu = {v: median([r[0] for r in figures[(name, v)]]) for v in variants}
                    rss = {v: max(r[1] for r in figures[(name, v)]) for v in variants}
                    every, keys = cpu["every frame"], cpu["idle_keyframes_only"]
                    print(f"| {name} | {width}x{height}@{FPS:.0f} | {gop_s:g} s | {every:.2f}% | {keys:.2f}% "
                          f"({(keys - every) / max(every, 0.01) * 100:+.0f}%) | {rss['every frame']:.0f} / "
                          f"{rss['idle_keyframes_only']:.0f} MB |")
                sys.stdout.flush()


# The native detector's threads with a substream (camera.cpp, recorded_stream.cpp name them for cam0).
THREADS = ("capture-cam0", "recorded-cam0", "recording-cam0")


if __name__ == "__main__":
    main()
