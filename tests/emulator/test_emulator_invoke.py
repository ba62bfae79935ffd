"""InvokeEndpoint (``POST /endpoints/{name}/invocations``) through a real boto3 client."""

import json

import pytest
from botocore.exceptions import ClientError

from local.emulator import Emulator, Endpoint, Faults, Invocation
from tests.support.recordings import fixture_reply
from tests.support.sagemaker_runtime import ENDPOINT, sagemaker_client
from tests.support.scripted_server import Reply, ScriptedServer


def test_invoke_returns_the_container_body_and_content_type(container: ScriptedServer, client) -> None:
    container.reply = fixture_reply("vllm", "invocations_nonstream")

    response = client.invoke_endpoint(EndpointName=ENDPOINT, Body=b"{}", ContentType="application/json")

    assert response["Body"].read() == container.reply.body
    assert response["ContentType"] == "application/json"


def test_invoke_posts_body_and_content_type_to_the_container_invocations_route(
    container: ScriptedServer, client
) -> None:
    body = json.dumps({"messages": [{"role": "user", "content": "hi"}]}).encode()

    client.invoke_endpoint(EndpointName=ENDPOINT, Body=body, ContentType="application/json")

    [received] = container.received
    assert (received.path, received.body) == ("/invocations", body)
    assert received.headers["Content-Type"] == "application/json"


def test_invoke_forwards_accept_and_custom_attributes(container: ScriptedServer, client) -> None:
    client.invoke_endpoint(
        EndpointName=ENDPOINT, Body=b"{}", Accept="application/jsonlines", CustomAttributes="trace=abc"
    )

    [received] = container.received
    assert received.headers["Accept"] == "application/jsonlines"
    assert received.headers["X-Amzn-SageMaker-Custom-Attributes"] == "trace=abc"


def test_invoke_returns_custom_attributes_set_by_the_container(container: ScriptedServer, client) -> None:
    container.reply = Reply([b"{}"], chunked=False, headers={"X-Amzn-SageMaker-Custom-Attributes": "seen=1"})

    response = client.invoke_endpoint(EndpointName=ENDPOINT, Body=b"{}")

    assert response["CustomAttributes"] == "seen=1"


def test_invoke_reports_the_default_production_variant(client) -> None:
    response = client.invoke_endpoint(EndpointName=ENDPOINT, Body=b"{}")

    assert response["InvokedProductionVariant"] == "AllTraffic"


def test_invoke_reports_the_targeted_production_variant(container: ScriptedServer) -> None:
    endpoint = Endpoint(container.url, variants=("blue", "green"))
    with Emulator({ENDPOINT: endpoint}) as emulator:
        response = sagemaker_client(emulator.url).invoke_endpoint(
            EndpointName=ENDPOINT, Body=b"{}", TargetVariant="green"
        )

    assert response["InvokedProductionVariant"] == "green"


def test_invoke_accepts_a_configured_inference_component(container: ScriptedServer) -> None:
    endpoint = Endpoint(container.url, inference_components=("llama",))
    with Emulator({ENDPOINT: endpoint}) as emulator:
        response = sagemaker_client(emulator.url).invoke_endpoint(
            EndpointName=ENDPOINT, Body=b"{}", InferenceComponentName="llama"
        )

    assert response["Body"].read() == b'{"ok": true}'


def test_invoke_is_reached_through_the_standard_endpoint_variable(
    container: ScriptedServer, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    import boto3

    monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", emulator.url)
    client = boto3.client(
        "sagemaker-runtime", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )

    response = client.invoke_endpoint(EndpointName=ENDPOINT, Body=b"{}")

    assert response["Body"].read() == b'{"ok": true}'


def test_invoke_forwards_a_large_request_body_intact(container: ScriptedServer, client) -> None:
    body = bytes(range(256)) * (5 * 1024 * 1024 // 256)

    client.invoke_endpoint(EndpointName=ENDPOINT, Body=body)

    assert container.received[0].body == body


def test_invoke_returns_a_large_response_body_intact(container: ScriptedServer, client) -> None:
    container.reply = Reply([b"x" * (5 * 1024 * 1024)], chunked=False)

    response = client.invoke_endpoint(EndpointName=ENDPOINT, Body=b"{}")

    assert response["Body"].read() == container.reply.body


def test_invoke_uses_the_path_of_a_backend_url_that_has_one(container: ScriptedServer) -> None:
    endpoint = Endpoint(f"{container.url}/v1/chat/completions")
    with Emulator({ENDPOINT: endpoint}) as emulator:
        sagemaker_client(emulator.url).invoke_endpoint(EndpointName=ENDPOINT, Body=b"{}")

    assert container.received[0].path == "/v1/chat/completions"


def test_every_invocation_is_reported_as_received_throttled_ones_included(container: ScriptedServer) -> None:
    seen: list[Invocation] = []
    endpoints = {ENDPOINT: Endpoint(container.url)}
    with Emulator(endpoints, faults=Faults(throttle_requests=1), on_invocation=seen.append) as emulator:
        client = sagemaker_client(emulator.url)
        with pytest.raises(ClientError):
            client.invoke_endpoint(EndpointName=ENDPOINT, Body=b"one")
        client.invoke_endpoint_with_response_stream(
            EndpointName=ENDPOINT, Body=b"two", CustomAttributes="a=1"
        )

    assert [(call.endpoint_name, call.stream, call.path, call.body) for call in seen] == [
        (ENDPOINT, False, f"/endpoints/{ENDPOINT}/invocations", b"one"),
        (ENDPOINT, True, f"/endpoints/{ENDPOINT}/invocations-response-stream", b"two"),
    ]
    assert seen[1].headers["X-Amzn-SageMaker-Custom-Attributes"] == "a=1"
    assert len(container.received) == 1
