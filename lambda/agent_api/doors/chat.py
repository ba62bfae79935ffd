"""`POST /chat`: a prompt in, the turn's events out as server-sent events (docs/agent-api.md).

Every event is sent as it is, named as the turn names it (`text`, `tool_use`, `status`, `done`, ...); an
error after the stream began is a last `error` event; errors before it are JSON `{"code", "message"}`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from starlette.routing import Route

from agent_api import contract, sse
from agent_api.errors import ErrorReply
from agent_api.pipeline import Accepted, StreamEncoder, TurnPipeline
from agent_api.settings import Settings
from agent_api.turn_events import TurnEvent
from agent_api.validation import parse_chat_request

ERROR_EVENT: Final = "error"


class ChatStream(StreamEncoder):
    """The `/chat` stream: each event as `event: <name>` and its JSON payload."""

    def event(self, event: TurnEvent) -> bytes:
        """Encode an event under its own name."""
        return sse.encode_event(event.name, event.data)

    def error(self, error: ErrorReply) -> bytes:
        """Encode the `error` event ending a stream."""
        return sse.encode_event(ERROR_EVENT, error.body())


class ChatDoor:
    """The `/chat` door; its errors are `{"code", "message"}` (and any details)."""

    name: Final = "chat"
    prefix: Final = "/"
    """The paths whose errors (404, 405) it words: any path that no other door claims."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._stream = ChatStream()

    def parse(self, body: bytes, headers: Mapping[str, str]) -> Accepted:
        """Validate a `/chat` body."""
        return Accepted(parse_chat_request(body, self._settings), self._stream)

    def error_body(self, error: ErrorReply) -> dict[str, Any]:
        """Return `{"code", "message"}`."""
        return error.body()

    def routes(self, pipeline: TurnPipeline) -> list[Route]:
        """Return the door's route, answered by `pipeline`."""
        return [Route(contract.CHAT_PATH, pipeline.endpoint(self), methods=["POST"])]
