"""The chat page in headless Chromium against a scripted agent API: what the local stack cannot be made to
send on demand (a warming model, a refusal with Retry-After, a stream cut off). The scripted server answers
`GET /` with the real page, `GET /config.json`, then `POST /chat` with events the app's own encoder writes.
"""

import json

import pytest
from selenium.webdriver import Chrome
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from agent_api.page import PAGE_FILE
from agent_api.sse import encode_event
from tests.e2e.browser import ask, finished, open_page, text_of
from tests.support.scripted_server import Reply, ScriptedServer

pytestmark = pytest.mark.e2e

DONE = encode_event("done", {"stop_reason": "end_turn", "usage": {"input_tokens": 9, "output_tokens": 2}})


def page_replies(auth: str = "none") -> list[Reply]:
    """The page and its configuration (with ``auth``), as the app serves them."""
    return [
        Reply([PAGE_FILE.read_bytes()], content_type="text/html; charset=utf-8", chunked=False),
        Reply([json.dumps({"auth": auth, "sessions": False}).encode()], chunked=False),
    ]


def serve_page(chat_reply: Reply, *then: Reply) -> ScriptedServer:
    return ScriptedServer(*page_replies(), chat_reply, *then)


def test_warming_status_shows_until_the_answer_starts(browser: Chrome) -> None:
    warming = encode_event("status", {"state": "warming", "elapsed_s": 3})
    chat = Reply(
        [warming, encode_event("text", {"delta": "Hi"}), DONE],
        content_type="text/event-stream",
        pause_after=1,
    )
    with serve_page(chat) as server:
        open_page(browser, server.url)
        reply = ask(browser, "Hello")
        notice = browser.find_element(By.ID, "notice")
        WebDriverWait(browser, 10).until(lambda _: notice.is_displayed())
        shown_while_warming = (notice.text, reply.get_attribute("data-state"))
        chat.resume.set()
        finished(browser, reply)

        assert "waking up (3 s so far)" in shown_while_warming[0]
        assert shown_while_warming[1] == "streaming"
        assert not notice.is_displayed()
        assert (reply.get_attribute("data-state"), text_of(reply)) == ("done", "Hi")
        assert json.loads(server.received[-1].body) == {"prompt": "Hello"}


def test_refusal_before_streaming_shows_its_code_and_retry_after(browser: Chrome) -> None:
    body = json.dumps({"code": "model_warming", "message": "the model is starting"}).encode()
    refusal = Reply([body], status=503, headers={"Retry-After": "30"}, chunked=False)
    with serve_page(refusal) as server:
        open_page(browser, server.url)
        reply = finished(browser, ask(browser, "Hello"))

        assert reply.get_attribute("data-state") == "error"
        error = reply.find_element(By.CSS_SELECTOR, ".error").text
        assert error == "model_warming: the model is starting (retry in 30 s)"


def test_stream_cut_off_keeps_its_text_and_says_so(browser: Chrome) -> None:
    # The connection breaks only once the page shows the text: data and a reset that arrive together may
    # reach the page as the reset alone.
    text = encode_event("text", {"delta": "Half an ans"})
    cut = Reply([text], content_type="text/event-stream", pause_after=1, break_after=1)
    with serve_page(cut) as server:
        open_page(browser, server.url)
        reply = ask(browser, "Hello")
        WebDriverWait(browser, 10).until(lambda _: text_of(reply) == "Half an ans")
        cut.resume.set()
        finished(browser, reply)

        assert reply.get_attribute("data-state") == "error"
        assert text_of(reply) == "Half an ans"
        assert reply.find_element(By.CSS_SELECTOR, ".error").text.startswith("the answer was cut off")


def test_reload_while_streaming_keeps_the_prompt_and_says_the_answer_was_cut(browser: Chrome) -> None:
    held = Reply([encode_event("text", {"delta": "Hal"})], content_type="text/event-stream", pause_after=1)
    with serve_page(held, *page_replies()) as server:
        open_page(browser, server.url)
        reply = ask(browser, "Hello")
        WebDriverWait(browser, 10).until(lambda _: text_of(reply) == "Hal")

        open_page(browser, server.url)  # loads the page again, as a reload does

        user, kept = browser.find_elements(By.CSS_SELECTOR, ".msg")
        assert user.text == "Hello"
        assert kept.get_attribute("data-state") == "error"
        error = kept.find_element(By.CSS_SELECTOR, ".error").text
        assert error == "the page was closed before the answer ended"
