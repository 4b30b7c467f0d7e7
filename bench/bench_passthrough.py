"""Passthrough recording against today's re-encoding, side by side in one run: CPU, memory, latency.

Runs the real `quickcam detector` (and the uploader) on H.264 files paced in real
time, as a camera delivers them (keyframes every second, no B-frames, a fixed
bitrate as cameras send), once with ``record = "reencode"`` (OpenCV decodes every
frame to BGR, the pre-roll is BGR frames, events are encoded again by x264) and
once with ``record = "passthrough"`` (PyAV demuxes, detection gets the luma plane,
events are the camera's own packets remuxed). Per-process CPU time and peak RSS
come from /proc.

1. watching (quiet scene) and recording (continuous motion), 640x480@15 and
   1920x1080@15, plus 1080p watched through a 640x360 substream (``detect_path``);
2. RSS and CPU of one detector process with 1 and with 8 1080p cameras;
3. snapshot and first segment durable in storage after the onset, for GOPs of
   1 s and 2 s (1080p, events every 10 s).

    .venv/bin/python -m bench.bench_passthrough [--seconds 20] [--latency-seconds 45] [--vs REV] [--rounds N]
        [--idle-detect-fps FPS] [--fast-decode] [--idle-keyframes] [--event-keyframes] [--resolutions-only]
        [--recording-only] [--latency-only] [--cameras-only]

``--vs REV`` runs every passthrough case of parts 1 and 2 also with the code of
git revision REV (extracted with ``git archive``, put first on PYTHONPATH),
before/after in turn, ``--rounds`` times each; the figures are medians, so a
change is read from one run on one (shared, loaded) machine. ``--idle-detect-fps``
adds a watching run with the opt-in reduced detection rate while nothing moves;
``--fast-decode`` adds a variant with ``[camera] fast_decode = true`` (this tree's
code; watching and recording, and, with ``--idle-detect-fps``, both together);
``--idle-keyframes`` a watching run with ``[camera] idle_keyframes_only = true``;
``--event-keyframes`` a recording run with ``[camera] event_keyframes_only = true``;
``--resolutions-only`` stops after the first table; ``--recording-only`` gives only its
passthrough recording rows at 640x480 and 1080p (the variants in turn, no re-encoding,
no substream: the quick way to compare recording CPU), ``--walk-s`` there sets how long
each walker takes to cross (3 s by default, as in the first table); ``--latency-only`` gives only
the last (snapshot and first segment), with a ``fast_decode`` row per GOP when asked;
``--cameras-only`` only part 2, with the ``--idle-keyframes`` variant too when asked.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import signal
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path

from bench._util import QUICKCAM, cpu_seconds, median, peak_rss_mb, percentile, scratch_setup
from quickcam.detector.sources import Walk
from tests.fakes.h264 import write_h264

FPS = 15.0
SIZES = {"640x480": (640, 480, 1_000_000), "1920x1080": (1920, 1080, 4_000_000)}
SUB = (640, 360, 500_000)
MODES = ("reencode", "passthrough")
WARMUP_S = 4.0

# label, another revision's code, QUICKCAM_* settings ("camera:KEY" entries are [[cameras]] keys instead)
Variant = tuple[str, Path | None, dict[str, str]]


def scene(folder: Path, name: str, size: tuple[int, int, int], seconds: float, walks: tuple[Walk, ...],
          gop_s: float = 1.0) -> Path:
    path = folder / f"{name}.mp4"
    if not path.exists():
        width, height, bitrate = size
        write_h264(path, seconds, FPS, gop_s, width, height, walks=walks, bitrate=bitrate)
    return path


def continuous(seconds: float, walk_s: int = 3) -> tuple[Walk, ...]:
    """Walkers one after the other, each crossing the picture in ``walk_s`` seconds."""
    return tuple(Walk(t, t + walk_s, left_to_right=bool(i % 2))
                 for i, t in enumerate(range(0, int(seconds) + walk_s, walk_s)))


def camera_toml(index: int, path: Path, mode: str, size: tuple[int, int, int], detect_path: Path | None,
                keys: dict[str, str] | None = None) -> str:
    width, height, _ = size
    lines = ["[[cameras]]", f'id = "cam{index}"', 'source = "file"', f'path = "{path}"', "loop = true",
             "realtime = true", f"fps = {FPS}", f"width = {width}", f"height = {height}", f'record = "{mode}"',
             *(f"{key} = {value}" for key, value in (keys or {}).items())]
    if detect_path is not None:
        lines.append(f'detect_path = "{detect_path}"')
    return "\n".join(lines) + "\n[cameras.faces]\nenabled = false\n"


def checkout(rev: str, folder: Path) -> Path:
    """The code of git revision ``rev`` as an importable ``quickcam`` (a folder to put first on PYTHONPATH)."""
    repo = Path(__file__).resolve().parent.parent
    archive = subprocess.run(["git", "archive", rev], cwd=repo, capture_output=True, check=True).stdout
    source = folder / f"code-{rev}"
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(source, filter="data")
    package = folder / f"path-{rev}" / "quickcam"
    package.mkdir(parents=True)
    for name in ("common", "detector", "uploader"):  # the layout the editable install maps
        (package / name).symlink_to(source / name)
    return package.parent


def run(video: Path, mode: str, size: tuple[int, int, int], seconds: float, cameras: int = 1,
        detect_path: Path | None = None, code: Path | None = None, settings: dict[str, str] | None = None) -> dict:
    """One detector run: its CPU share (% of one core) after the warm-up, peak RSS, and the outbox journal.

    ``code``: another revision's code (``checkout``) instead of this tree's; ``settings``: QUICKCAM_*
    environment overrides (e.g. ``QUICKCAM_MOTION__IDLE_DETECT_FPS``).
    """
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        settings = settings or {}
        keys = {k.removeprefix("camera:"): v for k, v in settings.items() if k.startswith("camera:")}
        env = scratch_setup(root, QUICKCAM_LOGGING__LEVEL="WARNING",
                            **{k: v for k, v in settings.items() if not k.startswith("camera:")})
        if code is not None:
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(code), env.get("PYTHONPATH", "")]))
        config = root / "quickcam.toml"
        config.write_text("".join(camera_toml(i, video, mode, size, detect_path, keys) for i in range(cameras)))
        uploader = subprocess.Popen([QUICKCAM, "uploader", "--config", str(config)], cwd=root, env=env,
                                    stderr=subprocess.DEVNULL)
        detector = subprocess.Popen([QUICKCAM, "detector", "--config", str(config)], cwd=root, env=env,
                                    stderr=subprocess.DEVNULL)
        time.sleep(WARMUP_S)  # imports and start-up are not the steady state
        cpu0, t0 = cpu_seconds(detector.pid), time.monotonic()
        time.sleep(seconds)
        share = 100 * (cpu_seconds(detector.pid) - cpu0) / (time.monotonic() - t0)
        rss = peak_rss_mb(detector.pid)
        detector.send_signal(signal.SIGTERM)
        detector.wait(60)
        time.sleep(2)  # the uploader stores what is left
        uploader.send_signal(signal.SIGTERM)
        uploader.wait(60)
        produced = root / "outbox" / "produced.jsonl"
        journal = [json.loads(line) for line in produced.read_text().splitlines()] if produced.exists() else []
        stored = {p.stem.rsplit("-", 1)[-1]: p.stat().st_mtime * 1000 for p in (root / "storage").rglob("*.qsc")}
    return {"cpu": share, "rss": rss, "journal": journal, "stored": stored}


def latencies(result: dict) -> tuple[list[float], list[float]]:
    """Per event: snapshot and first segment durable in storage, seconds after the onset frame."""
    events: dict[str, list[dict]] = {}
    for row in result["journal"]:
        events.setdefault(row["event"], []).append(row)
    snaps, firsts = [], []
    for rows in events.values():
        snap = next((r for r in rows if r["type"] == "snapshot" and r["seq"] == 0), None)
        segments = sorted((r for r in rows if r["type"] == "segment"), key=lambda r: r["seq"])
        if snap is None or not segments or snap["id"] not in result["stored"]:
            continue
        onset = snap["time_ms"]
        snaps.append((result["stored"][snap["id"]] - onset) / 1000)
        if segments[0]["id"] in result["stored"]:
            firsts.append((result["stored"][segments[0]["id"]] - onset) / 1000)
    return snaps, firsts


def segment_rate(result: dict) -> float:
    """Stored segment bytes per second of footage (kbit/s)."""
    rows = [r for r in result["journal"] if r["type"] == "segment" and r["frames"]]
    frames = sum(r["frames"] for r in rows)
    return sum(r["size"] for r in rows) * 8 / 1000 / (frames / FPS) if frames else float("nan")


def kbits(video: Path, seconds: float) -> float:
    """The source's own bitrate: its file's bytes per second (kbit/s)."""
    return video.stat().st_size * 8 / 1000 / seconds


def per_machine(share: float) -> str:
    return f"{int(200 * 0.8 // share)}" if share > 0 else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--latency-seconds", type=float, default=45.0)
    parser.add_argument("--vs", metavar="REV", help="also run the passthrough cases with this git revision's code")
    parser.add_argument("--rounds", type=int, default=1, help="runs of each passthrough case (and of --vs)")
    parser.add_argument("--idle-detect-fps", type=float, metavar="FPS",
                        help="also watch with [motion] idle_detect_fps = FPS (this tree's code)")
    parser.add_argument("--fast-decode", action="store_true",
                        help="also run with [camera] fast_decode = true (this tree's code)")
    parser.add_argument("--idle-keyframes", action="store_true",
                        help="also watch with [camera] idle_keyframes_only = true (this tree's code)")
    parser.add_argument("--event-keyframes", action="store_true",
                        help="also record with [camera] event_keyframes_only = true (this tree's code)")
    parser.add_argument("--recording-only", action="store_true",
                        help="only the passthrough recording rows at 640x480 and 1080p, variants in turn")
    parser.add_argument("--walk-s", type=int, default=3, metavar="S",
                        help="with --recording-only: each walker of the recording scene crosses in S seconds")
    parser.add_argument("--resolutions-only", action="store_true",
                        help="only the first table (watching and recording per resolution)")
    parser.add_argument("--latency-only", action="store_true", help="only the last table (snapshot, first segment)")
    parser.add_argument("--cameras-only", action="store_true",
                        help="only the table of one process with 1 and 8 cameras (with --idle-keyframes: that too)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_passthrough_") as folder:
        variants: list[Variant] = [("passthrough", None, {})]
        if args.vs:
            variants.append((f"passthrough, code of {args.vs}", checkout(args.vs, Path(folder)), {}))
        fast = {"camera:fast_decode": "true"}
        if args.fast_decode:
            variants.append(("passthrough, fast_decode", None, fast))
        idle: list[Variant] = []
        if args.idle_detect_fps:
            rate = {"QUICKCAM_MOTION__IDLE_DETECT_FPS": str(args.idle_detect_fps)}
            idle.append((f"passthrough, idle_detect_fps = {args.idle_detect_fps:g}", None, rate))
            if args.fast_decode:
                idle.append((f"passthrough, fast_decode + idle_detect_fps = {args.idle_detect_fps:g}", None,
                             {**rate, **fast}))
        if args.idle_keyframes:
            idle.append(("passthrough, idle_keyframes_only", None, {"camera:idle_keyframes_only": "true"}))
        events: list[Variant] = []  # recording only: they change nothing while no event runs
        if args.event_keyframes:
            events.append(("passthrough, event_keyframes_only", None, {"camera:event_keyframes_only": "true"}))
        if args.recording_only:
            recording_table(Path(folder), args.seconds, variants + events, max(1, args.rounds), args.walk_s)
            return
        if args.latency_only:
            extra = [("passthrough, fast_decode", fast)] if args.fast_decode else []
            if args.idle_keyframes:
                extra.append(("passthrough, idle_keyframes_only", {"camera:idle_keyframes_only": "true"}))
            latency_table(Path(folder), args.latency_seconds, extra)
            return
        if args.cameras_only:
            cameras_table(Path(folder), args.seconds, variants + idle, max(1, args.rounds))
            return
        report(Path(folder), args.seconds, args.latency_seconds, variants, max(1, args.rounds), idle,
               args.resolutions_only, events)



def in_turn(variants: list[Variant], rounds: int, *args: object, **kwargs: object) -> dict[str, list]:
    """One case run with each variant's code in turn (A B A B ...), ``rounds`` times: a drift of the
    shared machine's load falls on both alike."""
    results: dict[str, list] = {label: [] for label, _, _ in variants}
    for _ in range(rounds):
        for label, code, settings in variants:
            results[label].append(run(*args, code=code, settings=settings, **kwargs))
    return results


def cpu_median(results: list[dict]) -> float:
    return median([r["cpu"] for r in results])


def report(folder: Path, seconds: float, latency_seconds: float, variants: list[Variant], rounds: int,
           idle: list[Variant], resolutions_only: bool, events: list[Variant] | None = None) -> None:
    """Prints the tables; ``idle`` variants only watch (while recording, motion keeps every frame looked at),
    ``events`` variants only record (while no event runs they change nothing)."""
    events = events or []
    length = 30.0
    print(f"`quickcam detector` on H.264 files paced in real time at {FPS:g} fps (keyframes every 1 s, fixed "
          f"bitrate), {seconds:g} s per run after a {WARMUP_S:g} s warm-up, with the uploader running; "
          "CPU is the detector process's own time, as a share of one core"
          + (f"; passthrough rows: median of {rounds} runs, variants in turn" if rounds > 1 or len(variants) > 1
             else "") + "\n")
    print("| resolution | source bitrate (recording scene) | recorder | watching | recording | peak RSS | "
          "stored segments | cameras per 2-core machine, recording |")
    print("|---|---|---|---|---|---|---|---|")

    def row(label: str, kbit: float, recorder: str, watching: list[dict], recording: list[dict]) -> None:
        print(result_row(label, kbit, recorder, watching, recording), flush=True)

    for label, size in SIZES.items():
        quiet = scene(folder, f"quiet_{label}", size, length, ())
        busy = scene(folder, f"busy_{label}", size, length, continuous(length))
        row(f"{label}@{FPS:g}", kbits(busy, length), "reencode", [run(quiet, "reencode", size, seconds)],
            [run(busy, "reencode", size, seconds)])
        watching = in_turn(variants + idle, rounds, quiet, "passthrough", size, seconds)
        recording = in_turn(variants + events, rounds, busy, "passthrough", size, seconds)
        for name, _, _ in variants + idle + events:
            row(f"{label}@{FPS:g}", kbits(busy, length), name, watching.get(name, []), recording.get(name, []))
    big = SIZES["1920x1080"]
    sub_quiet = scene(folder, "quiet_sub", SUB, length, ())
    sub_busy = scene(folder, "busy_sub", SUB, length, continuous(length))
    busy_big = scene(folder, "busy_1920x1080", big, length, continuous(length))
    watching = in_turn(variants + idle, rounds, scene(folder, "quiet_1920x1080", big, length, ()), "passthrough",
                       big, seconds, detect_path=sub_quiet)
    recording = in_turn(variants + events, rounds, busy_big, "passthrough", big, seconds, detect_path=sub_busy)
    for name, _, _ in variants + idle + events:
        row(f"1920x1080@{FPS:g}, detection on a 640x360 substream", kbits(busy_big, length), name,
            watching.get(name, []), recording.get(name, []))
    print("\n'Cameras per 2-core machine' keeps 20% of the machine free: 160% / the recording share.\n")
    if resolutions_only:
        return

    cameras_table(folder, seconds, variants, rounds)
    print()
    latency_table(folder, latency_seconds)


def result_row(label: str, kbit: float, recorder: str, watching: list[dict], recording: list[dict]) -> str:
    """One row of the first table; a variant run only watching (or only recording) has "-" for the other."""
    watched = f"{cpu_median(watching):.1f}%" if watching else "-"
    if not recording:  # an idle_detect_fps / idle_keyframes_only variant: watching only
        return (f"| {label} | {kbit:.0f} kbit/s | {recorder} | {watched} | - | "
                f"{max(r['rss'] for r in watching):.0f} MB | - | - |")
    rss = max(r["rss"] for r in watching + recording)
    return (f"| {label} | {kbit:.0f} kbit/s | {recorder} | {watched} | {cpu_median(recording):.1f}% | "
            f"{rss:.0f} MB | {segment_rate(recording[0]):.0f} kbit/s | {per_machine(cpu_median(recording))} |")


def recording_table(folder: Path, seconds: float, variants: list[Variant], rounds: int, walk_s: int = 3) -> None:
    """Only the first table's passthrough recording rows at 640x480 and 1080p, the variants in turn; each
    walker of the scene crosses the picture in ``walk_s`` seconds (3 in the first table)."""
    length = 30.0
    start_load = os.getloadavg()
    print(f"`quickcam detector` recording by passthrough (continuous motion) on H.264 files paced in real time at "
          f"{FPS:g} fps (keyframes every 1 s; one walker after another, each crossing in {walk_s} s), "
          f"{seconds:g} s per run after a {WARMUP_S:g} s warm-up, with the uploader running; CPU is the detector "
          f"process's own time, as a share of one core; median of {rounds} "
          "runs, variants in turn\n")
    print("| resolution | source bitrate (recording scene) | recorder | watching | recording | peak RSS | "
          "stored segments | cameras per 2-core machine, recording |")
    print("|---|---|---|---|---|---|---|---|")
    each: list[str] = []
    for label, size in SIZES.items():
        busy = scene(folder, f"busy_{label}_walk{walk_s}", size, length, continuous(length, walk_s))
        recording = in_turn(variants, rounds, busy, "passthrough", size, seconds)
        where = f"{label}@{FPS:g}" + (f", walkers crossing in {walk_s} s" if walk_s != 3 else "")
        for name, _, _ in variants:
            print(result_row(where, kbits(busy, length), name, [], recording[name]), flush=True)
            shares = ", ".join(f"{r['cpu']:.1f}%" for r in recording[name])
            each.append(f"{label} {name}: {shares}")
    print("\nEach run, in turn: " + "; ".join(each) + ".")
    end_load = os.getloadavg()
    print(f"Load average (1, 5, 15 min) at the start: {', '.join(f'{v:.1f}' for v in start_load)}; at the end: "
          f"{', '.join(f'{v:.1f}' for v in end_load)}.")


def cameras_table(folder: Path, seconds: float, variants: list[Variant], rounds: int) -> None:
    """CPU and peak RSS of one detector process with 1 and with 8 quiet 1080p cameras (one process, imports paid
    once, is the default)."""
    big = SIZES["1920x1080"]
    print(f"One detector process, 1920x1080@{FPS:g} cameras watching a quiet scene, {seconds:g} s per run"
          + (f"; passthrough rows: median of {rounds} runs, variants in turn" if rounds > 1 else "") + ":\n")
    print("| recorder | cameras | CPU, share of one core | peak RSS |")
    print("|---|---|---|---|")
    quiet = scene(folder, "quiet_1920x1080", big, 30.0, ())
    for cameras in (1, 8):
        result = run(quiet, "reencode", big, seconds, cameras=cameras)
        print(f"| reencode | {cameras} | {result['cpu']:.1f}% | {result['rss']:.0f} MB |", flush=True)
    for cameras in (1, 8):
        results = in_turn(variants, rounds, quiet, "passthrough", big, seconds, cameras=cameras)
        for name, _, _ in variants:
            print(f"| {name} | {cameras} | {cpu_median(results[name]):.1f}% | "
                  f"{max(r['rss'] for r in results[name]):.0f} MB |", flush=True)


def latency_table(folder: Path, latency_seconds: float, extra: list[tuple[str, dict[str, str]]] | None = None) -> None:
    """Snapshot and first segment durable after the onset; ``extra``: passthrough also with these settings."""
    print(f"Time from the onset frame to the file durable in storage (local back end), 1920x1080@15, events "
          f"every 10 s, {latency_seconds:g} s per run, segment_s = 2:\n")
    print("| recorder | GOP | events | snapshot p50 | snapshot p95 | first segment p50 | first segment p95 |")
    print("|---|---|---|---|---|---|---|")
    walks = (Walk(2.0, 5.0), Walk(12.0, 15.0))
    big = SIZES["1920x1080"]
    cases: list[tuple[str, str, dict[str, str] | None]] = [(mode, mode, None) for mode in MODES]
    cases += [("passthrough", label, settings) for label, settings in extra or []]
    for gop_s in (1.0, 2.0):
        video = scene(folder, f"events_gop{gop_s:g}", big, 20.0, walks, gop_s)
        for mode, label, settings in cases:
            result = run(video, mode, big, latency_seconds, settings=settings)
            snaps, firsts = latencies(result)
            print(f"| {label} | {gop_s:g} s | {len(snaps)} | {median(snaps):.2f} s | {percentile(snaps, 95):.2f} s | "
                  f"{median(firsts):.2f} s | {percentile(firsts, 95):.2f} s |", flush=True)
    print("\nThe onset frame is the frame in which motion was confirmed (the detector's own onset delay is "
          "not included; it is the same for both recorders).")


if __name__ == "__main__":
    main()
