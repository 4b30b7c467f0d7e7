"""Configuration: one TOML file, every key overridable from the environment.

Loaded and validated once at start-up, then passed down explicitly; nothing
reads the environment at import time. A bad value becomes a ``ConfigError``
whose message names the key and the fix, which the CLI prints as one line.

This module reads the file and the environment and is the one place the rest
of the code imports from; the models are in ``config_models.py`` and the error
text in ``config_errors.py``.

Environment overrides use ``QUICKCAM_<SECTION>__<KEY>`` (double underscore
between levels), e.g. ``QUICKCAM_CAMERA__WIDTH=320`` or
``QUICKCAM_STORAGE__LOCAL__PATH=/mnt/nas``. Secrets never live here: they come
from the environment or ``tokens.env`` (see ``quickcam.common.secrets``).
"""

from __future__ import annotations

import errno
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from quickcam.common.config_errors import ConfigError, describe
from quickcam.common.config_models import (
    ALERT_NAMES,
    MIN_DETECT_FPS,
    AlertName,
    AlertsConfig,
    AlertTargetConfig,
    CameraConfig,
    Config,
    ConsoleConfig,
    FacesConfig,
    LinkConfig,
    LoggingConfig,
    LowPowerConfig,
    MotionConfig,
    MqttConfig,
    Point,
    RecordingConfig,
    UploaderConfig,
    ZonesConfig,
)
from quickcam.common.protocol_schema import middle_cut, valid_utf8

__all__ = [
    "ALERT_NAMES",
    "AlertName",
    "AlertsConfig",
    "AlertTargetConfig",
    "CameraConfig",
    "Config",
    "ConfigError",
    "ConsoleConfig",
    "ENV_PREFIX",
    "FacesConfig",
    "LinkConfig",
    "load_config",
    "LoggingConfig",
    "LowPowerConfig",
    "MIN_DETECT_FPS",
    "MotionConfig",
    "MqttConfig",
    "Point",
    "RecordingConfig",
    "UploaderConfig",
    "ZonesConfig",
]

ENV_PREFIX = "QUICKCAM_"


def load_config(path: Path | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Read ``path`` (optional), apply ``QUICKCAM_*`` overrides, validate."""
    environ = os.environ if environ is None else environ
    data: dict[str, Any] = {}
    if path is not None:
        try:
            # utf-8-sig: a byte-order mark (Notepad's) is dropped; TOML refused it as "Invalid statement (at line 1,
            # column 1)", which points at nothing the person can see (the native detector's toml++ takes it)
            data = tomllib.loads(Path(path).read_text(encoding="utf-8-sig"))
        except FileNotFoundError:
            raise ConfigError(f"config file {path} not found; copy quickcam.example.toml") from None
        except OSError as exc:
            raise ConfigError(unreadable_config(path, exc)) from None
        except UnicodeDecodeError as exc:
            raise ConfigError(f"config file {path} cannot be read: {exc}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    empty = path is not None and not data
    overridden = _apply_env_overrides(data, environ)
    if empty and not [key for key in overridden if key != "env_file" and not key.startswith("logging.")]:
        raise ConfigError(empty_config(path))
    if path is not None:
        _anchor_zone_masks(data, Path(path).resolve().parent)
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        env_names = {key: ENV_PREFIX + "__".join(part.upper() for part in key.split(".")) for key in overridden}
        raise ConfigError(describe(exc, path, env_names)) from None


def empty_config(path: Path) -> str:
    """A config file with no setting in it, nor any from the environment (beyond the Docker image's env_file and log
    file): a save cut short or a `>` for `>>`. Every default then applied: the detectors watched the demo scene
    (made-up events, camera `ok`) instead of the camera (bench/outside/config_garbage_live.py --case empty). The
    native detector says the same (config.cpp)."""
    return (f"config file {path} holds no setting (a save cut short, or > for >>?): the demo scene would be watched "
            "instead of the camera; put its settings back (copy quickcam.example.toml)")


def unreadable_config(path: Path, exc: OSError) -> str:
    """A config file that is there but cannot be read: the OS's words and the fix, one line.

    The native detector says the same (config.cpp unreadable_config); it took a folder for an empty file (the
    demo scene ran) and a file it may not read for a missing one.
    """
    if exc.errno == errno.EISDIR:
        fix = f"name the config file, not its folder (--config {path}/quickcam.toml)"
    elif exc.errno in (errno.EACCES, errno.EPERM):
        fix = "let the user this runs as read it (chmod, chown)"
    else:
        fix = "check the disk"
    return f"config file {path} cannot be read: {exc.strerror or exc}; {fix}"


def _anchor_zone_masks(data: dict[str, Any], config_dir: Path) -> None:
    """A relative ``zones.mask`` names a file beside the config file, wherever the process was started.

    The console writes the painted mask beside the config file and names it
    there by its bare name, so the folder can move (or be mounted elsewhere)
    and the config still finds its mask.
    """
    cameras = [data.get("camera")] + (data["cameras"] if isinstance(data.get("cameras"), list) else [])
    for camera in cameras:
        zones = camera.get("zones") if isinstance(camera, dict) else None
        mask = zones.get("mask") if isinstance(zones, dict) else None
        if isinstance(mask, str) and mask and not Path(mask).is_absolute():
            zones["mask"] = str(config_dir / mask)


def _env_parts(name: str) -> list[str]:
    return [p.lower() for p in name[len(ENV_PREFIX) :].split("__") if p]


def stray_env_variables(environ: Mapping[str, str] | None = None) -> list[str]:
    """One line for each ``QUICKCAM_X`` variable that is no config override (no ``__``, no top-level key):
    ignored, and said as a warning once logging is set up (both detectors' and the uploader's words).

    The project's own tools read such names (``QUICKCAM_SOAK``, ``QUICKCAM_NATIVE_BUILD``); one left exported
    stopped every process with ``unknown key``. A misspelled override (``QUICKCAM_CAMERA__PAHT``) still stops
    them, as a misspelled key in the file does.
    """
    environ = os.environ if environ is None else environ
    return [f"environment variable {name} ignored: not a config override (those are QUICKCAM_<SECTION>__<KEY>, "
            "e.g. QUICKCAM_CAMERA__FPS)" for name in sorted(environ) if _is_stray(name)]


def _is_stray(name: str) -> bool:
    parts = _env_parts(name) if name.startswith(ENV_PREFIX) else []
    return len(parts) == 1 and "__" not in name[len(ENV_PREFIX):] and parts[0] not in Config.model_fields


def _apply_env_overrides(data: dict[str, Any], environ: Mapping[str, str]) -> set[str]:
    """Merge QUICKCAM_A__B__C=value into data[a][b][c]; return the dotted keys set (stray names skipped)."""
    overridden: set[str] = set()
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or _is_stray(name):
            continue
        parts = _env_parts(name)
        if not parts:
            continue
        if valid_utf8(value) != value:
            raise ConfigError(not_utf8(".".join(parts), name, value))
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


def not_utf8(key: str, variable: str, value: str) -> str:
    """The one line for an environment variable whose value holds bytes that are not UTF-8.

    A path is bytes, and the environment may hold any (a folder named on an old Latin-1 system); a
    TOML file cannot. Let in, such a camera path crashed the detector in OpenCV (a segmentation fault,
    every camera blind) and made each status fail to build (the camera "starting" for ever). The
    native detector says the same bytes (config.cpp apply_env).
    """
    shown = middle_cut(valid_utf8(value), 120)
    return (f"config error: {key}: holds bytes that are not UTF-8 ({shown}); use a name in UTF-8 (rename it, or "
            f"link it with ln -s under one); fix it in environment variable {variable}")


def _toml_literal(text: str) -> Any:
    """``text`` as a TOML value if it is one (number, bool, array, quoted string), else as is."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text
