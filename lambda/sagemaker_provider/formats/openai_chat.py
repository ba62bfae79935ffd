"""``openai-chat``: OpenAI chat completions, as served by SGLang, vLLM, TGI's Messages API and DJL LMI chat.

Reads a streamed body (SSE or bare JSON lines of ``chat.completion.chunk`` objects, legacy ``text_completion``
chunks included) and a non-streamed ``chat.completion`` body. ``null`` is treated as absent everywhere.

End marker: a finish reason, ``data: [DONE]`` or a complete non-streamed body. A stream with none of these was
cut off (TGI's streamed tool calls have no finish reason but do end with ``[DONE]``).
"""

from __future__ import annotations

import json
from typing import Any

from ..errors import MalformedChunkError, ModelStreamError, StreamTruncatedError
from ..events import EventBuilder
from ..framing import DONE, ErrorEvent
from ..messages import to_openai_messages, to_openai_tool_choice, to_openai_tools
from .base import ChunkInterpreter, ModelRequest, ResponseFormat, raise_error_event, raise_error_object

NAME = "openai-chat"
# Finish reasons of a generation that did not complete (vLLM/SGLang abort a request on engine errors).
_FAILED = frozenset({"abort", "error"})


class OpenAIChatInterpreter(ChunkInterpreter):
    """Interprets chat completion chunks and bodies."""

    def __init__(self) -> None:
        self._ended = False
        self._seen = False

    def handle(self, payload: Any, events: EventBuilder) -> None:
        """Interpret one chunk, body, ``[DONE]`` or error event."""
        if not isinstance(payload, dict):
            if payload is DONE:
                self._ended = True
                return
            if isinstance(payload, ErrorEvent):
                raise_error_event(payload)
            raise MalformedChunkError(NAME, json.dumps(payload).encode(), "expected a JSON object")
        self._seen = True
        choices = payload.get("choices")
        if choices:
            if not isinstance(choices, list):
                raise MalformedChunkError(NAME, json.dumps(payload).encode(), "'choices' is not a list")
            for choice in choices:
                if not isinstance(choice, dict):
                    raise MalformedChunkError(NAME, json.dumps(payload).encode(), "a choice is not an object")
                # Only the first choice (n=1) is the answer.
                if choice.get("index", 0) == 0:
                    self._choice(choice, events, payload)
        elif choices is None:
            raise_error_object(payload)
            if payload.get("usage") is None:
                raise MalformedChunkError(NAME, json.dumps(payload).encode(), "no 'choices' in the chunk")
        usage = payload.get("usage")
        if usage:
            if not isinstance(usage, dict):
                raise MalformedChunkError(NAME, json.dumps(payload).encode(), "'usage' is not an object")
            details = usage.get("prompt_tokens_details")
            events.usage(
                usage.get("prompt_tokens"),
                usage.get("completion_tokens"),
                usage.get("total_tokens"),
                details.get("cached_tokens") if isinstance(details, dict) else None,
            )

    def end(self, events: EventBuilder) -> None:
        """Require a finish reason, ``[DONE]`` or a whole body."""
        if not self._ended:
            detail = "no finish reason and no [DONE]" if self._seen else "no chunk at all"
            raise StreamTruncatedError(NAME, detail)

    def _choice(self, choice: dict[str, Any], events: EventBuilder, payload: dict[str, Any]) -> None:
        delta = choice.get("delta")
        if delta is None:
            delta = choice.get("message")
            if delta is None:
                # Legacy completions chunk: {"text": ...}.
                text = choice.get("text")
                if text:
                    _text(text, events, payload)
            else:
                # A whole, non-streamed completion is its own end marker.
                self._ended = True
        if delta:
            if not isinstance(delta, dict):
                raise MalformedChunkError(
                    NAME, json.dumps(payload).encode(), "'delta'/'message' is not an object"
                )
            reasoning = delta.get("reasoning_content") or delta.get("reasoning")
            if reasoning:
                if not isinstance(reasoning, str):
                    raise MalformedChunkError(NAME, json.dumps(payload).encode(), "reasoning is not a string")
                events.reasoning(reasoning)
            content = delta.get("content")
            if content:
                _text(content, events, payload)
            tool_calls = delta.get("tool_calls")
            if tool_calls:
                _tool_calls(tool_calls, events, payload)
        finish_reason = choice.get("finish_reason")
        if finish_reason:
            if not isinstance(finish_reason, str):
                raise MalformedChunkError(
                    NAME, json.dumps(payload).encode(), "'finish_reason' is not a string"
                )
            if finish_reason in _FAILED:
                raise ModelStreamError(
                    f"the server ended the generation with finish_reason {finish_reason!r}"
                )
            events.finish(finish_reason)
            self._ended = True


def _text(content: Any, events: EventBuilder, payload: dict[str, Any]) -> None:
    if isinstance(content, str):
        events.text(content)
        return
    if isinstance(content, list):  # content parts: [{"type": "text", "text": ...}]
        for part in content:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                if part["text"]:
                    events.text(part["text"])
                continue
            raise MalformedChunkError(NAME, json.dumps(payload).encode(), "content part without text")
        return
    raise MalformedChunkError(NAME, json.dumps(payload).encode(), "content is not text")


def _tool_calls(tool_calls: Any, events: EventBuilder, payload: dict[str, Any]) -> None:
    if isinstance(tool_calls, dict):
        tool_calls = [tool_calls]
    if not isinstance(tool_calls, list):
        raise MalformedChunkError(NAME, json.dumps(payload).encode(), "'tool_calls' is not a list")
    for position, call in enumerate(tool_calls):
        if not isinstance(call, dict):
            raise MalformedChunkError(NAME, json.dumps(payload).encode(), "tool call is not an object")
        function = call.get("function") or {}
        if not isinstance(function, dict):
            raise MalformedChunkError(
                NAME, json.dumps(payload).encode(), "tool call 'function' is not an object"
            )
        index = call.get("index")
        events.tool_delta(
            index if type(index) is int else position,  # not a bool (an int subclass)
            call.get("id"),
            function.get("name"),
            function.get("arguments"),
        )


class OpenAIChatFormat(ResponseFormat):
    """OpenAI chat completions request and response (``messages`` in, chunks or a completion out)."""

    name = NAME

    def build_request(self, request: ModelRequest) -> dict[str, Any]:
        """Build a chat completions body: messages, tools, tool choice, parameters, usage in the stream."""
        body: dict[str, Any] = {}
        if request.model:
            body["model"] = request.model
        body["messages"] = to_openai_messages(
            request.messages,
            request.system_prompt,
            tool_results_as_user_text=request.tool_results_as_user_text,
        )
        if request.tool_specs:
            body["tools"] = to_openai_tools(request.tool_specs)
            if request.tool_choice:
                body["tool_choice"] = to_openai_tool_choice(request.tool_choice)
        body.update(request.params)
        body["stream"] = request.stream
        if request.stream:
            body.setdefault("stream_options", {"include_usage": True})
        body.update(request.additional_request_fields)
        return body

    def new_interpreter(self, request: ModelRequest | None = None) -> ChunkInterpreter:
        """Return a chat completions interpreter."""
        return OpenAIChatInterpreter()

    def accepts(self, payload: Any) -> bool:
        """Recognise a chat completion (chunk) by its ``choices`` or ``object`` field."""
        return isinstance(payload, dict) and ("choices" in payload or "object" in payload)
