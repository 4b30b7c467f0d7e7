"""Secrets come from the environment or ``tokens.env``, never from config or argv.

The process environment wins over the file, so a service manager can inject a
secret without writing it to disk.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Mapping
from pathlib import Path

from dotenv import dotenv_values

from quickcam.common.config import ConfigError

log = logging.getLogger(__name__)


def load_secrets(env_file: Path, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The merged view of ``env_file`` (if present) under the process environment."""
    environ = os.environ if environ is None else environ
    merged: dict[str, str] = {}
    try:
        mode = env_file.stat().st_mode
    except (FileNotFoundError, NotADirectoryError):  # none: the secrets come from the environment only
        mode = None
    except OSError as exc:  # a folder on its path this user may not enter: Path.is_file raised it, a traceback
        raise ConfigError(f"cannot read {env_file} ({exc.strerror}); check its owner and mode and its folders' "
                          "(chmod 600 it; the user running quickcam must be able to enter each folder)") from None
    if mode is not None and stat.S_ISDIR(mode):
        log.warning("%s is a directory, not the file of KEY=value lines; its secrets are not read (Docker makes a "
                    "directory where a file it should mount is missing): remove it and put tokens.env there",
                    env_file)
    elif mode is not None and stat.S_ISREG(mode):  # not a FIFO: reading one could wait for ever
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            log.warning("%s is readable by other users; fix with: chmod 600 %s", env_file, env_file)
        try:
            values = dotenv_values(env_file, interpolate=False)  # taken as written: a secret may hold ${...}
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            raise ConfigError(f"cannot read {env_file} ({reason}); check its owner and mode (chmod 600, "
                              "owned by the user running quickcam)") from None
        merged.update({k: v for k, v in values.items() if v is not None})
    merged.update(environ)
    return merged
