"""The provider over a real boto3 client, real HTTP and real AWS event-stream frames decoded by botocore."""

from __future__ import annotations

import asyncio
import contextvars
import json
import threading
import time
from typing import Any

import pytest
from strands.types.exceptions import ContextWindowOverflowException, ModelThrottledException

from local.emulator import Faults
from local.emulator.components import NO_CAPACITY_MESSAGE
from local.emulator.eventstream import CONTENT_TYPE as EVENT_STREAM
from local.emulator.eventstream import encode_message as encode_frame
from local.emulator.eventstream import payload_part
from local.tiny_model.script import PLAIN_TEXT
from sagemaker_provider import SageMakerModel
from sagemaker_provider.errors import (
    EndpointConnectionError,
    EndpointInvocationError,
    EndpointTimeoutError,
    ModelNotReadyError,
    ModelStreamError,
    StreamTruncatedError,
)
from sagemaker_provider.transport import IDLE_READER_THREAD_NAME, READER_THREAD_NAME, ReaderThreads
from tests.provider.helpers import (
    FIXTURES,
    body_files,
    busy_readers,
    fixture_id,
    model_on,
    parse_parts,
    paused_stream,
)
from tests.support.sagemaker_runtime import (
    ENDPOINT,
    ModelError,
    SageMakerRuntime,
    Stream,
    Throttle,
    sagemaker_client,
)
from tests.support.scripted_server import Reply, ScriptedServer

USER = [{"role": "user", "content": [{"text": "What is the capital of France?"}]}]


async def _events(model: SageMakerModel, messages: Any = USER, **kwargs: Any) -> list[Any]:
    events: list[Any] = []
    try:
        async for event in model.stream(messages, **kwargs):
            events.append(event)
    except Exception as error:
        events.append(error)
    return events


def _without_latency(events: list[Any]) -> list[Any]:
    for event in events:
        if isinstance(event, dict) and "metadata" in event:
            event["metadata"]["metrics"]["latencyMs"] = 0
    return events


@pytest.mark.parametrize("path", body_files(), ids=fixture_id)
async def test_stream_through_botocore_event_stream_matches_direct_parse(
    endpoint: SageMakerRuntime, path: Any
) -> None:
    body = path.read_bytes()
    # 7-byte parts split events, lines and multi-byte characters at arbitrary points.
    endpoint.emulator.set_faults(Faults(split_every=7))
    endpoint.script(Stream([body]))
    got = _without_latency(await _events(model_on(endpoint)))
    # An empty body reaches the client as no PayloadPart at all, as on SageMaker.
    want = parse_parts([body] if body else [])
    if isinstance(want[-1], Exception):
        assert type(got[-1]) is type(want[-1])
        assert str(got[-1]) == str(want[-1])
        got, want = got[:-1], want[:-1]
    assert got == want


async def test_multibyte_character_split_across_payload_parts_is_intact(endpoint: SageMakerRuntime) -> None:
    text = "Grüße, 東京 🌍"
    chunk = {"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": "stop"}]}
    line = f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n".encode()
    cut = line.index("🌍".encode()) + 2
    endpoint.script(Stream([line[:cut], line[cut:], b"data: [DONE]\n\n"]))
    events = await _events(model_on(endpoint))
    assert (
        "".join(e["contentBlockDelta"]["delta"]["text"] for e in events if "contentBlockDelta" in e)
        == "Grüße, 東京 🌍"
    )


async def test_model_stream_error_event_raises_with_server_message(endpoint: SageMakerRuntime) -> None:
    body = (FIXTURES / "sglang" / "a_text_stream_v1.body").read_bytes()
    endpoint.emulator.set_faults(Faults(stream_error_after_bytes=400))
    endpoint.script(Stream([body]))
    events = await _events(model_on(endpoint))
    assert isinstance(events[-1], ModelStreamError)
    assert (events[-1].message, events[-1].error_code) == (
        "Emulated fault: the response stream failed after 400 bytes.",
        "ModelStreamError",
    )


async def test_stream_cut_short_raises_truncated(endpoint: SageMakerRuntime) -> None:
    body = (FIXTURES / "sglang" / "a_text_stream_v1.body").read_bytes()
    endpoint.script(Stream([body[: body.index(b'"content":" capital"')]]))
    events = await _events(model_on(endpoint))
    assert isinstance(events[-1], StreamTruncatedError)


async def test_throttling_raises_strands_throttled_exception(endpoint: SageMakerRuntime) -> None:
    endpoint.script(Throttle())
    events = await _events(model_on(endpoint))
    assert isinstance(events[-1], ModelThrottledException)
    assert "Rate exceeded" in str(events[-1])


async def test_model_error_keeps_container_status_and_message(endpoint: SageMakerRuntime) -> None:
    original = (FIXTURES / "djl_lmi" / "error_input_parsing_424.body").read_text()
    endpoint.script(ModelError(424, original))
    events = await _events(model_on(endpoint))
    assert isinstance(events[-1], EndpointInvocationError)
    assert (events[-1].status_code, events[-1].error_code, events[-1].message) == (
        424,
        "ModelError",
        original,
    )


async def test_model_error_with_context_length_message_raises_context_overflow(
    endpoint: SageMakerRuntime,
) -> None:
    original = (FIXTURES / "sglang" / "e_error_context_length.body").read_text()
    endpoint.script(ModelError(400, original))
    events = await _events(model_on(endpoint))
    assert isinstance(events[-1], ContextWindowOverflowException)


async def test_validation_error_raises_endpoint_invocation_error(endpoint: SageMakerRuntime) -> None:
    model = SageMakerModel(endpoint_name="no-such-endpoint", client=endpoint.client())
    events = await _events(model)
    assert isinstance(events[-1], EndpointInvocationError)
    assert (events[-1].status_code, events[-1].error_code) == (400, "ValidationError")


@pytest.mark.parametrize("stream", [True, False])
async def test_component_scaled_to_zero_raises_model_not_ready(stream: bool) -> None:
    with SageMakerRuntime(inference_components=("ic-1",), component_copies=0) as endpoint:
        events = await _events(model_on(endpoint, inference_component_name="ic-1", stream=stream))
    assert type(events[-1]) is ModelNotReadyError
    assert (events[-1].status_code, events[-1].error_code, events[-1].message) == (
        400,
        "ValidationError",
        NO_CAPACITY_MESSAGE,
    )
    assert endpoint.container.received == []


async def test_non_streaming_invoke_reads_whole_body(endpoint: SageMakerRuntime) -> None:
    endpoint.script(Reply([(FIXTURES / "vllm" / "chat_nonstream.txt").read_bytes()], chunked=False))
    events = await _events(model_on(endpoint, stream=False))
    text = "".join(e["contentBlockDelta"]["delta"]["text"] for e in events if "contentBlockDelta" in e)
    assert text == PLAIN_TEXT
    assert endpoint.requests[0].path == "/endpoints/test-endpoint/invocations"
    assert json.loads(endpoint.requests[0].body)["stream"] is False


async def test_request_goes_to_the_streaming_route_with_sagemaker_headers() -> None:
    with SageMakerRuntime(inference_components=("ic-1",)) as endpoint:
        endpoint.script(Stream([(FIXTURES / "vllm" / "chat_stream.txt").read_bytes()]))
        model = model_on(endpoint, inference_component_name="ic-1", custom_attributes="trace=1")
        await _events(model)
    request = endpoint.requests[0]
    assert request.path == "/endpoints/test-endpoint/invocations-response-stream"
    assert request.headers["X-Amzn-SageMaker-Inference-Component"] == "ic-1"
    assert request.headers["X-Amzn-SageMaker-Custom-Attributes"] == "trace=1"


async def test_latency_is_reported_in_metadata(endpoint: SageMakerRuntime) -> None:
    endpoint.script(Stream([(FIXTURES / "vllm" / "chat_stream_usage.txt").read_bytes()]))
    events = await _events(model_on(endpoint))
    metadata = next(e["metadata"] for e in events if "metadata" in e)
    assert isinstance(metadata["metrics"]["latencyMs"], int)
    assert metadata["usage"] == {"inputTokens": 96, "outputTokens": 10, "totalTokens": 106}


def test_endpoint_url_environment_variable_redirects_the_client(
    monkeypatch: Any, endpoint: SageMakerRuntime
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", endpoint.url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    model = SageMakerModel(endpoint_name="e", region_name="us-east-1")
    assert model.client.meta.endpoint_url == endpoint.url


async def test_stream_does_not_block_the_event_loop_while_waiting(endpoint: SageMakerRuntime) -> None:
    body = (FIXTURES / "vllm" / "chat_stream.txt").read_bytes()
    reply = Stream([body[:300], body[300:]], pause_after=1)
    endpoint.script(reply)

    async def release_when_the_loop_is_free() -> None:
        await asyncio.sleep(0.05)
        reply.resume.set()

    releaser = asyncio.create_task(release_when_the_loop_is_free())
    events = await _events(model_on(endpoint))
    await releaser
    # The other coroutine ran while the stream waited for the server: the gate was opened, not timed out.
    assert reply.resumed is True
    assert "messageStop" in events[-2]


async def test_internal_stream_failure_event_raises_model_stream_error(endpoint: SageMakerRuntime) -> None:
    part = b'data: {"choices":[]}\n\n'
    endpoint.emulator.set_faults(
        Faults(stream_error_after_bytes=len(part), stream_error_type="InternalStreamFailure")
    )
    endpoint.script(Stream([part]))
    events = await _events(model_on(endpoint))
    assert isinstance(events[-1], ModelStreamError)
    assert events[-1].message == f"Emulated fault: the response stream failed after {len(part)} bytes."


async def test_reader_threads_are_reused_between_streams(endpoint: SageMakerRuntime) -> None:
    body = (FIXTURES / "vllm" / "chat_stream.txt").read_bytes()
    endpoint.script(Stream([body]), Stream([body]))
    model = model_on(endpoint)
    await _events(model)
    # The stream ends for its consumer just before its reader parks: wait for the park, not a race with it.
    deadline = time.monotonic() + 5
    while busy_readers() and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    before = {t.ident for t in threading.enumerate() if t.name.startswith(READER_THREAD_NAME)}
    await _events(model)
    after = {t.ident for t in threading.enumerate() if t.name.startswith(READER_THREAD_NAME)}
    assert after == before


def test_reader_threads_beyond_the_idle_limit_exit() -> None:
    readers = ReaderThreads(max_idle=1)
    existing = set(threading.enumerate())
    gate = threading.Event()
    finished = [threading.Event() for _ in range(3)]

    def job(done: threading.Event) -> None:
        gate.wait(5)
        done.set()

    for done in finished:
        readers.run(lambda done=done: job(done))
    started = [t for t in threading.enumerate() if t not in existing and t.name == READER_THREAD_NAME]
    gate.set()
    for thread in started:
        thread.join(0.5)
    assert len(started) == 3
    assert all(done.is_set() for done in finished)
    assert [t.name for t in started if t.is_alive()] == [IDLE_READER_THREAD_NAME]


async def test_midstream_error_raises_as_soon_as_it_arrives(endpoint: SageMakerRuntime) -> None:
    body = (FIXTURES / "sglang" / "e_error_midstream.body").read_bytes()
    cut = body.index(b'data: {"error"')
    cut = body.index(b"\n\n", cut) + 2
    reply = Stream([body[:cut], body[cut:]], pause_after=1)
    endpoint.script(reply)
    events = await _events(model_on(endpoint))
    # Raised while the server still holds the rest of the stream.
    assert reply.resumed is None
    reply.resume.set()
    assert isinstance(events[-1], ModelStreamError)
    assert [e["contentBlockDelta"]["delta"]["text"] for e in events[:-1] if "contentBlockDelta" in e] == [
        "Paris",
        " is",
        " the",
    ]


async def test_model_stream_error_sent_as_plain_event_raises() -> None:
    # A wire shape SageMaker (and so the emulator) never sends: raw frames from the scripted server itself.
    error_event = encode_frame(
        {":event-type": "ModelStreamError", ":message-type": "event", ":content-type": "application/json"},
        json.dumps({"Message": "connection reset", "ErrorCode": "StreamBroken"}).encode(),
    )
    frames = [payload_part(b'data: {"choices":[]}\n\n'), error_event]
    with ScriptedServer(Reply(frames, content_type=EVENT_STREAM)) as server:
        model = SageMakerModel(endpoint_name=ENDPOINT, client=sagemaker_client(server.url))
        events = await _events(model)
    assert isinstance(events[-1], ModelStreamError)
    assert events[-1].error_code == "ModelStreamError"
    assert events[-1].message == "SageMaker reported ModelStreamError in the response stream"


async def test_system_prompt_content_blocks_become_one_system_message(endpoint: SageMakerRuntime) -> None:
    endpoint.script(Stream([(FIXTURES / "vllm" / "chat_stream.txt").read_bytes()]))
    blocks: Any = [{"text": "Be brief."}, {"cachePoint": {"type": "default"}}, {"text": "Answer in French."}]
    await _events(model_on(endpoint), USER, system_prompt="ignored", system_prompt_content=blocks)
    messages = json.loads(endpoint.requests[0].body)["messages"]
    assert messages[0] == {"role": "system", "content": "Be brief.\nAnswer in French."}


def test_reader_threads_run_each_job_in_the_callers_context() -> None:
    readers = ReaderThreads()
    request: contextvars.ContextVar[str] = contextvars.ContextVar("request")
    seen: list[tuple[str, threading.Thread]] = []
    for name in ("first", "second"):
        done = threading.Event()
        request.set(name)
        readers.run(lambda done=done: (seen.append((request.get(), threading.current_thread())), done.set()))
        assert done.wait(5)
        deadline = time.monotonic() + 5
        while seen[-1][1].name != IDLE_READER_THREAD_NAME and time.monotonic() < deadline:
            time.sleep(0.01)
    # The same parked thread ran both jobs, each with its caller's value.
    assert [value for value, _ in seen] == ["first", "second"]
    assert seen[0][1] is seen[1][1]


async def test_read_timeout_mid_stream_raises_endpoint_timeout(endpoint: SageMakerRuntime) -> None:
    paused_stream(endpoint)
    model = SageMakerModel(endpoint_name=ENDPOINT, client=endpoint.client(read_timeout=0.5))
    events = await _events(model)
    assert isinstance(events[-1], EndpointTimeoutError)
    assert "read timeout" in str(events[-1])


async def test_read_timeout_before_the_answer_raises_endpoint_timeout(endpoint: SageMakerRuntime) -> None:
    endpoint.emulator.set_faults(Faults(first_byte_delay=2))
    endpoint.script(Stream([(FIXTURES / "vllm" / "chat_stream.txt").read_bytes()]))
    model = SageMakerModel(endpoint_name=ENDPOINT, client=endpoint.client(read_timeout=0.5))
    events = await _events(model)
    assert isinstance(events[-1], EndpointTimeoutError)


async def test_connection_closed_mid_stream_raises_endpoint_connection_error() -> None:
    # A connection that breaks off between two frames: raw frames from a scripted server, as no emulator
    # fault cuts the client's own connection.
    frames = [payload_part(b'data: {"choices":[{"index":0,"delta":{"content":"Par"}}]}\n\n'), b"unsent"]
    with ScriptedServer(Reply(frames, content_type=EVENT_STREAM, break_after=1)) as server:
        model = SageMakerModel(endpoint_name=ENDPOINT, client=sagemaker_client(server.url))
        events = await _events(model)
    assert isinstance(events[-1], EndpointConnectionError)
    assert events[-1].kind == "closed"
    assert events[-2] == {"contentBlockDelta": {"delta": {"text": "Par"}}}


async def test_unreachable_endpoint_raises_endpoint_connection_error() -> None:
    with ScriptedServer() as server:
        url = server.url  # a port that was just free and is closed again once the server stops
    model = SageMakerModel(endpoint_name=ENDPOINT, client=sagemaker_client(url))
    events = await _events(model)
    assert isinstance(events[-1], EndpointConnectionError)
    assert events[-1].kind == "unreachable"


async def test_a_finished_stream_leaves_its_connection_to_the_pool(endpoint: SageMakerRuntime) -> None:
    body = (FIXTURES / "vllm" / "chat_stream.txt").read_bytes()
    endpoint.script(Stream([body]), Stream([body]))
    client = endpoint.client()
    model = SageMakerModel(endpoint_name=ENDPOINT, client=client)
    await _events(model)
    await _events(model)
    pool = client._endpoint.http_session._manager.connection_from_url(endpoint.url)
    # Both calls went over one kept-alive connection: the first was not cut once it had finished.
    assert pool.num_connections == 1
