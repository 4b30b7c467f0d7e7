"""A real browser on ``quickcam view``: Debian's headless chromium, driven by Selenium through
Debian's chromium-driver (scripts/install_test_tools.sh installs both).

It opens the printed token URL, sees the timeline, clicks an event, plays its video
until ``currentTime`` advances, seeks (range requests), and keeps screenshots in
``test-artifacts/viewer/`` (``QUICKCAM_UPDATE_SCREENSHOTS=1`` also writes the README's
``docs/img/viewer-*.png``). Finally no decrypted byte may be in the browser's profile
or cache: every response said ``no-store``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from quickcam.common.cryptofile import SymmetricKey
from tests.browser import chromium, needs_browser, until
from tests.conftest import REPO
from tests.uploader.viewer.footage_store import FACE_JPEG, add_event, real_clips, size_change_event
from tests.uploader.viewer.served import Served, start_view, write_setup

ARTEFACTS = REPO / "test-artifacts" / "viewer"
README_IMAGES = REPO / "docs" / "img"
T0 = 1_764_849_600_000 + 9 * 3_600_000  # 2025-12-04 21:00 UTC

pytestmark = needs_browser


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Served, dict[str, bytes]]]:
    key = SymmetricKey.generate()
    storage = tmp_path / "storage"
    clips, jpegs = real_clips(3)
    face = FACE_JPEG.read_bytes() if FACE_JPEG.is_file() else jpegs[0]
    plaintexts: dict[str, bytes] = {}
    for n, (camera, at) in enumerate([("garden", T0), ("porch", T0 + 95_000), ("garden", T0 + 240_000)]):
        event = add_event(storage, key, at, clips[n:] if n < 2 else clips[:2], [jpegs[n % len(jpegs)]],
                          camera=camera, segment_s=2.0)
        plaintexts.update({f"{n}-{k}": v for k, v in event.plaintexts.items()})
    newest = add_event(storage, key, T0 + 400_000, clips, [face, jpegs[0]], camera="porch", segment_s=2.0)
    plaintexts.update({f"newest-{k}": v for k, v in newest.plaintexts.items()})
    served = start_view(write_setup(tmp_path, storage, key), tmp_path / "home")
    yield served, plaintexts
    served.stop()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    with chromium(tmp_path / "profile", "--mute-audio", "--window-size=1200,900",
                  "--autoplay-policy=no-user-gesture-required") as driver:
        yield driver

def _screenshot(driver: Any, name: str) -> None:
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    png = driver.get_screenshot_as_png()
    (ARTEFACTS / f"{name}.png").write_bytes(png)
    if os.environ.get("QUICKCAM_UPDATE_SCREENSHOTS") == "1":
        image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
        small = cv2.resize(image, None, fx=0.6, fy=0.6, interpolation=cv2.INTER_AREA)
        small = (small >> 4 << 4) + 8  # 4 bits a channel: a third of the bytes, still readable
        README_IMAGES.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(README_IMAGES / f"viewer-{name}.png"), small, [cv2.IMWRITE_PNG_COMPRESSION, 9])


def test_timeline_click_event_and_the_video_plays(served: tuple[Served, dict[str, bytes]], browser: Any,
                                                  tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    server, plaintexts = served
    browser.get(server.url)
    until(lambda: browser.find_elements(By.CSS_SELECTOR, ".timeline .block"), what="the timeline")
    blocks = browser.find_elements(By.CSS_SELECTOR, ".timeline .block")
    assert len(blocks) == 4
    until(lambda: browser.execute_script(
        "return [...document.images].every(i => i.complete && i.naturalWidth > 0)"), what="thumbnails")
    assert "1 face(s)" in blocks[0].text  # newest first: the event with a face
    _screenshot(browser, "timeline")

    blocks[0].find_element(By.CSS_SELECTOR, "a").click()
    video = until(lambda: browser.find_elements(By.ID, "event-video"), what="the event page")[0]
    until(lambda: browser.execute_script(
        "return [...document.images].every(i => i.complete && i.naturalWidth > 0)"), what="snapshots")
    browser.execute_script("arguments[0].muted = true; arguments[0].play();", video)
    until(lambda: browser.execute_script("return arguments[0].currentTime", video) > 0.5,
          what="the video to play")
    assert browser.execute_script("return arguments[0].error", video) is None
    assert abs(browser.execute_script("return arguments[0].duration", video) - 6.0) < 0.5  # 3 segments of 2 s
    browser.execute_script("arguments[0].pause(); arguments[0].currentTime = 4.5;", video)  # a range request
    until(lambda: browser.execute_script("return arguments[0].readyState >= 2 && !arguments[0].seeking", video),
          what="the seek")
    assert browser.execute_script("return arguments[0].currentTime", video) == pytest.approx(4.5, abs=0.3)
    browser.set_window_size(1200, 1000)
    _screenshot(browser, "event")

    browser.quit()  # flush the profile to disk, then look for decrypted bytes in it
    samples = [data[len(data) // 2: len(data) // 2 + 64] for data in plaintexts.values()]
    for path in (tmp_path / "profile").rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            assert not any(sample in content for sample in samples), f"plaintext in the browser's {path}"


def test_an_event_whose_camera_changed_size_plays_whole_in_two_videos(tmp_path: Path, browser: Any) -> None:
    """A real event from the detector whose camera was set from 320x240 to 640x480 mid-event: the browser plays
    both parts, each at its own size, to its end. Before, the 640x480 part was left out of the page."""
    from selenium.webdriver.common.by import By

    (tmp_path / "camera").mkdir()
    segments = size_change_event(tmp_path / "camera")
    key = SymmetricKey.generate()
    event = add_event(tmp_path / "storage", key, T0, [mp4 for _, mp4 in segments], [], segment_s=1.0)
    server = start_view(write_setup(tmp_path, tmp_path / "storage", key), tmp_path / "home")
    try:
        browser.get(server.url)
        browser.get(server.base + event.url)
        videos = until(lambda: browser.find_elements(By.TAG_NAME, "video"), what="the event page")
        assert [v.get_attribute("id") for v in videos] == ["event-video", "event-video-2"]
        assert "left out" not in browser.page_source
        for video, width in zip(videos, (320, 640), strict=True):
            frames = sum(h["frames"] for h, _ in segments if h["width"] == width)
            browser.execute_script("arguments[0].muted = true; arguments[0].play();", video)
            until(lambda v=video: browser.execute_script("return arguments[0].ended", v),
                  what=f"the {width}-wide part to end")
            assert browser.execute_script("return arguments[0].error", video) is None
            assert browser.execute_script("return [arguments[0].videoWidth, arguments[0].videoHeight]",
                                          video) == [width, width * 3 // 4]
            shown = browser.execute_script("return arguments[0].getVideoPlaybackQuality().totalVideoFrames", video)
            assert abs(browser.execute_script("return arguments[0].duration", video) - frames / 10) < 0.15
            assert shown >= frames - 1, (shown, frames)  # every frame decoded (one may be dropped at the end)
    finally:
        server.stop()
