"""The one place where what a format parsed becomes Strands stream events.

Formats never build Strands events themselves: they call an :class:`EventBuilder` (``text``,
``reasoning``, ``tool_delta``, ``finish``, ``usage``) and the builder emits the event sequence the Strands
agent loop expects:

``messageStart``, then content blocks (``contentBlockStart`` / ``contentBlockDelta``... /
``contentBlockStop``)
for reasoning, text and each tool call, then ``messageStop`` with the stop reason, then ``metadata`` with the
usage. Blocks are always closed, a tool call always has a name and a non-empty id, and the stop reason is
``tool_use`` whenever tool calls were produced without a finish reason saying otherwise.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, cast

from .errors import MalformedChunkError

if TYPE_CHECKING:
    from strands.types.streaming import StreamEvent

    from .text_tool_calls import TextToolCalls

_TEXT: Final = 1
_REASONING: Final = 2

# OpenAI, TGI and DJL LMI finish reasons mapped to Strands stop reasons; anything else ends the turn.
_STOP_REASONS: Final[dict[str, str]] = {
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "length": "max_tokens",
    "content_filter": "content_filtered",
    "stop_sequence": "stop_sequence",  # TGI: a `stop` string of the request was generated
}


def new_tool_use_id() -> str:
    """Return a fresh tool-use id, for servers that send a tool call without one."""
    return f"tooluse_{uuid.uuid4().hex[:24]}"


def stop_reason_for(finish_reason: str | None, has_tool_calls: bool) -> str:
    """Map a server's finish reason to a Strands stop reason.

    No finish reason means ``end_turn``; ``end_turn`` with tool calls means ``tool_use`` (TGI streams tool
    calls without a finish reason; vLLM ends a named-tool call with ``stop``).
    """
    reason = _STOP_REASONS.get(finish_reason or "", "end_turn")
    if reason == "end_turn" and has_tool_calls:
        return "tool_use"
    return reason


class _ToolCall:
    def __init__(self, index: int) -> None:
        self.index = index
        self.id = ""
        self.name = ""
        self.arguments: list[str] = []


class EventBuilder:
    """Accumulate parsed pieces of one response and emit Strands events for them.

    Events are collected in order; :meth:`take` hands over those produced so far. Tool calls are emitted
    once complete, at :meth:`close`, in index order, since their fragments may arrive interleaved by index.

    Args:
        format_name: The response format being read, named in errors.
        new_tool_id: Makes the id of a tool call the server sent without one.
        text_tool_calls: Reads tool calls written in the answer's text (when tools were offered): the text
            that may be a call is held back, and emitted at :meth:`close` as tool calls or as text.

    """

    def __init__(
        self,
        format_name: str,
        new_tool_id: Callable[[], str] = new_tool_use_id,
        text_tool_calls: TextToolCalls | None = None,
    ) -> None:
        self._format_name = format_name
        self._new_tool_id = new_tool_id
        self._text_tool_calls = text_tool_calls
        self._events: list[StreamEvent] = [{"messageStart": {"role": "assistant"}}]
        self._block = 0
        # Every call in arrival order, and the call each server index currently continues.
        self._tools: list[_ToolCall] = []
        self._open_tools: dict[int, _ToolCall] = {}
        self._finish_reason: str | None = None
        self._usage: dict[str, int] | None = None
        self.text_tool_calls = 0
        """How many tool calls :meth:`close` read from the answer's text."""

    def read_tool_calls_with(self, text_tool_calls: TextToolCalls | None) -> None:
        """Read tool calls written in the text with ``text_tool_calls`` instead (``None``: not at all).

        For a format whose answers carry calls in a syntax of their own (a native prompt API's chat template);
        call it before the first text.
        """
        self._text_tool_calls = text_tool_calls

    def take(self) -> list[StreamEvent]:
        """Return the events produced since the last call."""
        events = self._events
        self._events = []
        return events

    def text(self, text: str) -> None:
        """Add answer text."""
        if self._text_tool_calls is not None:
            text = self._text_tool_calls.feed(text)
            if not text:
                return
        self._add_text(text)

    def _add_text(self, text: str) -> None:
        if self._block != _TEXT:
            self._open(_TEXT)
        self._events.append({"contentBlockDelta": {"delta": {"text": text}}})

    def reasoning(self, text: str) -> None:
        """Add reasoning text (``reasoning_content`` / ``reasoning``)."""
        if self._block != _REASONING:
            self._open(_REASONING)
        self._events.append({"contentBlockDelta": {"delta": {"reasoningContent": {"text": text}}}})

    def tool_delta(self, index: int, tool_id: Any, name: Any, arguments: Any) -> None:
        """Add a fragment of the tool call at ``index``; ``None`` or empty parts are absent.

        ``arguments`` is a piece of the JSON text, or a whole JSON value (some servers send an object). A
        fragment bringing a new id to an index that already has a call starts another call: some servers
        number every call of a parallel answer 0.
        """
        call = self._open_tools.get(index)
        if call is None or (tool_id and call.id and str(tool_id) != call.id):
            call = self._open_tools[index] = _ToolCall(index)
            self._tools.append(call)
        if tool_id and not call.id:
            call.id = str(tool_id)
        if name and not call.name:
            call.name = str(name)
        if arguments is None or arguments == "":
            return
        if isinstance(arguments, str):
            call.arguments.append(arguments)
        else:
            call.arguments = [json.dumps(arguments, ensure_ascii=False)]

    def finish(self, reason: str) -> None:
        """Record the server's finish reason (the first one wins)."""
        if self._finish_reason is None:
            self._finish_reason = reason

    def usage(
        self, input_tokens: Any, output_tokens: Any, total_tokens: Any = None, cached: Any = None
    ) -> None:
        """Record token usage; values that are not integers are unknown and left out."""
        usage: dict[str, int] = {}
        if _is_count(input_tokens):
            usage["inputTokens"] = input_tokens
        if _is_count(output_tokens):
            usage["outputTokens"] = output_tokens
        if _is_count(total_tokens):
            usage["totalTokens"] = total_tokens
        elif usage:
            usage["totalTokens"] = sum(usage.values())
        if _is_count(cached):
            usage["cacheReadInputTokens"] = cached
        if usage:
            self._usage = usage

    def close(self) -> list[StreamEvent]:
        """Close the open block, emit tool calls, ``messageStop`` and ``metadata``; return the last events."""
        if self._text_tool_calls is not None:
            rest, calls = self._text_tool_calls.finish()
            if rest:
                self._add_text(rest)
            index = max((call.index for call in self._tools), default=-1) + 1
            self.text_tool_calls = len(calls)
            for offset, (name, arguments) in enumerate(calls):
                self.tool_delta(index + offset, None, name, arguments)
        if self._block:
            self._events.append({"contentBlockStop": {}})
            self._block = 0
        # In index order (a stable sort: calls sharing an index keep their arrival order).
        for call in sorted(self._tools, key=lambda call: call.index):
            if not call.name:
                raw = json.dumps({"id": call.id, "arguments": "".join(call.arguments)}).encode()
                raise MalformedChunkError(self._format_name, raw, "tool call without a name")
            self._events.append(
                {
                    "contentBlockStart": {
                        "start": {"toolUse": {"name": call.name, "toolUseId": call.id or self._new_tool_id()}}
                    }
                }
            )
            self._events.append(
                {"contentBlockDelta": {"delta": {"toolUse": {"input": "".join(call.arguments)}}}}
            )
            self._events.append({"contentBlockStop": {}})
        stop_reason = stop_reason_for(self._finish_reason, bool(self._tools))
        self._events.append(cast("StreamEvent", {"messageStop": {"stopReason": stop_reason}}))
        metadata: dict[str, Any] = {"metrics": {"latencyMs": 0}}
        if self._usage is not None:
            metadata["usage"] = self._usage
        self._events.append(cast("StreamEvent", {"metadata": metadata}))
        return self.take()

    def _open(self, block: int) -> None:
        if self._block:
            self._events.append({"contentBlockStop": {}})
        self._events.append({"contentBlockStart": {"start": {}}})
        self._block = block


def _is_count(value: Any) -> bool:
    # `type() is`, not isinstance: JSON true/false are bools, an int subclass, and not counts.
    return type(value) is int and value >= 0
