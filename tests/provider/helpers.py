"""Shared helpers of the provider tests: fixture discovery, what a parse yields (read by Strands itself), and
a model on the test runtime."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from strands.event_loop.streaming import process_stream

from sagemaker_provider import SageMakerModel
from sagemaker_provider.formats import ResponseParser, get_format
from sagemaker_provider.transport import READER_THREAD_NAME
from tests.support.recordings import FIXTURES
from tests.support.sagemaker_runtime import ENDPOINT, SageMakerRuntime, Stream

# Bodies that are not model responses at all (health checks, model lists).
NOT_RESPONSES = {"vllm/ping.txt", "vllm/health.txt", "vllm/models.txt"}


def fixed_id() -> str:
    return "tooluse_generated"


def body_files() -> list[Path]:
    """Every recorded response body."""
    bodies = sorted(FIXTURES.glob("*/*.body"))
    bodies += sorted(p for p in FIXTURES.glob("vllm/*.txt") if not p.name.endswith(".headers.txt"))
    return bodies


def fixture_id(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


def parse_parts(parts: Iterable[bytes], format_name: str = "auto") -> list[Any]:
    """Feed parts to a parser; return its events, or the events then the exception instance."""
    parser = ResponseParser(get_format(format_name), fixed_id)
    events: list[Any] = []
    try:
        for part in parts:
            events.extend(parser.feed(part))
        events.extend(parser.finish())
    except Exception as error:  # the tests compare errors by type and message
        events.append(error)
    return events


def outcome(events: list[Any]) -> list[Any]:
    """Events with a trailing exception made comparable (type and message)."""
    if events and isinstance(events[-1], Exception):
        return [*events[:-1], (type(events[-1]).__name__, str(events[-1]))]
    return events


async def _collect(events: list[Any]) -> dict[str, Any]:
    async def chunks() -> Any:
        for event in events:
            yield event

    stop: Any = None
    async for item in process_stream(chunks()):
        if "stop" in item:
            stop = item["stop"]
    return {"stop_reason": stop[0], "message": stop[1], "usage": stop[2]}


def summarize(events: list[Any]) -> dict[str, Any]:
    """What Strands' own stream processing builds from the events, in the fixtures' expected.json terms."""
    error = events[-1] if events and isinstance(events[-1], Exception) else None
    clean = events[:-1] if error else events
    text = "".join(e["contentBlockDelta"]["delta"].get("text", "") for e in clean if "contentBlockDelta" in e)
    reasoning = "".join(
        e["contentBlockDelta"]["delta"]["reasoningContent"]["text"]
        for e in clean
        if "contentBlockDelta" in e and "reasoningContent" in e["contentBlockDelta"]["delta"]
    )
    summary: dict[str, Any] = {"text": text, "reasoning": reasoning or None}
    if error is not None:
        summary.update(stop_reason="error", error=getattr(error, "message", None) or str(error))
        return summary
    result = asyncio.run(_collect(clean))
    summary["tool_calls"] = [
        {"id": b["toolUse"]["toolUseId"], "name": b["toolUse"]["name"], "arguments": b["toolUse"]["input"]}
        for b in result["message"]["content"]
        if "toolUse" in b
    ]
    summary["stop_reason"] = result["stop_reason"]
    usage = next((e["metadata"].get("usage") for e in clean if "metadata" in e), None)
    summary["usage"] = (
        None if usage is None else {"input": usage.get("inputTokens"), "output": usage.get("outputTokens")}
    )
    summary["error"] = None
    return summary


def expected(path: Path) -> dict[str, Any]:
    return json.loads(path.with_name(path.name.replace(".body", ".expected.json")).read_text())


def model_on(endpoint: SageMakerRuntime, **config: Any) -> SageMakerModel:
    """The provider on the test runtime's endpoint, with a client that does not retry."""
    return SageMakerModel(endpoint_name=ENDPOINT, client=endpoint.client(), **config)


def paused_stream(endpoint: SageMakerRuntime) -> Stream:
    """Script the recorded vLLM stream, held by the container after its first text until the test says."""
    body = (FIXTURES / "vllm" / "chat_stream.txt").read_bytes()
    cut = body.index(b"\n\n", body.index(b'"content":"Hello"')) + 2
    reply = Stream([body[:cut], body[cut:]], pause_after=1)
    endpoint.script(reply)
    return reply


def busy_readers() -> list[threading.Thread]:
    """The provider's reader threads that are reading a response (not parked)."""
    return [t for t in threading.enumerate() if t.name == READER_THREAD_NAME]
