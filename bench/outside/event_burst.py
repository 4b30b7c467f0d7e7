"""A burst of many short events: a file camera whose picture shows a dark figure crossing in 0.8 s every 2 s
(people passing a doorway, cars through a gap), with the shortest event settings quickcam.example.toml allows
(no pre-roll, no post-roll, one trigger frame, short segments).

    .venv/bin/python bench/outside/event_burst.py [--native] [--seconds 60] [--post-roll-s 0] [--varied]

The video is made by this script (OpenCV, 320x240 at 10 fps, 60 s, looped). (Bright blips of a frame or two were
tried first: the Python detector took them for insects or snow after its first event, as FINDINGS #40 meant.)
docs/reliability.md: every event's snapshot and segments are delivered; nothing refused; the uploader keeps up or says it is behind.
Checked: many events recorded; nothing in outbox/refused, no nack, no `bad_value`; every journaled item
stored once (the invariant); the outbox drains within a minute of the stop; segments' headers sane
(end_ms >= start_ms, seq without holes per event); no traceback.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import BASE_TOML, Rig, invariant_failed, show_lines, tracebacks_failed  # noqa: E402


def make_video(path: Path, seconds: int = 60, fps: int = 10, varied: bool = False) -> None:
    """A dark figure crosses in 0.8 s every 2 s along one of three rows; ``varied``: its row, height, direction,
    speed and the quiet after it drawn at random each time (1-3 s), so nothing repeats."""
    rng = np.random.default_rng(5)
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (320, 240))
    base = np.full((240, 320, 3), 90, np.uint8)
    cv2.rectangle(base, (20, 20), (120, 100), (60, 70, 80), -1)
    cv2.rectangle(base, (200, 120), (300, 220), (130, 120, 110), -1)
    crossings: list[tuple[int, int, int, int, int, int]] = []  # (first frame, frames, top, height, x0, dx)
    frame = 0
    while frame < seconds * fps:
        if varied:
            n = int(rng.integers(6, 16))
            top, height = int(rng.integers(10, 140)), int(rng.integers(60, 100))
            dx = (300 // n) * (1 if rng.random() < 0.5 else -1)
            crossings.append((frame, n, top, height, 0 if dx > 0 else 290, dx))
            frame += n + int(rng.integers(10, 30))
        else:
            row = (frame // 20) % 3
            crossings.append((frame, 8, 60 + row * 30, 90, 30, 30))
            frame += 20
    for i in range(seconds * fps):
        f = base.copy()
        f += rng.integers(0, 3, f.shape, dtype=np.uint8)
        for first, n, top, height, x0, dx in crossings:
            if first <= i < first + n:
                x = x0 + (i - first) * dx
                cv2.rectangle(f, (x, top), (x + 30, top + height), (25, 25, 30), -1)
        w.write(f)
    w.release()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--native", action="store_true")
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--post-roll-s", type=float, default=0.0)
    ap.add_argument("--varied", action="store_true", help="each crossing's row, size, speed and gap at random")
    a = ap.parse_args()
    root = Path(f"/tmp/s23o/burst{'-varied' if a.varied else ''}-{'native' if a.native else 'py'}")
    toml = (BASE_TOML.replace('source = "demo"', 'source = "file"\npath = "blips.mp4"\nloop = true\nfps = 10.0')
            .replace("segment_s = 1.0", f"segment_s = 0.5\npre_roll_s = 0.0\npost_roll_s = {a.post_roll_s}\n"
                     "min_event_s = 0.0")
            .replace("[link]", "[motion]\ntrigger_frames = 1\n[faces]\nenabled = false\n[link]"))
    rig = Rig(root, toml=toml, native=a.native)
    make_video(rig.root / "blips.mp4", varied=a.varied)
    fails = 0
    try:
        rig.uploader()
        rig.detector()
        t0 = time.monotonic()
        while time.monotonic() - t0 < a.seconds:
            time.sleep(a.seconds / 4)
            jl = rig.journal_lines()
            events = {(d.get("camera"), d.get("event")) for d in jl}
            ob = len(list((rig.root / "outbox").glob("*.bin")))
            print(f"t+{time.monotonic() - t0:.0f}s journaled {len(jl)} ({len(events)} events) stored "
                  f"{len(rig.stored_ids())} outbox {ob}")
        _, st = rig.status()
        print("status:\n" + st)
        rig.stop("detector")
        drained = rig.wait_for(rig.drained, 60)
        rig.stop_all()
        jl = rig.journal_lines()
        events: dict = {}
        bad_span = 0
        for d in jl:
            events.setdefault((d.get("camera"), d.get("event")), []).append(d)
            if d.get("type") == "segment" and d.get("end_ms", 0) < d.get("start_ms", 0):
                bad_span += 1
        holes = 0
        for items in events.values():
            seqs = sorted(d.get("seq", 0) for d in items if d.get("type") == "segment")
            holes += seqs != list(range(len(seqs)))
        refused = list((rig.root / "outbox" / "refused").glob("*")) if (rig.root / "outbox/refused").exists() else []
        print(f"{len(events)} events, {len(jl)} items; segments with end before start {bad_span}; events whose "
              f"segments' seq have a hole {holes}; outbox/refused {len(refused)}")
        print("journal keys:", sorted(jl[0]) if jl else None)
        many = len(events) >= 40
        print(("PASS" if many else "FAIL"), f"many tiny events recorded: {len(events)}")
        fails += not many
        ok = not refused and not bad_span and not holes
        print(("PASS" if ok else "FAIL"), "nothing refused, spans and seqs sane")
        fails += not ok
        show_lines(rig, r"(?i)nack|bad_value|refused|level=error", "nack/refused/error lines", 12)
        fails += bool(rig.grep(r"(?i)bad_value"))
        fails += invariant_failed(rig, drained)
        fails += tracebacks_failed(rig)
    finally:
        rig.stop_all()
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
