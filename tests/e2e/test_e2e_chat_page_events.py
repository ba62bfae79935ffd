"""The chat page in headless Chromium against a scripted agent API (tests/e2e/scripted_page.py): what the
local stack cannot be made to send on demand (a warming model, a refusal with Retry-After, a stream cut off,
a warning, a fallback model's answer, reasoning, an MCP tool's call) and the Stop button.
"""

import json

import pytest
from selenium.webdriver import Chrome
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from agent_api.sse import encode_event
from tests.e2e.browser import ask, finished, open_page, text_of
from tests.e2e.scripted_page import DONE, USAGE, events, open_warmed_page, page_replies, serve_page
from tests.support.scripted_server import Reply, ScriptedServer

pytestmark = pytest.mark.e2e

PRECEDES = (
    "return Boolean(arguments[0].compareDocumentPosition(arguments[1]) & Node.DOCUMENT_POSITION_FOLLOWING);"
)


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


def test_a_warning_shows_as_a_notice_on_its_answer(browser: Chrome) -> None:
    message = "The MCP server 'docs' could not be reached: the agent answers without its tools."
    chat = events(
        ("warning", {"code": "tool_source_unavailable", "message": message}),
        ("text", {"delta": "Hi"}),
        ("done", {"stop_reason": "end_turn", "usage": USAGE}),
    )
    with serve_page(chat) as server:
        open_warmed_page(browser, server)
        reply = finished(browser, ask(browser, "Hello"))

        [notice] = reply.find_elements(By.CSS_SELECTOR, ".warning")
        assert (notice.text, notice.get_attribute("role")) == (message, "status")
        assert (reply.get_attribute("data-state"), text_of(reply)) == ("done", "Hi")


def test_a_fallback_answer_says_so_and_names_the_model_that_answered(browser: Chrome) -> None:
    model = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
    chat = events(
        ("status", {"state": "fallback", "model": model}),
        ("text", {"delta": "Hi"}),
        ("done", {"stop_reason": "end_turn", "usage": USAGE, "model": model}),
    )
    with serve_page(chat) as server:
        open_warmed_page(browser, server)
        reply = finished(browser, ask(browser, "Hello"))

        [notice] = reply.find_elements(By.CSS_SELECTOR, ".warning")
        assert notice.text == f"The model is starting: {model} answers meanwhile."
        assert reply.find_element(By.CSS_SELECTOR, ".meta").text == f"9 tokens in, 2 out · {model}"
        assert (reply.get_attribute("data-state"), text_of(reply)) == ("done", "Hi")


def test_reasoning_shows_collapsed_above_the_answer_and_stays_open_once_opened(browser: Chrome) -> None:
    chat = events(
        ("reasoning", {"delta": "The user greets me; "}),
        ("reasoning", {"delta": "greet back."}),
        ("text", {"delta": "Hel"}),
        ("text", {"delta": "lo!"}),
        ("done", {"stop_reason": "end_turn", "usage": USAGE}),
        pause_after=3,
    )
    with serve_page(chat) as server:
        open_warmed_page(browser, server)
        reply = ask(browser, "Hello")
        WebDriverWait(browser, 10).until(lambda _: text_of(reply) == "Hel")
        reasoning = reply.find_element(By.CSS_SELECTOR, "details.reasoning")
        text = reply.find_element(By.CSS_SELECTOR, ".text")
        collapsed = (
            reasoning.get_attribute("open"),
            reasoning.find_element(By.CSS_SELECTOR, ".reasoning-text").text,
        )
        above = browser.execute_script(PRECEDES, reasoning, text)
        reasoning.find_element(By.CSS_SELECTOR, "summary").click()
        chat.resume.set()
        finished(browser, reply)

        assert collapsed == (None, "")  # closed: its text is not shown
        assert above
        assert reasoning.get_attribute("open") == "true"  # the answer streamed on without closing it
        assert (
            reasoning.find_element(By.CSS_SELECTOR, ".reasoning-text").text
            == "The user greets me; greet back."
        )
        assert text_of(reply) == "Hello!"


def test_mcp_and_built_in_tool_calls_show_alike(browser: Chrome) -> None:
    chat = events(
        ("tool_use", {"id": "c1", "name": "current_time", "input": {}}),
        ("tool_result", {"id": "c1", "name": "current_time", "status": "success", "content": "12:00 UTC"}),
        ("tool_use", {"id": "c2", "name": "search_docs", "input": {"query": "scale to zero", "limit": 3}}),
        (
            "tool_result",
            {"id": "c2", "name": "search_docs", "status": "error", "content": "timed out after 30 s"},
        ),
        ("text", {"delta": "Noon."}),
        ("done", {"stop_reason": "end_turn", "usage": USAGE}),
    )
    shape = "return [...arguments[0].children].map((child) => child.className);"
    with serve_page(chat) as server:
        open_warmed_page(browser, server)
        reply = finished(browser, ask(browser, "What time is it?"))

        built_in, mcp = reply.find_elements(By.CSS_SELECTOR, ".tool")
        assert browser.execute_script(shape, built_in) == browser.execute_script(shape, mcp)
        assert (built_in.get_attribute("data-tool-name"), built_in.get_attribute("data-status")) == (
            "current_time",
            "success",
        )
        assert (mcp.get_attribute("data-tool-name"), mcp.get_attribute("data-status")) == (
            "search_docs",
            "error",
        )
        assert (
            mcp.text == 'tool search_docs({"query":"scale to zero","limit":3})\n→ error: timed out after 30 s'
        )


def test_stop_ends_the_answer_keeps_its_text_and_a_reload_shows_it_stopped(browser: Chrome) -> None:
    held = events(("text", {"delta": "Half an ans"}), ("text", {"delta": "wer"}), pause_after=1)
    with serve_page(held, *page_replies(sessions=True), sessions=True) as server:
        open_warmed_page(browser, server)
        reply = ask(browser, "Hello")
        WebDriverWait(browser, 10).until(lambda _: text_of(reply) == "Half an ans")
        stop = browser.find_element(By.ID, "stop")
        assert stop.is_displayed()
        assert not browser.find_element(By.ID, "send").is_enabled()
        stop.click()
        finished(browser, reply)

        assert (reply.get_attribute("data-state"), text_of(reply)) == ("stopped", "Half an ans")
        assert reply.find_element(By.CSS_SELECTOR, ".meta").text.startswith(
            "Stopped. The agent does not keep"
        )
        assert reply.find_element(By.CSS_SELECTOR, ".error").text == ""
        assert not stop.is_displayed()
        assert browser.find_element(By.ID, "send").is_enabled()

        held.resume.set()
        open_page(browser, server.url)  # a reload
        [kept] = browser.find_elements(By.CSS_SELECTOR, ".msg.assistant")
        assert (kept.get_attribute("data-state"), text_of(kept)) == ("stopped", "Half an ans")


def test_escape_stops_the_answer_too(browser: Chrome) -> None:
    held = events(("text", {"delta": "Hal"}), pause_after=1)
    with serve_page(held) as server:
        open_warmed_page(browser, server)
        reply = ask(browser, "Hello")
        WebDriverWait(browser, 10).until(lambda _: text_of(reply) == "Hal")
        browser.find_element(By.ID, "prompt").send_keys(Keys.ESCAPE)
        finished(browser, reply)

        assert (reply.get_attribute("data-state"), reply.find_element(By.CSS_SELECTOR, ".meta").text) == (
            "stopped",
            "Stopped.",
        )
