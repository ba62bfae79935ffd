"""Bedrock runtime's errors, as botocore raises them: refused requests, a failing model server, and the
exception events that end a ConverseStream."""

import http.client
import urllib.parse
from typing import Any

import pytest
from botocore import UNSIGNED
from botocore.exceptions import ClientError, EventStreamError

from local.emulator.bedrock_errors import INVALID_MODEL_ID_MESSAGE
from local.emulator.converse_request import ALTERNATE_ROLES_MESSAGE, FIRST_MESSAGE_MESSAGE
from tests.emulator.chat_chunks import chunk, stream
from tests.support.bedrock_runtime import MODEL_ID, BedrockRuntime, bedrock_client
from tests.support.recordings import fixture_parts, fixture_reply
from tests.support.sagemaker_runtime import Stream
from tests.support.scripted_server import Reply

USER = [{"role": "user", "content": [{"text": "Hello"}]}]
OPERATIONS = ["converse", "converse_stream"]


def _call(runtime: BedrockRuntime, operation: str, **request: Any) -> list[dict[str, Any]]:
    """Call ``operation``; return the stream's events (none for Converse)."""
    response = getattr(runtime.client(), operation)(**{"modelId": MODEL_ID, "messages": USER, **request})
    return list(response["stream"]) if operation == "converse_stream" else []


@pytest.mark.parametrize("operation", OPERATIONS)
def test_unknown_model_id_is_bedrocks_invalid_model_identifier(
    bedrock: BedrockRuntime, operation: str
) -> None:
    client = bedrock.client()

    with pytest.raises(client.exceptions.ValidationException) as caught:
        getattr(client, operation)(modelId="us.anthropic.claude-unknown-v1:0", messages=USER)

    assert caught.value.response["Error"] == {
        "Code": "ValidationException",
        "Message": INVALID_MODEL_ID_MESSAGE,
    }
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert bedrock.server.received == []


@pytest.mark.parametrize("operation", OPERATIONS)
def test_unsigned_request_is_refused_as_aws_refuses_it(bedrock: BedrockRuntime, operation: str) -> None:
    client = bedrock_client(bedrock.url, signature_version=UNSIGNED)

    with pytest.raises(ClientError) as caught:
        getattr(client, operation)(modelId=MODEL_ID, messages=USER)

    assert caught.value.response["Error"]["Code"] == "MissingAuthenticationTokenException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


@pytest.mark.parametrize(
    ("request_fields", "message"),
    [
        ({"messages": [{"role": "assistant", "content": [{"text": "Hi"}]}]}, FIRST_MESSAGE_MESSAGE),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [{"toolResult": {"toolUseId": "call_9", "content": [{"text": "x"}]}}],
                    }
                ]
            },
            "messages.0.content.0.toolResult answers toolUseId 'call_9', which no toolUse block",
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"document": {"format": "pdf", "name": "d", "source": {"bytes": b"%PDF"}}}
                        ],
                    }
                ]
            },
            "The emulator does not translate document blocks (messages.0.content.0).",
        ),
        (
            {"guardrailConfig": {"guardrailIdentifier": "g", "guardrailVersion": "1"}},
            "The emulator does not emulate guardrailConfig.",
        ),
        (
            {"toolConfig": {"tools": [{"cachePoint": {"type": "default"}}]}},
            "toolConfig.tools must hold at least one toolSpec.",
        ),
        ({"messages": []}, "messages must hold at least one message."),
        (
            {
                "messages": [
                    {"role": "user", "content": [{"text": "a"}]},
                    {"role": "user", "content": [{"text": "b"}]},
                ]
            },
            ALTERNATE_ROLES_MESSAGE,
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": [{"text": "a"}]},
                    {
                        "role": "assistant",
                        "content": [{"toolUse": {"toolUseId": "call 1", "name": "calculator", "input": {}}}],
                    },
                    {"role": "user", "content": [{"toolResult": {"toolUseId": "call 1", "content": []}}]},
                ]
            },
            "Value 'call 1' at 'messages.1.member.content.0.member.toolUse.toolUseId' failed to satisfy "
            "constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.:-]+",
        ),
    ],
)
@pytest.mark.parametrize("operation", OPERATIONS)
def test_request_the_emulator_cannot_answer_is_a_validation_exception_naming_why(
    bedrock: BedrockRuntime, operation: str, request_fields: dict[str, Any], message: str
) -> None:
    client = bedrock.client()

    with pytest.raises(client.exceptions.ValidationException) as caught:
        getattr(client, operation)(**{"modelId": MODEL_ID, "messages": USER, **request_fields})

    assert message in caught.value.response["Error"]["Message"]
    assert bedrock.server.received == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "The request body is not valid JSON."),
        (b'{"messages": "hello"}', "messages must be a list, got str."),
        (
            b'{"messages": [{"role": "user", "content": [{"text": "a", "image": {}}]}]}',
            "messages.0.content.0 must set exactly one member, got ['image', 'text'].",
        ),
        (
            b'{"messages": [{"role": "user", "content": [{"image": {"format": ["png"], "source": {}}}]}]}',
            "messages.0.content.0.image must be a png, jpeg, gif or webp image given as bytes",
        ),
        (
            b'{"messages": [{"role": "user", "content": [{"text": "a"}]}], '
            b'"inferenceConfig": {"maxTokens": 0}}',
            "inferenceConfig.maxTokens must be an integer >= 1, got 0.",
        ),
    ],
)
def test_malformed_body_sent_without_botocore_is_a_validation_exception(
    bedrock: BedrockRuntime, body: bytes, message: str
) -> None:
    # botocore validates its parameters before sending: only a hand-made request reaches these checks.
    host = urllib.parse.urlsplit(bedrock.url).netloc
    connection = http.client.HTTPConnection(host, timeout=10)
    connection.request(
        "POST",
        f"/model/{urllib.parse.quote(MODEL_ID, safe='')}/converse",
        body=body,
        headers={"Authorization": "Bearer token", "Content-Type": "application/json"},
    )
    response = connection.getresponse()

    assert response.status == 400
    assert response.getheader("x-amzn-ErrorType") == "ValidationException"
    assert message in response.read().decode()
    connection.close()


@pytest.mark.parametrize("operation", OPERATIONS)
def test_model_server_refusing_the_request_is_a_validation_exception_with_its_message(
    bedrock: BedrockRuntime, operation: str
) -> None:
    bedrock.server.reply = fixture_reply("vllm", "error_bad_request")
    client = bedrock.client()

    with pytest.raises(client.exceptions.ValidationException) as caught:
        _call(bedrock, operation)

    assert caught.value.response["Error"]["Message"].startswith("1 validation error:")


@pytest.mark.parametrize("operation", OPERATIONS)
def test_model_server_failing_is_a_model_error_with_its_status(
    bedrock: BedrockRuntime, operation: str
) -> None:
    bedrock.server.reply = Reply([b'{"error": {"message": "out of memory"}}'], status=500, chunked=False)
    client = bedrock.client()

    with pytest.raises(client.exceptions.ModelErrorException) as caught:
        _call(bedrock, operation)

    error = caught.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert error["Error"]["Message"] == "Received error (500) from the model: out of memory"
    assert error["originalStatusCode"] == 500
    assert error["resourceName"] == MODEL_ID


@pytest.mark.parametrize("operation", OPERATIONS)
def test_model_server_answering_without_streaming_is_a_model_error(
    bedrock: BedrockRuntime, operation: str
) -> None:
    client = bedrock.client()  # the scripted server's default answer is a JSON object

    with pytest.raises(client.exceptions.ModelErrorException) as caught:
        _call(bedrock, operation)

    assert "not a text/event-stream" in caught.value.response["Error"]["Message"]


@pytest.mark.parametrize("operation", OPERATIONS)
def test_unreachable_model_server_is_an_internal_server_exception_naming_it(operation: str) -> None:
    with BedrockRuntime() as runtime:
        runtime.server.stop()
        client = runtime.client()
        with pytest.raises(client.exceptions.InternalServerException) as caught:
            _call(runtime, operation)

    assert runtime.server.url in caught.value.response["Error"]["Message"]


def test_model_server_breaking_off_ends_the_stream_with_a_model_stream_error(bedrock: BedrockRuntime) -> None:
    parts = fixture_parts("vllm/chat_stream_usage.txt")
    bedrock.server.reply = Reply(parts, content_type="text/event-stream", break_after=4)
    response = bedrock.client().converse_stream(modelId=MODEL_ID, messages=USER)
    events = []

    with pytest.raises(EventStreamError) as caught:
        for event in response["stream"]:
            events.append(event)

    assert caught.value.response["Error"]["Code"] == "modelStreamErrorException"
    assert "ended before a finish_reason" in caught.value.response["Error"]["Message"]
    assert [event["contentBlockDelta"]["delta"]["text"] for event in events[1:]] == ["Hello", "!", " I"]


def test_model_server_breaking_off_fails_converse_with_a_model_error(bedrock: BedrockRuntime) -> None:
    parts = fixture_parts("vllm/chat_stream_usage.txt")
    bedrock.server.reply = Reply(parts, content_type="text/event-stream", break_after=4)
    client = bedrock.client()

    with pytest.raises(client.exceptions.ModelErrorException):
        client.converse(modelId=MODEL_ID, messages=USER)


def test_model_server_going_silent_is_a_model_timeout_for_converse() -> None:
    parts = fixture_parts("vllm/chat_stream_usage.txt")
    reply = Reply(parts, content_type="text/event-stream", pause_after=2)
    with BedrockRuntime(reply, backend_timeout=0.5) as runtime:
        client = runtime.client()
        with pytest.raises(client.exceptions.ModelTimeoutException) as caught:
            client.converse(modelId=MODEL_ID, messages=USER)

    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 408


def test_model_server_going_silent_ends_the_stream_with_a_model_stream_error() -> None:
    parts = fixture_parts("vllm/chat_stream_usage.txt")
    reply = Reply(parts, content_type="text/event-stream", pause_after=2)
    with BedrockRuntime(reply, backend_timeout=0.5) as runtime:
        response = runtime.client().converse_stream(modelId=MODEL_ID, messages=USER)
        with pytest.raises(EventStreamError) as caught:
            list(response["stream"])

    assert caught.value.response["Error"]["Code"] == "modelStreamErrorException"
    assert "within the allowed time" in caught.value.response["Error"]["Message"]


def test_error_object_in_the_model_servers_stream_ends_it_with_its_message(bedrock: BedrockRuntime) -> None:
    bedrock.server.reply = stream(
        chunk({"content": "Hel"}), b'data: {"error": {"message": "engine died", "code": 500}}\n\n'
    )
    response = bedrock.client().converse_stream(modelId=MODEL_ID, messages=USER)

    with pytest.raises(EventStreamError) as caught:
        list(response["stream"])

    assert caught.value.response["Error"]["Message"] == "The model server reported an error: engine died"


def test_tool_call_without_a_name_ends_the_stream_with_a_model_stream_error(bedrock: BedrockRuntime) -> None:
    bedrock.server.reply = stream(chunk({"tool_calls": [{"index": 0, "function": {"arguments": "{}"}}]}))
    response = bedrock.client().converse_stream(modelId=MODEL_ID, messages=USER)

    with pytest.raises(EventStreamError) as caught:
        list(response["stream"])

    assert "starts without a name" in caught.value.response["Error"]["Message"]


def test_tool_input_that_is_not_a_json_object_is_a_malformed_tool_use(bedrock: BedrockRuntime) -> None:
    bedrock.server.reply = stream(
        chunk({"tool_calls": [{"index": 0, "id": "c1", "function": {"name": "f", "arguments": "{oops"}}]}),
        chunk({}, finish="tool_calls"),
    )

    answer = bedrock.client().converse(modelId=MODEL_ID, messages=USER)

    assert answer["stopReason"] == "malformed_tool_use"
    assert answer["output"]["message"]["content"] == [
        {"toolUse": {"toolUseId": "c1", "name": "f", "input": {}}}
    ]


def test_recorded_stream_is_still_read_when_the_server_sends_no_done_line(bedrock: BedrockRuntime) -> None:
    parts = [part for part in fixture_parts("vllm/chat_stream_usage.txt") if b"[DONE]" not in part]
    bedrock.server.reply = Stream(parts)

    answer = bedrock.client().converse(modelId=MODEL_ID, messages=USER)

    assert answer["output"]["message"]["content"] == [{"text": "Hello! I am a tiny test model."}]


@pytest.mark.parametrize(
    "bad_chunk",
    [b'data: {"choices": ["not an object"]}\n\n', b'data: {"choices": [{"delta": {"tool_calls": [7]}}]}\n\n'],
)
def test_chunk_of_an_unexpected_shape_ends_the_stream_with_a_model_stream_error(
    bedrock: BedrockRuntime, bad_chunk: bytes
) -> None:
    bedrock.server.reply = stream(chunk({"content": "Hel"}), bad_chunk)
    response = bedrock.client().converse_stream(modelId=MODEL_ID, messages=USER)

    with pytest.raises(EventStreamError) as caught:
        list(response["stream"])

    assert "a chunk the emulator cannot read" in caught.value.response["Error"]["Message"]
