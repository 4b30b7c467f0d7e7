"""An event that runs over UTC midnight is filed under two dates (each item under its own
time's date, docs/protocol.md section 7): the viewer shows it once, whole, under the day it began."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from quickcam.common.cryptofile import Keyring, SymmetricKey
from quickcam.uploader.backends.local import LocalBackend
from quickcam.uploader.viewer.security import Gate
from quickcam.uploader.viewer.state import Viewer
from quickcam.uploader.viewer.store import StoreIndex
from tests.uploader.viewer.footage_store import FOLDER, day_of, make_jpeg, new_id, put_file

MIDNIGHT_MS = int(datetime(2026, 12, 7, tzinfo=UTC).timestamp() * 1000)


def _store_as_the_uploader_does(root: Path, key: SymmetricKey, camera: str, start_ms: int,
                                clips: list[bytes]) -> str:
    """One event: a snapshot at its start and a segment a second, each item under its own date."""
    event_id = new_id(start_ms)
    put_file(root, camera, day_of(start_ms), event_id, "snapshot", 0, new_id(start_ms), make_jpeg(), key,
             start_ms, "image/jpeg")
    for seq, clip in enumerate(clips):
        at = start_ms + seq * 1000
        put_file(root, camera, day_of(at), event_id, "segment", seq, new_id(at), clip, key, at, "video/mp4")
    return event_id


def test_an_event_over_midnight_is_one_event_under_the_day_it_began(tmp_path: Path, store_key: SymmetricKey,
                                                                    clips: list[bytes]) -> None:
    root = tmp_path / "storage"
    over = _store_as_the_uploader_does(root, store_key, "cam0", MIDNIGHT_MS - 1500, clips[:3])
    after = _store_as_the_uploader_does(root, store_key, "cam0", MIDNIGHT_MS + 60_000, clips[:1])
    before, day = day_of(MIDNIGHT_MS - 1500), day_of(MIDNIGHT_MS)
    assert sorted(p.name for p in (root / FOLDER / "cam0").iterdir()) == [before, day]  # filed under two dates
    backend = LocalBackend(root)
    index = StoreIndex(backend, FOLDER)

    first_day = index.events("cam0", before)
    assert [e.event_id for e in first_day] == [over]
    assert [s.seq for s in first_day[0].segments] == [0, 1, 2]
    assert [e.event_id for e in index.events("cam0", day)] == [after]  # not its tail a second time
    assert index.event("cam0", day, over) is None

    viewer = Viewer(index, backend, Keyring([store_key]), Gate(), "local")
    video = viewer.event_footage(first_day[0]).video
    assert video.joined == [0, 1, 2] and not video.left_out  # one video, over midnight


def test_a_day_folder_that_is_no_date_is_listed_without_neighbours(tmp_path: Path, store_key: SymmetricKey,
                                                                   clips: list[bytes]) -> None:
    root = tmp_path / "storage"
    event_id = _store_as_the_uploader_does(root, store_key, "cam0", MIDNIGHT_MS + 5000, clips[:1])
    (root / FOLDER / "cam0" / day_of(MIDNIGHT_MS)).rename(root / FOLDER / "cam0" / "2026-99-99")
    index = StoreIndex(LocalBackend(root), FOLDER)
    assert [e.event_id for e in index.events("cam0", "2026-99-99")] == [event_id]
