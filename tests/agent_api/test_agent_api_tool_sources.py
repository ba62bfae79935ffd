"""agent_api.tool_sources on its own: when a server that cannot be reached is tried again, and that turns
share one connection attempt that outlives them; real MCP servers on 127.0.0.1, a clock the test moves."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from typing import Any

import pytest

from agent_api.mcp_servers import McpServer
from agent_api.tool_sources import MAX_RETRY_SECONDS, ToolSources
from local.mcp_example import McpHttpServer, example_app
from local.vllm_server import free_port
from tests.agent_api.harness import json_lines


class Counted:
    """A turn's metrics: what each source counted."""

    def __init__(self) -> None:
        self.counts: list[tuple[str, str]] = []

    def tool_source(self, name: str) -> Counted.Source:
        return Counted.Source(self, name)

    class Source:
        def __init__(self, owner: Counted, name: str) -> None:
            self.owner, self.name = owner, name

        def call(self, latency_ms: float, *, error: bool, timeout: bool) -> None:
            self.owner.counts.append((self.name, "call"))

        def unavailable(self) -> None:
            self.owner.counts.append((self.name, "unavailable"))


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def example() -> Iterator[McpHttpServer]:
    with McpHttpServer(example_app) as server:
        yield server


def lines(logs: io.StringIO, message: str) -> list[dict[str, Any]]:
    return [line for line in json_lines(logs.getvalue()) if line.get("message") == message]


async def test_an_unreachable_server_is_tried_again_after_a_wait_that_doubles(logs: io.StringIO) -> None:
    clock = Clock()
    sources = ToolSources(
        [McpServer("down", f"http://127.0.0.1:{free_port()}/mcp")], [], lambda _: None, clock
    )
    metrics = Counted()
    tried_at = []
    for moment in (0, 0.5, 1, 2, 3, 6, 7, 300, 310, 360):
        clock.now = moment
        before = len(lines(logs, "MCP server unavailable"))
        turn = await sources.for_turn(metrics)
        assert (turn.tools, len(turn.warnings)) == ([], 1)
        if len(lines(logs, "MCP server unavailable")) > before:
            tried_at.append(moment)

    assert tried_at == [0, 1, 3, 7, 300, 360]
    waits = [line["retry_in_s"] for line in lines(logs, "MCP server unavailable")]
    assert waits == [1, 2, 4, 8, 16, 32]
    assert metrics.counts == [("down", "unavailable")] * 10
    assert MAX_RETRY_SECONDS == 60


async def test_the_wait_stops_growing_at_its_cap(logs: io.StringIO) -> None:
    clock = Clock()
    sources = ToolSources(
        [McpServer("down", f"http://127.0.0.1:{free_port()}/mcp")], [], lambda _: None, clock
    )
    for _ in range(9):
        await sources.for_turn(Counted())
        clock.now += MAX_RETRY_SECONDS
    assert [line["retry_in_s"] for line in lines(logs, "MCP server unavailable")][-3:] == [60, 60, 60]


async def test_turns_at_once_share_one_connection_attempt(example: McpHttpServer, logs: io.StringIO) -> None:
    sources = ToolSources([McpServer("example", example.url)], [], lambda _: None)
    turns = await asyncio.gather(*(sources.for_turn(Counted()) for _ in range(5)))
    assert [[tool.tool_name for tool in turn.tools] for turn in turns] == [["get_forecast"]] * 5
    assert len(lines(logs, "MCP server connected")) == 1
    await sources.close()


async def test_a_turn_that_stops_waiting_leaves_the_connection_to_the_next(
    example: McpHttpServer, logs: io.StringIO
) -> None:
    sources = ToolSources([McpServer("example", example.url)], [], lambda _: None)
    waiting = asyncio.ensure_future(sources.for_turn(Counted()))
    await asyncio.sleep(0)
    waiting.cancel()  # its client went away
    turn = await sources.for_turn(Counted())
    assert [tool.tool_name for tool in turn.tools] == ["get_forecast"]
    assert len(lines(logs, "MCP server connected")) == 1
    await sources.close()


async def test_connected_logs_what_the_allow_list_names_that_the_server_lacks(
    example: McpHttpServer, logs: io.StringIO
) -> None:
    server = McpServer("example", example.url, tools=("get_forecast", "get_tides"))
    sources = ToolSources([server], [], lambda _: None)
    await sources.for_turn(Counted())
    [connected] = lines(logs, "MCP server connected")
    assert (connected["tools"], connected["missing_allowed_tools"]) == (["get_forecast"], ["get_tides"])
    await sources.close()
