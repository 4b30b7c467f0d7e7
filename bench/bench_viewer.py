"""``quickcam view`` on a large day: 1,000 events (one snapshot and three segments each).

Prints, in one run: the first listing of the day (every header read), the timeline
page once listings and thumbnails are in memory (target: under 1 s), and a re-listing
after the listing cache expired (headers still in memory), as medians of --runs.

    .venv/bin/python -m bench.bench_viewer                 # 1000 events, 5 runs
    .venv/bin/python -m bench.bench_viewer --events 5000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from starlette.testclient import TestClient

from bench._util import machine, median
from quickcam.common.cryptofile import Keyring, SymmetricKey
from quickcam.uploader.backends.local import LocalBackend
from quickcam.uploader.viewer.security import Gate
from quickcam.uploader.viewer.state import Viewer
from quickcam.uploader.viewer.store import StoreIndex
from quickcam.uploader.viewer.web import build_app
from tests.uploader.viewer.footage_store import add_event, make_clip, make_jpeg

T0 = 1_764_806_400_000  # 2025-12-04 00:00:00 UTC


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    key = SymmetricKey.generate()
    clip, jpeg = make_clip(seconds=1.0), make_jpeg()
    with tempfile.TemporaryDirectory(prefix="bench-viewer-") as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        for n in range(args.events):
            add_event(root, key, T0 + n * 60_000, [clip] * 3, [jpeg])
        made = time.perf_counter() - started
        backend = LocalBackend(root)
        viewer = Viewer(StoreIndex(backend, "webcam_captures"), backend, Keyring([key]), Gate(), "local")
        with TestClient(build_app(viewer), follow_redirects=False) as client:
            client.get(f"/?token={viewer.gate.token}")
            started = time.perf_counter()
            first = client.get("/?day=2025-12-04")
            cold = time.perf_counter() - started
            assert first.status_code == 200 and f"{args.events} event(s)" in first.text
            warm = []
            for _ in range(args.runs):
                started = time.perf_counter()
                client.get("/?day=2025-12-04")
                warm.append(time.perf_counter() - started)
            relist = []
            for _ in range(args.runs):
                viewer.index.forget()
                started = time.perf_counter()
                client.get("/?day=2025-12-04")
                relist.append(time.perf_counter() - started)
    print(f"machine: {machine()}")
    print(f"store: {args.events} events, {args.events * 4} files (made in {made:.1f} s)")
    print(f"first timeline page (lists the day, reads {args.events * 4} headers, 24 thumbnails): {cold:.3f} s")
    print(f"timeline page, cached (median of {args.runs}): {median(warm):.3f} s  (target < 1 s)")
    print(f"timeline page after the listing expired, headers cached (median of {args.runs}): {median(relist):.3f} s")
    print(f"ratio first / cached: {cold / median(warm):.0f}x")


if __name__ == "__main__":
    main()
