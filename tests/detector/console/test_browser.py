"""A real browser on the detector's console: Debian's headless chromium through Selenium and chromium-driver
(scripts/install_test_tools.sh installs both).

A real detector process watches the demo scene with the console on. The browser logs in with a
password set by ``quickcam console-password`` (from stdin), sees the live picture change, draws an
exclude polygon over the walkers' path and saves it; the detector applies it without a restart and
the next walker produces no event, while the first one (before the zone) did.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from quickcam.detector.sources import demo_script
from tests.browser import chromium, needs_browser, until
from tests.conftest import QUICKCAM, free_port
from tests.fakes.uploader_peer import AckingPeer

PASSWORD = "browser test password"
GAP_S = 5  # [camera] demo_gap_s
WALKS, PERIOD_S = demo_script(GAP_S)

# The demo walkers' timing decides what it sees; slow too: in the slow unit, so that the real-time one is not the
# run's critical path (docs/testing.md, twelfth pass).
pytestmark = [needs_browser, pytest.mark.realtime, pytest.mark.slow]


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    with chromium(tmp_path / "profile", "--window-size=1300,1400") as driver:
        yield driver


@pytest.fixture
def detector(workdir: Path) -> Iterator[tuple[str, Path]]:
    port = free_port()
    config = workdir / "quickcam.toml"
    config.write_text(f"""\
# Browser test: the zone editor must keep this comment.
[camera]
id = "cam0"       # the demo scene
source = "demo"
demo_start_s = 3  # the walks at 1-7 s and 12-17 s of the run (scene time 0 is still what the log says)
demo_gap_s = {GAP_S}    # the walk back 3 s sooner than the default script's
[camera.zones]
exclude = []      # drawn in the console

[console]
listen = "127.0.0.1:{port}"
""")
    subprocess.run([QUICKCAM, "console-password", "--config", str(config), "--user", "alice"],
                   input=PASSWORD + "\n", text=True, check=True, cwd=workdir, capture_output=True)
    log = workdir / "detector.err"
    # An uploader that acks everything: at stop the detector has nothing left to wait for (with none there it
    # waits 5 s for one to come). What the test reads is the detector's log.
    uploader = AckingPeer(os.environ["QUICKCAM_LINK__ENDPOINT"])
    try:
        with open(log, "w") as err:
            process = subprocess.Popen([QUICKCAM, "detector", "--config", str(config)], cwd=workdir, stderr=err,
                                       stdout=subprocess.DEVNULL)
        try:
            yield f"http://127.0.0.1:{port}", log
        finally:
            process.terminate()
            process.wait(30)
    finally:
        uploader.close()


def _text(browser: Any, selector: str) -> str:
    """The text of the element ``selector`` names, read in one script (no stale element while a page loads)."""
    return browser.execute_script("const e = document.querySelector(arguments[0]); return e ? e.textContent : ''",
                                  selector) or ""


def _scene_start_s(log: Path) -> float:
    found = re.search(r"demo scene clock starts at (\d+) ms", log.read_text())
    return int(found.group(1)) / 1000 if found else 0.0


def test_log_in_watch_draw_an_exclude_zone_save_and_the_walker_inside_it_raises_no_event(
        browser: Any, detector: tuple[str, Path]) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    base, log = detector
    until(lambda: "console: serving" in log.read_text(), 30, "the console to listen")
    browser.get(base + "/")
    until(lambda: browser.find_elements(By.ID, "password"), 30, "the login form")
    browser.find_element(By.ID, "user").send_keys("alice")
    browser.find_element(By.ID, "password").send_keys("not the password")
    browser.find_element(By.ID, "login").click()
    assert "Wrong user name or password" in until(lambda: _text(browser, "#message"), 30, "the refusal")
    browser.find_element(By.ID, "user").send_keys("alice")
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    browser.find_element(By.ID, "login").click()

    card = until(lambda: browser.find_elements(By.CSS_SELECTOR, 'article[data-camera="cam0"]'), 30, "cam0")[0]
    until(lambda: _text(browser, 'article[data-camera="cam0"] .state') in ("watching", "recording"), 30,
          "its state")
    card.find_element(By.CLASS_NAME, "live").click()
    live = browser.find_element(By.ID, "live-cam0")
    until(lambda: browser.execute_script("return arguments[0].naturalWidth", live) == 640, 30, "live picture")
    first = live.screenshot_as_png
    until(lambda: live.screenshot_as_png != first, 30, "the live picture to change")

    scene = _scene_start_s(log)
    until(lambda: "motion, event" in log.read_text(), WALKS[0].start_s + 45, "the first walker's event")

    card.find_element(By.CLASS_NAME, "edit-zones").click()
    picture = browser.find_element(By.ID, "editor-picture")
    until(lambda: browser.execute_script("return arguments[0].naturalWidth", picture) == 640, 30, "the editor")
    canvas = browser.find_element(By.ID, "zone-canvas")
    browser.execute_script("arguments[0].scrollIntoView()", canvas)
    width, height = canvas.size["width"], canvas.size["height"]
    actions = ActionChains(browser)
    for fx, fy in ((0.0, 0.42), (1.0, 0.42), (1.0, 1.0), (0.0, 1.0)):  # the lower part: where the walkers walk
        x = min(width / 2 - 1, max(-width / 2 + 1, (fx - 0.5) * width))
        y = min(height / 2 - 1, max(-height / 2 + 1, (fy - 0.5) * height))
        actions.move_to_element_with_offset(canvas, round(x), round(y)).click()
    actions.perform()
    browser.find_element(By.ID, "finish").click()
    browser.find_element(By.ID, "save").click()
    message = until(lambda: "saved" in _text(browser, "#zone-message") and _text(browser, "#zone-message"), 30,
                    "the save")
    assert "applied" in message
    until(lambda: "new zones applied" in log.read_text(), 30, "the detector to apply the zones")

    config = (log.parent / "quickcam.toml").read_text()
    assert "# Browser test: the zone editor must keep this comment." in config and "# drawn in the console" in config
    assert re.search(r"exclude = \[\[\[0\.0\d*, 0\.4\d*\], ", config), config

    # The next walker crosses the excluded part; wait until it has left the picture and the post-roll passed.
    now = time.time() - scene
    walks_left = [w for w in WALKS if w.start_s > now % PERIOD_S]
    walk = walks_left[0] if walks_left else WALKS[0]
    end = now - now % PERIOD_S + walk.end_s + (0 if walks_left else PERIOD_S)
    time.sleep(max(0.0, end + 1.5 - (time.time() - scene)))
    text = log.read_text()
    after = text[text.index("new zones applied"):]
    assert "motion, event" not in after, "a walker inside the excluded zone raised an event"
