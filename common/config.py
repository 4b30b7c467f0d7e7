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
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

ENV_PREFIX = "QUICKCAM_"


class ConfigError(Exception):
    """A configuration problem, phrased for the person who has to fix it."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CameraConfig(_Section):
    id: str = Field("cam0", pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    source: Literal["demo", "camera", "file", "stream"] = "demo"
    index: int = Field(0, ge=0)
    path: str = ""
    width: int = Field(640, gt=0, le=7680)
    height: int = Field(480, gt=0, le=4320)
    fps: float = Field(15.0, gt=0, le=120)
    loop: bool = False
    realtime: bool = True


class MotionConfig(_Section):
    detection_width: int = Field(160, ge=32, le=1920)
    min_area_fraction: float = Field(1 / 64, gt=0, lt=1)
    pixel_threshold: int = Field(25, ge=1, le=255)
    learning_rate: float = Field(0.05, gt=0, le=1)
    global_change_fraction: float = Field(0.6, gt=0, le=1)
    dark_threshold: float = Field(10.0, ge=0, le=255)
    dark_interval_s: float = Field(5.0, gt=0)


class RecordingConfig(_Section):
    outbox_dir: Path = Path("outbox")
    pre_roll_s: float = Field(2.0, ge=0, le=30)
    post_roll_s: float = Field(3.0, ge=0, le=120)
    segment_s: float = Field(2.0, gt=0.2, le=60)
    max_event_s: float = Field(600.0, gt=1)
    encoder: Literal["h264", "mp4v"] = "h264"
    snapshot_quality: int = Field(85, ge=10, le=100)
    keep_local_copy: bool = False


class LinkConfig(_Section):
    endpoint: str = "tcp://127.0.0.1:5557"
    ack_timeout_s: float = Field(10.0, gt=0)
    heartbeat_s: float = Field(2.0, gt=0)
    allow_plain_tcp: bool = False

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
    motion: MotionConfig = MotionConfig()
    recording: RecordingConfig = RecordingConfig()
    link: LinkConfig = LinkConfig()
    uploader: UploaderConfig = UploaderConfig()
    logging: LoggingConfig = LoggingConfig()
    # Options per storage back end, e.g. [storage.local] path = "storage".
    storage: dict[str, dict[str, Any]] = Field(
        default_factory=lambda: {"local": {"path": "storage"}}
    )


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
        node[parts[-1]] = value
        overridden.add(".".join(parts))
    return overridden


def _describe(exc: ValidationError, path: Path | None, overridden: set[str]) -> str:
    err = exc.errors()[0]
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
