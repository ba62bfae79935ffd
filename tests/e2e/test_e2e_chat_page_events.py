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


IN_SERVICE = Reply([json.dumps({"state": "in_service"}).encode()], chunked=False)


def page_replies(auth: str = "none", warm: Reply = IN_SERVICE) -> list[Reply]:
    """The page and its configuration (with ``auth``) as the app serves them, then the page's `POST /warm`
    (answered ``warm``), which it sends once it can send a prompt."""
    return [
        Reply([PAGE_FILE.read_bytes()], content_type="text/html; charset=utf-8", chunked=False),
        Reply([json.dumps({"auth": auth, "sessions": False}).encode()], chunked=False),
        warm,
    ]


def serve_page(chat_reply: Reply, *then: Reply) -> ScriptedServer:
    return ScriptedServer(*page_replies(), chat_reply, *then)


def open_warmed_page(browser: Chrome, server: ScriptedServer) -> None:
    """Open the page and wait for its `POST /warm`, so that the next request is the prompt's."""
    already = len(server.received)
    open_page(browser, server.url)
    WebDriverWait(browser, 10).until(lambda _: len(server.received) >= already + 3)
    assert (server.received[already + 2].method, server.received[already + 2].path) == ("POST", "/warm")


def test_opening_the_page_wakes_a_model_scaled_to_zero_and_says_so_until_it_is_in_service(
    browser: Chrome,
) -> None:
    warming = json.dumps({"state": "warming", "desired_copies": 1, "current_copies": 0}).encode()
    in_service = json.dumps({"state": "in_service", "desired_copies": 1, "current_copies": 1}).encode()
    with ScriptedServer(
        *page_replies(warm=Reply([warming], status=202, chunked=False)), Reply([in_service], chunked=False)
    ) as server:
        open_warmed_page(browser, server)
        notice = browser.find_element(By.ID, "notice")
        WebDriverWait(browser, 10).until(lambda _: notice.is_displayed())
        shown = notice.text
        # The page checks GET /status every 15 s and clears its notice once a copy is in service.
        WebDriverWait(browser, 30).until(lambda _: not notice.is_displayed())

        assert shown.startswith("The model is starting")
        assert [(r.method, r.path) for r in server.received[2:]] == [("POST", "/warm"), ("GET", "/status")]
        assert browser.find_element(By.ID, "send").is_enabled()


def test_warming_status_shows_until_the_answer_starts(browser: Chrome) -> None:
    warming = encode_event("status", {"state": "warming", "elapsed_s": 3})
    chat = Reply(
        [warming, encode_event("text", {"delta": "Hi"}), DONE],
        content_type="text/event-stream",
        pause_after=1,
    )
    with serve_page(chat) as server:
        open_warmed_page(browser, server)
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
        open_warmed_page(browser, server)
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
        open_warmed_page(browser, server)
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
        open_warmed_page(browser, server)
        reply = ask(browser, "Hello")
        WebDriverWait(browser, 10).until(lambda _: text_of(reply) == "Hal")

        open_page(browser, server.url)  # loads the page again, as a reload does

        user, kept = browser.find_elements(By.CSS_SELECTOR, ".msg")
        assert user.text == "Hello"
        assert kept.get_attribute("data-state") == "error"
        error = kept.find_element(By.CSS_SELECTOR, ".error").text
        assert error == "the page was closed before the answer ended"
