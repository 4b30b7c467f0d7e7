"""Configuration: one TOML file, every key overridable from the environment.

Loaded and validated once at start-up, then passed down explicitly; nothing
reads the environment at import time. A bad value becomes a ``ConfigError``
whose message names the key and the fix, which the CLI prints as one line.

Environment overrides use ``QUICKCAM_<SECTION>__<KEY>`` (double underscore
between levels), e.g. ``QUICKCAM_CAMERA__WIDTH=320`` or
``QUICKCAM_STORAGE__LOCAL__PATH=/mnt/nas``. Secrets never live here: they come
from the environment or ``tokens.env`` (see ``quickcam.common.secrets``).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

ENV_PREFIX = "QUICKCAM_"


class ConfigError(Exception):
    """A configuration problem, phrased for the person who has to fix it."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Point = tuple[float, float]


class ZonesConfig(_Section):
    """Where motion counts, per camera. Coordinates are fractions of the frame (0..1).

    With no include polygon the whole frame is watched; exclude polygons are
    then cut out. ``mask`` names an image (white = watched, black = ignored)
    used instead of, or together with, the polygons.
    """

    include: list[list[Point]] = Field(default_factory=list)
    exclude: list[list[Point]] = Field(default_factory=list)
    mask: Path | None = None

    @field_validator("include", "exclude")
    @classmethod
    def _polygons(cls, value: list[list[Point]]) -> list[list[Point]]:
        for polygon in value:
            if len(polygon) < 3:
                raise ValueError("a polygon needs at least 3 points")
            if any(not (0.0 <= c <= 1.0) for point in polygon for c in point):
                raise ValueError("polygon points are fractions of the frame, each between 0 and 1")
        return value


class MotionConfig(_Section):
    algorithm: Literal["running_average", "mog2", "knn"] = "running_average"
    detection_width: int = Field(160, ge=32, le=1920)
    min_area_fraction: float = Field(1 / 64, gt=0, lt=1)
    pixel_threshold: int = Field(25, ge=1, le=255)
    learning_rate: float = Field(0.05, gt=0, le=1)
    trigger_frames: int = Field(2, ge=1, le=100)
    mog2_var_threshold: float = Field(64.0, gt=0)
    knn_dist2_threshold: float = Field(400.0, gt=0)
    global_change_fraction: float = Field(0.6, gt=0, le=1)
    lighting_min_blob_fraction: float = Field(0.08, gt=0, le=1)
    relearn_s: float = Field(1.0, ge=0, le=30)
    dark_threshold: float = Field(10.0, ge=0, le=255)
    dark_interval_s: float = Field(5.0, gt=0)
    dark_pixel_threshold: int | None = Field(None, ge=1, le=255)


class RecordingConfig(_Section):
    outbox_dir: Path = Path("outbox")
    pre_roll_s: float = Field(2.0, ge=0, le=30)
    post_roll_s: float = Field(3.0, ge=0, le=120)
    min_event_s: float = Field(0.0, ge=0, le=600)
    segment_s: float = Field(2.0, gt=0.2, le=60)
    max_event_s: float = Field(600.0, gt=1)
    buffer_max_s: float = Field(20.0, ge=1, le=3600)
    encoder: Literal["h264", "mp4v"] = "h264"
    snapshot_quality: int = Field(85, ge=10, le=100)
    keep_local_copy: bool = False
    outbox_budget_mb: float = Field(2048.0, ge=0)  # footage waiting beyond this: new segments reduced, 0 = no budget
    over_budget_fps: float = Field(1.0, gt=0, le=120)


class FacesConfig(_Section):
    enabled: bool = True
    detector: Literal["auto", "haar", "yunet"] = "auto"
    cascade: Path | None = None
    yunet_model: Path | None = None
    budget_ms_per_s: float = Field(30.0, gt=0, le=1000)
    min_size_px: int = Field(24, ge=8)


class CameraConfig(_Section):
    """One camera. Its ``motion``, ``recording`` and ``faces`` start as copies of
    the top-level sections, with this camera's own keys on top."""

    id: str = Field("cam0", pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    source: Literal["demo", "camera", "file", "stream"] = "demo"
    index: int = Field(0, ge=0)
    path: str = Field("", validate_default=True)  # the video file or stream URL (source = "file" / "stream")
    width: int = Field(640, gt=0, le=7680)
    height: int = Field(480, gt=0, le=4320)
    fps: float = Field(15.0, gt=0, le=120)
    loop: bool = False
    realtime: bool = True
    # A file's first frame on the wall clock (ISO 8601, e.g. 2026-11-25T21:14:03+01:00); unset: the
    # file's creation time (its container's creation_time, else its mtime minus its length).
    start: datetime | None = None
    mjpg: bool = True
    reopen_max_s: float = Field(30.0, gt=0, le=3600)
    # How events are recorded: "passthrough" remuxes the camera's own H.264/H.265 packets (file and stream
    # sources; no decode, no encode), "reencode" encodes decoded frames again, "auto" passes through
    # whatever can be and re-encodes the rest (the demo, USB cameras, other codecs), saying why in the log.
    record: Literal["auto", "passthrough", "reencode"] = "auto"
    # A stream for detection only (a camera's low-resolution substream) while ``path`` is recorded.
    detect_path: str = ""
    # Keyframes further apart than this: the stream is re-encoded (pre-roll and segments wait for keyframes).
    max_gop_s: float = Field(10.0, gt=0, le=60)
    zones: ZonesConfig = ZonesConfig()
    motion: MotionConfig = MotionConfig()
    recording: RecordingConfig = RecordingConfig()
    faces: FacesConfig = FacesConfig()

    @field_validator("path")
    @classmethod
    def _path_for_file_and_stream(cls, value: str, info: ValidationInfo) -> str:
        source = info.data.get("source")
        if source in ("file", "stream") and not value.strip():
            what = "video file" if source == "file" else "stream URL (rtsp://...)"
            raise ValueError(f'is empty, but source = "{source}" needs one: set path to the {what}')
        return value

    @field_validator("detect_path")
    @classmethod
    def _detect_path_for_file_and_stream(cls, value: str, info: ValidationInfo) -> str:
        source = info.data.get("source")
        if value.strip() and source not in ("file", "stream"):
            raise ValueError(f'is set, but source = "{source}" has no substream: remove detect_path, or use '
                             'source = "stream" (or "file") with path = the main stream')
        return value


class LinkConfig(_Section):
    endpoint: str = "tcp://127.0.0.1:5557"
    ack_timeout_s: float = Field(10.0, gt=0)
    heartbeat_s: float = Field(2.0, gt=0)
    allow_plain_tcp: bool = False
    # CurveZMQ (docs/protocol.md, "Security"): set curve_secret_key_file to turn it on.
    curve_secret_key_file: Path | None = None  # this process's NAME.key_secret
    curve_server_public_key_file: Path | None = None  # detector: the uploader's NAME.key
    curve_allow_dir: Path | None = None  # uploader: allowed detectors' keys + allow.toml

    @field_validator("endpoint")
    @classmethod
    def _zmq_endpoint(cls, value: str) -> str:
        if not value.startswith(("tcp://", "ipc://", "inproc://")):
            raise ValueError("must start with tcp://, ipc:// or inproc://")
        return value


class UploaderConfig(_Section):
    spool_dir: Path = Path("spool")
    state_dir: Path = Path("state")
    remote_folder: str = Field("webcam_captures", min_length=1)
    destinations: list[str] = Field(default_factory=lambda: ["local"], min_length=1)
    max_payload_mb: float = Field(64.0, gt=0)
    credit_messages: int = Field(16, ge=1)
    credit_mb: float = Field(64.0, gt=0)
    spool_max_mb: float = Field(2048.0, gt=0)
    retry_base_s: float = Field(1.0, gt=0)
    retry_max_s: float = Field(60.0, gt=0)
    log_upload_interval_s: float = Field(3600.0, gt=0)

    @field_validator("destinations", mode="before")
    @classmethod
    def _comma_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value


class LoggingConfig(_Section):
    file: Path = Path("run.log")
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


class Config(_Section):
    env_file: Path = Path("tokens.env")
    camera: CameraConfig = CameraConfig()
    # Several cameras: [[cameras]] entries. Without any, the single [camera] is used.
    cameras: list[CameraConfig] = Field(default_factory=list)
    motion: MotionConfig = MotionConfig()
    recording: RecordingConfig = RecordingConfig()
    faces: FacesConfig = FacesConfig()
    link: LinkConfig = LinkConfig()
    uploader: UploaderConfig = UploaderConfig()
    logging: LoggingConfig = LoggingConfig()
    # Options per storage back end, e.g. [storage.local] path = "storage".
    storage: dict[str, dict[str, Any]] = Field(
        default_factory=lambda: {"local": {"path": "storage"}}
    )

    @model_validator(mode="before")
    @classmethod
    def _cameras_inherit_shared_sections(cls, data: Any) -> Any:
        """Give each camera the top-level [motion]/[recording]/[faces], its own keys on top."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        shared = {name: data.get(name) or {} for name in _PER_CAMERA}
        if not all(isinstance(section, dict) for section in shared.values()):
            return data  # let field validation report the bad section

        def resolve(entry: Any) -> Any:
            if not isinstance(entry, dict):
                return entry
            entry = dict(entry)
            for name, section in shared.items():
                own = entry.get(name) or {}
                if isinstance(own, dict):
                    entry[name] = {**section, **own}
            return entry

        data["camera"] = resolve(data.get("camera") or {})
        if isinstance(data.get("cameras"), list):
            data["cameras"] = [resolve(entry) for entry in data["cameras"]]
        return data

    @model_validator(mode="after")
    def _unique_camera_ids(self) -> Config:
        ids = [cam.id for cam in self.cameras]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"camera ids must be unique; repeated: {', '.join(duplicates)}")
        return self

    def camera_list(self) -> list[CameraConfig]:
        """The cameras to run: the [[cameras]] entries, or the single [camera]."""
        return list(self.cameras) or [self.camera]


_PER_CAMERA = ("motion", "recording", "faces")


def load_config(path: Path | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Read ``path`` (optional), apply ``QUICKCAM_*`` overrides, validate."""
    environ = os.environ if environ is None else environ
    data: dict[str, Any] = {}
    if path is not None:
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"config file {path} not found; copy quickcam.example.toml") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"config file {path} cannot be read: {exc}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    overridden = _apply_env_overrides(data, environ)
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, path, overridden)) from None


def _apply_env_overrides(data: dict[str, Any], environ: Mapping[str, str]) -> set[str]:
    """Merge QUICKCAM_A__B__C=value into data[a][b][c]; return the dotted keys set."""
    overridden: set[str] = set()
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        parts = [p.lower() for p in name[len(ENV_PREFIX) :].split("__") if p]
        if not parts:
            continue
        node = data
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {}
                node[part] = child
            node = child
        # Storage options are free-form (no model to convert text), so their
        # values are read as TOML literals: 2000 -> int, true -> bool, "x" -> str.
        node[parts[-1]] = _toml_literal(value) if parts[0] == "storage" else value
        overridden.add(".".join(parts))
    return overridden


def _toml_literal(text: str) -> Any:
    """``text`` as a TOML value if it is one (number, bool, array, quoted string), else as is."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _describe(exc: ValidationError, path: Path | None, overridden: set[str]) -> str:
    # A top-level [motion] mistake is copied into every camera; name the key the person wrote.
    err = min(exc.errors(), key=lambda e: len(e["loc"]))
    key = ".".join(str(p) for p in err["loc"])
    env_name = ENV_PREFIX + "__".join(str(p).upper() for p in err["loc"])
    if err["type"] == "extra_forbidden":
        problem = "unknown key (check the spelling against quickcam.example.toml)"
    else:
        problem = err["msg"][0].lower() + err["msg"][1:]
        if "input" in err and not isinstance(err["input"], dict):
            problem += f", got {err['input']!r}"
    where = f"environment variable {env_name}" if key in overridden else (
        f"{path}" if path else "the defaults"
    )
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"config error: {key}: {problem}; fix it in {where}{more}"
