"""Error answers and stream exception events, as botocore raises them."""

import http.client
import socket
import urllib.parse

import pytest
from botocore import UNSIGNED
from botocore.exceptions import ClientError, EventStreamError

from local.emulator import Emulator, Endpoint
from local.emulator.exchange import MAX_REQUEST_BYTES
from tests.support.recordings import fixture_reply
from tests.support.sagemaker_runtime import ENDPOINT, collect_stream, sagemaker_client
from tests.support.scripted_server import Reply, ScriptedServer


@pytest.mark.parametrize("operation", ["invoke_endpoint", "invoke_endpoint_with_response_stream"])
def test_unknown_endpoint_is_a_validation_error(client, operation: str) -> None:
    with pytest.raises(ClientError) as caught:
        getattr(client, operation)(EndpointName="nope", Body=b"{}")

    assert caught.value.response["Error"] == {
        "Code": "ValidationError",
        "Message": "Endpoint nope of account 123456789012 not found.",
    }
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


@pytest.mark.parametrize("operation", ["invoke_endpoint", "invoke_endpoint_with_response_stream"])
def test_container_client_error_is_a_model_error_with_the_original_status_and_body(
    container: ScriptedServer, client, operation: str
) -> None:
    container.reply = fixture_reply("vllm", "error_bad_request")

    with pytest.raises(client.exceptions.ModelError) as caught:
        getattr(client, operation)(EndpointName=ENDPOINT, Body=b"{}")

    error = caught.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert error["OriginalStatusCode"] == 400
    assert error["OriginalMessage"] == container.reply.body.decode()
    assert error["Error"]["Message"].startswith("Received client error (400) from primary with message")
    assert error["LogStreamArn"].endswith(f"/aws/sagemaker/Endpoints/{ENDPOINT}")


def test_container_error_with_status_424_keeps_it_as_original_status(
    container: ScriptedServer, client
) -> None:
    container.reply = fixture_reply("djl_lmi", "error_input_parsing_424")

    with pytest.raises(client.exceptions.ModelError) as caught:
        client.invoke_endpoint_with_response_stream(EndpointName=ENDPOINT, Body=b"{}")

    assert caught.value.response["OriginalStatusCode"] == 424


def test_container_server_error_is_a_model_error_naming_a_server_error(
    container: ScriptedServer, client
) -> None:
    container.reply = Reply([b"boom"], status=500, content_type="text/plain", chunked=False)

    with pytest.raises(client.exceptions.ModelError) as caught:
        client.invoke_endpoint(EndpointName=ENDPOINT, Body=b"{}")

    assert caught.value.response["Error"]["Message"].startswith(
        'Received server error (500) from primary with message "boom"'
    )


def test_unreachable_container_is_an_internal_failure_naming_it(client, emulator: Emulator) -> None:
    emulator.endpoints[ENDPOINT] = Endpoint("http://127.0.0.1:9")

    with pytest.raises(ClientError) as caught:
        client.invoke_endpoint(EndpointName=ENDPOINT, Body=b"{}")

    assert caught.value.response["Error"]["Code"] == "InternalFailure"
    assert "http://127.0.0.1:9" in caught.value.response["Error"]["Message"]


def test_emulator_bug_is_an_internal_failure_not_a_dropped_connection(
    client, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr("local.emulator.invocations.open_post", broken)

    with pytest.raises(ClientError) as caught:
        client.invoke_endpoint(EndpointName=ENDPOINT, Body=b"{}")

    assert caught.value.response["Error"]["Code"] == "InternalFailure"
    assert "RuntimeError('bug')" in caught.value.response["Error"]["Message"]


def test_container_breaking_off_mid_stream_is_a_model_stream_error_after_the_parts_sent(
    container: ScriptedServer, client
) -> None:
    container.reply = Reply([b"one", b"two", b"three"], break_after=2)
    response = client.invoke_endpoint_with_response_stream(EndpointName=ENDPOINT, Body=b"{}")
    parts = []

    with pytest.raises(EventStreamError) as caught:
        for event in response["Body"]:
            parts.append(event["PayloadPart"]["Bytes"])

    assert parts == [b"one", b"two"]
    assert caught.value.response["Error"]["Code"] == "ModelStreamError"
    assert "closed before the response was complete" in caught.value.response["Error"]["Message"]


def test_container_stalling_mid_stream_is_a_model_stream_error_about_time(container: ScriptedServer) -> None:
    container.reply = Reply([b"one", b"two"], pause_after=1, pause_timeout=1.0, break_after=1)
    with Emulator({ENDPOINT: Endpoint(container.url)}, backend_timeout=0.2) as emulator:
        response = sagemaker_client(emulator.url).invoke_endpoint_with_response_stream(
            EndpointName=ENDPOINT, Body=b"{}"
        )

        with pytest.raises(EventStreamError) as caught:
            collect_stream(response)

    assert caught.value.response["Error"]["Code"] == "ModelStreamError"
    assert "within the allowed time" in caught.value.response["Error"]["Message"]


def test_unsigned_request_is_rejected_like_aws_does(emulator: Emulator) -> None:
    client = sagemaker_client(emulator.url, signature_version=UNSIGNED)

    with pytest.raises(ClientError) as caught:
        client.invoke_endpoint(EndpointName=ENDPOINT, Body=b"{}")

    assert caught.value.response["Error"]["Code"] == "MissingAuthenticationTokenException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_request_over_six_megabytes_is_a_validation_error(container: ScriptedServer, client) -> None:
    with pytest.raises(ClientError) as caught:
        client.invoke_endpoint(EndpointName=ENDPOINT, Body=b"x" * (MAX_REQUEST_BYTES + 1))

    assert caught.value.response["Error"]["Code"] == "ValidationError"
    assert "exceeds the maximum" in caught.value.response["Error"]["Message"]
    assert container.received == []


def test_custom_attributes_over_1024_characters_are_a_validation_error(client) -> None:
    with pytest.raises(ClientError) as caught:
        client.invoke_endpoint(EndpointName=ENDPOINT, Body=b"{}", CustomAttributes="a" * 1025)

    assert caught.value.response["Error"]["Code"] == "ValidationError"
    assert "1024 visible US-ASCII" in caught.value.response["Error"]["Message"]


def test_unknown_production_variant_is_a_validation_error(client) -> None:
    with pytest.raises(ClientError) as caught:
        client.invoke_endpoint(EndpointName=ENDPOINT, Body=b"{}", TargetVariant="canary")

    assert caught.value.response["Error"] == {
        "Code": "ValidationError",
        "Message": f"Variant canary not found in endpoint {ENDPOINT}.",
    }


def test_inference_component_on_an_endpoint_without_components_is_a_validation_error(client) -> None:
    with pytest.raises(ClientError) as caught:
        client.invoke_endpoint(EndpointName=ENDPOINT, Body=b"{}", InferenceComponentName="llama")

    assert caught.value.response["Error"]["Code"] == "ValidationError"
    assert "hosts no inference components" in caught.value.response["Error"]["Message"]


def test_missing_inference_component_on_an_endpoint_with_components_is_a_validation_error(
    container: ScriptedServer,
) -> None:
    with Emulator({ENDPOINT: Endpoint(container.url, inference_components=("llama",))}) as emulator:
        client = sagemaker_client(emulator.url)
        with pytest.raises(ClientError) as caught:
            client.invoke_endpoint_with_response_stream(EndpointName=ENDPOINT, Body=b"{}")

    assert "an InferenceComponentName is required" in caught.value.response["Error"]["Message"]


def test_unknown_inference_component_is_a_validation_error(container: ScriptedServer) -> None:
    with Emulator({ENDPOINT: Endpoint(container.url, inference_components=("llama",))}) as emulator:
        client = sagemaker_client(emulator.url)
        with pytest.raises(ClientError) as caught:
            client.invoke_endpoint(EndpointName=ENDPOINT, Body=b"{}", InferenceComponentName="qwen")

    assert (
        caught.value.response["Error"]["Message"]
        == f"Inference component qwen not found in endpoint {ENDPOINT}."
    )


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/endpoints/x/async-nope"), ("GET", f"/endpoints/{ENDPOINT}/invocations")],
)
def test_unknown_operation_is_a_404_unknown_operation(emulator: Emulator, method: str, path: str) -> None:
    address = urllib.parse.urlsplit(emulator.url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=5)
    connection.request(method, path, body=b"{}")
    response = connection.getresponse()

    assert response.status == 404
    assert response.getheader("x-amzn-ErrorType", "").startswith("UnknownOperationException:")
    connection.close()


def test_request_without_content_length_is_a_validation_error(emulator: Emulator) -> None:
    address = urllib.parse.urlsplit(emulator.url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=5)
    connection.request(
        "POST", f"/endpoints/{ENDPOINT}/invocations", body=iter([b"{}"]), headers={"Authorization": "x"}
    )
    response = connection.getresponse()

    assert response.status == 400
    assert b"Content-Length" in response.read()
    connection.close()


def test_a_refused_request_is_answered_only_once_its_whole_body_is_in(emulator: Emulator) -> None:
    # Answering and closing while the client still sends would reset the connection under the client.
    address = urllib.parse.urlsplit(emulator.url)
    head = f"POST /endpoints/{ENDPOINT}/invocations HTTP/1.1\r\nHost: x\r\nAuthorization: x\r\n"
    with socket.create_connection((address.hostname, address.port), timeout=5) as connection:
        connection.sendall(f"{head}Transfer-Encoding: chunked\r\n\r\n2\r\n{{}}\r\n".encode())
        connection.settimeout(0.2)
        with pytest.raises(TimeoutError):
            connection.recv(1)
        connection.settimeout(5)
        connection.sendall(b"3\r\nabc\r\n0\r\n\r\n")
        answer = connection.makefile("rb").read()

    assert answer.startswith(b"HTTP/1.1 400 ")
    assert answer.endswith(b'{"Message": "The request must carry a Content-Length header."}')


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"endpoints": {}}, "at least one endpoint"),
        ({"backend_timeout": 0}, "backend_timeout must be > 0"),
    ],
)
def test_invalid_emulator_settings_are_rejected_by_name(settings: dict, message: str) -> None:
    arguments = {"endpoints": {ENDPOINT: Endpoint("http://127.0.0.1:1")}, **settings}

    with pytest.raises(ValueError, match=message):
        Emulator(**arguments)


@pytest.mark.parametrize("url", ["127.0.0.1:8080", "ftp://host/x", "http://"])
def test_backend_url_without_http_scheme_and_host_is_rejected(url: str) -> None:
    with pytest.raises(ValueError, match="backend_url must be an http"):
        Endpoint(url)
