"""Cost of sessions in the agent API: S3 requests per turn, time to first event, and the size limit.

Runs the agent API in-process under uvicorn, in front of the SageMaker-runtime emulator replaying a recorded
vLLM answer (`tests/fixtures/vllm/chat_stream_usage.txt`, so the model adds no noise) and moto's S3 server:
  1. the S3 requests of turns 1, 10 and 40 of one session, counted on botocore's `before-send` event
     (goal: the same at turn 40 as at turn 10, at most 6);
  2. time to first event of a session turn (a conversation 40 turns long) against a turn without a
     session, interleaved over N runs (medians; moto answers in about a millisecond, real S3 in tens, and a
     session turn waits for 2 of its requests, the lock and the read, before the model is called);
  3. loading and saving sessions of growing size (tool results of 100 KB each) up to and past
     `SESSION_MAX_BYTES`: time to read, restore into an agent and write back, and peak Python memory.

    .venv/bin/python benchmarks/session_bench.py [--runs 30]
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import time
import tracemalloc
import uuid
from dataclasses import replace
from pathlib import Path

import boto3
import httpx
from httpx_sse import connect_sse

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "lambda")]

from moto.server import ThreadedMotoServer  # noqa: E402
from strands import Agent  # noqa: E402
from strands.agent.conversation_manager import NullConversationManager  # noqa: E402

from agent_api.app import create_app  # noqa: E402
from agent_api.contract import SESSION_MAX_BYTES  # noqa: E402
from agent_api.session_owner import LOCAL_OWNER  # noqa: E402
from agent_api.sessions import SessionStore, SessionTooLargeError  # noqa: E402
from agent_api.settings import Settings  # noqa: E402
from tests.agent_api.harness import FAST_RETRIES, serve  # noqa: E402
from tests.agent_api.session_support import S3Requests  # noqa: E402
from tests.support.recordings import fixture_parts  # noqa: E402
from tests.support.sagemaker_runtime import ENDPOINT, SageMakerRuntime, Stream  # noqa: E402

TOOL_RESULT_BYTES = 100_000


def ms(seconds: float) -> str:
    return f"{seconds * 1000:7.1f} ms"


def first_event(client: httpx.Client, body: dict[str, str]) -> float:
    """Seconds from sending `body` to the first SSE event (the rest of the stream is read, untimed)."""
    started = time.perf_counter()
    with connect_sse(client, "POST", "/chat", json=body) as source:
        events = source.iter_sse()
        next(events)
        elapsed = time.perf_counter() - started
        for _ in events:
            pass
    return elapsed


def requests_per_turn(client: httpx.Client, s3: S3Requests) -> dict[int, list[str]]:
    counted: dict[int, list[str]] = {}
    for turn in range(1, 41):
        first_event(client, {"prompt": f"Turn {turn}", "session_id": "counted"})
        operations = s3.take()
        if turn in (1, 10, 40):
            counted[turn] = operations
    return counted


def time_to_first_event(client: httpx.Client, runs: int, warmup: int) -> tuple[list[float], list[float]]:
    for turn in range(40):
        first_event(client, {"prompt": f"Turn {turn}", "session_id": "timed"})
    with_session: list[float] = []
    without: list[float] = []
    for run in range(warmup + runs):
        # Interleaved, so that load changes on the machine hit both alike.
        samples = (
            first_event(client, {"prompt": "Hi", "session_id": "timed"}),
            first_event(client, {"prompt": "Hi"}),
        )
        if run >= warmup:
            with_session.append(samples[0])
            without.append(samples[1])
    return with_session, without


def tool_history(turns: int) -> list[dict[str, object]]:
    """A conversation of `turns` tool calls, each returning TOOL_RESULT_BYTES of text."""
    messages: list[dict[str, object]] = []
    for turn in range(turns):
        tool_id = f"tool-{turn}"
        messages += [
            {"role": "user", "content": [{"text": f"Fetch page {turn}"}]},
            {
                "role": "assistant",
                "content": [{"toolUse": {"toolUseId": tool_id, "name": "fetch", "input": {"page": turn}}}],
            },
            {
                "role": "user",
                "content": [
                    {
                        "toolResult": {
                            "toolUseId": tool_id,
                            "status": "success",
                            "content": [{"text": "x" * TOOL_RESULT_BYTES}],
                        }
                    }
                ],
            },
            {"role": "assistant", "content": [{"text": f"Page {turn} fetched."}]},
        ]
    return messages


def restore_and_save(store: SessionStore, session_id: str) -> tuple[float, float, int]:
    """Read a stored session, restore it into an agent and write it back: seconds for each, its size."""
    started = time.perf_counter()
    lease = store.open(session_id, LOCAL_OWNER)
    try:
        # No trimming: the point is a session as large as its messages make it.
        Agent(
            session_manager=lease.session_manager(),
            conversation_manager=NullConversationManager(),
            callback_handler=None,
        )
        loaded = time.perf_counter()
        lease.save()
        saved = time.perf_counter()
    finally:
        lease.release()
    assert lease.conversation is not None
    return loaded - started, saved - loaded, len(lease.conversation.to_json())


def size_limit(bucket: str, boto_session: boto3.Session) -> None:
    print(
        f"\nSession size (tool results of {TOOL_RESULT_BYTES // 1000} KB; limit {SESSION_MAX_BYTES} bytes):"
    )
    print("  messages   object size   read+restore   write    peak memory (Python, traced separately)")
    store = SessionStore(bucket, boto_session.client("s3"))
    for turns in (10, 40, 80, 160, 200):
        session_id = f"size-{turns}"
        lease = store.open(session_id, LOCAL_OWNER)
        Agent(
            messages=tool_history(turns),  # type: ignore[arg-type]
            session_manager=lease.session_manager(),
            conversation_manager=NullConversationManager(),
            callback_handler=None,
        )
        try:
            lease.save()
        except SessionTooLargeError as exc:
            print(f"  {turns * 4:8}   refused, nothing written: {exc}")
            continue
        finally:
            lease.release()
        read, write, size = restore_and_save(store, session_id)
        tracemalloc.start()
        restore_and_save(store, session_id)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        print(
            f"  {turns * 4:8}   {size / 2**20:7.1f} MiB   {ms(read)}   {ms(write)}   {peak / 2**20:6.0f} MiB"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    logging.getLogger("agent-api").setLevel(logging.WARNING)
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "POWERTOOLS_METRICS_DISABLED": "true",
        }
    )
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    try:
        host, port = moto.get_host_and_port()
        os.environ["AWS_ENDPOINT_URL_S3"] = f"http://{host}:{port}"
        bucket = f"sessions-{uuid.uuid4().hex[:12]}"
        boto3.client("s3").create_bucket(Bucket=bucket)
        with SageMakerRuntime(Stream(fixture_parts("vllm/chat_stream_usage.txt"))) as runtime:
            os.environ["AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME"] = runtime.url
            settings = Settings.from_env({"AGENT_ENDPOINT_NAME": ENDPOINT, "AWS_REGION": "us-east-1"})
            s3 = S3Requests()
            app = create_app(
                replace(settings, sessions_bucket=bucket), boto_session=s3.session, retry_policy=FAST_RETRIES
            )
            with serve(app) as url, httpx.Client(base_url=url, timeout=30) as client:
                counted = requests_per_turn(client, s3)
                print("S3 requests per turn of one session:")
                for turn, operations in counted.items():
                    print(f"  turn {turn:2}: {len(operations)}  ({', '.join(operations)})")
                with_session, without = time_to_first_event(client, args.runs, args.warmup)
        print(f"\nTime to first event, median of {args.runs} runs (min .. max), against moto S3:")
        for name, values in (("without a session", without), ("session at turn 40+", with_session)):
            spread = f"{ms(min(values)).strip()} .. {ms(max(values)).strip()}"
            print(f"  {name:22} {ms(statistics.median(values))}  ({spread})")
        print(f"  session overhead       {ms(statistics.median(with_session) - statistics.median(without))}")
        size_limit(bucket, s3.session)
    finally:
        moto.stop()
    constant = len(counted[40]) == len(counted[10]) <= 6
    print(f"\nConstant S3 requests per turn (<= 6, turn 40 = turn 10): {'yes' if constant else 'NO'}")
    return 0 if constant else 1


if __name__ == "__main__":
    sys.exit(main())
