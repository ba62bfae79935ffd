"""`/mcp`: the agent as an MCP server over Streamable HTTP, with one tool, `ask` (docs/agent-api.md).

The `mcp` SDK's transport owns the HTTP exchange (JSON-RPC, its headers, its errors) and serves both
protocols it knows without any state kept between requests, so that every Lambda instance answers every
request: the stateless protocol (2026-07-28: each request self-contained) and the earlier `initialize`
handshake (2024-11-05 to 2025-11-25), to which this server assigns no `Mcp-Session-Id`, as the handshake's
transport lets a server do ("A server ... MAY assign a session ID at initialization time"). A client of the
earlier protocol works unchanged; it gets no server-initiated stream (`GET /mcp` is 405, which the transport
specification allows) and has no session to end (`DELETE /mcp` is 405). Progress and the result of a call
ride the call's own response stream.

Each `ask` call is a turn of the pipeline (`TurnPipeline.start`): the `/chat` rules for the prompt and the
session, the caller's own sessions, a model scaled to zero waited for (with progress), one end line and
metrics. The SDK cancels a call's handler when its client leaves (closes the response, or sends
`notifications/cancelled`), and the handler then closes the turn.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any, Final

import anyio
import mcp_types
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel.server import Server
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp, StreamableHTTPSessionManager
from mcp.shared.exceptions import MCPError
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from agent_api import contract
from agent_api.doors import mcp_ask
from agent_api.doors.mcp_authorization import protected_resource_routes
from agent_api.errors import ErrorReply
from agent_api.observability import logger, request_id_from_headers
from agent_api.pipeline import Accepted, TurnPipeline, error_response, rejected, session_refusal
from agent_api.session_owner import SessionOwnerUnknownError, request_context_values
from agent_api.settings import Settings
from agent_api.turn import Turn
from agent_api.turn_events import DONE, TurnEvent
from agent_api.validation import RequestError, max_body_bytes, parse_json_object, parse_turn_fields

INSTRUCTIONS: Final = (
    "An AI agent with its own model, system prompt and tools. Call `ask` with a prompt; give a session_id "
    "to continue a conversation across calls."
)
# A JSON-RPC envelope around the largest `ask` arguments any request may carry.
_ENVELOPE_BYTES: Final = 4096


class McpDoor:
    """`/mcp`; its HTTP errors (404, 405) are JSON-RPC errors, as the transport's own are."""

    name: Final = "mcp"
    prefix: Final = contract.MCP_PATH
    """The paths whose errors (404, 405) it words."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._result = mcp_ask.AskResult()
        self._pipeline: TurnPipeline | None = None
        self._tool = mcp_types.Tool(
            name=mcp_ask.ASK,
            title="Ask the agent",
            description=mcp_ask.DESCRIPTION,
            input_schema=mcp_ask.input_schema(settings),
            output_schema=mcp_ask.OUTPUT_SCHEMA,
        )
        server: Server[Any] = Server(
            contract.SERVICE_NAME,
            instructions=INSTRUCTIONS,
            on_list_tools=self._list_tools,
            on_call_tool=self._call_tool,
        )
        self._manager = StreamableHTTPSessionManager(
            server, stateless=True, max_request_body_size=max_body_bytes(settings) + _ENVELOPE_BYTES
        )

    def run(self) -> AbstractAsyncContextManager[None]:
        """Run the transport for the app's lifetime (its lifespan): it answers no request before."""
        return self._manager.run()

    def parse(self, body: bytes, headers: Mapping[str, str]) -> Accepted:
        """Validate an `ask` call's arguments (as JSON): `prompt` and `session_id`, the `/chat` rules."""
        data = parse_json_object(body, self._settings)
        return Accepted(parse_turn_fields(data, self._settings, mcp_ask.ASK_FIELDS), self._result)

    def error_body(self, error: ErrorReply) -> dict[str, Any]:
        """Return a JSON-RPC error without an id (the request was not read as JSON-RPC)."""
        return {
            "jsonrpc": "2.0",
            "id": None,
            "error": {"code": mcp_types.INVALID_REQUEST, "message": f"{error.code}: {error.message}"},
        }

    def routes(self, pipeline: TurnPipeline) -> list[Route]:
        """Return `/mcp` (POST only: the transport's own answer), and under Cognito the OAuth metadata."""
        self._pipeline = pipeline
        return [
            Route(contract.MCP_PATH, _Guarded(self, StreamableHTTPASGIApp(self._manager)), methods=["POST"]),
            *protected_resource_routes(self._settings),
        ]

    async def _list_tools(
        self, ctx: ServerRequestContext[Any], params: mcp_types.PaginatedRequestParams | None
    ) -> mcp_types.ListToolsResult:
        return mcp_types.ListToolsResult(tools=[self._tool])

    async def _call_tool(
        self, ctx: ServerRequestContext[Any], params: mcp_types.CallToolRequestParams
    ) -> mcp_types.CallToolResult:
        if params.name != mcp_ask.ASK:
            raise MCPError(mcp_types.INVALID_PARAMS, f"Unknown tool: {params.name!r} (this server has 'ask')")
        request = ctx.request
        assert isinstance(request, Request), "the Streamable HTTP transport passes the HTTP request"
        started = await self._start(request.headers, params.arguments or {})
        if isinstance(started, ErrorReply):
            return _failed(started)
        return await self._answer(ctx, started)

    async def _start(self, headers: Headers, arguments: dict[str, Any]) -> Turn | ErrorReply:
        """Validate a call and start its turn, or say why it may not run."""
        assert self._pipeline is not None, "the app registers the door's routes before serving"
        request_id = request_id_from_headers(headers)
        logger.thread_safe_append_keys(request_id=request_id)
        try:
            accepted = self.parse(json.dumps(arguments).encode(), headers)
        except RequestError as exc:
            return rejected(self, exc.reply())
        return await self._pipeline.start(self, accepted, headers, request_id, streamed=True)

    async def _answer(self, ctx: ServerRequestContext[Any], turn: Turn) -> mcp_types.CallToolResult:
        """Report the turn's progress as it runs, and return its result."""
        events: list[TurnEvent] = []
        try:
            while (item := await turn.next()) is not None:
                if isinstance(item, ErrorReply):
                    return _failed(item)
                events.append(item)
                message = mcp_ask.progress_message(item)
                if message is not None:
                    # A no-op unless the call asked for progress (a `progressToken` in its `_meta`).
                    await ctx.session.report_progress(len(events), None, message)
        finally:
            # The SDK cancels this handler when its client leaves; the turn must still let go of everything.
            with anyio.CancelScope(shield=True):
                await turn.close()
        assert events and events[-1].name == DONE, "a turn that was not cancelled ends with done or an error"
        result = self._result.answer(events)
        return mcp_types.CallToolResult(
            content=[mcp_types.TextContent(text=result["answer"])], structured_content=result
        )


class _Guarded:
    """The transport's ASGI app, behind the check every route answering a turn makes first.

    A request carrying API Gateway's request context more than once is refused (403), whatever it asks.
    """

    def __init__(self, door: McpDoor, app: ASGIApp) -> None:
        self._door = door
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            request_context_values(Headers(scope=scope))
        except SessionOwnerUnknownError as exc:
            await error_response(self._door, rejected(self._door, session_refusal(exc)))(scope, receive, send)
            return
        await self._app(scope, receive, send)


def _failed(error: ErrorReply) -> mcp_types.CallToolResult:
    """Return a failed call: a tool error whose text is `code: message`."""
    return mcp_types.CallToolResult(
        content=[mcp_types.TextContent(text=mcp_ask.error_text(error))], is_error=True
    )
