"""Every door of the turn pipeline as a client calls it, streamed and whole: the registry the pipeline tests
(`test_agent_api_pipeline.py`) run over, so a new door gets them by adding one entry to `DOORS`."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

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


@dataclass(frozen=True)
class Door:
    """One way in: the path, the body and headers of a request for a prompt (on a session), and whether the
    answer streams."""

    id: str
    path: str
    streamed: bool
    body: Callable[[str, str | None], dict[str, Any]]
    headers: Callable[[str | None], dict[str, str]] = field(default=lambda session_id: {})

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
    Door("chat", contract.CHAT_PATH, streamed=True, body=_chat_body),
    Door(
        "openai-stream",
        contract.OPENAI_CHAT_COMPLETIONS_PATH,
        streamed=True,
        body=_completion_body(stream=True),
        headers=_session_header,
    ),
    Door(
        "openai-whole",
        contract.OPENAI_CHAT_COMPLETIONS_PATH,
        streamed=False,
        body=_completion_body(stream=False),
        headers=_session_header,
    ),
)

every_door = pytest.mark.parametrize("door", DOORS, ids=[door.id for door in DOORS])
"""Runs a test once per door (its `door` argument)."""
