"""One live connection to an MCP server over Streamable HTTP, held open by a task of its own.

It uses the `mcp` SDK's `mcp.client.Client` directly rather than Strands' `MCPClient`, because the agent
API needs what that one does not give:

- a lifecycle for a warm Lambda function: connect on first use, reuse across requests, and notice a dead
  connection (a server gone, a frozen function's session expired) to reconnect with backoff
  (agent_api.tool_sources). `MCPClient` runs a thread and an event loop per server, starts with a blocking
  call, and after a failure stays down until it is stopped and started again by hand;
- results the model is told the truth about: `MCPClient` drops content it cannot map (audio, a binary
  resource, an image of another type) without a word; agent_api.mcp_tool refuses such a result, naming it;
- per-call timeouts and per-source metrics on every call (`MCPClient`'s listed tools have no timeout);
- one event loop: the connection lives on the app's loop, no thread hop per call.

The SDK negotiates the protocol (`mode="auto"`): it probes `server/discover` for the stateless protocol
(2026-07-28, where any instance of a server may answer any request) and falls back to the `initialize`
handshake and its session (`Mcp-Session-Id`) for earlier servers, such as AgentCore Gateway (2025-06-18).

The SDK's client must be entered and left by one task (its anyio task groups belong to the task that
entered them), and a request's task ends with the request: so a task of the connection's own holds it open,
with an empty context (no request's log keys), while any task calls its tools.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Iterator
from typing import Any, Final

import httpx2
import mcp_types
from mcp.client import Client
from mcp.client.streamable_http import MCP_SESSION_ID, streamable_http_client
from mcp.shared.exceptions import MCPError

from agent_api.mcp_auth import McpAuthError
from agent_api.mcp_servers import McpServer

CLIENT_NAME: Final = "sagemaker-strands-agent"
# Connecting (TCP, TLS, the protocol's negotiation, listing the tools) must be quick: a turn waits for it.
CONNECT_TIMEOUT_SECONDS: Final = 10.0
HTTP_CONNECT_TIMEOUT_SECONDS: Final = 5.0
# The legacy protocol's server-to-client stream (GET) stays open and idle: the SDK reconnects it.
HTTP_READ_TIMEOUT_SECONDS: Final = 300.0
CLOSE_TIMEOUT_SECONDS: Final = 2.0
HTTP_NOT_FOUND: Final = 404
REFUSALS: Final = (401, 403)
# A server listing tools forever (a broken cursor) stops being read here.
MAX_TOOL_PAGES: Final = 100


class McpConnectError(RuntimeError):
    """The server could not be connected to; the message says why (no credential in it)."""


class McpConnection:
    """A connection to ``server``: its tools as the server listed them (its allow-list applied) and calls."""

    def __init__(self, server: McpServer, auth: httpx2.Auth | None) -> None:
        self.server = server
        self._auth = auth
        self._client: Client | None = None
        self._ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._closing = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.tools: list[mcp_types.Tool] = []
        self.failure: BaseException | None = None
        # A server answers 404 to a request naming a session it no longer knows (restarted, or the session
        # expired): the client must start a new one (MCP specification, Streamable HTTP, "Session
        # Management").
        self.session_lost = False
        # The first 401 or 403 the server answered: what a failure to connect is most likely about.
        self.refused: int | None = None

    @classmethod
    async def open(
        cls, server: McpServer, auth: httpx2.Auth | None, *, timeout: float = CONNECT_TIMEOUT_SECONDS
    ) -> McpConnection:
        """Connect, negotiate and list the tools within ``timeout`` seconds.

        Raises:
            McpConnectError: naming why (the root causes of the SDK's errors).

        """
        connection = cls(server, auth)
        # An empty context: the task outlives the request that opens it, and must not log under its id.
        connection._task = asyncio.get_running_loop().create_task(
            connection._hold(), name=f"mcp-{server.name}", context=contextvars.Context()
        )
        try:
            async with asyncio.timeout(timeout):
                await asyncio.shield(connection._ready)
        except TimeoutError:
            await connection.close()
            raise McpConnectError(f"no answer within {timeout:g} s") from None
        except Exception as error:
            await connection.close()
            refused = (
                ""
                if connection.refused is None
                else f"the server refused the credentials (HTTP {connection.refused}); "
            )
            raise McpConnectError(refused + describe(error)) from error
        except asyncio.CancelledError:
            await connection.close()
            raise
        return connection

    def alive(self) -> bool:
        """Whether the connection is still open (its task running, its client entered)."""
        return self._task is not None and not self._task.done() and self._client is not None

    @property
    def protocol_version(self) -> str | None:
        """The protocol version negotiated (``2026-07-28`` is the stateless one), None once closed."""
        return None if self._client is None else self._client.protocol_version

    async def call(self, tool: str, arguments: dict[str, Any], timeout: float) -> mcp_types.CallToolResult:
        """Call the server's tool ``tool`` (its own name), waiting ``timeout`` seconds at most.

        Raises:
            MCPError: the server's error, or the SDK's (REQUEST_TIMEOUT, CONNECTION_CLOSED, ...).
            McpConnectError: the connection is closed.

        """
        client = self._client
        if client is None or not self.alive():
            raise McpConnectError("the connection is closed")
        return await client.call_tool(tool, arguments, read_timeout_seconds=timeout)

    async def close(self) -> None:
        """Leave the client (a legacy session is ended with DELETE) and let its task end."""
        self._closing.set()
        task = self._task
        if task is None or task.done():
            return
        done, _ = await asyncio.wait({task}, timeout=CLOSE_TIMEOUT_SECONDS)
        if not done:
            task.cancel()
            await asyncio.wait({task})

    async def _watch(self, response: httpx2.Response) -> None:
        """Notice the server's 404 to a request of a session (the SDK's error does not tell it apart)."""
        if response.status_code == HTTP_NOT_FOUND and MCP_SESSION_ID in response.request.headers:
            self.session_lost = True
        if response.status_code in REFUSALS and self.refused is None:
            self.refused = response.status_code

    async def _hold(self) -> None:
        """Enter the client, list the tools, signal readiness, and hold the connection until closed."""
        http = httpx2.AsyncClient(
            auth=self._auth,
            timeout=httpx2.Timeout(HTTP_READ_TIMEOUT_SECONDS, connect=HTTP_CONNECT_TIMEOUT_SECONDS),
            # A redirect could carry a credential elsewhere: MCP endpoints do not redirect.
            follow_redirects=False,
            event_hooks={"response": [self._watch]},
        )
        try:
            async with (
                http,
                Client(
                    streamable_http_client(self.server.url, http_client=http),
                    read_timeout_seconds=CONNECT_TIMEOUT_SECONDS,
                    client_info=mcp_types.Implementation(name=CLIENT_NAME, version="1"),
                    cache=None,
                ) as client,
            ):
                self.tools = await _listed_tools(client, self.server)
                self._client = client
                self._ready.set_result(None)
                await self._closing.wait()
        except BaseException as error:
            if not self._ready.done():
                self._ready.set_exception(
                    error if isinstance(error, Exception) else McpConnectError("stopped")
                )
            self.failure = error
            if not isinstance(error, Exception):
                raise
        finally:
            self._client = None


async def _listed_tools(client: Client, server: McpServer) -> list[mcp_types.Tool]:
    """Return the server's tools that its allow-list keeps (all of them without one)."""
    tools: list[mcp_types.Tool] = []
    cursor: str | None = None
    for _ in range(MAX_TOOL_PAGES):
        page = await client.list_tools(cursor=cursor)
        tools.extend(page.tools)
        cursor = page.next_cursor
        if cursor is None:
            break
    if server.tools is None:
        return tools
    allowed = set(server.tools)
    return [tool for tool in tools if tool.name in allowed]


def describe(error: BaseException) -> str:
    """Say why something failed: the root causes of (nested) exception groups, each ``Type: message``.

    A cause is followed down to its root, except from the errors that say it in the agent's own words.
    """
    causes = list(dict.fromkeys(_leaves(error)))
    return (
        "; ".join(f"{type(cause).__name__}: {cause}".rstrip(": ") for cause in causes) or type(error).__name__
    )


def _leaves(error: BaseException) -> Iterator[BaseException]:
    if isinstance(error, BaseExceptionGroup):
        for inner in error.exceptions:
            yield from _leaves(inner)
    elif isinstance(error, McpConnectError | McpAuthError | MCPError) or error.__cause__ is None:
        yield error
    else:
        yield from _leaves(error.__cause__)
