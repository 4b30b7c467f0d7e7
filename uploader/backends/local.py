"""The ``local`` back end: a folder standing in for a cloud (a NAS mount works too)."""

from __future__ import annotations

import shutil
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from quickcam.common.durable import atomic_write
from quickcam.uploader.backends import PermanentError, RetryableError


class LocalBackend:
    """Copies files into ``root`` durably: temp file, fsync, rename, fsync dir."""

    name = "local"

    def __init__(self, path: str | Path = "storage", bandwidth_kbit: float = 0) -> None:
        self.root = Path(path).expanduser().resolve()
        # Simulates a slow uplink (benchmarks, trying settings at home); 0 = unthrottled.
        self.bandwidth_kbit = float(bandwidth_kbit)  # options from the environment arrive as text

    @classmethod
    def from_config(cls, options: dict[str, Any], secrets: Mapping[str, str]) -> LocalBackend:
        return cls(**options)

    def upload(self, local_path: Path, remote_key: str) -> str:
        target = (self.root / remote_key).resolve()
        if self.root not in target.parents:
            raise PermanentError(f"remote key {remote_key!r} escapes the storage folder")
        if self.bandwidth_kbit > 0:
            time.sleep(local_path.stat().st_size * 8 / (self.bandwidth_kbit * 1000))
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(local_path, "rb") as src, atomic_write(target, f".{target.name}.part") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
        except OSError as exc:
            # A full or unmounted disk is worth retrying: it may come back.
            raise RetryableError(f"local storage {self.root}: {exc.strerror or exc}") from exc
        return str(target)
