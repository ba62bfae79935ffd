"""The chat page in headless Chromium against the local stack: the browser → page → POST /chat → vLLM CPU."""

import pytest
from selenium.webdriver import Chrome
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from local.emulator import Faults
from local.stack import LocalDeployment
from local.tiny_model.script import PLAIN_REPLY, TOOL_RESULT_REPLY
from tests.e2e.browser import ANSWER_TIMEOUT, ask, finished, open_page, text_of

pytestmark = pytest.mark.e2e

STATE_AND_TEXT = (
    "return [arguments[0].dataset.state, arguments[0].querySelector('.text').textContent.trim()];"
)


def test_tool_call_and_its_answer_show_on_the_page(tools_api: LocalDeployment, browser: Chrome) -> None:
    open_page(browser, tools_api.agent_url)

    reply = finished(browser, ask(browser, "What is the weather in Paris?"))

    assert reply.get_attribute("data-state") == "done"
    [tool] = reply.find_elements(By.CSS_SELECTOR, ".tool")
    assert tool.get_attribute("data-tool-name") == "get_weather"
    assert tool.get_attribute("data-status") == "success"
    assert '{"city":"Paris"}' in tool.find_element(By.CSS_SELECTOR, ".tool-call").text
    assert text_of(reply) == "".join(TOOL_RESULT_REPLY)


def test_answer_shows_while_it_is_still_streaming(tools_api: LocalDeployment, browser: Chrome) -> None:
    # Each part of the model's answer is held back 0.25 s: a page that waited for the whole body would
    # show nothing until the reply is done. (Five polls per part see the partial answer; a longer hold made
    # the tool-calling turn's tens of parts outlast ANSWER_TIMEOUT on a loaded machine.)
    tools_api.emulator.set_faults(Faults(part_delay=0.25))
    open_page(browser, tools_api.agent_url)

    reply = ask(browser, "What is the weather in Paris?")
    # The state and the text are read together, in one script run by the page.
    state, partial = WebDriverWait(browser, ANSWER_TIMEOUT, poll_frequency=0.05).until(
        lambda d: (shown := d.execute_script(STATE_AND_TEXT, reply))[1] and shown
    )
    finished(browser, reply)

    assert state == "streaming"
    assert "".join(TOOL_RESULT_REPLY).startswith(partial)
    assert partial != text_of(reply) == "".join(TOOL_RESULT_REPLY)


def tokens_in(reply: WebElement) -> int:
    return int(reply.find_element(By.CSS_SELECTOR, ".meta").text.split(" tokens in")[0])


def test_conversation_and_session_survive_a_reload(text_api: LocalDeployment, browser: Chrome) -> None:
    open_page(browser, text_api.agent_url)
    first = finished(browser, ask(browser, "Hello"))
    first_shown = (text_of(first), first.find_element(By.CSS_SELECTOR, ".meta").text)
    session = browser.find_element(By.ID, "session").text

    browser.refresh()
    open_page(browser, text_api.agent_url)
    [kept] = browser.find_elements(By.CSS_SELECTOR, ".msg.assistant")
    assert (text_of(kept), kept.find_element(By.CSS_SELECTOR, ".meta").text) == first_shown
    assert browser.find_element(By.ID, "session").text == session
    second = finished(browser, ask(browser, "Hello"))

    # The second turn continued the stored session: the model read the first exchange again.
    assert second.get_attribute("data-state") == "done"
    assert session.startswith("session web-")
    assert tokens_in(second) > tokens_in(kept)


def test_refusal_shows_its_error_code(tools_api: LocalDeployment, browser: Chrome) -> None:
    tools_api.emulator.set_faults(Faults(throttle_requests=100))
    open_page(browser, tools_api.agent_url)

    reply = finished(browser, ask(browser, "What is the weather in Paris?"))

    assert reply.get_attribute("data-state") == "error"
    assert reply.find_element(By.CSS_SELECTOR, ".error").text.startswith("model_throttled: ")


def test_stop_cancels_the_turn_on_the_server_and_the_session_goes_on(
    text_api: LocalDeployment, browser: Chrome
) -> None:
    # Each part of the answer is held back 0.5 s, so Stop comes in the middle of it.
    text_api.emulator.set_faults(Faults(part_delay=0.5))
    open_page(browser, text_api.agent_url)
    reply = ask(browser, "Hello")
    WebDriverWait(browser, ANSWER_TIMEOUT, poll_frequency=0.05).until(lambda _: text_of(reply))

    browser.find_element(By.ID, "stop").click()
    finished(browser, reply)
    # The agent API noticed the client leave and stopped the turn (docs/agent-api.md, "Observability").
    WebDriverWait(browser, ANSWER_TIMEOUT).until(
        lambda _: "chat turn cancelled" in text_api.agent_log.read_text()
    )
    text_api.emulator.set_faults(Faults())
    # The session's lock was released at once: the next prompt is answered, not refused as busy.
    next_reply = finished(browser, ask(browser, "Hello"))

    assert reply.get_attribute("data-state") == "stopped"
    assert "".join(PLAIN_REPLY).startswith(text_of(reply)) and text_of(reply) != "".join(PLAIN_REPLY)
    assert (next_reply.get_attribute("data-state"), text_of(next_reply)) == ("done", "".join(PLAIN_REPLY))
