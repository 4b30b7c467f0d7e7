"""The console's camera views: status as JSON, the MJPEG live view, one snapshot.

Frames come from the ``LiveTap``, which fills a camera's slot only while
someone watches it; each stream holds one worker thread, so their number is
capped (``MAX_VIEWERS``).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from quickcam.detector.console.state import ConsoleState, camera_state, client_of, error, status_doc, user_of

log = logging.getLogger(__name__)

BOUNDARY = "quickcam-frame"
MAX_VIEWERS = 8  # live streams at once, all cameras together: each holds a worker thread
FRAME_WAIT_S = 0.5  # a streaming worker re-checks for a disconnected browser this often
SNAPSHOT_WAIT_S = 3.0


async def api_status(state: ConsoleState, request: Request) -> Response:
    doc = await status_doc(state)
    viewers = state.tap.status()
    cameras = {}
    for cam_id in state.cameras:
        info = doc.get("cameras", {}).get(cam_id, {})
        live = {"viewers": 0, "sent": 0, "skipped": 0, **viewers.get(cam_id, {})}  # 0s before anyone watched
        cameras[cam_id] = {**info, "console_state": camera_state(info), **live}
    return JSONResponse({"cameras": cameras, "link": doc.get("link", {}), "outbox": doc.get("outbox", {}),
                         "low_power": doc.get("low_power", {}), "user": user_of(state, request),
                         "zones_editable": state.config_path is not None})


async def live(state: ConsoleState, request: Request) -> Response:
    cam_id = request.path_params["camera"]
    with state.stream_lock:
        if state.streams >= MAX_VIEWERS:
            return error(503, f"already {MAX_VIEWERS} live views open; close one and reload")
        state.streams += 1

    async def parts() -> AsyncIterator[bytes]:
        client = client_of(request, state.proxies)
        viewer_frames = 0
        try:
            with state.tap.watch(cam_id) as viewer:
                log.info("console: %s watches camera %s live", client, cam_id)
                try:
                    while True:
                        jpeg = await anyio.to_thread.run_sync(viewer.next_jpeg, FRAME_WAIT_S)
                        if jpeg is None:
                            if await request.is_disconnected():
                                break
                            continue
                        viewer_frames += 1
                        yield (f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n"
                               .encode() + jpeg + b"\r\n")
                finally:
                    log.info("console: %s stopped watching camera %s after %d frame(s), %d skipped "
                             "because it was slower than the camera", client, cam_id, viewer_frames,
                             viewer.skipped)
        finally:
            with state.stream_lock:
                state.streams -= 1

    return StreamingResponse(parts(), media_type=f"multipart/x-mixed-replace; boundary={BOUNDARY}")


async def snapshot(state: ConsoleState, request: Request) -> Response:
    cam_id = request.path_params["camera"]

    def one_frame() -> bytes | None:
        with state.tap.watch(cam_id) as viewer:
            return viewer.next_jpeg(SNAPSHOT_WAIT_S)

    jpeg = await anyio.to_thread.run_sync(one_frame)
    if jpeg is None:
        info = (await status_doc(state)).get("cameras", {}).get(cam_id, {})
        return error(503, f"camera {cam_id} delivered no frame within {SNAPSHOT_WAIT_S:.0f} s "
                          f"(state: {camera_state(info)})")
    return Response(jpeg, media_type="image/jpeg")
