"""End-to-end overhead of the agent API on the real local stack (vLLM CPU on the tiny model).

Measures, interleaved over N runs on one running stack:
  1. time to first token calling vLLM's /invocations directly (the baseline),
  2. the same through boto3 InvokeEndpointWithResponseStream and the SageMaker-runtime emulator,
  3. time to first `text` event through the agent API's POST /chat (HTTP server, turn pipeline, Strands,
     provider, boto3, emulator),
and prints the medians, the agent API's overhead (3 - 1; goal: <= 15 ms median), the emulator's and boto3's
(2 - 1), and the agent API's own share of the time to first token: its overhead less the emulator's and
boto3's (3 - 2; goal: <= 3 ms). That share is the median of the runs' own differences (each run measures 2
and 3 back to back): vLLM's time to first token on CPU has two modes about 15 ms apart, so the difference of
two medians moves by that much whenever one of them lands in the other mode, while the median of paired
differences does not. Then it sends 2 rounds of 64 concurrent /chat streams and reports errors (goal:
none), time to first event (p50/p95) and latencies.

    .venv/bin/python benchmarks/e2e_bench.py [--runs 60] [--concurrency 64] [--rounds 2] [--backend URL]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
import httpx
from httpx_sse import aconnect_sse, connect_sse

sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parents[1] / "lambda")]

from agent_api.contract import DEFAULT_SYSTEM_PROMPT  # noqa: E402
from local.agent_environment import ENDPOINT_NAME, REGION  # noqa: E402
from local.stack import LocalDeployment  # noqa: E402

if TYPE_CHECKING:
    from mypy_boto3_sagemaker_runtime import SageMakerRuntimeClient

PROMPT = "Hello"
EXPECTED = "Hello! I am a tiny test model."
TIMEOUT = httpx.Timeout(10.0, read=120.0)
# Goals, on medians of the time to first token: the agent API's overhead over vLLM direct, and its own share
# of it, the overhead less what the emulator and boto3 add (measured alone, in step 2).
OVERHEAD_GOAL_MS = 15
OWN_SHARE_GOAL_MS = 3


def invocation_body() -> bytes:
    """The request the provider sends for PROMPT, as close as it gets without tools."""
    return json.dumps(
        {
            "messages": [
                {"role": "system", "content": DEFAULT_SYSTEM_PROMPT},
                {"role": "user", "content": PROMPT},
            ],
            "stream": True,
            "stream_options": {"include_usage": True},
            "max_tokens": 1024,
            "temperature": 0.2,
        }
    ).encode()


def ttft_direct(client: httpx.Client, backend_url: str) -> float:
    started = time.perf_counter()
    with client.stream(
        "POST",
        f"{backend_url}/invocations",
        content=invocation_body(),
        headers={"Content-Type": "application/json"},
    ) as response:
        response.raise_for_status()
        first = None
        for line in response.iter_lines():
            if (
                first is None
                and line.startswith("data: {")
                and '"content":"' in line
                and '"content":""' not in line
            ):
                first = time.perf_counter() - started
        assert first is not None, "no content chunk from vLLM"
        return first


def ttft_emulator(runtime: SageMakerRuntimeClient, body: bytes) -> float:
    started = time.perf_counter()
    response = runtime.invoke_endpoint_with_response_stream(
        EndpointName=ENDPOINT_NAME, Body=body, ContentType="application/json"
    )
    first = None
    buffer = b""
    for event in response["Body"]:
        buffer += event["PayloadPart"]["Bytes"]
        if first is None and b'"content":"' in buffer.replace(b'"content":""', b""):
            first = time.perf_counter() - started
    assert first is not None, "no content chunk through the emulator"
    return first


def ttft_agent(client: httpx.Client, agent_url: str) -> float:
    started = time.perf_counter()
    first = None
    text = ""
    with connect_sse(client, "POST", f"{agent_url}/chat", json={"prompt": PROMPT}) as source:
        for event in source.iter_sse():
            if event.event == "text":
                if first is None:
                    first = time.perf_counter() - started
                text += json.loads(event.data)["delta"]
            elif event.event == "error":
                raise RuntimeError(f"error event: {event.data}")
    assert first is not None and text == EXPECTED, f"unexpected answer {text!r}"
    return first


@dataclass
class StreamResult:
    """One concurrent stream: its time to first event and to the end, and what went wrong if anything."""

    first_event: float | None = None
    total: float = 0.0
    error: str | None = None


async def one_stream(client: httpx.AsyncClient, agent_url: str) -> StreamResult:
    result = StreamResult()
    started = time.perf_counter()
    text = ""
    try:
        async with aconnect_sse(client, "POST", f"{agent_url}/chat", json={"prompt": PROMPT}) as source:
            if source.response.status_code != 200:
                result.error = f"HTTP {source.response.status_code}"
            else:
                async for event in source.aiter_sse():
                    if result.first_event is None:
                        result.first_event = time.perf_counter() - started
                    if event.event == "text":
                        text += json.loads(event.data)["delta"]
                    elif event.event == "error":
                        result.error = f"error event {event.data}"
                        break
    except httpx.HTTPError as error:
        result.error = repr(error)
    if result.error is None and text != EXPECTED:
        result.error = f"wrong text {text!r}"
    result.total = time.perf_counter() - started
    return result


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile of ``values`` (not empty)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


async def concurrent_streams(agent_url: str, count: int) -> tuple[float, list[StreamResult]]:
    limits = httpx.Limits(max_connections=count, max_keepalive_connections=count)
    async with httpx.AsyncClient(timeout=TIMEOUT, limits=limits) as client:
        started = time.perf_counter()
        results = await asyncio.gather(*(one_stream(client, agent_url) for _ in range(count)))
        return time.perf_counter() - started, list(results)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms"


def met(seconds: float, goal_ms: float) -> str:
    return "met" if seconds * 1000 <= goal_ms else "NOT met"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=60)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=2, help="rounds of concurrent streams")
    parser.add_argument("--backend", help="an already running vLLM (default: start one on the tiny model)")
    args = parser.parse_args()

    with LocalDeployment(
        backend_url=args.backend, tools="", progress=lambda message: print(f"· {message}")
    ) as stack:
        runtime: SageMakerRuntimeClient = boto3.client(
            "sagemaker-runtime",
            endpoint_url=stack.emulator.url,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        body = invocation_body()
        direct: list[float] = []
        emulated: list[float] = []
        agent: list[float] = []
        with httpx.Client(timeout=TIMEOUT) as client:
            for run in range(args.warmup + args.runs):
                # Interleaved, so that load changes on the machine hit all three alike.
                samples = (
                    ttft_direct(client, stack.backend_url),
                    ttft_emulator(runtime, body),
                    ttft_agent(client, stack.agent_url),
                )
                if run >= args.warmup:
                    direct.append(samples[0])
                    emulated.append(samples[1])
                    agent.append(samples[2])

        print(f"\nTime to first token, median of {args.runs} runs (min .. max):")
        for name, values in (
            ("vLLM /invocations direct", direct),
            ("boto3 -> emulator -> vLLM", emulated),
            ("agent API POST /chat", agent),
        ):
            spread = f"{ms(min(values)).strip()} .. {ms(max(values)).strip()}"
            print(f"  {name:28} {ms(statistics.median(values))}  ({spread})")
        overhead = statistics.median(agent) - statistics.median(direct)
        emulator_overhead = statistics.median(emulated) - statistics.median(direct)
        print(f"  emulator + boto3 overhead    {ms(emulator_overhead)}")
        goal = f"goal <= {OVERHEAD_GOAL_MS} ms: {met(overhead, OVERHEAD_GOAL_MS)}"
        print(f"  agent API overhead           {ms(overhead)}  ({goal})")
        differences = [a - e for a, e in zip(agent, emulated, strict=True)]
        share = statistics.median(differences)
        print(
            f"  agent API's own share        {ms(share)}  (overhead less emulator + boto3, median of the "
            f"runs' differences; goal <= {OWN_SHARE_GOAL_MS} ms: {met(share, OWN_SHARE_GOAL_MS)})"
        )
        # The spread of the runs' differences, and the machine's load, say how far a median can be trusted.
        quartiles = statistics.quantiles(differences, n=4)
        load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
        print(
            f"  own share's quartiles        {ms(quartiles[0]).strip()} .. {ms(quartiles[2]).strip()}"
            f"  (load average {load})"
        )

        print(f"\n{args.rounds} x {args.concurrency} concurrent /chat streams:")
        failed = 0
        for round_number in range(1, args.rounds + 1):
            wall, results = asyncio.run(concurrent_streams(stack.agent_url, args.concurrency))
            errors = [result.error for result in results if result.error is not None]
            failed += len(errors)
            firsts = [result.first_event for result in results if result.first_event is not None]
            totals = [result.total for result in results]
            first_event = "no first event"
            if firsts:
                p50, p95 = ms(percentile(firsts, 0.5)).strip(), ms(percentile(firsts, 0.95)).strip()
                first_event = f"first event p50 {p50}, p95 {p95}"
            print(
                f"  round {round_number}: {len(errors)} errors, wall {wall:.2f} s, {first_event}, "
                f"complete p50 {ms(percentile(totals, 0.5)).strip()}, max {ms(max(totals)).strip()}"
            )
            for error in errors[:5]:
                print(f"    error: {error}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
