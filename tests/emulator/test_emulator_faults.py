"""Fault injection: throttling, mid-stream errors, slowness and awkward payload splits."""

import time

import pytest
from botocore.exceptions import ClientError, EventStreamError

from local.emulator import Emulator, Endpoint, Faults
from tests.support.recordings import fixture_reply
from tests.support.sagemaker_runtime import ENDPOINT, collect_stream, sagemaker_client
from tests.support.scripted_server import Reply, ScriptedServer

UTF8_REPLY = Reply([b'data: {"text": "h\xc3\xa9llo \xf0\x9f\x8c\x8d \xe6\x97\xa5\xe6\x9c\xac"}\n\n'] * 3)


@pytest.mark.parametrize("operation", ["invoke_endpoint", "invoke_endpoint_with_response_stream"])
def test_throttled_request_is_a_throttling_exception(emulator: Emulator, client, operation: str) -> None:
    emulator.set_faults(Faults(throttle_requests=1))

    with pytest.raises(ClientError) as caught:
        getattr(client, operation)(EndpointName=ENDPOINT, Body=b"{}")

    assert caught.value.response["Error"] == {"Code": "ThrottlingException", "Message": "Rate exceeded"}


def _outcomes(client, count: int) -> list[str]:
    outcomes = []
    for _ in range(count):
        try:
            client.invoke_endpoint(EndpointName=ENDPOINT, Body=b"{}")
            outcomes.append("ok")
        except ClientError as error:
            outcomes.append(error.response["Error"]["Code"])
    return outcomes


def test_throttling_stops_after_the_given_number_of_requests(
    container: ScriptedServer, emulator: Emulator, client
) -> None:
    emulator.set_faults(Faults(throttle_requests=2))

    assert _outcomes(client, 3) == ["ThrottlingException", "ThrottlingException", "ok"]
    assert emulator.faults.throttle_requests == 0


def test_throttling_can_start_after_some_requests_went_through(emulator: Emulator, client) -> None:
    emulator.set_faults(Faults(throttle_requests=1, throttle_after_requests=2))

    assert _outcomes(client, 4) == ["ok", "ok", "ThrottlingException", "ok"]
    assert (emulator.faults.throttle_after_requests, emulator.faults.throttle_requests) == (0, 0)


def test_botocore_retries_a_throttled_request_until_it_passes(
    container: ScriptedServer, emulator: Emulator
) -> None:
    emulator.set_faults(Faults(throttle_requests=2))
    client = sagemaker_client(emulator.url, retries={"mode": "standard", "total_max_attempts": 3})

    response = client.invoke_endpoint(EndpointName=ENDPOINT, Body=b"{}")

    assert response["ResponseMetadata"]["RetryAttempts"] == 2
    assert len(container.received) == 1


def test_stream_error_after_k_bytes_sends_exactly_k_bytes_then_a_model_stream_error(
    container: ScriptedServer, emulator: Emulator, client
) -> None:
    container.reply = fixture_reply("vllm", "invocations_stream")
    emulator.set_faults(Faults(stream_error_after_bytes=500))
    response = client.invoke_endpoint_with_response_stream(EndpointName=ENDPOINT, Body=b"{}")
    parts = []

    with pytest.raises(EventStreamError) as caught:
        for event in response["Body"]:
            parts.append(event["PayloadPart"]["Bytes"])

    assert b"".join(parts) == container.reply.body[:500]
    assert caught.value.response["Error"]["Code"] == "ModelStreamError"
    assert "after 500 bytes" in caught.value.response["Error"]["Message"]


def test_stream_error_can_be_an_internal_stream_failure(
    container: ScriptedServer, emulator: Emulator, client
) -> None:
    container.reply = fixture_reply("vllm", "invocations_stream")
    emulator.set_faults(Faults(stream_error_after_bytes=0, stream_error_type="InternalStreamFailure"))
    response = client.invoke_endpoint_with_response_stream(EndpointName=ENDPOINT, Body=b"{}")

    with pytest.raises(EventStreamError) as caught:
        collect_stream(response)

    assert caught.value.response["Error"]["Code"] == "InternalStreamFailure"


def test_stream_error_beyond_the_body_length_ends_the_complete_body(
    container: ScriptedServer, emulator: Emulator, client
) -> None:
    container.reply = Reply([b"ab", b"cd"])
    emulator.set_faults(Faults(stream_error_after_bytes=10))
    response = client.invoke_endpoint_with_response_stream(EndpointName=ENDPOINT, Body=b"{}")
    parts = []

    with pytest.raises(EventStreamError):
        for event in response["Body"]:
            parts.append(event["PayloadPart"]["Bytes"])

    assert parts == [b"ab", b"cd"]


def test_stream_error_fault_does_not_touch_invoke_endpoint(emulator: Emulator, client) -> None:
    emulator.set_faults(Faults(stream_error_after_bytes=0))

    response = client.invoke_endpoint(EndpointName=ENDPOINT, Body=b"{}")

    assert response["Body"].read() == b'{"ok": true}'


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7])
def test_split_parts_are_at_most_n_bytes_and_rejoin_to_the_body(
    container: ScriptedServer, emulator: Emulator, client, size: int
) -> None:
    container.reply = UTF8_REPLY
    emulator.set_faults(Faults(split_every=size))

    parts = collect_stream(client.invoke_endpoint_with_response_stream(EndpointName=ENDPOINT, Body=b"{}"))

    assert max(len(part) for part in parts) <= size
    assert b"".join(parts) == UTF8_REPLY.body


def test_split_parts_cut_utf8_sequences(container: ScriptedServer, emulator: Emulator, client) -> None:
    container.reply = UTF8_REPLY
    emulator.set_faults(Faults(split_every=3))

    parts = collect_stream(client.invoke_endpoint_with_response_stream(EndpointName=ENDPOINT, Body=b"{}"))

    with pytest.raises(UnicodeDecodeError):
        for part in parts:
            part.decode("utf-8")


def test_first_byte_delay_holds_the_answer_back(emulator: Emulator, client) -> None:
    emulator.set_faults(Faults(first_byte_delay=0.3))
    started = time.monotonic()

    client.invoke_endpoint(EndpointName=ENDPOINT, Body=b"{}")

    assert time.monotonic() - started >= 0.3


def test_part_delay_spaces_the_parts_out(container: ScriptedServer, emulator: Emulator, client) -> None:
    container.reply = Reply([b"a", b"b", b"c"])
    emulator.set_faults(Faults(part_delay=0.2))
    started = time.monotonic()
    response = client.invoke_endpoint_with_response_stream(EndpointName=ENDPOINT, Body=b"{}")

    arrivals = [time.monotonic() for _ in response["Body"]]

    # Two pauses of 0.2 s between three parts: a lower bound that a loaded machine can only exceed (the gap
    # between two arrivals could shrink when the first one is read late, so it is not compared directly).
    assert len(arrivals) == 3
    assert arrivals[-1] - started >= 0.4


def test_faults_can_be_cleared(emulator: Emulator, client) -> None:
    emulator.set_faults(Faults(throttle_requests=5))
    emulator.set_faults(Faults())

    response = client.invoke_endpoint(EndpointName=ENDPOINT, Body=b"{}")

    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200


@pytest.mark.parametrize(
    ("settings", "name"),
    [
        ({"throttle_requests": -1}, "throttle_requests"),
        ({"throttle_after_requests": -1}, "throttle_after_requests"),
        ({"stream_error_after_bytes": -1}, "stream_error_after_bytes"),
        ({"stream_error_type": "Boom"}, "stream_error_type"),
        ({"first_byte_delay": -0.1}, "first_byte_delay"),
        ({"part_delay": -0.1}, "part_delay"),
        ({"split_every": 0}, "split_every"),
    ],
)
def test_invalid_fault_settings_are_rejected_by_name(settings: dict, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        Faults(**settings)


def test_faults_set_for_one_endpoint_leave_the_others_alone(container: ScriptedServer) -> None:
    endpoints = {ENDPOINT: Endpoint(container.url), "other": Endpoint(container.url)}
    with Emulator(endpoints) as emulator:
        emulator.set_faults(Faults(throttle_requests=1), target="other")
        client = sagemaker_client(emulator.url)
        first = client.invoke_endpoint(EndpointName=ENDPOINT, Body=b"{}")["Body"].read()
        with pytest.raises(ClientError) as caught:
            client.invoke_endpoint(EndpointName="other", Body=b"{}")
        again = client.invoke_endpoint(EndpointName="other", Body=b"{}")["Body"].read()

    assert first == again == b'{"ok": true}'
    assert caught.value.response["Error"]["Code"] == "ThrottlingException"


def test_faults_for_every_request_replace_those_set_for_one_endpoint(emulator: Emulator, client) -> None:
    emulator.set_faults(Faults(throttle_requests=5), target=ENDPOINT)

    emulator.set_faults(Faults())

    assert client.invoke_endpoint(EndpointName=ENDPOINT, Body=b"{}")["Body"].read() == b'{"ok": true}'
