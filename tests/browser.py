"""A real browser for the web pages' tests: Debian's headless chromium driven by Selenium through Debian's
chromium-driver (scripts/install_test_tools.sh installs both); a test module without them skips."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")

needs_browser = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="chromium or chromium-driver is not installed (scripts/install_test_tools.sh installs both from Debian)",
)


@contextmanager
def chromium(profile: Path, *flags: str) -> Iterator[Any]:
    """A headless chromium with its own ``profile`` folder (a test may look inside); ``flags`` add to the usual."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", f"--user-data-dir={profile}", *flags):
        options.add_argument(flag)
    os.environ.setdefault("SE_AVOID_STATS", "true")
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def until(check: Callable[[], Any], timeout_s: float = 30.0, what: str = "") -> Any:
    """Poll ``check`` until it gives something true (returned), or fail naming ``what``: pages are slow under load."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")
