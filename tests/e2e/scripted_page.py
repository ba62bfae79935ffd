"""The chat page against a scripted agent API: a `ScriptedServer` answers `GET /` with the page exactly as
the app serves it (the assembled document and its headers, Content-Security-Policy included), then
`GET /config.json`, the page's `POST /warm`, and then whatever a test scripts for `POST /chat`, written with
the app's own event encoder."""

from __future__ import annotations

import json
from typing import Any, Final

from selenium.webdriver import Chrome
from selenium.webdriver.support.ui import WebDriverWait

from agent_api.page import assemble_page, page_headers
from agent_api.sse import encode_event
from tests.e2e.browser import open_page
from tests.support.scripted_server import Reply, ScriptedServer

PAGE: Final = assemble_page()
HTML: Final = "text/html; charset=utf-8"
EVENT_STREAM: Final = "text/event-stream"
USAGE: Final = {"input_tokens": 9, "output_tokens": 2}
DONE: Final = encode_event("done", {"stop_reason": "end_turn", "usage": USAGE})
IN_SERVICE: Final = Reply([json.dumps({"state": "in_service"}).encode()], chunked=False)


def page_replies(auth: str = "none", warm: Reply = IN_SERVICE, sessions: bool = False) -> list[Reply]:
    """The page and its configuration (with ``auth`` and ``sessions``) as the app serves them, then the
    page's `POST /warm` (answered ``warm``), which it sends once it can send a prompt."""
    return [
        Reply([PAGE.html], content_type=HTML, headers=page_headers(PAGE), chunked=False),
        Reply([json.dumps({"auth": auth, "sessions": sessions}).encode()], chunked=False),
        warm,
    ]


def events(*pairs: tuple[str, dict[str, Any]], **reply: Any) -> Reply:
    """A `POST /chat` answer: the events ``pairs`` (name, data), one chunk each, then ``reply``'s options."""
    return Reply([encode_event(name, data) for name, data in pairs], content_type=EVENT_STREAM, **reply)


def text_answer(text: str) -> Reply:
    """A complete answer whose text is ``text``."""
    return Reply([encode_event("text", {"delta": text}), DONE], content_type=EVENT_STREAM)


def serve_page(chat_reply: Reply, *then: Reply, sessions: bool = False) -> ScriptedServer:
    return ScriptedServer(*page_replies(sessions=sessions), chat_reply, *then)


def open_warmed_page(browser: Chrome, server: ScriptedServer) -> None:
    """Open the page and wait for its `POST /warm`, so that the next request is the prompt's."""
    already = len(server.received)
    open_page(browser, server.url)
    WebDriverWait(browser, 10).until(lambda _: len(server.received) >= already + 3)
    assert (server.received[already + 2].method, server.received[already + 2].path) == ("POST", "/warm")
