"""``auto``: send an OpenAI chat request and read whichever registered format comes back.

Every supported server accepts a chat completions body on ``/invocations`` (SGLang, vLLM, TGI's Messages
API, DJL LMI chat), so ``auto`` builds the ``openai-chat`` request. The response format is then decided by
the first payload of the body: the first registered format whose ``accepts`` recognises it reads the whole
response.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from ..errors import MalformedChunkError, StreamTruncatedError
from ..events import EventBuilder
from ..framing import DONE, ErrorEvent
from .base import ChunkInterpreter, ModelRequest, ResponseFormat, raise_error_event, raise_error_object
from .openai_chat import OpenAIChatFormat

NAME = "auto"


class SniffingInterpreter(ChunkInterpreter):
    """Picks the format from the first payload, then hands every payload to that format's interpreter.

    Args:
        candidates: Returns the formats to try, in order.
        request: The request the response answers, if known.

    """

    def __init__(self, candidates: Callable[[], list[ResponseFormat]], request: ModelRequest | None) -> None:
        self._candidates = candidates
        self._request = request
        self._chosen: ChunkInterpreter | None = None
        self._chosen_name: str | None = None

    def handle(self, payload: Any, events: EventBuilder) -> None:
        """Choose the interpreter on the first payload, then delegate."""
        if self._chosen is None:
            if payload is DONE:
                return
            if isinstance(payload, ErrorEvent):
                raise_error_event(payload)
            raise_error_object(payload)
            for candidate in self._candidates():
                if candidate.accepts(payload):
                    self._chosen = candidate.new_interpreter(self._request)
                    self._chosen_name = candidate.name
                    break
            else:
                raise MalformedChunkError(
                    NAME,
                    json.dumps(payload).encode(),
                    "no registered format recognises this response; set response_format explicitly",
                )
        self._chosen.handle(payload, events)

    @property
    def format_read(self) -> str | None:
        """The format chosen from the first payload (None before it)."""
        return self._chosen_name

    def end(self, events: EventBuilder) -> None:
        """Delegate the end check, or report an empty body."""
        if self._chosen is None:
            raise StreamTruncatedError(NAME, "the body holds no response chunk")
        self._chosen.end(events)


class AutoFormat(ResponseFormat):
    """OpenAI chat request; response format recognised from the first payload.

    Args:
        candidates: Returns the formats to try, in order (the registry's formats).

    """

    name = NAME

    def __init__(self, candidates: Callable[[], list[ResponseFormat]]) -> None:
        self._candidates = candidates
        self._request_format = OpenAIChatFormat()

    def build_request(self, request: ModelRequest) -> dict[str, Any]:
        """Build the ``openai-chat`` request."""
        return self._request_format.build_request(request)

    def new_interpreter(self, request: ModelRequest | None = None) -> ChunkInterpreter:
        """Return an interpreter that sniffs the response."""
        return SniffingInterpreter(self._candidates, request)
