"""Real MCP servers of the `mcp` SDK on 127.0.0.1, and the checks a server makes of its callers.

`tool_server` builds a server with the tools the tests call (each answering one kind of result); `serve_mcp`
runs one under uvicorn (local.mcp_example.McpHttpServer), speaking both protocols or, with ``legacy``, only
the `initialize` handshake with sessions. `RequireBearer` and `RequireSigV4` are ASGI middleware standing in
for a server's (or AgentCore Gateway's) authorizer: 401 unless the request carries an accepted bearer token,
or a SigV4 signature that checks out for the tests' credentials.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable
from typing import Any, Final

import mcp_types
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from local.mcp_example import MCP_PATH, McpHttpServer, legacy_only

# A 1x1 PNG.
PNG: Final = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
# The dummy credentials of tests/agent_api/conftest.py, which the app signs with.
CREDENTIALS: Final = Credentials("testing", "testing")
UNAUTHORIZED: Final = b'{"error": "unauthorized"}'


def tool_server(name: str = "tools", *, tools: tuple[str, ...] | None = None) -> MCPServer:
    """Return a server offering the tests' tools (or only ``tools`` of them).

    `echo` says its text back; `search` answers a query (two servers may both offer it); `slow` answers after
    `seconds`; `fail` fails as a tool; `summary` returns text and structured content; `picture` a PNG and a
    caption; `sound` audio, which no model here can take; `document` a text resource and a resource link.
    """
    server = MCPServer(name)

    def add(function: Callable[..., Any]) -> None:
        if tools is None or function.__name__ in tools:
            server.tool()(function)

    def echo(text: str) -> str:
        """Say the text back."""
        return f"{name} echoes: {text}"

    def search(query: str) -> str:
        """Search for the query."""
        return f"{name} found 3 results for {query!r}"

    async def slow(seconds: float) -> str:
        """Answer after a while."""
        await asyncio.sleep(seconds)
        return "finally"

    def fail(reason: str) -> str:
        """Fail as a tool does."""
        raise ToolError(reason)

    def summary() -> mcp_types.CallToolResult:
        """Return a summary and its data."""
        return mcp_types.CallToolResult(
            content=[mcp_types.TextContent(text="two cities")],
            structured_content={"cities": ["Paris", "Lyon"]},
        )

    def picture() -> list[mcp_types.ContentBlock]:
        """Return a picture and its caption."""
        data = base64.b64encode(PNG).decode()
        return [mcp_types.ImageContent(data=data, mime_type="image/png"), mcp_types.TextContent(text="a dot")]

    def sound() -> mcp_types.AudioContent:
        """Return a sound."""
        return mcp_types.AudioContent(data=base64.b64encode(b"RIFF").decode(), mime_type="audio/wav")

    def document() -> list[mcp_types.ContentBlock]:
        """Return a document and a link to another."""
        return [
            mcp_types.EmbeddedResource(
                resource=mcp_types.TextResourceContents(uri="file:///notes.txt", text="the notes")
            ),
            mcp_types.ResourceLink(uri="file:///more.txt", name="more", mime_type="text/plain"),
        ]

    for function in (echo, search, slow, fail, summary, picture, sound, document):
        add(function)
    return server


def serve_mcp(
    server: MCPServer,
    *,
    legacy: bool = False,
    check: Callable[[Any], Any] | None = None,
    port: int = 0,
) -> McpHttpServer:
    """Return (not started) ``server`` on 127.0.0.1, behind ``check`` (middleware) if given."""

    def app() -> Any:
        served: Any = server.streamable_http_app(streamable_http_path=MCP_PATH)
        if legacy:
            served = legacy_only(served)
        return served if check is None else check(served)

    return McpHttpServer(app, port=port, name=f"MCP server {server.name}")


async def _refuse(send: Any) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(UNAUTHORIZED))]
    await send({"type": "http.response.start", "status": 401, "headers": headers})
    await send({"type": "http.response.body", "body": UNAUTHORIZED})


class RequireBearer:
    """401 unless `Authorization: Bearer <token>` with a token ``accept`` takes; ``tokens`` lists all seen."""

    def __init__(self, app: Any, accept: Callable[[str], bool]) -> None:
        self.app = app
        self.accept = accept
        self.tokens: list[str] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            scheme, _, token = (
                dict(scope["headers"]).get(b"authorization", b"").decode("latin-1").partition(" ")
            )
            self.tokens.append(token)
            if scheme != "Bearer" or not self.accept(token):
                await _refuse(send)
                return
        await self.app(scope, receive, send)


class RequireSigV4:
    """401 unless the request is SigV4-signed by ``CREDENTIALS`` for ``service`` in ``region``.

    The signature is computed again over what arrived (method, URL, signed headers, body), as AWS does;
    ``signed_headers`` records the `SignedHeaders` of each request.
    """

    def __init__(self, app: Any, service: str, region: str) -> None:
        self.app = app
        self.service = service
        self.region = region
        self.signed_headers: list[str] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body = b""
        more = True
        messages = []
        while more:
            message = await receive()
            messages.append(message)
            body += message.get("body", b"")
            more = message.get("more_body", False)
        if not self._valid(scope, body):
            await _refuse(send)
            return

        async def replay() -> Any:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)

    def _valid(self, scope: dict[str, Any], body: bytes) -> bool:
        headers = {
            name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]
        }
        authorization = headers.get("authorization", "")
        if not authorization.startswith("AWS4-HMAC-SHA256 "):
            return False
        fields = dict(part.strip().split("=", 1) for part in authorization.split(" ", 1)[1].split(","))
        signed = fields.get("SignedHeaders", "").split(";")
        self.signed_headers.append(fields.get("SignedHeaders", ""))
        if not fields.get("Credential", "").endswith(f"/{self.region}/{self.service}/aws4_request"):
            return False
        query = scope.get("query_string", b"").decode()
        url = f"http://{headers['host']}{scope['path']}" + (f"?{query}" if query else "")
        request = AWSRequest(
            method=scope["method"], url=url, data=body, headers={name: headers[name] for name in signed}
        )
        request.context["timestamp"] = headers.get("x-amz-date", "")
        signer = SigV4Auth(CREDENTIALS, self.service, self.region)
        expected = signer.signature(
            signer.string_to_sign(request, signer.canonical_request(request)), request
        )
        return fields.get("Signature") == expected
