"""``/chat`` through the project's own client library (unsigned, as for a local API), with arrival times."""

import json
import time
from dataclasses import dataclass, field
from typing import Any

from agent_client.api import ApiHttpError, ChatCall, chat_url

HEADERS = {"Content-Type": "application/json", "Accept": "text/event-stream"}


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
    """The JSON body (code, message) of an HTTP error answer."""

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
    call = ChatCall(url=chat_url(agent_url), body=body, headers=HEADERS, timeout_seconds=120)
    started = time.monotonic()
    result = ChatResult(200)
    try:
        for event in call.events():
            result.events.append(Event(event.name, json.loads(event.data), time.monotonic() - started))
    except ApiHttpError as error:
        return ChatResult(error.status, error_body={"code": error.code, "message": error.message})
    return result
