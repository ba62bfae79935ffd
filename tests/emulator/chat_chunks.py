"""Hand-made chat-completions stream chunks, for shapes no recording has (reasoning, two tool calls...)."""

import json
from typing import Any

from tests.support.sagemaker_runtime import Stream

DONE = b"data: [DONE]\n\n"


def chunk(delta: dict[str, Any] | None = None, finish: str | None = None, **fields: Any) -> bytes:
    """One SSE event: a ``chat.completion.chunk`` with ``delta`` (and ``finish_reason``, ``fields``)."""
    choice: dict[str, Any] = {"index": 0, "delta": delta or {}, "finish_reason": finish, **fields}
    body = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "choices": [choice]}
    return b"data: " + json.dumps(body).encode() + b"\n\n"


def usage(prompt_tokens: int, completion_tokens: int) -> bytes:
    """The usage chunk a server sends last when asked for ``stream_options.include_usage``."""
    body = {
        "object": "chat.completion.chunk",
        "choices": [],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }
    return b"data: " + json.dumps(body).encode() + b"\n\n"


def tool_call(
    index: int, *, call_id: str | None = None, name: str | None = None, arguments: str = ""
) -> dict[str, Any]:
    """A ``delta`` carrying one tool-call fragment (the first one of a call names it)."""
    function: dict[str, Any] = {"arguments": arguments}
    if name is not None:
        function["name"] = name
    call: dict[str, Any] = {"index": index, "function": function}
    if call_id is not None:
        call.update(id=call_id, type="function")
    return {"tool_calls": [call]}


def stream(*chunks: bytes) -> Stream:
    """A server reply streaming ``chunks``, one write each."""
    return Stream(list(chunks))
