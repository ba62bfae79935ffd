"""The recorded serving-framework responses of ``tests/fixtures/``, cut as a server sends them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.support.scripted_server import Reply

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def sse_parts(body: bytes) -> list[bytes]:
    """Split a body the way a streaming server flushes it: one part per SSE event (else per JSON line)."""
    separator = b"\n\n" if b"\n\n" in body else b"\n"
    pieces = body.split(separator)
    parts = [piece + separator for piece in pieces[:-1]]
    if pieces[-1]:
        parts.append(pieces[-1])
    return parts


def fixture_parts(relative: str) -> list[bytes]:
    """The parts of a recorded streaming body under tests/fixtures/ (e.g. ``vllm/chat_stream.txt``)."""
    return sse_parts((FIXTURES / relative).read_bytes())


def fixture_reply(framework: str, case: str) -> Reply:
    """The recorded answer (status, content type, body) of ``framework``'s ``case``, as a container reply."""
    folder = FIXTURES / framework
    if framework == "vllm":
        body = (folder / f"{case}.txt").read_bytes()
        head = (folder / f"{case}.headers.txt").read_text().splitlines()
        status = int(head[0].split()[1])
        content_types = [line.split(":", 1)[1].strip() for line in head if line.startswith("content-type:")]
        content_type = content_types[0] if content_types else "application/octet-stream"
    else:
        body = (folder / f"{case}.body").read_bytes()
        http = json.loads((folder / f"{case}.http.json").read_text())
        status = http.get("status", http.get("http_status"))
        content_type = http.get("content-type", http.get("content_type"))
    chunks = sse_parts(body)
    return Reply(
        chunks=chunks, status=status, content_type=content_type, chunked=status == 200 and len(chunks) > 1
    )


def calculator_call_parts() -> list[bytes]:
    """The recorded vLLM tool-call stream, with the call aimed at the agent API's `calculator` tool instead
    of the recording's `get_weather` (only the name and arguments are rewritten; the framing is as recorded).
    """
    return tool_call_parts("calculator", {"expression": "6 * 7"})


def tool_call_parts(name: str, arguments: dict[str, Any]) -> list[bytes]:
    """The recorded vLLM tool-call stream, calling tool ``name`` with ``arguments`` instead of the recording's
    `get_weather` call. The recording streams the arguments' JSON in two pieces, and so does this."""
    body = (FIXTURES / "vllm/tools_auto_stream.txt").read_text()
    text = json.dumps(arguments)
    first, second = (json.dumps(piece)[1:-1] for piece in (text[:-2], text[-2:]))
    body = body.replace('"name":"get_weather"', f'"name":{json.dumps(name)}')
    body = body.replace('"arguments":"{\\"city\\": \\""', f'"arguments":"{first}"')
    body = body.replace('"arguments":"Paris\\"}"', f'"arguments":"{second}"')
    return sse_parts(body.encode())
