"""A turn's items as OpenAI chat completions: `chat.completion.chunk`s of a stream, or a `chat.completion`.

Text is the answer's content and `done` its finish (and usage); a `status` event of a model waking is an SSE
comment, which the SDKs skip; any other event (a tool call, its result, reasoning, and events added later)
rides in the extension field `agent_event` of an otherwise empty chunk (`agent_events` of a whole answer).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any, Final

from agent_api import contract
from agent_api.doors.openai.errors import error_body
from agent_api.errors import ErrorReply
from agent_api.pipeline import StreamEncoder, WholeEncoder
from agent_api.turn_events import DONE, STATUS, TEXT, TurnEvent
from agent_api.warming import ModelState

# Strands' stop reasons as OpenAI's finish reasons; any other (none is expected at the end of a turn)
# is "stop".
FINISH_REASONS: Final = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "content_filtered": "content_filter",
    "guardrail_intervened": "content_filter",
}
DONE_LINE: Final = b"data: [DONE]\n\n"


def usage(done: TurnEvent) -> dict[str, int]:
    """Return the `done` event's usage in OpenAI's words."""
    tokens = done.data["usage"]
    prompt, completion = int(tokens["input_tokens"]), int(tokens["output_tokens"])
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def finish_reason(done: TurnEvent) -> str:
    """Return the `done` event's stop reason as OpenAI's finish reason."""
    return FINISH_REASONS.get(str(done.data["stop_reason"]), "stop")


class CompletionStream(StreamEncoder):
    """A streamed completion: a role chunk, a chunk per event, the finish (and usage), `[DONE]`.

    A failure after the stream has begun is sent as OpenAI's in-stream error (`data: {"error": ...}`, which
    the SDKs raise as `APIError`), with no `[DONE]` after it.
    """

    def __init__(self, completion_id: str, include_usage: bool) -> None:
        self._base = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": contract.OPENAI_MODEL_ID,
        }
        self._include_usage = include_usage
        self._began = False

    def event(self, event: TurnEvent) -> bytes:
        """Encode one event as its chunk(s)."""
        if event.name == STATUS and event.data.get("state") == ModelState.WARMING.value:
            # An SSE comment: OpenAI's SDKs skip it, and it keeps the stream from looking idle while the
            # model wakes.
            return f": model warming, {event.data['elapsed_s']} s\n\n".encode()
        # The role chunk comes first, once something of the answer is sent.
        role = b"" if self._began else self._delta({"role": "assistant", "content": ""})
        self._began = True
        if event.name == TEXT:
            return role + self._delta({"content": event.data["delta"]})
        if event.name == DONE:
            # The turn's trace id rides as an extension field (docs/agent-api.md, "Traces").
            trace_id = event.data["trace_id"]
            end = self._delta({}, finish_reason(event), trace_id=trace_id)
            if self._include_usage:
                end += _data_line({**self._base, "choices": [], "usage": usage(event), "trace_id": trace_id})
            return role + end + DONE_LINE
        return role + self._delta({}, agent_event=event.tagged())

    def error(self, error: ErrorReply) -> bytes:
        """Encode OpenAI's in-stream error."""
        return _data_line(error_body(error))

    def _delta(self, delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
        choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
        chunk = {**self._base, "choices": [choice], **extra}
        # With `include_usage`, every chunk but the last carries `usage: null` (OpenAI's API reference).
        return _data_line({**chunk, "usage": None} if self._include_usage else chunk)


class WholeCompletion(WholeEncoder):
    """A whole completion: one `chat.completion` with every piece of text, and the other events listed."""

    def __init__(self, completion_id: str) -> None:
        self._completion_id = completion_id

    def answer(self, events: Sequence[TurnEvent]) -> dict[str, Any]:
        """Return the `chat.completion` of a turn that ended with `done`."""
        *answer, done = events
        texts = [event.data["delta"] for event in answer if event.name == TEXT]
        message = {"role": "assistant", "content": "".join(texts), "refusal": None}
        return {
            "id": self._completion_id,
            "object": "chat.completion",
            "created": int(time.time()),
            "model": contract.OPENAI_MODEL_ID,
            "choices": [
                {"index": 0, "message": message, "finish_reason": finish_reason(done), "logprobs": None}
            ],
            "usage": usage(done),
            "agent_events": [event.tagged() for event in answer if event.name != TEXT],
            "trace_id": done.data["trace_id"],
        }


def _data_line(data: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode() + b"\n\n"
