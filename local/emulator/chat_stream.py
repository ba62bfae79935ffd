"""An OpenAI chat-completions stream read as Bedrock ConverseStream events.

The stream is Server-Sent Events of ``chat.completion.chunk`` objects. Each event is ``(member, body)`` of
botocore's ``ConverseStreamOutput`` union: ``messageStart``, then per content block its deltas (``text``,
``reasoningContent.text``, or ``toolUse.input`` JSON fragments, a tool block opened by a ``contentBlockStart``
naming its ``toolUseId`` and ``name``) and a ``contentBlockStop``, then ``messageStop`` with the
``stopReason`` and ``metadata`` with the token ``usage`` and ``latencyMs``. A text or reasoning block has no
``contentBlockStart``: the union's ``ContentBlockStart`` has no member for them. A stream that breaks off, or
carries an error object, ends with a ``StreamFailure``.
"""

import http.client
import json
import secrets
import string
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

Event = tuple[str, dict[str, Any]]

_TOOL_USE_ID_CHARACTERS = frozenset(string.ascii_letters + string.digits + "_.:-")
_MAX_TOOL_USE_ID = 64
_MAX_LINE = 1024 * 1024


@dataclass(frozen=True)
class StreamFailure:
    """The model server's stream did not end well; ``timed_out`` when it stopped sending altogether."""

    message: str
    timed_out: bool = False


def converse_events(
    response: http.client.HTTPResponse, stop_sequences: tuple[str, ...], started: float
) -> Iterator[Event | StreamFailure]:
    """Yield the Converse events of a chat-completions stream, ending in ``metadata`` or a ``StreamFailure``.

    ``started`` is the ``time.monotonic()`` of the request, for ``latencyMs``.
    """
    translator = _Translator(stop_sequences)
    yield "messageStart", {"role": "assistant"}
    try:
        for data in _sse_data(response):
            if data == "[DONE]":
                break
            try:
                chunk = json.loads(data)
            except json.JSONDecodeError:
                yield StreamFailure(f"The model server sent an event that is not JSON: {data[:200]!r}.")
                return
            problem = _error_in(chunk)
            if problem is not None:
                yield StreamFailure(f"The model server reported an error: {problem}")
                return
            try:
                events = list(translator.feed(chunk))
            except (AttributeError, TypeError, ValueError) as error:
                yield StreamFailure(f"The model server sent a chunk the emulator cannot read ({error!r}).")
                return
            yield from events
            if translator.failure is not None:
                yield translator.failure
                return
    except TimeoutError:
        yield StreamFailure("The model did not finish sending its response within the allowed time.", True)
        return
    except (OSError, http.client.HTTPException, ValueError) as error:
        yield StreamFailure(f"The model server's stream broke off or could not be read ({error!r}).")
        return
    if translator.finish_reason is None:
        yield StreamFailure("The model server's stream ended before a finish_reason.")
        return
    yield from translator.finish(started)


def _sse_data(response: http.client.HTTPResponse) -> Iterator[str]:
    """Yield the data of each Server-Sent Event (its ``data:`` lines joined), as the server flushes them."""
    lines: list[str] = []
    while True:
        raw = response.readline(_MAX_LINE)
        if not raw:
            break
        if len(raw) == _MAX_LINE and not raw.endswith(b"\n"):
            raise ValueError(f"a line of the stream is longer than {_MAX_LINE} bytes")
        line = raw.decode("utf-8").rstrip("\r\n")
        if not line:
            if lines:
                yield "\n".join(lines)
                lines = []
        elif line.startswith("data:"):
            lines.append(line[5:].removeprefix(" "))
    if lines:
        yield "\n".join(lines)


def _error_in(chunk: object) -> str | None:
    """Return the message of an error object a server streams instead of a chunk (vLLM, OpenAI)."""
    if not isinstance(chunk, dict):
        return f"an event that is not a JSON object: {chunk!r}"
    error = chunk.get("error")
    if isinstance(error, dict):
        return str(error.get("message", error))
    if error is not None:
        return str(error)
    if chunk.get("object") == "error":
        return str(chunk.get("message", chunk))
    return None


class _Translator:
    """Turns chunks into events, one content block open at a time (Strands reads them in order)."""

    def __init__(self, stop_sequences: tuple[str, ...]) -> None:
        self.stop_sequences = stop_sequences
        self.finish_reason: str | None = None
        self.failure: StreamFailure | None = None
        self._stop_reason: object = None
        self._usage: dict[str, Any] = {}
        self._next_index = 0
        self._open: tuple[str, int] | None = None
        """The open block's kind (``text``, ``reasoning`` or ``tool``) and its chat-completions tool index."""
        self._tools_seen: set[int] = set()

    def feed(self, chunk: dict[str, Any]) -> Iterator[Event]:
        if isinstance(chunk.get("usage"), dict):
            self._usage = chunk["usage"]
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            reasoning = delta.get("reasoning") or delta.get("reasoning_content")
            if reasoning:
                yield from self._delta(("reasoning", -1), {"reasoningContent": {"text": reasoning}})
            if delta.get("content"):
                yield from self._delta(("text", -1), {"text": delta["content"]})
            for call in delta.get("tool_calls") or []:
                yield from self._tool_call(call)
                if self.failure is not None:
                    return
            if choice.get("finish_reason"):
                self.finish_reason = choice["finish_reason"]
                self._stop_reason = choice.get("stop_reason")

    def finish(self, started: float) -> Iterator[Event]:
        yield from self._close()
        yield "messageStop", {"stopReason": self._bedrock_stop_reason()}
        input_tokens = int(self._usage.get("prompt_tokens") or 0)
        output_tokens = int(self._usage.get("completion_tokens") or 0)
        yield (
            "metadata",
            {
                "usage": {
                    "inputTokens": input_tokens,
                    "outputTokens": output_tokens,
                    "totalTokens": input_tokens + output_tokens,
                },
                "metrics": {"latencyMs": round((time.monotonic() - started) * 1000)},
            },
        )

    def _tool_call(self, call: dict[str, Any]) -> Iterator[Event]:
        tool_index = int(call.get("index", 0))
        function = call.get("function") or {}
        if self._open != ("tool", tool_index):
            if tool_index in self._tools_seen:
                self.failure = StreamFailure(
                    f"The model server went back to tool call {tool_index} after another block."
                )
                return
            name = function.get("name")
            if not name:
                self.failure = StreamFailure(
                    f"The model server's tool call {tool_index} starts without a name."
                )
                return
            yield from self._close()
            self._tools_seen.add(tool_index)
            self._open = ("tool", tool_index)
            start = {"toolUse": {"toolUseId": _tool_use_id(call.get("id")), "name": name}}
            yield "contentBlockStart", {"start": start, "contentBlockIndex": self._next_index}
        arguments = function.get("arguments")
        if arguments:
            yield (
                "contentBlockDelta",
                {"delta": {"toolUse": {"input": arguments}}, "contentBlockIndex": self._next_index},
            )

    def _delta(self, kind: tuple[str, int], delta: dict[str, Any]) -> Iterator[Event]:
        if self._open != kind:
            yield from self._close()
            self._open = kind
        yield "contentBlockDelta", {"delta": delta, "contentBlockIndex": self._next_index}

    def _close(self) -> Iterator[Event]:
        if self._open is not None:
            yield "contentBlockStop", {"contentBlockIndex": self._next_index}
            self._next_index += 1
            self._open = None

    def _bedrock_stop_reason(self) -> str:
        if self._tools_seen:
            return "tool_use"
        if self.finish_reason == "length":
            return "max_tokens"
        if self.finish_reason == "content_filter":
            return "content_filtered"
        # vLLM names the stop string that ended the answer in ``stop_reason``.
        if self._stop_reason in self.stop_sequences:
            return "stop_sequence"
        return "end_turn"


def _tool_use_id(call_id: object) -> str:
    """Return the server's tool call id if Bedrock's ``ToolUseId`` pattern takes it, else a fresh one."""
    if (
        isinstance(call_id, str)
        and 0 < len(call_id) <= _MAX_TOOL_USE_ID
        and set(call_id) <= _TOOL_USE_ID_CHARACTERS
    ):
        return call_id
    return f"tooluse_{secrets.token_urlsafe(16)}"
