"""A config that does not validate, said to the person who has to fix it: one line per mistake.

Each line names the key where it was written (the config file, or the
environment variable that set it), what is wrong, and the fix; an unknown key
gets the nearest known one ("did you mean ...?").
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, get_args, get_origin

from pydantic import BaseModel, ValidationError

from quickcam.common.config_models import PER_CAMERA, Config


class ConfigError(Exception):
    """A configuration problem, phrased for the person who has to fix it."""


def describe(exc: ValidationError, path: Path | None, env_names: Mapping[str, str]) -> str:
    """One line per mistake, each named where the person wrote it, with the fix."""
    errors = exc.errors()
    written = [err for err in errors if not _is_camera_copy(err, errors)]
    return "\n".join(_describe_one(err, path, env_names) for err in written)


# Errors whose words name what was wrong in the input: the whole input (a list of tables) would only hide them.
SAYS_ITS_INPUT = ("unique_names", "source_not_set")


def _is_camera_copy(err: Any, errors: list[Any]) -> bool:
    """A top-level [motion]/[recording]/[faces] mistake is copied into every camera: report it once."""
    loc = tuple(err["loc"])
    if loc[:1] == ("camera",):
        rest = loc[1:]
    elif loc[:1] == ("cameras",) and len(loc) > 2 and isinstance(loc[1], int):
        rest = loc[2:]
    else:
        return False
    return bool(rest) and rest[0] in PER_CAMERA and any(
        tuple(other["loc"]) == rest and other["type"] == err["type"] for other in errors)


def _describe_one(err: Any, path: Path | None, env_names: Mapping[str, str]) -> str:
    loc = tuple(str(p) for p in err["loc"])
    key = ".".join(loc)
    if err["type"] == "extra_forbidden":
        problem = "unknown key"
        close = difflib.get_close_matches(loc[-1], _known_keys(err["loc"][:-1]), n=1)
        problem += f" (did you mean {close[0]}?)" if close else " (check the spelling against quickcam.example.toml)"
    else:
        problem = err["msg"][0].lower() + err["msg"][1:]
        if "input" in err and not isinstance(err["input"], dict) and err["type"] not in SAYS_ITS_INPUT:
            got = err["input"]  # a TOML true/false as written, not Python's True/False
            problem += f", got {str(got).lower() if isinstance(got, bool) else repr(got)}"
    # An unknown section set from the environment (QUICKCAM_CAMRA__INDEX) fails at its
    # first part: name the variable as it was written.
    env_key = next((k for k in sorted(env_names) if k == key or k.startswith(key + ".")), None)
    if env_key is not None:
        where = "environment variable " + env_names[env_key]
    else:
        where = f"{path}" if path else "the defaults"
    return f"config error: {key + ': ' if key else ''}{problem}; fix it in {where}"


def _known_keys(loc: tuple[Any, ...]) -> list[str]:
    """The keys the model at ``loc`` accepts (for did-you-mean); [] where any key goes."""
    model: Any = Config
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part) if isinstance(model, type) and issubclass(model, BaseModel) else None
        if field is None:
            return []
        model = field.annotation
        args = get_args(model)
        if args and get_origin(model) is list:
            model = args[0]
    return list(model.model_fields) if isinstance(model, type) and issubclass(model, BaseModel) else []
