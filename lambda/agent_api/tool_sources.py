"""The agent's tool sources besides its Python tools: MCP servers, connected on first use and kept.

Each turn asks `ToolSources.for_turn` for the tools of every server it can use. A server is connected by the
first turn that needs it, and its connection (and tool list) serves every later turn of the warm function.
A server that cannot be reached does not take the agent down: the turn runs without its tools and gets a
`tool_source_unavailable` warning naming it, the log says why, and a later turn tries again, after a wait
that doubles with each failure (`INITIAL_RETRY_SECONDS` up to `MAX_RETRY_SECONDS`). A connection found dead
(the server gone, or a frozen function's connection closed meanwhile) is opened again by the next turn.

Tool names are the servers' own (with a server's `prefix`, `<prefix>_<name>`). A server offering a name the
agent's Python tools or an earlier server (in `agent.mcp_servers` order) already use is refused, with an error
in the log and a warning naming both, until one of them gets a prefix: a model cannot tell two tools of one
name apart.

A call that fails, passes the server's timeout or returns what the model cannot read becomes an error result
the model can read. A session the server no longer knows (it answers 404: restarted, or the session expired
while the function was frozen) is opened again and the call sent once more: the server did not run it.
Every call, error, timeout and latency, and every turn a source was unavailable, is counted per source.
"""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final, Protocol

import httpx2
from mcp.shared.exceptions import MCPError
from mcp_types import CONNECTION_CLOSED, REQUEST_TIMEOUT
from strands.types.tools import AgentTool, ToolResult, ToolUse

from agent_api.mcp_connection import McpConnectError, McpConnection, describe
from agent_api.mcp_servers import TOOL_NAME_PATTERN, McpServer
from agent_api.mcp_tool import McpTool, error_result, tool_result
from agent_api.observability import logger

TOOL_SOURCE_UNAVAILABLE: Final = "tool_source_unavailable"
INITIAL_RETRY_SECONDS: Final = 1.0
MAX_RETRY_SECONDS: Final = 60.0


class SourceMetrics(Protocol):
    """Where a turn counts one tool source's calls (agent_api.observability.ToolSourceMetrics)."""

    def call(self, latency_ms: float, *, error: bool, timeout: bool) -> None:
        """Count one call that took ``latency_ms``."""

    def unavailable(self) -> None:
        """Count one turn that ran without the source."""


class TurnMetrics(Protocol):
    """A turn's metrics, with one `SourceMetrics` per tool source (agent_api.observability.RequestMetrics)."""

    def tool_source(self, name: str) -> SourceMetrics:
        """Return the metrics of tool source ``name`` for this turn."""


@dataclass(frozen=True)
class TurnTools:
    """The tool sources' tools for one turn, and a warning (`{"code", "message"}`) per source it lacks."""

    tools: list[AgentTool] = field(default_factory=list)
    warnings: list[dict[str, str]] = field(default_factory=list)


class McpSource:
    """One MCP server: its connection, or why there is none and when to try again."""

    def __init__(self, server: McpServer, auth: httpx2.Auth | None, clock: Callable[[], float]) -> None:
        self.server = server
        self._auth = auth
        self._clock = clock
        self.connection: McpConnection | None = None
        self.failures = 0
        self.reason = ""
        self._retry_at = 0.0
        self._attempt: asyncio.Task[McpConnection | str] | None = None
        self.conflict_logged: McpConnection | None = None

    async def ready(self) -> McpConnection | str:
        """Return the live connection, connecting if it is time to (else why the server is unavailable)."""
        connection = self.connection
        if connection is not None and connection.alive():
            return connection
        if connection is not None:
            self._lost(connection, "the connection closed" + _why(connection.failure))
        if self._attempt is None:
            wait = self._retry_at - self._clock()
            if wait > 0:
                return f"{self.reason}; next try in {wait:.0f} s"
            # Its own task, with an empty context: a turn that stops waiting (client gone) does not stop it.
            self._attempt = asyncio.get_running_loop().create_task(
                self._connect(), context=contextvars.Context()
            )
        return await asyncio.shield(self._attempt)

    async def _connect(self) -> McpConnection | str:
        server = self.server
        try:
            connection = await McpConnection.open(server, self._auth)
        except McpConnectError as error:
            self.failures += 1
            wait = min(MAX_RETRY_SECONDS, INITIAL_RETRY_SECONDS * 2 ** (self.failures - 1))
            self._retry_at = self._clock() + wait
            self.reason = str(error)
            logger.warning(
                "MCP server unavailable",
                extra={
                    "tool_source": server.name,
                    "reason": self.reason,
                    "failures": self.failures,
                    "retry_in_s": wait,
                },
            )
            return self.reason
        finally:
            self._attempt = None
        self.connection, self.failures, self.reason = connection, 0, ""
        listed = {tool.name for tool in connection.tools}
        logger.info(
            "MCP server connected",
            extra={
                "tool_source": server.name,
                "protocol_version": connection.protocol_version,
                "tools": sorted(server.agent_name(name) for name in listed),
                # Allow-listed names the server does not offer; tools it offers that a model could not call.
                "missing_allowed_tools": sorted(set(server.tools or ()) - listed),
                "unusable_tool_names": sorted(
                    name for name in listed if TOOL_NAME_PATTERN.fullmatch(server.agent_name(name)) is None
                ),
            },
        )
        return connection

    def _lost(self, connection: McpConnection, reason: str) -> None:
        """Forget a connection that closed; the next turn opens a new one (at once: it was working)."""
        if self.connection is connection:
            self.connection = None
            self.reason = reason
            logger.warning(
                "MCP server connection lost", extra={"tool_source": self.server.name, "reason": reason}
            )

    async def call(self, tool: str, tool_use: ToolUse, metrics: SourceMetrics) -> ToolResult:
        """Call the server's tool ``tool``; whatever happens, return the result for the model and count it."""
        started = time.perf_counter()
        result, error, timeout = await self._call(tool, tool_use)
        metrics.call(
            (time.perf_counter() - started) * 1000,
            error=error or result["status"] == "error",
            timeout=timeout,
        )
        return result

    async def _call(self, tool: str, tool_use: ToolUse) -> tuple[ToolResult, bool, bool]:
        """Return the result, whether the call failed, and whether it timed out."""
        server, tool_use_id = self.server, tool_use["toolUseId"]
        described = f"The tool {server.agent_name(tool)!r} of MCP server {server.name!r}"
        arguments = tool_use["input"]
        if not isinstance(arguments, dict):
            return error_result(tool_use_id, f"{described} takes a JSON object of arguments"), True, False
        for attempt in range(2):
            connection = self.connection
            if connection is None or not connection.alive():
                return (
                    error_result(tool_use_id, f"{described} is unavailable: the server is not connected."),
                    True,
                    False,
                )
            try:
                answer = await connection.call(tool, arguments, server.timeout_seconds)
            except MCPError as error:
                if error.error.code == REQUEST_TIMEOUT:
                    self._log_failure(tool, "timeout", str(error))
                    text = f"{described} did not answer within {server.timeout_seconds:g} s."
                    return error_result(tool_use_id, text), True, True
                if connection.session_lost and attempt == 0 and await self._reopen(connection):
                    continue
                if error.error.code == CONNECTION_CLOSED or not connection.alive():
                    self._lost(connection, describe(error))
                    await connection.close()
                    text = f"{described} could not be reached: the connection to the server closed."
                else:
                    text = f"{described} failed: {error.error.message}"
                self._log_failure(tool, "error", describe(error))
                return error_result(tool_use_id, text), True, False
            except Exception as error:
                if not connection.alive():
                    self._lost(connection, describe(error))
                self._log_failure(tool, "error", describe(error))
                return error_result(tool_use_id, f"{described} failed: {describe(error)}"), True, False
            result, refused = tool_result(tool_use_id, answer, described)
            if refused:
                self._log_failure(tool, "refused", str(result["content"][0].get("text")))
            return result, refused, False
        raise AssertionError("unreachable: the second attempt returns")

    async def _reopen(self, stale: McpConnection) -> bool:
        """Open a connection in place of ``stale`` (its session unknown to the server); whether it opened."""
        logger.info(
            "MCP session unknown to the server: reconnecting", extra={"tool_source": self.server.name}
        )
        self._lost(stale, "the server no longer knows the session")
        await stale.close()
        return isinstance(await self.ready(), McpConnection)

    def _log_failure(self, tool: str, outcome: str, reason: str) -> None:
        logger.warning(
            "MCP tool call failed",
            extra={"tool_source": self.server.name, "tool": tool, "outcome": outcome, "reason": reason},
        )


class ToolSources:
    """The MCP servers of the settings, in their order, each connected on first use.

    ``python_tool_names`` are the agent's own tools, whose names no server may take; ``auth`` makes a
    server's request authentication (agent_api.mcp_auth.http_auth).
    """

    def __init__(
        self,
        servers: Sequence[McpServer],
        python_tool_names: Sequence[str],
        auth: Callable[[McpServer], httpx2.Auth | None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sources = [McpSource(server, auth(server), clock) for server in servers]
        self._python_tool_names = tuple(python_tool_names)

    async def for_turn(self, metrics: TurnMetrics) -> TurnTools:
        """Return the tools of every source this turn can use, and a warning for each it cannot."""
        states = await asyncio.gather(*(source.ready() for source in self.sources))
        owners = dict.fromkeys(self._python_tool_names, "the agent's Python tools")
        turn = TurnTools()
        for source, state in zip(self.sources, states, strict=True):
            name = source.server.name
            if isinstance(state, str):
                turn.warnings.append(
                    _warning(f"The MCP server {name!r} is unavailable, so this answer is without its tools.")
                )
                metrics.tool_source(name).unavailable()
                continue
            tools = {
                source.server.agent_name(tool.name): tool
                for tool in state.tools
                if TOOL_NAME_PATTERN.fullmatch(source.server.agent_name(tool.name))
            }
            clash = next((tool for tool in tools if tool in owners), None)
            if clash is not None:
                self._refuse(source, state, clash, owners[clash])
                turn.warnings.append(
                    _warning(
                        f"The MCP server {name!r} was not used: its tool {clash!r} has the name of one of "
                        f"{owners[clash]}; give one of them a prefix (agent.mcp_servers)."
                    )
                )
                metrics.tool_source(name).unavailable()
                continue
            caller = _TurnCaller(source, metrics.tool_source(name))
            for agent_name, tool in tools.items():
                owners[agent_name] = f"MCP server {name!r}"
                turn.tools.append(McpTool(tool, agent_name, name, caller))
        return turn

    def _refuse(self, source: McpSource, connection: McpConnection, tool: str, owner: str) -> None:
        if source.conflict_logged is not connection:
            source.conflict_logged = connection
            logger.error(
                "MCP server refused: tool name taken",
                extra={"tool_source": source.server.name, "tool": tool, "taken_by": owner},
            )

    async def close(self) -> None:
        """Close every connection."""
        for source in self.sources:
            if source.connection is not None:
                await source.connection.close()


@dataclass(frozen=True)
class _TurnCaller:
    """A source's calls during one turn, counted in that turn's metrics."""

    source: McpSource
    metrics: SourceMetrics

    async def call(self, tool: str, tool_use: ToolUse) -> ToolResult:
        return await self.source.call(tool, tool_use, self.metrics)


def _warning(message: str) -> dict[str, str]:
    return {"code": TOOL_SOURCE_UNAVAILABLE, "message": message}


def _why(failure: BaseException | None) -> str:
    return "" if failure is None else f" ({describe(failure)})"
