"""A fallback model answering at once from zero copies, on the real local stack (vLLM CPU on the tiny model).

With the model an inference component at zero copies and a fallback on the same vLLM (the emulator's Bedrock
Converse, or a second endpoint), it sends N new sessions at once and reports (issue 23's targets):

  1. errors (goal: 0), time to first `text` event p50/p95/max (goal: p95 <= 3 s) and copies asked for
     (goal: exactly one), every answer naming the fallback;
  2. once the copy is in service, the next turn of every session at once: answered by the model itself
     (goal: all) and seeing the earlier turns (goal: all): the model's request holds the session's first
     prompt, and the tiny model answers from the tool result the fallback's turn stored, without calling the
     tool again;
  3. the baseline, in the same run: N new sessions at once on the model in service, their time to first text,
     and what a request waited without a fallback (the wake-up itself, `--cold` seconds here, minutes on AWS).

    .venv/bin/python benchmarks/fallback_bench.py [--sessions 20] [--fallback bedrock|endpoint] [--cold 60]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from httpx_sse import aconnect_sse

sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parents[1] / "lambda")]

from agent_api.fallback_settings import endpoint_model_name  # noqa: E402
from benchmarks.e2e_bench import ms, percentile  # noqa: E402
from local.agent_environment import COMPONENT_NAME, ENDPOINT_NAME  # noqa: E402
from local.emulator import Invocation  # noqa: E402
from local.fallback import KINDS, LocalFallback  # noqa: E402
from local.stack import LocalDeployment  # noqa: E402
from local.tiny_model.script import TOOL_RESULT_TEXT  # noqa: E402

TIMEOUT = httpx.Timeout(10.0, read=300.0)
FIRST_PROMPT = "What is the weather in Paris? (session {index})"
NEXT_PROMPT = "And tomorrow?"
OWN_MODEL = endpoint_model_name(ENDPOINT_NAME, COMPONENT_NAME)
FIRST_TEXT_GOAL_SECONDS = 3.0


@dataclass
class Turn:
    """One turn as the client saw it."""

    first_text: float | None = None
    text: str = ""
    tools: int = 0
    events: list[str] = field(default_factory=list)
    model: str | None = None
    error: str | None = None


async def one_turn(client: httpx.AsyncClient, agent_url: str, prompt: str, session_id: str) -> Turn:
    turn = Turn()
    started = time.perf_counter()
    body = {"prompt": prompt, "session_id": session_id}
    try:
        async with aconnect_sse(client, "POST", f"{agent_url}/chat", json=body) as source:
            if source.response.status_code != 200:
                turn.error = f"HTTP {source.response.status_code}: {(await source.response.aread())[:200]!r}"
                return turn
            async for event in source.aiter_sse():
                data: dict[str, Any] = json.loads(event.data)
                turn.events.append(event.event if event.event != "status" else f"status:{data['state']}")
                if event.event == "text":
                    if turn.first_text is None:
                        turn.first_text = time.perf_counter() - started
                    turn.text += data["delta"]
                elif event.event == "tool_use":
                    turn.tools += 1
                elif event.event == "done":
                    turn.model = data["model"]
                elif event.event == "error":
                    turn.error = f"error event {data}"
    except httpx.HTTPError as error:
        turn.error = repr(error)
    return turn


async def turns(agent_url: str, prompts: dict[str, str]) -> list[Turn]:
    """Send one turn per session (session id -> prompt), all at once."""
    limits = httpx.Limits(max_connections=len(prompts), max_keepalive_connections=len(prompts))
    async with httpx.AsyncClient(timeout=TIMEOUT, limits=limits) as client:
        return list(await asyncio.gather(*(one_turn(client, agent_url, p, s) for s, p in prompts.items())))


def wait_in_service(agent_url: str, deadline_seconds: float) -> float:
    """Poll GET /status until a copy is in service; return the seconds waited."""
    started = time.perf_counter()
    with httpx.Client(timeout=TIMEOUT) as client:
        while client.get(f"{agent_url}/status").json()["state"] != "in_service":
            if time.perf_counter() - started > deadline_seconds:
                raise RuntimeError(f"no copy in service after {deadline_seconds:.0f} s")
            time.sleep(0.5)
    return time.perf_counter() - started


def first_text_line(label: str, results: list[Turn]) -> str:
    firsts = [turn.first_text for turn in results if turn.first_text is not None]
    if not firsts:
        return f"  {label}: no text"
    return (
        f"  {label}: first text p50 {ms(percentile(firsts, 0.5)).strip()}, "
        f"p95 {ms(percentile(firsts, 0.95)).strip()}, max {ms(max(firsts)).strip()} ({len(firsts)} answers)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--fallback", choices=KINDS, default="bedrock")
    parser.add_argument(
        "--cold", type=float, default=60.0, help="seconds a copy takes to come into service (default: 60)"
    )
    parser.add_argument("--backend", help="an already running vLLM (default: start one on the tiny model)")
    args = parser.parse_args()
    fallback = LocalFallback(args.fallback)
    run = uuid.uuid4().hex[:8]
    sessions = {f"bench-{run}-{index}": FIRST_PROMPT.format(index=index) for index in range(args.sessions)}

    with LocalDeployment(
        backend_url=args.backend,
        cold_start_seconds=args.cold,
        fallback=fallback,
        progress=lambda message: print(f"· {message}"),
    ) as stack:
        invocations: list[Invocation] = []
        stack.emulator.on_invocation = invocations.append
        component = stack.emulator.components[COMPONENT_NAME]

        print(
            f"\n1. {args.sessions} new sessions at once, the model at zero copies, fallback {fallback.name}:"
        )
        started = time.perf_counter()
        first = asyncio.run(turns(stack.agent_url, sessions))
        wall = time.perf_counter() - started
        errors = [turn.error for turn in first if turn.error is not None]
        by_fallback = sum(
            turn.model == fallback.name and turn.events[0] == "status:fallback" for turn in first
        )
        print(f"  {len(errors)} errors (goal 0), wall {wall:.2f} s")
        print(first_text_line("fallback", first))
        print(f"  answered by the fallback, its status first: {by_fallback}/{args.sessions}")
        print(f"  copies asked for: {component.copy_count_requests} (goal: exactly one, [1])")
        for error in errors[:5]:
            print(f"    error: {error}")

        waited = wait_in_service(stack.agent_url, args.cold * 3)
        print(
            f"\n2. the copy came into service {waited:.1f} s later; the next turn of every session at once:"
        )
        invocations.clear()
        later = asyncio.run(turns(stack.agent_url, dict.fromkeys(sessions, NEXT_PROMPT)))
        later_errors = [turn.error for turn in later if turn.error is not None]
        by_own = sum(turn.model == OWN_MODEL for turn in later)
        bodies = [invocation.body.decode("utf-8", "replace") for invocation in invocations]
        seen = sum(
            any(prompt in body and NEXT_PROMPT in body for body in bodies) for prompt in sessions.values()
        )
        from_history = sum(turn.tools == 0 and turn.text == TOOL_RESULT_TEXT for turn in later)
        print(f"  {len(later_errors)} errors, answered by the model {OWN_MODEL}: {by_own}/{args.sessions}")
        print(f"  the model's request held the session's first turn: {seen}/{args.sessions}")
        print(f"  answered from the stored tool result, no new tool call: {from_history}/{args.sessions}")
        print(first_text_line("model, next turn", later))
        for error in later_errors[:5]:
            print(f"    error: {error}")

        print(f"\n3. baseline: {args.sessions} new sessions at once on the model in service:")
        baseline = asyncio.run(
            turns(stack.agent_url, {f"{session}-warm": prompt for session, prompt in sessions.items()})
        )
        baseline_errors = [turn.error for turn in baseline if turn.error is not None]
        print(f"  {len(baseline_errors)} errors")
        print(first_text_line("model in service", baseline))
        firsts = [turn.first_text for turn in first if turn.first_text is not None]
        warm = [turn.first_text for turn in baseline if turn.first_text is not None]
        if firsts and warm:
            ratio = percentile(firsts, 0.95) / percentile(warm, 0.95)
            print(f"  fallback p95 / model-in-service p95: {ratio:.2f}")
        print(f"  without a fallback the first text waits for the copy: at least {args.cold:.0f} s here")

    p95 = percentile(firsts, 0.95) if firsts else float("inf")
    met = (
        not errors
        and not later_errors
        and len(firsts) == args.sessions
        and p95 <= FIRST_TEXT_GOAL_SECONDS
        and component.copy_count_requests == [1]
        and by_fallback == by_own == seen == args.sessions
    )
    print(f"\ntargets {'met' if met else 'NOT met'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
