"""InvokeEndpointWithResponseStream: AWS event-stream frames decoded by botocore's own parser."""

import json

import pytest

from local.emulator import Emulator, Endpoint
from tests.support.recordings import FIXTURES, fixture_reply
from tests.support.sagemaker_runtime import ENDPOINT, collect_stream, sagemaker_client
from tests.support.scripted_server import Reply, ScriptedServer


def _recorded_cases() -> list[tuple[str, str]]:
    cases = []
    for folder in sorted(path for path in FIXTURES.iterdir() if path.is_dir()):
        suffix = ".txt" if folder.name == "vllm" else ".body"
        for body in sorted(folder.glob(f"*{suffix}")):
            case = body.name.removesuffix(suffix)
            if not case.endswith(".headers") and fixture_reply(folder.name, case).status == 200:
                cases.append((folder.name, case))
    return cases


@pytest.mark.parametrize(("framework", "case"), _recorded_cases())
def test_stream_parts_concatenate_to_the_recorded_body(
    container: ScriptedServer, client, framework: str, case: str
) -> None:
    container.reply = fixture_reply(framework, case)

    response = client.invoke_endpoint_with_response_stream(EndpointName=ENDPOINT, Body=b"{}")

    assert b"".join(collect_stream(response)) == container.reply.body


def test_stream_sends_one_part_per_chunk_the_container_sends(container: ScriptedServer, client) -> None:
    container.reply = fixture_reply("vllm", "invocations_stream")

    response = client.invoke_endpoint_with_response_stream(EndpointName=ENDPOINT, Body=b"{}")

    assert collect_stream(response) == container.reply.chunks


def test_stream_reports_the_container_content_type(container: ScriptedServer, client) -> None:
    container.reply = fixture_reply("vllm", "invocations_stream")

    response = client.invoke_endpoint_with_response_stream(EndpointName=ENDPOINT, Body=b"{}")

    assert response["ContentType"] == "text/event-stream; charset=utf-8"
    assert response["ResponseMetadata"]["HTTPHeaders"]["content-type"] == "application/vnd.amazon.eventstream"


def test_stream_posts_the_request_to_the_container_invocations_route(
    container: ScriptedServer, client
) -> None:
    body = json.dumps({"messages": [], "stream": True}).encode()

    client.invoke_endpoint_with_response_stream(
        EndpointName=ENDPOINT, Body=body, ContentType="application/json"
    )

    [received] = container.received
    assert (received.path, received.body) == ("/invocations", body)
    assert received.headers["Content-Type"] == "application/json"


def test_stream_forwards_the_sagemaker_accept_header_as_accept(container: ScriptedServer, client) -> None:
    client.invoke_endpoint_with_response_stream(EndpointName=ENDPOINT, Body=b"{}", Accept="text/event-stream")

    assert container.received[0].headers["Accept"] == "text/event-stream"


def test_stream_forwards_and_returns_custom_attributes(container: ScriptedServer, client) -> None:
    container.reply = Reply([b"a", b"b"], headers={"X-Amzn-SageMaker-Custom-Attributes": "reply=1"})

    response = client.invoke_endpoint_with_response_stream(
        EndpointName=ENDPOINT, Body=b"{}", CustomAttributes="request=1"
    )

    assert container.received[0].headers["X-Amzn-SageMaker-Custom-Attributes"] == "request=1"
    assert response["CustomAttributes"] == "reply=1"


def test_stream_reports_the_targeted_production_variant(container: ScriptedServer) -> None:
    with Emulator({ENDPOINT: Endpoint(container.url, variants=("a", "b"))}) as emulator:
        response = sagemaker_client(emulator.url).invoke_endpoint_with_response_stream(
            EndpointName=ENDPOINT, Body=b"{}", TargetVariant="b"
        )

    assert response["InvokedProductionVariant"] == "b"


def test_stream_accepts_a_configured_inference_component(container: ScriptedServer) -> None:
    container.reply = Reply([b"x", b"y"])
    with Emulator({ENDPOINT: Endpoint(container.url, inference_components=("llama",))}) as emulator:
        response = sagemaker_client(emulator.url).invoke_endpoint_with_response_stream(
            EndpointName=ENDPOINT, Body=b"{}", InferenceComponentName="llama"
        )

        assert collect_stream(response) == [b"x", b"y"]


def test_stream_carries_a_large_body_intact(container: ScriptedServer, client) -> None:
    container.reply = Reply([bytes([index % 251]) * 100_000 for index in range(80)])

    response = client.invoke_endpoint_with_response_stream(EndpointName=ENDPOINT, Body=b"{}")

    assert b"".join(collect_stream(response)) == container.reply.body


def test_stream_of_an_empty_body_has_no_parts(container: ScriptedServer, client) -> None:
    container.reply = Reply([])

    response = client.invoke_endpoint_with_response_stream(EndpointName=ENDPOINT, Body=b"{}")

    assert collect_stream(response) == []
