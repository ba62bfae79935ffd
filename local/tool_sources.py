"""The local stack's MCP servers: its `--mcp` options, and the project's example server, started on request.

`--mcp NAME=URL` connects the agent API to an MCP server you run (on 127.0.0.1, plain http allowed there);
`--mcp example` starts the project's example server (local/mcp_example.py) and connects it as `example`.
The agent API gets them as its `AGENT_MCP_SERVERS`, each without authentication.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final

from local.mcp_example import TOOL_NAME, McpHttpServer, example_app
from stacks.agent_api.lambda_contract import mcp_servers

EXAMPLE: Final = "example"
# What makes the tiny model call the example server's tool (local/tiny_model/script.py).
FORECAST_PROMPT: Final = "What is the forecast for Paris?"


@dataclass(frozen=True)
class McpOption:
    """One `--mcp`: a server's name and URL, or the example server (no URL: the stack starts it)."""

    name: str
    url: str | None = None


def parse_mcp_option(text: str) -> McpOption:
    """Read `NAME=URL`, or `example`, checking them as the agent API will.

    Raises:
        argparse.ArgumentTypeError: saying what is wrong and what is expected.

    """
    if text == EXAMPLE:
        return McpOption(EXAMPLE)
    name, separator, url = text.partition("=")
    if not separator:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected NAME=URL, or {EXAMPLE!r} for the example server"
        )
    found = mcp_servers.problems([{"name": name, "url": url}])
    if found:
        problems = "; ".join(f"{problem.path.removeprefix('[0].')}: {problem.text}" for problem in found)
        raise argparse.ArgumentTypeError(f"{text!r}: {problems}")
    return McpOption(name, url)


def add_mcp_argument(parser: argparse.ArgumentParser) -> None:
    """Add the repeatable `--mcp` option to the local stack's command line."""
    parser.add_argument(
        "--mcp",
        type=parse_mcp_option,
        action="append",
        default=[],
        metavar="NAME=URL",
        help="connect the agent API to an MCP server (repeatable); 'example' starts the project's example "
        "server and connects it",
    )


def unique(options: Sequence[McpOption]) -> tuple[McpOption, ...]:
    """Return ``options``, refusing two servers of one name (ValueError)."""
    names = [option.name for option in options]
    if len(set(names)) != len(names):
        raise ValueError(f"MCP server names must be unique, got {', '.join(names)}")
    return tuple(options)


def usage_lines(servers: Sequence[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """Return the local stack's usage lines about its MCP servers: where each is; how to try the example."""
    where = [f"MCP server {server['name']:<10}{server['url']}" for server in servers]
    example = any(server["name"] == EXAMPLE for server in servers)
    return where, [f"  The example MCP server's tool: ask {FORECAST_PROMPT!r}"] if example else []


@contextlib.contextmanager
def local_mcp_servers(
    options: Sequence[McpOption], progress: Callable[[str], None]
) -> Iterator[list[dict[str, Any]]]:
    """Start the example server if asked for; yield the servers as `AGENT_MCP_SERVERS` holds them."""
    with contextlib.ExitStack() as stack:
        servers = []
        for option in options:
            url = option.url
            if url is None:
                server = stack.enter_context(McpHttpServer(example_app, name="example MCP server"))
                progress(f"example MCP server at {server.url} (tool {TOOL_NAME!r})")
                url = server.url
            servers.append({"name": option.name, "url": url})
        yield servers
