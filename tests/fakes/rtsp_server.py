"""A real RTSP server on 127.0.0.1 serving an H.264 MP4 file in real time (GStreamer's gst-rtsp-server).

Run by the system python3 (Debian's python3-gi + gir1.2-gst-rtsp-server-1.0,
installed by scripts/install_test_tools.sh), not the venv:

    /usr/bin/python3 tests/fakes/rtsp_server.py FILE PORT [audio]

serves ``rtsp://127.0.0.1:PORT/cam``: the file's (an MP4, or an MPEG-TS named .ts) own H.264 packets, paced by
the clock like a camera, the same session for every client; with ``audio``, a
live G.711 (PCMA) track first in the SDP beside it, sent on after the clip's end. It prints
``ready`` once it listens, ``playing <epoch seconds>`` each time the clip starts
playing (frame n is sent n / fps later), and stops on SIGTERM or when stdin closes.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def main() -> None:
    path, port, audio = sys.argv[1], sys.argv[2], sys.argv[3:] == ["audio"]
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(port)
    factory = GstRtspServer.RTSPMediaFactory()
    demux = "tsdemux" if path.endswith(".ts") else "qtdemux"  # an MPEG-TS: parameter sets that change in band
    video = f'filesrc location="{path}" ! {demux} ! h264parse config-interval=-1 ! rtph264pay pt=96 name=pay'
    if audio:
        factory.set_launch("( audiotestsrc is-live=true ! audio/x-raw,rate=8000,channels=1 ! alawenc "
                           f"! rtppcmapay name=pay0 {video}1 )")
    else:
        factory.set_launch(f"( {video}0 )")
    factory.set_shared(True)

    def playing(_media: GstRtspServer.RTSPMedia, state: int) -> None:
        if state == Gst.State.PLAYING:  # the clip's frame n goes out n / fps after this
            print(f"playing {time.time():.6f}", flush=True)

    factory.connect("media-configure", lambda _factory, media: media.connect("new-state", playing))
    server.get_mount_points().add_factory("/cam", factory)
    if server.attach(None) == 0:
        print(f"cannot listen on 127.0.0.1:{port}", flush=True)
        sys.exit(1)
    loop = GLib.MainLoop()
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)

    def watch_stdin() -> None:  # the test went away: stop too
        sys.stdin.read()
        GLib.idle_add(loop.quit)

    threading.Thread(target=watch_stdin, daemon=True).start()
    print("ready", flush=True)
    loop.run()
    os._exit(0)


if __name__ == "__main__":
    main()
