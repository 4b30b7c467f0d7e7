"""Shared fixtures for the back-end tests: sample encrypted files and their keys."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture
def make_segment(tmp_path: Path) -> Callable[..., Path]:
    """Write a stand-in for an encrypted segment: random bytes (as ciphertext looks)."""
    counter = iter(range(1_000_000))

    def make(size: int = 10_000, data: bytes | None = None) -> Path:
        path = tmp_path / f"segment-{next(counter)}.qsc"
        path.write_bytes(os.urandom(size) if data is None else data)
        return path

    return make


@pytest.fixture
def remote_key(request: pytest.FixtureRequest) -> Callable[[str], str]:
    """A key shaped like the uploader's, unique per test: webcam_captures/cam0/<day>/<id>.qsc."""

    def key(suffix: str = "") -> str:
        name = request.node.name.replace("[", "-").replace("]", "").replace("/", "-")
        return f"webcam_captures/cam0/2026-11-25/{name}{suffix}.qsc"

    return key
