"""What the MCP tool-source tests share: the scripted model's answers around a tool call, and readers of what
the model was offered and told, of the stream and of the log."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

from httpx_sse import ServerSentEvent

from agent_api.mcp_servers import McpServer
from local.mcp_example import McpHttpServer
from tests.agent_api.harness import Harness, json_lines
from tests.support.recordings import fixture_parts, tool_call_parts
from tests.support.sagemaker_runtime import Stream

FOLLOWUP = "vllm/tools_result_followup_stream.txt"
AFTER_TOOL = "Sunny in Paris, 21 degrees"
FORECAST = "day 1: sunny, high 21 °C; day 2: sunny, high 20 °C"

StartServer = Callable[[McpHttpServer], McpHttpServer]


def call(tool: str, **arguments: Any) -> Stream:
    """The model's answer calling ``tool``."""
    return Stream(tool_call_parts(tool, arguments))


def followup() -> Stream:
    """The model's answer after a tool result: "Sunny in Paris, 21 degrees"."""
    return Stream(fixture_parts(FOLLOWUP))


def offered(app: Harness, request: int = 0) -> list[str]:
    """The names of the tools the model was offered in its ``request``-th call."""
    return [tool["function"]["name"] for tool in app.runtime.bodies[request].get("tools", [])]


def told(app: Harness, request: int = 1) -> Any:
    """What the model was told of the tool result in its ``request``-th call (the tool message's content)."""
    [message] = [m for m in app.runtime.bodies[request]["messages"] if m["role"] == "tool"]
    return message["content"]


def named(events: list[ServerSentEvent], name: str) -> list[dict[str, Any]]:
    """The data of the stream's events called ``name``."""
    return [event.json() for event in events if event.event == name]


def logged(logs: io.StringIO, message: str) -> list[dict[str, Any]]:
    """The JSON log lines whose message is ``message``."""
    return [line for line in json_lines(logs.getvalue()) if line.get("message") == message]


def servers(*configs: McpServer) -> dict[str, Any]:
    """The harness's setting overrides for these MCP servers."""
    return {"mcp_servers": configs}
