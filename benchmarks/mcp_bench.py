"""Cost of MCP tool sources in the agent API: on a warm function's turn, and on a cold start.

Runs the agent API in-process under uvicorn, in front of the SageMaker-runtime emulator replaying a recorded
vLLM answer (`tests/fixtures/vllm/chat_stream_usage.txt`, so the model adds no noise), and the project's
example MCP server (local/mcp_example.py) on 127.0.0.1:
  1. warm: time to first token (the first `text` event) of a turn offering one connected MCP server's tools,
     against a turn of an app without MCP servers, interleaved over N runs (medians; the difference is
     what a turn that offers MCP tools adds once the function is warm);
  2. cold start, connecting: the time a first turn spends connecting to one server (negotiating the
     protocol and listing its tools), for the stateless protocol and for the session-based one, over N
     fresh connections (medians);
  3. cold start, importing: `import agent_api.app` with the MCP client (what the app imports when
     `AGENT_MCP_SERVERS` names a server) against without it, in fresh interpreters (medians).

    .venv/bin/python benchmarks/mcp_bench.py [--runs 40]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import logging
import os
import statistics
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import httpx
from httpx_sse import connect_sse

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "lambda")]

from agent_api.app import create_app  # noqa: E402
from agent_api.mcp_servers import McpServer  # noqa: E402
from agent_api.settings import Settings  # noqa: E402
from agent_api.tool_sources import ToolSources  # noqa: E402
from local.mcp_example import McpHttpServer, example_app  # noqa: E402
from tests.agent_api.harness import FAST_RETRIES, serve  # noqa: E402
from tests.support.recordings import fixture_parts  # noqa: E402
from tests.support.sagemaker_runtime import ENDPOINT, SageMakerRuntime, Stream  # noqa: E402


def ms(seconds: float) -> str:
    return f"{seconds * 1000:7.2f} ms"


def first_token(client: httpx.Client) -> float:
    """Seconds from sending a prompt to the first `text` event (the rest of the stream is read, untimed)."""
    started = time.perf_counter()
    elapsed = 0.0
    with connect_sse(client, "POST", "/chat", json={"prompt": "Hi"}) as source:
        for event in source.iter_sse():
            if event.event == "text" and not elapsed:
                elapsed = time.perf_counter() - started
    return elapsed


def warm_turns(runs: int, mcp_url: str) -> tuple[list[float], list[float]]:
    """Interleaved first-token times of a turn without and with one connected MCP server's tools."""
    settings = Settings.from_env({"AGENT_ENDPOINT_NAME": ENDPOINT, "AWS_REGION": "us-east-1"})
    with SageMakerRuntime(Stream(fixture_parts("vllm/chat_stream_usage.txt"))) as runtime:
        os.environ["AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME"] = runtime.url
        plain_app = create_app(settings, retry_policy=FAST_RETRIES)
        mcp_app = create_app(
            replace(settings, mcp_servers=(McpServer("example", mcp_url),)), retry_policy=FAST_RETRIES
        )
        with (
            serve(plain_app) as plain_url,
            serve(mcp_app) as mcp_url_of_app,
            httpx.Client(base_url=plain_url, timeout=30) as plain,
            httpx.Client(base_url=mcp_url_of_app, timeout=30) as with_mcp,
        ):
            for _ in range(5):  # warm both (the MCP app connects on its first turn)
                first_token(plain)
                first_token(with_mcp)
            without, offering = [], []
            for _ in range(runs):
                without.append(first_token(plain))
                offering.append(first_token(with_mcp))
    return without, offering


async def connect_times(url: str, runs: int) -> list[float]:
    """Seconds a first turn spends connecting to the server at ``url`` (negotiation and tool list)."""

    class Unmetered:
        def tool_source(self, name: str) -> Unmetered:
            return self

        def call(self, latency_ms: float, *, error: bool, timeout: bool) -> None:
            """Count nothing."""

        def unavailable(self) -> None:
            """Count nothing."""

    times = []
    for _ in range(runs + 2):
        sources = ToolSources([McpServer("example", url)], [], lambda server: None)
        started = time.perf_counter()
        turn = await sources.for_turn(Unmetered())
        times.append(time.perf_counter() - started)
        assert [tool.tool_name for tool in turn.tools] == ["get_forecast"], turn
        await sources.close()
    return times[2:]


def import_times(runs: int) -> tuple[list[float], list[float]]:
    """Seconds to import the app in a fresh interpreter, without and with the MCP client."""
    code = "import time; t = time.perf_counter(); import {}; print(time.perf_counter() - t)"
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'lambda'}"}

    def timed(modules: str) -> float:
        result = subprocess.run(
            [sys.executable, "-c", code.format(modules)], capture_output=True, text=True, check=True, env=env
        )
        return float(result.stdout.strip())

    without, with_mcp = [], []
    for _ in range(runs):
        without.append(timed("agent_api.app"))
        with_mcp.append(timed("agent_api.app, agent_api.tool_sources, agent_api.mcp_auth"))
    return without, with_mcp


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": "us-east-1",
            "POWERTOOLS_METRICS_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": "ERROR",
        }
    )
    median = statistics.median
    with (
        McpHttpServer(example_app) as stateless,
        McpHttpServer(functools.partial(example_app, legacy=True)) as sessions,
    ):
        without, offering = warm_turns(args.runs, stateless.url)
        print(f"1. warm turn, time to first token (median of {args.runs}, interleaved)")
        print(f"   without MCP servers            {ms(median(without))}")
        print(f"   offering one server's tools    {ms(median(offering))}")
        print(f"   difference                     {ms(median(offering) - median(without))}")

        print(f"2. cold start: connecting to one server (median of {args.runs})")
        for label, url in (("stateless (2026-07-28)", stateless.url), ("session (handshake)", sessions.url)):
            times = asyncio.run(connect_times(url, args.runs))
            print(f"   {label:<30} {ms(median(times))}  (p90 {ms(sorted(times)[int(len(times) * 0.9)])})")

    import_runs = max(5, args.runs // 4)
    plain, with_mcp = import_times(import_runs)
    print(f"3. cold start: importing the app (median of {import_runs} fresh interpreters)")
    print(f"   without the MCP client         {ms(median(plain))}")
    print(f"   with it                        {ms(median(with_mcp))}")
    print(f"   difference                     {ms(median(with_mcp) - median(plain))}")


if __name__ == "__main__":
    main()
