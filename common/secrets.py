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
    if env_file.is_file():
        mode = env_file.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            log.warning("%s is readable by other users; fix with: chmod 600 %s", env_file, env_file)
        try:
            values = dotenv_values(env_file)
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            raise ConfigError(f"cannot read {env_file} ({reason}); check its owner and mode (chmod 600, "
                              "owned by the user running quickcam)") from None
        merged.update({k: v for k, v in values.items() if v is not None})
    merged.update(environ)
    return merged
