"""The `mcp` SDK's own client, unmodified, pointed at an agent API's `/mcp` (the agent as an MCP server)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, Final

import anyio
import httpx2
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client

from agent_api import contract

MODES: Final = ("auto", "legacy")
"""The SDK client's modes: `auto` speaks the stateless protocol (2026-07-28), `legacy` the handshake."""


@asynccontextmanager
async def connect(base_url: str, mode: str, **headers: str) -> AsyncIterator[Client]:
    """A connected client of the agent API's `/mcp` at `base_url`, sending `headers` with every request."""
    async with (
        httpx2.AsyncClient(headers=headers, timeout=30) as http,
        Client(
            streamable_http_client(f"{base_url}{contract.MCP_PATH}", http_client=http), mode=mode
        ) as client,
    ):
        yield client


def run(base_url: str, mode: str, session: Callable[[Client], Awaitable[Any]], **headers: str) -> Any:
    """Run `session` with a connected client; return what it returns."""

    async def main() -> Any:
        async with connect(base_url, mode, **headers) as client:
            return await session(client)

    return anyio.run(main)
