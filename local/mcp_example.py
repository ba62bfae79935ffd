"""The project's example MCP server: a weather outlook tool over Streamable HTTP, on 127.0.0.1.

    python -m local.mcp_example [--port 8765] [--legacy]

It is a real MCP server of the `mcp` SDK: by default it speaks both the stateless protocol (2026-07-28) and
the earlier `initialize` handshake with sessions, as the SDK does; `--legacy` refuses the stateless one, as a
server from before it would, so clients fall back to a session (AgentCore Gateway is such a server). The local
stack starts it on request (`python -m local.stack --mcp example`), and the tiny model calls its tool when a
prompt asks for the forecast (local/tiny_model/script.py). `McpHttpServer` runs any MCP server's ASGI app from
a background thread: the tests' servers run on it too.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, Final

import uvicorn
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import INVALID_REQUEST
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS

from local.lifecycle import Service
from local.vllm_server import free_port

TOOL_NAME: Final = "get_forecast"
MCP_PATH: Final = "/mcp"
STARTUP_TIMEOUT_SECONDS: Final = 10.0
# A stopped server waits this long for open streams (a session's server-to-client stream stays open).
GRACEFUL_SHUTDOWN_SECONDS: Final = 1
# Fixed outlooks, so that answers are reproducible: (conditions, high in °C) by city, lower-case.
FORECASTS: Final = {
    "paris": ("sunny", 21),
    "london": ("light rain", 16),
    "tokyo": ("cloudy", 24),
    "new york": ("clear", 19),
}


def example_server() -> MCPServer:
    """Return the example MCP server: one tool, `get_forecast`."""
    server = MCPServer("example-forecast", instructions="Weather outlooks for a few cities (fixed data).")

    @server.tool(name=TOOL_NAME)
    def get_forecast(city: str, days: int = 1) -> str:
        """Return the weather outlook for a city, today and the next days (example data).

        Args:
            city: City name, such as "Paris".
            days: How many days, 1 to 3.

        """
        conditions = FORECASTS.get(city.strip().lower())
        if conditions is None:
            raise ToolError(f"no outlook for {city!r}; known cities: {', '.join(sorted(FORECASTS))}")
        if not 1 <= days <= 3:
            raise ToolError("days must be 1, 2 or 3")
        weather, high = conditions
        return "; ".join(f"day {day}: {weather}, high {high - day + 1} °C" for day in range(1, days + 1))

    return server


def legacy_only(app: Any) -> Any:
    """Wrap an MCP server's ASGI app so that it refuses the stateless protocol, as servers before it do.

    A request stamped with a protocol version the `initialize` handshake does not know is answered as an
    earlier SDK's server answers an unsupported version: 400 with a JSON-RPC error. Clients then fall back to
    the handshake, and the server gives them a session.
    """

    async def wrapped(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            version = dict(scope["headers"]).get(b"mcp-protocol-version", b"").decode("latin-1")
            if version and version not in HANDSHAKE_PROTOCOL_VERSIONS:
                message = f"Bad Request: Unsupported protocol version: {version}"
                error = {"code": INVALID_REQUEST, "message": message}
                body = json.dumps({"jsonrpc": "2.0", "id": "server-error", "error": error}).encode()
                headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
                await send({"type": "http.response.start", "status": 400, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
        await app(scope, receive, send)

    return wrapped


class McpHttpServer(Service):
    """An MCP server's ASGI app under uvicorn on 127.0.0.1, served from a daemon thread.

    ``app`` makes the server's Streamable HTTP app (`MCPServer.streamable_http_app()`, possibly wrapped) for
    each start: a stopped server can be started again on the same port (a restart, for tests), and an app's
    session manager runs only once. The endpoint is ``url``.
    """

    def __init__(self, app: Callable[[], Any], *, port: int = 0, name: str = "MCP server") -> None:
        self._app = app
        self.port = port or free_port()
        self._name = name
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The MCP endpoint, ``http://127.0.0.1:<port>/mcp``."""
        return f"http://127.0.0.1:{self.port}{MCP_PATH}"

    def start(self) -> None:
        """Serve until ``stop``; return once the server accepts connections."""
        if self._thread is not None:
            raise RuntimeError(f"the {self._name} is already running")
        config = uvicorn.Config(
            self._app(),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, name=self._name, daemon=True)
        thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                server.should_exit = True
                thread.join(STARTUP_TIMEOUT_SECONDS)
                raise RuntimeError(f"the {self._name} did not start on 127.0.0.1:{self.port}")
            time.sleep(0.01)
        self._server, self._thread = server, thread

    def stop(self) -> None:
        """Stop serving (open streams are cut after a second) and free the port."""
        if self._server is None or self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join()
        self._server = self._thread = None


def example_app(*, legacy: bool = False) -> Any:
    """Return the example server's ASGI app (``legacy``: refusing the stateless protocol)."""
    app = example_server().streamable_http_app(streamable_http_path=MCP_PATH)
    return legacy_only(app) if legacy else app


def main(argv: list[str] | None = None) -> int:
    """Serve the example MCP server until Ctrl-C."""
    parser = argparse.ArgumentParser(prog="python -m local.mcp_example", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1 (default: %(default)s)")
    parser.add_argument("--legacy", action="store_true", help="refuse the stateless protocol (sessions only)")
    args = parser.parse_args(argv)
    app = functools.partial(example_app, legacy=args.legacy)
    with McpHttpServer(app, port=args.port, name="example MCP server") as server:
        print(f"example MCP server at {server.url} (tool {TOOL_NAME!r}); Ctrl-C stops it", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
