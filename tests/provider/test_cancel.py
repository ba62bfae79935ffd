"""Ending a model call early: the agent's cancel signal, or the consumer closing the stream, ends it at once,
streamed or not, and the connection is cut so the endpoint stops sending."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from typing import Any

import pytest
from strands import Agent

from local.emulator.eventstream import CONTENT_TYPE as EVENT_STREAM
from local.emulator.eventstream import payload_part
from sagemaker_provider import SageMakerModel
from tests.provider.helpers import FIXTURES, busy_readers, model_on, paused_stream
from tests.support.sagemaker_runtime import ENDPOINT, SageMakerRuntime, Stream, sagemaker_client
from tests.support.scripted_server import Reply, ScriptedServer

USER = [{"role": "user", "content": [{"text": "What is the capital of France?"}]}]


def _wait_until_no_busy_readers(seconds: float = 5) -> None:
    deadline = time.monotonic() + seconds
    while busy_readers() and time.monotonic() < deadline:
        time.sleep(0.01)


async def test_cancel_signal_ends_stream_without_message_stop(endpoint: SageMakerRuntime) -> None:
    body = (FIXTURES / "vllm" / "chat_stream.txt").read_bytes()
    reply = Stream([body[:300], body[300:]], pause_after=1)
    endpoint.script(reply)
    cancel = threading.Event()
    events = []
    async for event in model_on(endpoint).stream(USER, cancel_signal=cancel):
        events.append(event)
        if "messageStart" in event:
            cancel.set()
            reply.resume.set()
    assert not any("messageStop" in e for e in events)


async def test_consumer_closing_early_stops_the_reader_thread(endpoint: SageMakerRuntime) -> None:
    body = (FIXTURES / "vllm" / "chat_stream.txt").read_bytes()
    reply = Stream([body[:300], body[300:]], pause_after=1)
    endpoint.script(reply)
    stream = model_on(endpoint).stream(USER)
    async for _ in stream:
        break
    await stream.aclose()
    reply.resume.set()
    deadline = time.monotonic() + 5
    while busy_readers() and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    assert busy_readers() == []


def _agent_cancelling_at_first_text(endpoint: SageMakerRuntime) -> Agent:
    def cancel_at_text(**event: Any) -> None:
        if "data" in event:
            agent.cancel()

    agent = Agent(model=model_on(endpoint), callback_handler=cancel_at_text)
    return agent


def test_agent_cancel_while_the_endpoint_is_silent_ends_the_turn_at_once(endpoint: SageMakerRuntime) -> None:
    reply = paused_stream(endpoint)
    agent = _agent_cancelling_at_first_text(endpoint)
    result = agent("Hello?")
    # The turn ended as cancelled while the container still held the rest: nothing waited for more bytes.
    assert result.stop_reason == "cancelled"
    assert reply.resumed is None


def test_cancelled_stream_releases_its_reader_thread_at_once(endpoint: SageMakerRuntime) -> None:
    reply = paused_stream(endpoint)
    agent = _agent_cancelling_at_first_text(endpoint)
    agent("Hello?")
    deadline = time.monotonic() + 5
    while busy_readers() and time.monotonic() < deadline:
        time.sleep(0.01)
    # The reader stopped while the container still held the rest: it did not wait for the next byte.
    assert busy_readers() == []
    assert reply.resumed is None


def test_reader_never_touches_the_closed_loop_of_a_cancelled_consumer(
    endpoint: SageMakerRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    failures: list[BaseException | None] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: failures.append(args.exc_value))
    reply = paused_stream(endpoint)
    model = model_on(endpoint)

    async def consume_then_cancel() -> None:
        first = asyncio.Event()

        async def consume() -> None:
            async for _ in model.stream(USER):
                first.set()

        task = asyncio.create_task(consume())
        await first.wait()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(consume_then_cancel())  # the loop is closed when this returns
    deadline = time.monotonic() + 5
    while busy_readers() and time.monotonic() < deadline:
        time.sleep(0.01)
    # The reader let go of the connection while the container still held the rest of the answer.
    assert busy_readers() == []
    assert reply.resumed is None
    reply.resume.set()
    assert reply.finished.wait(5)
    assert failures == []


def test_agent_cancel_ends_a_whole_answer_call_at_once(endpoint: SageMakerRuntime) -> None:
    # stream=False: the container holds the whole answer back, so nothing arrives until it is complete.
    body = (FIXTURES / "vllm" / "chat_nonstream.txt").read_bytes()
    reply = Reply([body], chunked=False, pause_after=0)
    endpoint.script(reply)
    agent = Agent(model=model_on(endpoint, stream=False), callback_handler=None)

    def cancel_once_the_container_has_the_request() -> None:
        deadline = time.monotonic() + 10
        while not endpoint.container.received and time.monotonic() < deadline:
            time.sleep(0.01)
        agent.cancel()

    canceller = threading.Thread(target=cancel_once_the_container_has_the_request)
    canceller.start()
    result = agent("Hello?")
    canceller.join()
    # The turn ended as cancelled while the container still held the answer: nothing waited for it.
    assert result.stop_reason == "cancelled"
    assert reply.resumed is None
    reply.resume.set()


@pytest.mark.parametrize("how", ["agent_cancel", "consumer_closes"])
def test_a_cancelled_stream_cuts_a_connection_the_response_asked_to_close(how: str) -> None:
    # The endpoint answers "Connection: close" (the scripted server always does), so http.client hands the
    # socket to the response and the pooled connection no longer holds it: it must still be cut.
    chunk = b'data: {"choices":[{"index":0,"delta":{"content":"Par"}}]}\n\n'
    frames = [
        payload_part(chunk),
        payload_part(b'data: {"choices":[{"index":0,"finish_reason":"stop"}]}\n\n'),
    ]
    reply = Reply(frames, content_type=EVENT_STREAM, pause_after=1)
    with ScriptedServer(reply) as server:
        model = SageMakerModel(endpoint_name=ENDPOINT, client=sagemaker_client(server.url))
        if how == "agent_cancel":

            def cancel_at_text(**event: Any) -> None:
                if "data" in event:
                    agent.cancel()

            agent = Agent(model=model, callback_handler=cancel_at_text)
            assert agent("Hello?").stop_reason == "cancelled"
        else:

            async def read_one_event_then_close() -> None:
                stream = model.stream(USER)
                async for _ in stream:
                    break
                await stream.aclose()

            asyncio.run(read_one_event_then_close())
        _wait_until_no_busy_readers()
        # The reader stopped while the endpoint still held the rest: its connection was cut, not waited on.
        assert busy_readers() == []
        assert reply.resumed is None
        reply.resume.set()
