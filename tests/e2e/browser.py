"""Headless Chromium from Debian's packages, driven by Selenium through Debian's chromedriver.

`make test` installs both (`make setup-browser`); Playwright's own browser download is not used.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

CHROMIUM: Final = Path("/usr/bin/chromium")
CHROMEDRIVER: Final = Path("/usr/bin/chromedriver")
# No sandbox: CI runs as root, where Chromium's sandbox cannot start. The rest keeps the browser from
# reaching the network on its own (updates, sync, first-run pages).
CHROMIUM_FLAGS: Final = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=900,640",
)


class BrowserMissingError(RuntimeError):
    """Chromium or chromedriver is not installed."""


@contextmanager
def chromium(profile_dir: Path) -> Iterator[webdriver.Chrome]:
    """Start headless Chromium with a fresh profile in ``profile_dir``; quit it on leaving."""
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.is_file()]
    if missing:
        raise BrowserMissingError(f"{', '.join(missing)} missing: run `make setup-browser`")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile_dir}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))
    try:
        yield driver
    finally:
        driver.quit()
