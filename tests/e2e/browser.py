"""Headless Chromium from Debian's packages, driven by Selenium through Debian's chromedriver.

`make test` installs both (`make setup-browser`); Playwright's own browser download is not used.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

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


# --- Driving the chat page (lambda/agent_api/chat_page/) ---------------------------------------------------
# A reply's element carries `data-state`: `streaming` until its `done` (`done`), its error (`error`) or Stop
# (`stopped`).
ANSWER_TIMEOUT: Final = 60.0
PAGE_LOAD_TIMEOUT: Final = 10.0


def open_page(driver: webdriver.Chrome, base_url: str) -> None:
    """Load the chat page at ``base_url``/ and wait until it has read its configuration."""
    driver.get(f"{base_url}/")
    wait_until_ready(driver)


def sign_in(driver: webdriver.Chrome) -> None:
    """Press the page's Sign in and wait until it is back from managed login, signed in."""
    driver.find_element(By.ID, "sign-in").click()
    wait_until_ready(driver)


def wait_until_ready(driver: webdriver.Chrome) -> None:
    """Wait until the page can send a prompt, across the navigations of a sign-in."""
    # While the browser goes to the sign-in page and back, elements vanish or go stale.
    WebDriverWait(
        driver,
        PAGE_LOAD_TIMEOUT,
        ignored_exceptions=(NoSuchElementException, StaleElementReferenceException),
    ).until(lambda d: d.find_element(By.ID, "send").is_enabled())


def ask(driver: webdriver.Chrome, prompt: str) -> WebElement:
    """Send a prompt from the page; return the element of the agent's reply (still streaming)."""
    before = len(driver.find_elements(By.CSS_SELECTOR, ".msg.assistant"))
    driver.find_element(By.ID, "prompt").send_keys(prompt)
    driver.find_element(By.ID, "send").click()
    replies: list[WebElement] = WebDriverWait(driver, PAGE_LOAD_TIMEOUT).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, ".msg.assistant")[before:]
    )
    return replies[0]


def finished(driver: webdriver.Chrome, reply: WebElement) -> WebElement:
    """Wait until ``reply`` has ended (done or error); return it."""
    WebDriverWait(driver, ANSWER_TIMEOUT).until(lambda _: reply.get_attribute("data-state") != "streaming")
    return reply


def text_of(reply: WebElement) -> str:
    """Return the answer's text as shown so far (its Markdown rendered: the text of its elements).

    One script reads it in the page: the page redraws a reply's answer as it streams, so a child found by one
    WebDriver call may be gone (stale) by the next.
    """
    script = "return arguments[0].querySelector('.text').textContent.trim();"
    return str(reply.parent.execute_script(script, reply))
