"""A turn's items as an OpenAI Response: the Responses API's event stream, or one `response` object.

Shapes follow the `openai` SDK's types (`openai.types.responses`: `Response`, `ResponseStreamEvent`). The
turn's events become output items in order: the model's reasoning a `reasoning` item, its text a `message`
item (a new one after each tool call), each tool call of the agent an `mcp_call` item carrying its result
(`server_label` "agent" for the agent's own tools), which OpenAI clients show and never run. `done` ends
the response: `completed`, or `incomplete` when cut by the token limit. Any other event (a tool source's
warning, and events added later) is listed in the extension field `agent_events` of the response, and
streamed as an extension event `response.agent_event`; the `done` event itself rides in `agent_done`.

`OutputBuilder` turns events into items (and the stream events that build them): one builder for the
stream, the whole answer and the stored response, so all three agree, item ids included (derived from the
response id and the item's position).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from agent_api import contract, sse
from agent_api.doors.openai.errors import error_type
from agent_api.errors import ErrorReply
from agent_api.pipeline import StreamEncoder, WholeEncoder
from agent_api.turn_events import DONE, REASONING, STATUS, TEXT, TOOL_RESULT, TOOL_USE, TurnEvent
from agent_api.warming import ModelState

AGENT_SERVER_LABEL: Final = "agent"
"""The `server_label` of the agent's tool calls (`mcp_call` items)."""
AGENT_EVENT: Final = "response.agent_event"
"""The extension stream event carrying a turn event that has no place in OpenAI's output items."""
# Strands' stop reasons that cut an answer short, as the Response's incomplete reason.
INCOMPLETE_REASONS: Final = {
    "max_tokens": "max_output_tokens",
    "content_filtered": "content_filter",
    "guardrail_intervened": "content_filter",
}


@dataclass(frozen=True)
class ResponseHead:
    """What a response is before it has output: its id, creation time and what it echoes of the request."""

    id: str
    created_at: int
    echo: Mapping[str, Any] = field(default_factory=dict)
    """The request's parameters, as the Response object names them (`instructions`, `temperature`, ...)."""
    _completed_at: list[int] = field(default_factory=list, compare=False, repr=False)

    def completed_at(self) -> int:
        """Return when the response completed, read from the clock once.

        So the stored response (saved before `done` reaches the door) and the one its client reads agree.
        """
        if not self._completed_at:
            self._completed_at.append(int(time.time()))
        return self._completed_at[0]

    def body(self, status: str, output: Sequence[dict[str, Any]], **fields: Any) -> dict[str, Any]:
        """Return the Response object in `status` with `output` and the given fields."""
        return {
            "id": self.id,
            "object": "response",
            "created_at": self.created_at,
            "status": status,
            "model": contract.OPENAI_MODEL_ID,
            "output": list(output),
            "usage": None,
            "error": None,
            "incomplete_details": None,
            **self.echo,
            **fields,
        }


def usage(done: TurnEvent) -> dict[str, Any]:
    """Return the `done` event's usage as the Responses API's."""
    tokens = done.data["usage"]
    read, written = int(tokens["input_tokens"]), int(tokens["output_tokens"])
    return {
        "input_tokens": read,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": written,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": read + written,
    }


class OutputBuilder:
    """Builds a response's output items from a turn's events, and the stream events announcing them."""

    def __init__(self, response_id: str) -> None:
        self._suffix = response_id.removeprefix("resp_")
        self.items: list[dict[str, Any]] = []
        self.agent_events: list[dict[str, Any]] = []
        # The item text or reasoning is being appended to, if any (its index in `items`).
        self._open: int | None = None
        # Tool calls waiting for their result: tool use id -> item index.
        self._calls: dict[str, int] = {}

    def add(self, event: TurnEvent) -> list[dict[str, Any]]:
        """Add one event (not `done`); return the stream events it makes (without sequence numbers)."""
        if event.name == TEXT:
            return self._append("message", "output_text", event.data["delta"])
        if event.name == REASONING:
            return self._append("reasoning", "reasoning_text", event.data["delta"])
        if event.name == TOOL_USE:
            return [*self._close(), *self._call(event.data)]
        if event.name == TOOL_RESULT and event.data["id"] in self._calls:
            return self._result(event.data)
        if event.name == STATUS and event.data.get("state") == ModelState.WARMING.value:
            return []
        self.agent_events.append(event.tagged())
        return [{"type": AGENT_EVENT, "event": event.tagged()}]

    def finish(self) -> list[dict[str, Any]]:
        """Close what is still open, at the end of a complete answer; return the stream events it makes."""
        events = self._close()
        for index in self._calls.values():
            # A call whose result never came (none is expected at the end of a turn).
            self.items[index]["status"] = "incomplete"
        self._calls.clear()
        return events

    def interrupt(self) -> None:
        """Mark what is still open as incomplete: the answer failed before its end."""
        for index in [*([] if self._open is None else [self._open]), *self._calls.values()]:
            self.items[index]["status"] = "incomplete"
        self._open = None
        self._calls.clear()

    def _id(self, prefix: str, index: int) -> str:
        return f"{prefix}_{self._suffix}{index:04d}"

    def _append(self, kind: str, part_type: str, delta: str) -> list[dict[str, Any]]:
        """Append a piece of text or reasoning to the open item of its kind, opening one if needed."""
        events: list[dict[str, Any]] = []
        if self._open is None or self.items[self._open]["type"] != kind:
            events += self._close()
            events += self._start(kind, part_type)
        index = self._open
        assert index is not None
        item = self.items[index]
        item["content"][0]["text"] += delta
        at = {"item_id": item["id"], "output_index": index, "content_index": 0}
        if kind == "message":
            events.append({"type": "response.output_text.delta", **at, "delta": delta, "logprobs": []})
        else:
            events.append({"type": "response.reasoning_text.delta", **at, "delta": delta})
        return events

    def _start(self, kind: str, part_type: str) -> list[dict[str, Any]]:
        index = len(self.items)
        part: dict[str, Any] = {"type": part_type, "text": ""}
        if kind == "message":
            part.update(annotations=[], logprobs=[])
            item: dict[str, Any] = {
                "id": self._id("msg", index),
                "type": "message",
                "role": "assistant",
                "status": "in_progress",
                "content": [],
            }
        else:
            item = {"id": self._id("rs", index), "type": "reasoning", "summary": [], "content": []}
        added = {"type": "response.output_item.added", "output_index": index, "item": _copy(item)}
        item["content"].append(part)
        self.items.append(item)
        self._open = index
        at = {"item_id": item["id"], "output_index": index, "content_index": 0}
        return [added, {"type": "response.content_part.added", **at, "part": dict(part)}]

    def _close(self) -> list[dict[str, Any]]:
        """Close the open message or reasoning item, if any."""
        if self._open is None:
            return []
        index, self._open = self._open, None
        item = self.items[index]
        item["status"] = "completed"
        part = item["content"][0]
        at = {"item_id": item["id"], "output_index": index, "content_index": 0}
        if item["type"] == "message":
            done = {"type": "response.output_text.done", **at, "text": part["text"], "logprobs": []}
        else:
            done = {"type": "response.reasoning_text.done", **at, "text": part["text"]}
        return [
            done,
            {"type": "response.content_part.done", **at, "part": dict(part)},
            {"type": "response.output_item.done", "output_index": index, "item": _copy(item)},
        ]

    def _call(self, call: Mapping[str, Any]) -> list[dict[str, Any]]:
        index = len(self.items)
        arguments = json.dumps(call["input"], ensure_ascii=False, separators=(",", ":"))
        item = {
            "id": self._id("mcp", index),
            "type": "mcp_call",
            "name": call["name"],
            "server_label": AGENT_SERVER_LABEL,
            "arguments": arguments,
            "output": None,
            "error": None,
            "status": "in_progress",
        }
        self.items.append(item)
        self._calls[call["id"]] = index
        at = {"item_id": item["id"], "output_index": index}
        return [
            {"type": "response.output_item.added", "output_index": index, "item": _copy(item)},
            {"type": "response.mcp_call_arguments.delta", **at, "delta": arguments},
            {"type": "response.mcp_call_arguments.done", **at, "arguments": arguments},
            {"type": "response.mcp_call.in_progress", **at},
        ]

    def _result(self, result: Mapping[str, Any]) -> list[dict[str, Any]]:
        index = self._calls.pop(result["id"])
        item = self.items[index]
        failed = result["status"] == "error"
        item.update(
            output=None if failed else result["content"],
            error=result["content"] if failed else None,
            status="failed" if failed else "completed",
        )
        at = {"item_id": item["id"], "output_index": index}
        return [
            {"type": "response.mcp_call.failed" if failed else "response.mcp_call.completed", **at},
            {"type": "response.output_item.done", "output_index": index, "item": _copy(item)},
        ]


def final_body(head: ResponseHead, builder: OutputBuilder, done: TurnEvent) -> dict[str, Any]:
    """Return the Response of a turn that ended with `done` (its builder finished)."""
    reason = INCOMPLETE_REASONS.get(str(done.data["stop_reason"]))
    return head.body(
        "completed" if reason is None else "incomplete",
        builder.items,
        usage=usage(done),
        incomplete_details=None if reason is None else {"reason": reason},
        completed_at=head.completed_at() if reason is None else None,
        agent_events=builder.agent_events,
        agent_done=done.data,
    )


def whole_response(head: ResponseHead, events: Sequence[TurnEvent]) -> dict[str, Any]:
    """Return the Response of every event of a turn, `done` last."""
    *answer, done = events
    assert done.name == DONE
    builder = OutputBuilder(head.id)
    for event in answer:
        builder.add(event)
    builder.finish()
    return final_body(head, builder, done)


class ResponseStream(StreamEncoder):
    """A streamed response, each event with its `sequence_number`.

    `response.created`, `response.in_progress`, the output's events, then `response.completed` (or
    `response.incomplete`).
    While a model scaled to zero wakes, SSE comments (which the SDKs skip) keep the stream alive. A failure
    after the stream began is an `error` event (OpenAI's fields, and its `error` object, which the Python SDK
    raises as `APIError`) and then `response.failed`.
    """

    def __init__(self, head: ResponseHead) -> None:
        self._head = head
        self._builder = OutputBuilder(head.id)
        self._sequence = 0
        self._began = False

    def event(self, event: TurnEvent) -> bytes:
        """Encode one event as the stream events it makes."""
        out = self._begin()
        if event.name == STATUS and event.data.get("state") == ModelState.WARMING.value:
            return out + f": model warming, {event.data['elapsed_s']} s\n\n".encode()
        if event.name != DONE:
            return out + b"".join(self._send(e) for e in self._builder.add(event))
        out += b"".join(self._send(e) for e in self._builder.finish())
        body = final_body(self._head, self._builder, event)
        terminal = "response.completed" if body["status"] == "completed" else "response.incomplete"
        return out + self._send({"type": terminal, "response": body})

    def error(self, error: ErrorReply) -> bytes:
        """Encode the `error` event and `response.failed` ending a stream."""
        out = self._begin()
        self._builder.interrupt()
        details = {"code": error.code, "message": error.message, "param": error.param}
        out += self._send(
            {
                "type": "error",
                **details,
                "error": {"type": error_type(error.status), **details, **error.details},
            }
        )
        failed = self._head.body(
            "failed",
            self._builder.items,
            error={
                "code": "rate_limit_exceeded" if error.status == 429 else "server_error",
                "message": error.message,
            },
            agent_events=self._builder.agent_events,
        )
        return out + self._send({"type": "response.failed", "response": failed})

    def _begin(self) -> bytes:
        if self._began:
            return b""
        self._began = True
        created = self._head.body("in_progress", [])
        return self._send({"type": "response.created", "response": created}) + self._send(
            {"type": "response.in_progress", "response": created}
        )

    def _send(self, event: dict[str, Any]) -> bytes:
        event["sequence_number"] = self._sequence
        self._sequence += 1
        return sse.encode_event(event["type"], event)


class WholeResponse(WholeEncoder):
    """A whole response: one `response` object."""

    def __init__(self, head: ResponseHead) -> None:
        self._head = head

    def answer(self, events: Sequence[TurnEvent]) -> dict[str, Any]:
        """Return the Response of a turn that ended with `done`."""
        return whole_response(self._head, events)


def _copy(item: dict[str, Any]) -> dict[str, Any]:
    """Copy an item as it is now (its content list too), for an event that announces it."""
    return {**item, **({"content": [dict(part) for part in item["content"]]} if "content" in item else {})}
