"""The chat page in headless Chromium against the local stack: the browser → page → POST /chat → vLLM CPU."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver import Chrome
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from local.emulator import Faults
from local.stack import LocalStack
from local.tiny_model.script import TOOL_RESULT_REPLY
from tests.e2e.browser import chromium

pytestmark = pytest.mark.e2e

ANSWER_TIMEOUT = 60.0


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Chrome]:
    with chromium(tmp_path / "profile") as driver:
        yield driver


def open_page(browser: Chrome, stack: LocalStack) -> None:
    browser.get(f"{stack.agent_url}/")
    WebDriverWait(browser, 10).until(lambda d: d.find_element(By.ID, "send").is_enabled())


def ask(browser: Chrome, prompt: str) -> WebElement:
    """Send a prompt from the page; return the element of the agent's reply."""
    replies = len(browser.find_elements(By.CSS_SELECTOR, ".msg.assistant"))
    browser.find_element(By.ID, "prompt").send_keys(prompt)
    browser.find_element(By.ID, "send").click()
    return WebDriverWait(browser, 10).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, ".msg.assistant")[replies:][0]
    )


def finished(browser: Chrome, reply: WebElement) -> WebElement:
    WebDriverWait(browser, ANSWER_TIMEOUT).until(lambda _: reply.get_attribute("data-state") != "streaming")
    return reply


def text_of(reply: WebElement) -> str:
    return str(reply.find_element(By.CSS_SELECTOR, ".text").get_attribute("textContent"))


def test_tool_call_and_its_answer_show_on_the_page(tools_api: LocalStack, browser: Chrome) -> None:
    open_page(browser, tools_api)

    reply = finished(browser, ask(browser, "What is the weather in Paris?"))

    assert reply.get_attribute("data-state") == "done"
    [tool] = reply.find_elements(By.CSS_SELECTOR, ".tool")
    assert tool.get_attribute("data-tool-name") == "get_weather"
    assert tool.get_attribute("data-status") == "success"
    assert '{"city":"Paris"}' in tool.find_element(By.CSS_SELECTOR, ".tool-call").text
    assert text_of(reply) == "".join(TOOL_RESULT_REPLY)


def test_answer_shows_while_it_is_still_streaming(tools_api: LocalStack, browser: Chrome) -> None:
    # Each part of the model's answer is held back 0.3 s: a page that waited for the whole body would
    # show nothing until the reply is done.
    tools_api.emulator.set_faults(Faults(part_delay=0.3))
    open_page(browser, tools_api)

    reply = ask(browser, "What is the weather in Paris?")
    partial = WebDriverWait(browser, ANSWER_TIMEOUT, poll_frequency=0.05).until(lambda _: text_of(reply))
    state_with_partial_text = reply.get_attribute("data-state")
    finished(browser, reply)

    assert state_with_partial_text == "streaming"
    assert "".join(TOOL_RESULT_REPLY).startswith(partial)
    assert partial != text_of(reply) == "".join(TOOL_RESULT_REPLY)


def test_conversation_and_session_survive_a_reload(text_api: LocalStack, browser: Chrome) -> None:
    open_page(browser, text_api)
    first = finished(browser, ask(browser, "Hello"))
    first_shown = (text_of(first), first.find_element(By.CSS_SELECTOR, ".meta").text)
    session = browser.find_element(By.ID, "session").text

    browser.refresh()
    open_page(browser, text_api)
    [kept] = browser.find_elements(By.CSS_SELECTOR, ".msg.assistant")
    assert (text_of(kept), kept.find_element(By.CSS_SELECTOR, ".meta").text) == first_shown
    assert browser.find_element(By.ID, "session").text == session
    second = finished(browser, ask(browser, "Hello"))

    # The second turn continued the stored session: the model read the first exchange again.
    assert second.get_attribute("data-state") == "done"
    assert session.startswith("session web-")
    assert tokens_in(second) > tokens_in(kept)


def tokens_in(reply: WebElement) -> int:
    return int(reply.find_element(By.CSS_SELECTOR, ".meta").text.split(" tokens in")[0])


def test_refusal_shows_its_error_code(tools_api: LocalStack, browser: Chrome) -> None:
    tools_api.emulator.set_faults(Faults(throttle_requests=100))
    open_page(browser, tools_api)

    reply = finished(browser, ask(browser, "What is the weather in Paris?"))

    assert reply.get_attribute("data-state") == "error"
    assert reply.find_element(By.CSS_SELECTOR, ".error").text.startswith("model_throttled: ")
