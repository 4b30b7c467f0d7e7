"""A store with three events (one with a face, one with a tampered segment) and an app over it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from quickcam.common.cryptofile import Keyring, SymmetricKey
from quickcam.uploader.backends.local import LocalBackend
from quickcam.uploader.viewer.security import Gate, hash_password
from quickcam.uploader.viewer.state import Viewer
from quickcam.uploader.viewer.store import StoreIndex
from quickcam.uploader.viewer.web import build_app
from tests.uploader.viewer.footage_store import FACE_JPEG, StoredEventFixture, add_event, make_clip, make_jpeg

T0 = 1_764_849_600_000  # 2025-12-04 12:00:00 UTC
PASSWORD = "correct horse battery"


@pytest.fixture(scope="session")
def clips() -> list[bytes]:
    return [make_clip(shade=0), make_clip(shade=40), make_clip(shade=80)]


@pytest.fixture(scope="session")
def password_hash() -> str:
    return hash_password(PASSWORD)


@pytest.fixture
def store_key() -> SymmetricKey:
    return SymmetricKey.generate()


@pytest.fixture
def store(tmp_path: Path, store_key: SymmetricKey, clips: list[bytes]) -> dict[str, StoredEventFixture]:
    """``face``: 2 segments, a face snapshot; ``tampered``: 3 segments, the middle one altered;
    ``plain``: 1 segment, an earlier event of another camera."""
    root = tmp_path / "storage"
    face_jpeg = FACE_JPEG.read_bytes() if FACE_JPEG.is_file() else make_jpeg()
    events = {
        "face": add_event(root, store_key, T0 + 60_000, clips[:2], [face_jpeg, make_jpeg(120)]),
        "tampered": add_event(root, store_key, T0 + 30_000, clips, [make_jpeg(60)]),
        "plain": add_event(root, store_key, T0, clips[:1], [make_jpeg(30)], camera="porch"),
    }
    path = events["tampered"].files["segment-1"]
    data = bytearray(path.read_bytes())
    data[-100] ^= 0x01  # a flipped bit in the payload: its tag fails
    path.write_bytes(bytes(data))
    return events


@pytest.fixture
def viewer(tmp_path: Path, store: dict[str, StoredEventFixture], store_key: SymmetricKey,
           password_hash: str) -> Viewer:
    backend = LocalBackend(tmp_path / "storage")
    return Viewer(StoreIndex(backend, "webcam_captures"), backend, Keyring([store_key]),
                  Gate(password_hash=password_hash), "local")


@pytest.fixture
def anonymous(viewer: Viewer) -> Iterator[TestClient]:
    with TestClient(build_app(viewer, ["127.0.0.1", "localhost", "testserver"]), follow_redirects=False) as client:
        yield client


@pytest.fixture
def client(anonymous: TestClient, viewer: Viewer) -> TestClient:
    """Logged in through the printed token URL."""
    response = anonymous.get(f"/?token={viewer.gate.token}")
    assert response.status_code == 303
    return anonymous
