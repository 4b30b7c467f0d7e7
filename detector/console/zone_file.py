"""The zone editor's back end: check what the page sends, write it into the config file, keep the rest.

``parse_zones`` turns the page's JSON into a ``ZonesConfig`` or raises
``ZoneInputError`` with one sentence naming the polygon and point at fault.
``save_zones`` edits only the camera's ``zones`` table with tomlkit, so every
comment and the layout of the file stay as they were; the whole new file is
validated as a config before it replaces the old one (atomically), so a save
can never leave a config the detector would refuse at its next start.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import tomlkit
from pydantic import ValidationError
from tomlkit.items import AoT, Table

from quickcam.common.config import Config, ZonesConfig
from quickcam.common.durable import atomic_write
from quickcam.detector.zones import ZoneError, build_zone_mask

MAX_POLYGONS = 32
MAX_POINTS = 256
MAX_MASK_BYTES = 4 << 20


class ZoneInputError(ValueError):
    """What the page sent cannot be zones; the message says which polygon or point and why."""


class ZoneSaveError(OSError):
    """The config file (or the mask image beside it) cannot be written; nothing was changed."""


def _polygons(data: Any, kind: str) -> list[list[tuple[float, float]]]:
    if data is None:
        return []
    if not isinstance(data, list):
        raise ZoneInputError(f"{kind} must be a list of polygons")
    if len(data) > MAX_POLYGONS:
        raise ZoneInputError(f"{kind}: at most {MAX_POLYGONS} polygons (got {len(data)})")
    polygons = []
    for n, polygon in enumerate(data, 1):
        if not isinstance(polygon, list) or len(polygon) < 3:
            got = len(polygon) if isinstance(polygon, list) else "not a list"
            raise ZoneInputError(f"{kind} polygon {n} needs at least 3 points (got {got})")
        if len(polygon) > MAX_POINTS:
            raise ZoneInputError(f"{kind} polygon {n} has more than {MAX_POINTS} points")
        points = []
        for m, point in enumerate(polygon, 1):
            if (not isinstance(point, list | tuple) or len(point) != 2
                    or not all(isinstance(c, int | float) and not isinstance(c, bool) for c in point)):
                raise ZoneInputError(f"{kind} polygon {n}, point {m} must be [x, y] numbers")
            x, y = float(point[0]), float(point[1])
            if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
                raise ZoneInputError(f"{kind} polygon {n}, point {m} ({x:.3f}, {y:.3f}) is outside the frame "
                                     "(x and y are fractions of the picture, 0 to 1)")
            points.append((round(x, 4), round(y, 4)))
        area = cv2.contourArea(np.array(points, np.float32))
        if area < 1e-5:
            raise ZoneInputError(f"{kind} polygon {n} encloses no area (its points are on one line)")
        polygons.append(points)
    return polygons


def decode_mask(data: bytes) -> np.ndarray:
    """A painted mask (PNG/JPEG bytes) as gray levels; white = watched."""
    if len(data) > MAX_MASK_BYTES:
        raise ZoneInputError(f"the painted mask is larger than {MAX_MASK_BYTES >> 20} MB")
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise ZoneInputError("the painted mask is not a PNG or JPEG image")
    return image


def parse_zones(data: Any, width: int, height: int, mask_path: Path | None,
                mask_image: np.ndarray | None) -> ZonesConfig:
    """Zones from the page's JSON ``{"include": [...], "exclude": [...]}``, checked at the camera's size."""
    if not isinstance(data, dict):
        raise ZoneInputError('zones must be a JSON object {"include": [...], "exclude": [...]}')
    unknown = set(data) - {"include", "exclude", "mask"}
    if unknown:
        raise ZoneInputError(f"unknown field(s) {', '.join(sorted(unknown))}; expected include, exclude, mask")
    zones = ZonesConfig(include=_polygons(data.get("include"), "include"),
                        exclude=_polygons(data.get("exclude"), "exclude"), mask=mask_path)
    try:
        build_zone_mask(zones, width, height, mask_image)
    except ZoneError as exc:
        raise ZoneInputError(str(exc)) from None
    return zones


def _camera_table(document: tomlkit.TOMLDocument, camera_id: str) -> Table:
    cameras = document.get("cameras")
    if isinstance(cameras, AoT | list) and len(cameras):
        for entry in cameras:
            if entry.get("id") == camera_id:
                return entry
        raise ZoneInputError(f"camera {camera_id} is not among the [[cameras]] of the config file")
    camera = document.get("camera")
    if camera is None:
        camera = tomlkit.table()
        document["camera"] = camera
    if camera.get("id", "cam0") != camera_id:
        raise ZoneInputError(f"camera {camera_id} is not the [camera] of the config file")
    return camera


def _set_keeping_comment(table: Table, key: str, value: Any) -> None:
    """Set ``table[key]``, keeping the comment after it (tomlkit drops it on plain assignment).

    An empty or None value removes a key that was absent anyway, and an
    unchanged value is not touched, so an unchanged file stays byte for byte.
    """
    old = table.get(key)
    if value is None or (value == [] and old is None):
        if old is not None:
            del table[key]
        return
    if old is not None and getattr(old, "unwrap", lambda: None)() == value:
        return
    new = tomlkit.item(value)
    if old is not None:
        if hasattr(old, "trivia"):
            new.trivia.comment_ws, new.trivia.comment = old.trivia.comment_ws, old.trivia.comment
        table[key] = new
        return
    body = table.value.body
    last = max((i for i, (k, _) in enumerate(body) if k is not None), default=None)
    if last is None or last == len(body) - 1:
        table[key] = new
    else:  # right after the table's last key, not after the comments that follow it
        table.value._insert_at(last + 1, key, new)


def render_zones(text: str, camera_id: str, zones: ZonesConfig, config_dir: Path | None = None) -> str:
    """``text`` (a config file) with ``camera_id``'s zones replaced; all else byte for byte the same.

    A mask inside ``config_dir`` is written relative to it (common/config.py
    reads it so), so the folder can move without breaking the config.
    """
    document = tomlkit.parse(text)
    camera = _camera_table(document, camera_id)
    table = camera.get("zones")
    if table is None:
        table = tomlkit.table()
        camera["zones"] = table
    _set_keeping_comment(table, "include", [[list(p) for p in poly] for poly in zones.include])
    _set_keeping_comment(table, "exclude", [[list(p) for p in poly] for poly in zones.exclude])
    _set_keeping_comment(table, "mask", _mask_text(zones.mask, config_dir))
    return tomlkit.dumps(document)


def save_zones(config_path: Path, camera_id: str, zones: ZonesConfig, mask_image: np.ndarray | None) -> None:
    """Write the zones (and the painted mask, if any) so the next start uses them too."""
    try:
        text = config_path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ZoneSaveError(f"cannot read the config file {config_path} ({exc.strerror or exc}); "
                            "zones not saved") from None
    try:
        new_text = render_zones(text, camera_id, zones, config_path.resolve().parent)
        Config.model_validate(tomllib.loads(new_text))  # never write a file the detector would refuse
    except (tomllib.TOMLDecodeError, tomlkit.exceptions.TOMLKitError) as exc:
        raise ZoneSaveError(f"the config file {config_path} is not valid TOML ({exc}); zones not saved") from None
    except ValidationError as exc:
        raise ZoneInputError(f"the config would not be valid with these zones: {exc.errors()[0]['msg']}") from None
    try:
        if mask_image is not None and zones.mask is not None:
            ok, png = cv2.imencode(".png", mask_image)
            if not ok:
                raise ZoneInputError("the painted mask cannot be encoded as PNG")
            with atomic_write(zones.mask) as handle:
                os.fchmod(handle.fileno(), 0o600)
                handle.write(png.tobytes())
        mode = config_path.stat().st_mode & 0o777
        with atomic_write(config_path) as handle:
            os.fchmod(handle.fileno(), mode)  # the new file keeps the old one's permissions
            handle.write(new_text.encode("utf-8"))
    except OSError as exc:
        raise ZoneSaveError(f"cannot write the config file {config_path} or its folder "
                            f"({exc.strerror or exc}); zones not saved and not applied: give the detector's user "
                            "write access to it, or edit [cameras.zones] by hand") from None


def _mask_text(mask: Path | None, config_dir: Path | None) -> str | None:
    if mask is None:
        return None
    if config_dir is not None and mask.is_absolute() and mask.parent == config_dir:
        return mask.name
    return str(mask)


def mask_path_for(config_path: Path, camera_id: str) -> Path:
    """Where the painted mask of ``camera_id`` is kept: beside the config file."""
    return config_path.resolve().parent / f"{camera_id}-zone-mask.png"
