"""A minimal ``/chat`` client for the end-to-end tests: every event with the time it arrived."""

import json
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from httpx_sse import connect_sse

TIMEOUT = httpx.Timeout(10.0, read=120.0)


@dataclass(frozen=True)
class Event:
    name: str
    data: dict[str, Any]
    arrived: float
    """Seconds since the request was sent."""


@dataclass
class ChatResult:
    status: int
    events: list[Event] = field(default_factory=list)
    error_body: dict[str, Any] | None = None
    """The JSON body of a non-200 answer."""

    def named(self, name: str) -> list[Event]:
        return [event for event in self.events if event.name == name]

    @property
    def text(self) -> str:
        return "".join(event.data["delta"] for event in self.named("text"))

    @property
    def names(self) -> list[str]:
        return [event.name for event in self.events]


def chat(agent_url: str, **body: Any) -> ChatResult:
    """POST ``body`` to ``/chat`` and read the whole answer."""
    started = time.monotonic()
    with (
        httpx.Client(timeout=TIMEOUT) as client,
        connect_sse(client, "POST", f"{agent_url}/chat", json=body) as source,
    ):
        response = source.response
        if response.status_code != 200:
            return ChatResult(response.status_code, error_body=json.loads(response.read()))
        result = ChatResult(response.status_code)
        for sse in source.iter_sse():
            result.events.append(Event(sse.event, json.loads(sse.data), time.monotonic() - started))
        return result
