"""The zone editor's URLs: read a camera's zones and mask, save new ones (validated, written, applied)."""

from __future__ import annotations

import base64
import json
import logging

import anyio.to_thread
import cv2
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from quickcam.detector.console.state import ConsoleState, error, frame_size, same_origin, user_of
from quickcam.detector.console.zone_file import (
    ZoneInputError,
    ZoneSaveError,
    decode_mask,
    mask_path_for,
    parse_zones,
    save_zones,
)
from quickcam.detector.zones import ZoneError, load_mask_image

log = logging.getLogger(__name__)

MAX_BODY = 6 << 20


async def zones_get(state: ConsoleState, request: Request) -> Response:
    cam_id = request.path_params["camera"]
    current = state.zones.current(cam_id)
    zones = current[1] if current else state.cameras[cam_id].zones
    width, height = await frame_size(state, cam_id)
    return JSONResponse({"include": zones.include, "exclude": zones.exclude,
                         "mask": str(zones.mask) if zones.mask else None, "width": width, "height": height,
                         "mask_url": f"/api/cameras/{cam_id}/zones/mask.png" if zones.mask else None,
                         "editable": state.config_path is not None})


async def zones_mask(state: ConsoleState, request: Request) -> Response:
    """The camera's mask image, so the editor paints on top of it instead of starting over."""
    cam_id = request.path_params["camera"]
    current = state.zones.current(cam_id)
    zones, image = (current[1], current[2]) if current else (state.cameras[cam_id].zones, None)
    if zones.mask is None:
        return error(404, f"camera {cam_id} has no mask image")
    try:
        if image is None:
            image = await anyio.to_thread.run_sync(load_mask_image, zones.mask)
    except ZoneError as exc:
        return error(404, str(exc))
    ok, png = cv2.imencode(".png", image)
    if not ok:
        return error(500, f"the mask of camera {cam_id} cannot be encoded as PNG")
    return Response(png.tobytes(), media_type="image/png")


async def zones_post(state: ConsoleState, request: Request) -> Response:
    cam_id = request.path_params["camera"]
    if not same_origin(request) or request.headers.get("content-type", "").split(";")[0] != "application/json":
        return error(403, "zones are saved by the console page (JSON, same origin)")
    if state.config_path is None:
        return error(409, "the detector was started without --config, so there is no file to save zones in; "
                          "restart it with --config FILE")
    body = await request.body()
    if len(body) > MAX_BODY:
        return error(413, f"the zones are larger than {MAX_BODY >> 20} MB")
    try:
        data = json.loads(body)
        if not isinstance(data, dict):
            raise ZoneInputError("zones must be a JSON object")
        mask_image, mask_path = None, None
        painted = data.get("mask")
        if painted is not None:
            if not isinstance(painted, str) or not painted.startswith("data:image/png;base64,"):
                raise ZoneInputError("mask must be a PNG data URL (data:image/png;base64,...) or null")
            mask_image = decode_mask(base64.b64decode(painted.split(",", 1)[1], validate=True))
            mask_path = mask_path_for(state.config_path, cam_id)
        zones = parse_zones(data, *(await frame_size(state, cam_id)), mask_path, mask_image)
        await anyio.to_thread.run_sync(save_zones, state.config_path, cam_id, zones, mask_image)
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError) as exc:
        message = str(exc) if isinstance(exc, ZoneInputError) else f"zones must be valid JSON ({exc})"
        log.warning("console: zones for camera %s refused: %s", cam_id, message)
        return error(400, message)
    except ZoneSaveError as exc:
        log.error("console: %s", exc)
        return error(500, str(exc))
    state.zones.replace(cam_id, zones, mask_image)
    log.info("console: %s saved zones for camera %s (%d include, %d exclude%s) in %s; applied now",
             user_of(state, request), cam_id, len(zones.include), len(zones.exclude),
             ", painted mask" if mask_image is not None else "", state.config_path)
    return JSONResponse({"saved": True, "message": f"zones of {cam_id} saved in {state.config_path} and applied"})
