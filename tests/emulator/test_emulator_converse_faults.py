"""Fault injection on Bedrock's Converse and ConverseStream: throttling, delays, re-split deltas and
stream errors."""

import time
from typing import Any

import pytest
from botocore.exceptions import ClientError, EventStreamError

from local.emulator import ConverseModel, Emulator, Endpoint, Faults
from local.emulator.bedrock_errors import THROTTLING_MESSAGE
from tests.emulator.chat_chunks import chunk, stream
from tests.support.bedrock_runtime import MODEL_ID, BedrockRuntime, bedrock_client
from tests.support.recordings import fixture_parts
from tests.support.sagemaker_runtime import ENDPOINT, Stream, sagemaker_client
from tests.support.scripted_server import ScriptedServer

USER = [{"role": "user", "content": [{"text": "Hello"}]}]
ANSWER = "Hello! I am a tiny test model."


@pytest.fixture
def answering(bedrock: BedrockRuntime) -> BedrockRuntime:
    bedrock.server.reply = Stream(fixture_parts("vllm/chat_stream_usage.txt"))
    return bedrock


def _texts(events: list[dict[str, Any]]) -> list[str]:
    return [event["contentBlockDelta"]["delta"]["text"] for event in events if "contentBlockDelta" in event]


def _collect(response: dict[str, Any]) -> tuple[list[dict[str, Any]], EventStreamError]:
    events = []
    with pytest.raises(EventStreamError) as caught:
        for event in response["stream"]:
            events.append(event)
    return events, caught.value


@pytest.mark.parametrize("operation", ["converse", "converse_stream"])
def test_throttled_call_is_a_throttling_exception(answering: BedrockRuntime, operation: str) -> None:
    answering.emulator.set_faults(Faults(throttle_requests=1))
    client = answering.client()

    with pytest.raises(client.exceptions.ThrottlingException) as caught:
        getattr(client, operation)(modelId=MODEL_ID, messages=USER)

    assert caught.value.response["Error"] == {"Code": "ThrottlingException", "Message": THROTTLING_MESSAGE}
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert answering.server.received == []


def test_botocore_retries_a_throttled_call_until_it_passes(answering: BedrockRuntime) -> None:
    answering.emulator.set_faults(Faults(throttle_requests=2))
    client = bedrock_client(answering.url, retries={"mode": "standard", "total_max_attempts": 3})

    answer = client.converse(modelId=MODEL_ID, messages=USER)

    assert answer["ResponseMetadata"]["RetryAttempts"] == 2
    assert len(answering.calls) == 3


def test_throttling_the_bedrock_model_alone_leaves_the_endpoint_answering(container: ScriptedServer) -> None:
    with ScriptedServer(Stream(fixture_parts("vllm/chat_stream_usage.txt"))) as openai_server:
        emulator = Emulator(
            {ENDPOINT: Endpoint(container.url)}, converse_models={MODEL_ID: ConverseModel(openai_server.url)}
        )
        with emulator:
            emulator.set_faults(Faults(throttle_requests=1), target=MODEL_ID)
            endpoint_answer = sagemaker_client(emulator.url).invoke_endpoint(
                EndpointName=ENDPOINT, Body=b"{}"
            )
            client = bedrock_client(emulator.url)
            with pytest.raises(ClientError) as caught:
                client.converse(modelId=MODEL_ID, messages=USER)
            answer = client.converse(modelId=MODEL_ID, messages=USER)

    assert endpoint_answer["Body"].read() == b'{"ok": true}'
    assert caught.value.response["Error"]["Code"] == "ThrottlingException"
    assert answer["output"]["message"]["content"] == [{"text": ANSWER}]


def test_stream_error_after_k_bytes_sends_k_bytes_of_output_then_a_model_stream_error(
    answering: BedrockRuntime,
) -> None:
    answering.emulator.set_faults(Faults(stream_error_after_bytes=9))

    events, error = _collect(answering.client().converse_stream(modelId=MODEL_ID, messages=USER))

    assert "".join(_texts(events)) == ANSWER[:9]
    assert error.response["Error"]["Code"] == "modelStreamErrorException"
    assert error.response["Error"]["Message"] == "Emulated fault: the response stream failed after 9 bytes."
    assert not any("messageStop" in event for event in events)


def test_stream_error_cuts_between_whole_characters() -> None:
    reply = stream(chunk({"content": "h\u00e9llo"}, finish="stop"))
    with BedrockRuntime(reply) as runtime:
        runtime.emulator.set_faults(Faults(stream_error_after_bytes=2))
        events, _ = _collect(runtime.client().converse_stream(modelId=MODEL_ID, messages=USER))

    assert _texts(events) == ["h"]


def test_stream_error_can_be_an_internal_server_exception(answering: BedrockRuntime) -> None:
    answering.emulator.set_faults(
        Faults(stream_error_after_bytes=0, stream_error_type="InternalStreamFailure")
    )

    events, error = _collect(answering.client().converse_stream(modelId=MODEL_ID, messages=USER))

    assert error.response["Error"]["Code"] == "internalServerException"
    assert _texts(events) == []


def test_stream_error_beyond_the_answer_still_breaks_it_off_before_its_end(answering: BedrockRuntime) -> None:
    answering.emulator.set_faults(Faults(stream_error_after_bytes=1000))

    events, error = _collect(answering.client().converse_stream(modelId=MODEL_ID, messages=USER))

    assert "".join(_texts(events)) == ANSWER
    assert "after 30 bytes" in error.response["Error"]["Message"]
    assert not any("messageStop" in event for event in events)


def test_stream_error_fault_does_not_touch_converse(answering: BedrockRuntime) -> None:
    answering.emulator.set_faults(Faults(stream_error_after_bytes=0))

    answer = answering.client().converse(modelId=MODEL_ID, messages=USER)

    assert answer["output"]["message"]["content"] == [{"text": ANSWER}]


@pytest.mark.parametrize("size", [1, 2, 4])
def test_split_deltas_are_at_most_n_characters_and_rejoin_to_the_answer(
    answering: BedrockRuntime, size: int
) -> None:
    answering.emulator.set_faults(Faults(split_every=size))

    events = list(answering.client().converse_stream(modelId=MODEL_ID, messages=USER)["stream"])

    texts = _texts(events)
    assert "".join(texts) == ANSWER
    assert max(len(text) for text in texts) == size
    assert events[-2] == {"messageStop": {"stopReason": "end_turn"}}


def test_first_byte_delay_holds_the_answer_back(answering: BedrockRuntime) -> None:
    answering.emulator.set_faults(Faults(first_byte_delay=0.3))
    started = time.monotonic()

    answering.client().converse(modelId=MODEL_ID, messages=USER)

    assert time.monotonic() - started >= 0.3


def test_part_delay_spaces_the_deltas_out(bedrock: BedrockRuntime) -> None:
    bedrock.server.reply = Stream(fixture_parts("vllm/chat_stop_length.txt"))  # three text deltas
    bedrock.emulator.set_faults(Faults(part_delay=0.2))
    started = time.monotonic()

    events = list(bedrock.client().converse_stream(modelId=MODEL_ID, messages=USER)["stream"])

    # Two pauses of 0.2 s between three deltas: a lower bound that a loaded machine can only exceed.
    assert len(_texts(events)) == 3
    assert time.monotonic() - started >= 0.4
