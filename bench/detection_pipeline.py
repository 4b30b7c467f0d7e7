"""The detection corpus through the real pipeline: files on disk, `quickcam detector`, its outbox.

    .venv/bin/python bench/detection_pipeline.py [--split held-out|tune] [--condition NAME ...]
        [--format NAME ...] [--realtime NAME ...] [--jobs N]

bench/detection_quality.py feeds the corpus's BGR frames straight into the
motion core and ``EventClock``. Strangers measure the product another way:
they write a video file and run the real detector on it. This benchmark does
the same for each condition of bench/detection_corpus.py:

1. renders the clip to files as a stranger would (``FORMATS``: H.264 .mp4 by
   PyAV's libx264 at a camera-like and at a low bitrate, a default x264 file
   with its long GOP and B-frames, MJPEG and mp4v .avi by ``cv2.VideoWriter``);
2. runs ``quickcam detector`` on each file with default settings, outbox only
   (``source = "file"``, ``[camera] start`` set so frame times map back to
   frame numbers; as fast as possible, or paced in real time with
   ``--realtime``);
3. reads the events back from ``outbox/produced.jsonl``: the onset snapshot
   (seq 0) is the frame the event started at, the segments' ``start_ms`` /
   ``end_ms`` are what was recorded;
4. scores them with bench/detection_quality.py's rules (caught, onset in
   frames, share of people-time recorded, false events), beside the in-process
   harness on the same clip's frames (``bench``) and on the frames the file
   decodes to (``bench, file``: OpenCV's BGR of the file, what the harness
   would see of it). The people-time of the real pipeline is the frames its
   segments hold, not the event's span: a keyframe cut or a lost segment shows.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from detection_corpus import FPS, SIZE, SPLITS, Clip, Composer  # noqa: E402
from detection_quality import Run, Score, Watcher, _cell, score  # noqa: E402

from bench._util import QUICKCAM, commit, scratch_setup  # noqa: E402
from bench.bench_passthrough import checkout  # noqa: E402
from quickcam.common.config import MotionConfig, RecordingConfig  # noqa: E402

START = datetime(2026, 1, 1, tzinfo=UTC)  # [camera] start: frame n is at START + n / FPS
START_NS = int(START.timestamp() * 1e9)


# -- rendering ------------------------------------------------------------------
class Writer:
    """One file being written, frame by frame."""

    def write(self, frame: np.ndarray) -> None: ...

    def close(self) -> None: ...


class AvWriter(Writer):
    """H.264 by PyAV's libx264: ``options`` as a camera (GOP 1 s, no B-frames) or as x264's defaults."""

    def __init__(self, path: Path, bitrate: int, options: dict[str, str], scale: int = 1) -> None:
        import av

        self.av, self.scale = av, scale
        self.output = av.open(str(path), mode="w")
        self.stream = self.output.add_stream("libx264", rate=Fraction(FPS).limit_denominator(1001))
        self.stream.width, self.stream.height, self.stream.pix_fmt = SIZE[0] * scale, SIZE[1] * scale, "yuv420p"
        self.stream.bit_rate = bitrate
        self.stream.options = options
        self.stream.codec_context.thread_count = 1

    def write(self, frame: np.ndarray) -> None:
        if self.scale != 1:  # a camera's larger picture: the detector then halves its luma first
            frame = cv2.resize(frame, None, fx=self.scale, fy=self.scale, interpolation=cv2.INTER_LINEAR)
        for packet in self.stream.encode(self.av.VideoFrame.from_ndarray(frame, format="bgr24")):
            self.output.mux(packet)

    def close(self) -> None:
        for packet in self.stream.encode():
            self.output.mux(packet)
        self.output.close()


class CvWriter(Writer):
    def __init__(self, path: Path, fourcc: str) -> None:
        self.writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), FPS, SIZE)
        if not self.writer.isOpened():
            raise RuntimeError(f"OpenCV cannot write {fourcc} to {path}")

    def write(self, frame: np.ndarray) -> None:
        self.writer.write(frame)

    def close(self) -> None:
        self.writer.release()


CAMERA_X264 = {"preset": "veryfast", "bf": "0", "g": str(int(FPS)), "keyint_min": str(int(FPS)), "sc_threshold": "0"}

FORMATS: dict[str, tuple[str, Callable[[Path], Writer]]] = {
    # name: (file suffix, writer); a camera-like H.264 is passed through, the rest is re-encoded
    "h264": (".mp4", lambda p: AvWriter(p, 600_000, CAMERA_X264)),
    "h264 low": (".mp4", lambda p: AvWriter(p, 120_000, CAMERA_X264)),
    "h264 x264 defaults": (".mp4", lambda p: AvWriter(p, 600_000, {})),
    "h264 768x576": (".mp4", lambda p: AvWriter(p, 1_500_000, CAMERA_X264, scale=2)),
    "mjpeg": (".avi", lambda p: CvWriter(p, "MJPG")),
    "mp4v": (".avi", lambda p: CvWriter(p, "mp4v")),
}
DEFAULT_FORMATS = ("h264", "h264 low", "mjpeg")


@dataclass
class Rendered:
    clip: Clip
    frames: int
    files: dict[str, Path]
    bench: Run  # the in-process harness on the clip's own frames


def render(composer: Composer, condition: str, formats: list[str], folder: Path) -> Rendered:
    """The clip written to one file per format, and the in-process harness run on the same frames."""
    clip = composer.clip(condition)
    stem = condition.replace(" ", "_").replace("(", "").replace(")", "")
    files = {name: folder / f"{stem}-{name.replace(' ', '_')}{FORMATS[name][0]}" for name in formats}
    writers = [FORMATS[name][1](path) for name, path in files.items()]
    watcher = Watcher(MotionConfig(), RecordingConfig())
    index = -1
    for index, frame in enumerate(clip.frames):
        watcher.feed(index, frame)
        for writer in writers:
            writer.write(frame)
    for writer in writers:
        writer.close()
    return Rendered(clip, index + 1, files, watcher.finish(index))


def bench_on_file(path: Path) -> Run:
    """The in-process harness on the frames OpenCV decodes from the file (BGR, as the bench sees frames)."""
    capture = cv2.VideoCapture(str(path))
    watcher = Watcher(MotionConfig(), RecordingConfig())
    index = -1
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        index += 1
        watcher.feed(index, frame)
    capture.release()
    return watcher.finish(index)


# -- the real detector ------------------------------------------------------------
def camera_toml(path: Path, realtime: bool, keys: tuple[str, ...] = ()) -> str:
    """``keys``: extra ``[camera]`` lines (``--camera-key``), e.g. ``fast_decode = true``."""
    return "\n".join([
        "[[cameras]]", 'id = "cam0"', 'source = "file"', f'path = "{path}"', f"realtime = {str(realtime).lower()}",
        f'start = "{START.isoformat()}"', f"fps = {FPS:g}", f"width = {SIZE[0]}", f"height = {SIZE[1]}", *keys, "",
    ])


def run_detector(path: Path, realtime: bool, folder: Path, code: Path | None = None,
                 keys: tuple[str, ...] = ()) -> tuple[list[dict], str]:
    """``quickcam detector`` on ``path`` to its end, outbox only: the rows of its ``produced.jsonl``, its log.

    ``code``: another revision's code (``bench_passthrough.checkout``) instead of this tree's."""
    folder.mkdir(parents=True)
    env = scratch_setup(folder)
    if code is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(code), env.get("PYTHONPATH", "")]))
    config = folder / "quickcam.toml"
    config.write_text(camera_toml(path, realtime, keys))
    done = subprocess.run([QUICKCAM, "detector", "--config", str(config)], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        raise RuntimeError(f"quickcam detector on {path.name} exited {done.returncode}: {done.stderr[-2000:]}")
    produced = folder / "outbox" / "produced.jsonl"
    rows = [json.loads(line) for line in produced.read_text().splitlines()] if produced.exists() else []
    return rows, done.stderr


def frame_at(ms: int) -> int:
    return round((ms * 1_000_000 - START_NS) * FPS / 1e9)


@dataclass
class PipelineRun:
    run: Run  # events as (start, start, end): the onset snapshot's frame, one past the last segment's
    recorded: set[int]  # frames inside a segment
    segments: int


def events_of(rows: list[dict]) -> PipelineRun:
    """Events from the outbox's journal: the onset snapshot says when, the segments what was recorded."""
    events: dict[str, list[dict]] = {}
    for row in rows:
        events.setdefault(row["event"], []).append(row)
    run, recorded, count = Run(), set(), 0
    for items in events.values():
        first = next((r for r in items if r["type"] == "snapshot" and r["seq"] == 0), None)
        segments = [r for r in items if r["type"] == "segment"]
        count += len(segments)
        for segment in segments:
            recorded.update(range(frame_at(segment["start_ms"]), frame_at(segment["end_ms"]) + 1))
        if first is None:
            continue
        start = frame_at(first["time_ms"])
        end = max((frame_at(s["end_ms"]) + 1 for s in segments), default=start + 1)
        run.events.append((start, start, end))
    run.events.sort()
    return PipelineRun(run, recorded, count)


def score_pipeline(result: PipelineRun, clip: Clip, post_roll: int) -> Score:
    """bench/detection_quality.py's score, with people-time read from the segments actually written."""
    scored = score(result.run, clip, 0, post_roll)
    scored.recorded = sum(1 for first, last in clip.people for f in range(first, last + 1) if f in result.recorded)
    return scored


# -- the report ----------------------------------------------------------------
COLUMNS = ("bench", "bench, file", "detector")


def table(rows: dict[str, dict[str, dict[str, Score]]], title: str) -> str:
    """One table per format: per condition, the three views side by side."""
    header = ["condition"] + [f"{c}: {k}" for c in COLUMNS for k in ("caught", "onset", "time", "false")]
    lines = [f"**{title}**", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    totals = {c: Score() for c in COLUMNS}
    for condition, views in rows.items():
        cells = [condition]
        for column in COLUMNS:
            cells += _cell(views[column]) if column in views else ["-"] * 4
            if column in views:
                totals[column].add(views[column])
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("| **all** | " + " | ".join(c for column in COLUMNS for c in _cell(totals[column])) + " |")
    return "\n".join(lines)


def events_text(run: Run) -> str:
    return " ".join(f"{start}-{end}" for _, start, end in run.events)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", choices=sorted(SPLITS), default="held-out")
    parser.add_argument("--condition", action="append", default=[], help="only this condition (repeatable)")
    parser.add_argument("--format", action="append", default=[], choices=sorted(FORMATS),
                        help=f"file formats (repeatable; default {', '.join(DEFAULT_FORMATS)})")
    parser.add_argument("--realtime", action="append", default=[], metavar="CONDITION",
                        help="also run this condition's first format paced in real time (repeatable)")
    parser.add_argument("--jobs", type=int, default=2, help="detector runs at once")
    parser.add_argument("--events", action="store_true", help="also list each view's events (frames)")
    parser.add_argument("--code", metavar="REV", help="run the detector with the code of this git revision")
    parser.add_argument("--camera-key", action="append", default=[], metavar="KEY=VALUE",
                        help="a [camera] setting for the detector runs, as TOML (repeatable; e.g. fast_decode=true)")
    args = parser.parse_args(argv)
    cv2.setNumThreads(1)
    formats = args.format or list(DEFAULT_FORMATS)
    composer = Composer(SPLITS[args.split])
    conditions = args.condition or composer.conditions()
    post_roll = int(RecordingConfig().post_roll_s * FPS)
    pre_roll = int(RecordingConfig().pre_roll_s * FPS)
    started, revision = time.monotonic(), args.code or commit()
    results: dict[str, dict[str, dict[str, Score]]] = {f: {} for f in formats}
    realtime: dict[str, dict[str, Score]] = {}
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="detection_pipeline_") as tmp, ThreadPoolExecutor(args.jobs) as pool:
        folder = Path(tmp)
        code = checkout(args.code, folder) if args.code else None
        for condition in conditions:
            rendered = render(composer, condition, formats, folder)
            clip = rendered.clip
            if not rendered.frames:
                continue
            print(f"  {condition}: {rendered.frames} frames, {len(clip.people)} walkers, "
                  f"{len(clip.changes)} lighting changes", file=sys.stderr)
            own = score(rendered.bench, clip, pre_roll, post_roll)
            keys = tuple(args.camera_key)
            jobs = {name: pool.submit(run_detector, path, False, folder / f"run-{path.stem}", code, keys)
                    for name, path in rendered.files.items()}
            if condition in args.realtime:
                name = formats[0]
                jobs["realtime"] = pool.submit(run_detector, rendered.files[name], True,
                                               folder / f"run-{rendered.files[name].stem}-realtime", code, keys)
            for name, path in rendered.files.items():
                on_file = bench_on_file(path)
                rows, _ = jobs[name].result()
                real = events_of(rows)
                results[name][condition] = {"bench": own, "bench, file": score(on_file, clip, pre_roll, post_roll),
                                            "detector": score_pipeline(real, clip, post_roll)}
                cells = " | ".join(f"{c} " + " ".join(_cell(v)) for c, v in results[name][condition].items())
                print(f"    {name}: {cells}", file=sys.stderr, flush=True)
                if args.events:
                    notes.append(f"- {condition}, {name}: bench {events_text(rendered.bench)}; bench, file "
                                 f"{events_text(on_file)}; detector {events_text(real.run)} ({real.segments} "
                                 "segments)")
            if "realtime" in jobs:
                rows, _ = jobs["realtime"].result()
                realtime[condition] = {"bench": own, "detector": score_pipeline(events_of(rows), clip, post_roll)}
            for path in rendered.files.values():
                os.unlink(path)
    print(f"The {args.split} split of bench/detection_corpus.py through `quickcam detector` (default settings, "
          f"outbox only, files analysed as fast as possible), beside the in-process harness; code {revision}."
          + (f" With {', '.join(args.camera_key)}." if args.camera_key else "") +
          " Cells: caught / onset in frames (median / worst) / share of people-time recorded / false events "
          "(lighting / quiet).\n")
    for name in formats:
        print(table(results[name], f"{name} ({FORMATS[name][0]})") + "\n")
    if realtime:
        print(table(realtime, f"paced in real time ({formats[0]})") + "\n")
    if notes:
        print("\n".join(notes) + "\n")
    print(f"({time.monotonic() - started:.0f} s on a shared 2-core machine; command: .venv/bin/python "
          f"bench/detection_pipeline.py{' ' + ' '.join(sys.argv[1:]) if len(sys.argv) > 1 else ''})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
