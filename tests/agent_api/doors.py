"""Every door of the turn pipeline as a client calls it, streamed and whole: the registry the pipeline tests
(`test_agent_api_pipeline.py`) run over, so a new door gets them by adding one entry to `DOORS`.

A door's `outcome` is what a client makes of an answer as an HTTP status: the MCP server answers 200, and a
tool call that failed says why in its result (`session_busy: ...` is 409 here). Its `read` is what the client
makes of a complete answer: the text, and the events the door has no field for, as `/chat` names them."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from mcp_types import CLIENT_CAPABILITIES_META_KEY, PROTOCOL_VERSION_META_KEY
from mcp_types.version import LATEST_MODERN_VERSION

from agent_api import contract
from tests.agent_api.harness import wait_until


def _chat_body(prompt: str, session_id: str | None) -> dict[str, Any]:
    return {"prompt": prompt} if session_id is None else {"prompt": prompt, "session_id": session_id}


def _session_header(session_id: str | None) -> dict[str, str]:
    return {} if session_id is None else {contract.SESSION_ID_HEADER: session_id}


def _completion_body(stream: bool) -> Callable[[str, str | None], dict[str, Any]]:
    def body(prompt: str, session_id: str | None) -> dict[str, Any]:
        messages = [{"role": "user", "content": prompt}]
        return {"model": contract.OPENAI_MODEL_ID, "messages": messages, "stream": stream}

    return body


def _mcp_body(prompt: str, session_id: str | None) -> dict[str, Any]:
    arguments = {"prompt": prompt} if session_id is None else {"prompt": prompt, "session_id": session_id}
    return {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": "ask", "arguments": arguments},
    }


def _mcp_modern_body(prompt: str, session_id: str | None) -> dict[str, Any]:
    body = _mcp_body(prompt, session_id)
    body["params"]["_meta"] = {
        PROTOCOL_VERSION_META_KEY: LATEST_MODERN_VERSION,
        CLIENT_CAPABILITIES_META_KEY: {},
    }
    return body


# What the MCP SDK's client sends with a call: the stateless protocol's routing headers, and either protocol's
# Accept (a response may be JSON or a stream).
_MCP_ACCEPT = {"Accept": "application/json, text/event-stream"}
_MCP_MODERN = {
    **_MCP_ACCEPT,
    "MCP-Protocol-Version": LATEST_MODERN_VERSION,
    "Mcp-Method": "tools/call",
    "Mcp-Name": "ask",
}


@dataclass(frozen=True)
class Answer:
    """What a client reads of a complete answer: its text, and the other events (`{"type": name, ...}`)."""

    text: str
    agent_events: list[dict[str, Any]]


def _sse(response: httpx.Response) -> list[tuple[str, Any]]:
    """The (event name, JSON data) pairs of a stream; `message` where the event is unnamed."""
    events = []
    for block in response.text.split("\n\n"):
        lines = block.splitlines()
        data = [line.removeprefix("data:").strip() for line in lines if line.startswith("data:")]
        if data and data[0].startswith("{"):
            names = [line.removeprefix("event:").strip() for line in lines if line.startswith("event:")]
            events.append((names[0] if names else "message", json.loads("\n".join(data))))
    return events


def _read_chat(response: httpx.Response) -> Answer:
    events = _sse(response)
    text = "".join(data["delta"] for name, data in events if name == "text")
    return Answer(text, [{"type": name, **data} for name, data in events if name not in ("text", "done")])


def _read_completion_stream(response: httpx.Response) -> Answer:
    chunks = [data for _, data in _sse(response)]
    text = "".join(chunk["choices"][0]["delta"].get("content") or "" for chunk in chunks if chunk["choices"])
    return Answer(text, [chunk["agent_event"] for chunk in chunks if "agent_event" in chunk])


def _read_completion(response: httpx.Response) -> Answer:
    completion = response.json()
    return Answer(completion["choices"][0]["message"]["content"], completion["agent_events"])


def _read_response_stream(response: httpx.Response) -> Answer:
    events = [data for _, data in _sse(response)]
    text = "".join(event["delta"] for event in events if event["type"] == "response.output_text.delta")
    return Answer(text, [event["event"] for event in events if event["type"] == "response.agent_event"])


def _read_response(response: httpx.Response) -> Answer:
    body = response.json()
    parts = [part for item in body["output"] if item["type"] == "message" for part in item["content"]]
    return Answer("".join(part["text"] for part in parts), body["agent_events"])


def _mcp_result(response: httpx.Response) -> dict[str, Any]:
    messages = [data for _, data in _sse(response)] or [response.json()]
    [result] = [message["result"] for message in messages if "result" in message]
    return dict(result)


def _read_mcp(response: httpx.Response) -> Answer:
    content = _mcp_result(response)["structuredContent"]
    return Answer(content["answer"], content["agent_events"])


def _http_status(response: httpx.Response) -> int:
    return response.status_code


def _mcp_outcome(response: httpx.Response) -> int:
    """The call's HTTP status, or 409 for a call refused as `session_busy`, 500 for any other failed call."""
    if response.status_code != 200:
        return response.status_code
    result = _mcp_result(response)
    if not result.get("isError"):
        return 200
    return 409 if result["content"][0]["text"].startswith("session_busy:") else 500


def _response_body(stream: bool) -> Callable[[str, str | None], dict[str, Any]]:
    # A response has no session: it is continued by `previous_response_id`, with no lock to free.
    def body(prompt: str, session_id: str | None) -> dict[str, Any]:
        return {"model": contract.OPENAI_MODEL_ID, "input": prompt, "stream": stream}

    return body


@dataclass(frozen=True)
class Door:
    """One way in: the path, the body and headers of a request for a prompt (on a session), and whether the
    answer streams."""

    id: str
    path: str
    streamed: bool
    body: Callable[[str, str | None], dict[str, Any]]
    read: Callable[[httpx.Response], Answer]
    headers: Callable[[str | None], dict[str, str]] = field(default=lambda session_id: {})
    outcome: Callable[[httpx.Response], int] = _http_status

    def post(self, client: httpx.Client, prompt: str, session_id: str | None = None) -> httpx.Response:
        """Send a request and read the whole answer."""
        return client.post(
            self.path, json=self.body(prompt, session_id), headers=self.headers(session_id), timeout=30
        )

    def leave(
        self, base_url: str, when: Callable[[], bool], prompt: str = "Hi", session_id: str | None = None
    ) -> None:
        """Send a request on a connection of its own and close it, unread, as soon as `when()` holds."""
        content = json.dumps(self.body(prompt, session_id)).encode()
        extra = "".join(f"{name}: {value}\r\n" for name, value in self.headers(session_id).items())
        host, port = base_url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(
                f"POST {self.path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{extra}"
                f"Content-Length: {len(content)}\r\n\r\n".encode()
                + content
            )
            wait_until(when)


DOORS = (
    Door("chat", contract.CHAT_PATH, streamed=True, body=_chat_body, read=_read_chat),
    Door(
        "openai-stream",
        contract.OPENAI_CHAT_COMPLETIONS_PATH,
        streamed=True,
        body=_completion_body(stream=True),
        read=_read_completion_stream,
        headers=_session_header,
    ),
    Door(
        "openai-whole",
        contract.OPENAI_CHAT_COMPLETIONS_PATH,
        streamed=False,
        body=_completion_body(stream=False),
        read=_read_completion,
        headers=_session_header,
    ),
    Door(
        "responses-stream",
        contract.OPENAI_RESPONSES_PATH,
        streamed=True,
        body=_response_body(stream=True),
        read=_read_response_stream,
    ),
    Door(
        "responses-whole",
        contract.OPENAI_RESPONSES_PATH,
        streamed=False,
        body=_response_body(stream=False),
        read=_read_response,
    ),
    Door(
        "mcp",
        contract.MCP_PATH,
        streamed=True,
        body=_mcp_modern_body,
        read=_read_mcp,
        headers=lambda session_id: _MCP_MODERN,
        outcome=_mcp_outcome,
    ),
    Door(
        "mcp-handshake",
        contract.MCP_PATH,
        streamed=True,
        body=_mcp_body,
        read=_read_mcp,
        headers=lambda session_id: _MCP_ACCEPT,
        outcome=_mcp_outcome,
    ),
)

every_door = pytest.mark.parametrize("door", DOORS, ids=[door.id for door in DOORS])
"""Runs a test once per door (its `door` argument)."""
