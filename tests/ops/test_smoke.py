"""The smoke test's verdicts on what /chat streamed, and reading its target from the stack's outputs."""

from __future__ import annotations

import base64
import itertools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import parse_qs

import boto3
import pytest
from botocore.stub import Stubber

from agent_api.sse import encode_event
from ops.smoke import (
    MachineClient,
    Target,
    access_token,
    chat_events,
    check_chat,
    check_endpoint,
    measure_chat,
    target_from_stack,
)
from stacks.agent_api.lambda_contract import contract
from tests.support.recordings import fixture_reply
from tests.support.sagemaker_runtime import ENDPOINT, SageMakerRuntime
from tests.support.scripted_server import Reply, ScriptedServer

TARGET = Target(
    "SageMakerAgent-dev-g6-12xlarge", "https://abc.execute-api.us-east-1.amazonaws.com/v1/chat", "us-east-1"
)


@dataclass(frozen=True)
class Event:
    name: str
    data: str = "{}"


def stream(*names: str) -> Iterator[Event]:
    yield from (Event(name) for name in names)


def test_text_in_several_events_ended_by_done_passes_with_its_timings() -> None:
    # The clock is read at the start, at the first text and at the end.
    ticks = itertools.count()
    timing = measure_chat(stream("tool_use", "text", "text", "done"), clock=lambda: float(next(ticks)))
    assert (timing.text_events, timing.done, timing.first_text_seconds, timing.total_seconds) == (
        2,
        True,
        1,
        2,
    )
    result = check_chat(TARGET, lambda: stream("text", "text", "done"))
    assert result.ok and "2 text events, first text after" in result.name


def test_a_stream_without_done_fails() -> None:
    result = check_chat(TARGET, lambda: stream("text", "text"))
    assert result.problem == "the stream ended without a done event"


def test_an_answer_in_one_text_event_is_not_incremental() -> None:
    result = check_chat(TARGET, lambda: stream("text", "done"))
    assert result.problem == "the answer came in 1 text event(s), not incrementally"


def test_an_error_event_fails_with_its_data() -> None:
    result = check_chat(TARGET, lambda: iter([Event("text"), Event("error", '{"code": "model_error"}')]))
    assert result.problem == 'the API sent an error event: {"code": "model_error"}'


def test_events_after_done_fail() -> None:
    assert (
        check_chat(TARGET, lambda: stream("text", "text", "done", "text")).problem
        == "event 'text' after done"
    )


def test_a_request_that_raises_fails_with_the_error_and_where_to_look() -> None:
    def refused() -> Iterator[Event]:
        raise ConnectionError("refused")

    result = check_chat(TARGET, refused)
    assert result.problem == "ConnectionError: refused"
    assert result.fix is not None and result.fix.startswith(
        "aws logs tail /aws/sagemaker/Endpoints/SageMakerAgent-dev-g6-12xlarge"
    )


def test_only_a_local_api_is_called_unsigned() -> None:
    assert TARGET.signed
    assert not Target(
        "local-endpoint", "http://127.0.0.1:8080/chat", "us-east-1", "http://127.0.0.1:9"
    ).signed


def stubbed(service: str) -> Iterator[tuple[object, Stubber]]:
    """A botocore client of ``service`` answering only its stubbed responses, all of which must be used."""
    client = boto3.client(service, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


@pytest.fixture
def cloudformation() -> Iterator[tuple[object, Stubber]]:
    yield from stubbed("cloudformation")


def outputs(**values: str) -> dict[str, object]:
    return {
        "Stacks": [
            {
                "StackName": "SageMakerAgent-dev",
                "CreationTime": "2026-01-01T00:00:00Z",
                "StackStatus": "CREATE_COMPLETE",
                "Outputs": [{"OutputKey": key, "OutputValue": value} for key, value in values.items()],
            }
        ]
    }


def test_target_comes_from_the_stack_outputs(cloudformation: tuple[object, Stubber]) -> None:
    client, stub = cloudformation
    stub.add_response(
        "describe_stacks",
        outputs(EndpointName=TARGET.endpoint_name, ChatUrl=TARGET.chat_url),
        {"StackName": "SageMakerAgent-dev"},
    )
    assert target_from_stack(client, "SageMakerAgent-dev", "us-east-1") == TARGET  # type: ignore[arg-type]


def test_a_stack_without_the_outputs_is_one_clear_error(cloudformation: tuple[object, Stubber]) -> None:
    client, stub = cloudformation
    stub.add_response("describe_stacks", outputs(ApiUrl="https://x"), {"StackName": "SageMakerAgent-dev"})
    with pytest.raises(LookupError, match="has no EndpointName or ChatUrl output"):
        target_from_stack(client, "SageMakerAgent-dev", "us-east-1")  # type: ignore[arg-type]


def test_an_inference_component_stack_names_its_component_and_its_log_group(
    cloudformation: tuple[object, Stubber],
) -> None:
    client, stub = cloudformation
    component = f"{TARGET.endpoint_name}-ic"
    group = f"/aws/sagemaker/InferenceComponents/{component}"
    stub.add_response(
        "describe_stacks",
        outputs(
            EndpointName=TARGET.endpoint_name,
            ChatUrl=TARGET.chat_url,
            InferenceComponentName=component,
            ModelLogGroup=group,
        ),
        {"StackName": "SageMakerAgent-dev"},
    )
    target = target_from_stack(client, "SageMakerAgent-dev", "us-east-1")  # type: ignore[arg-type]
    assert (target.inference_component_name, target.log_group) == (component, group)
    # The component's container logs to its own group, not the endpoint's.
    result = check_chat(target, lambda: stream("text"))
    assert result.fix is not None and result.fix.startswith(f"aws logs tail {group} --since 30m ")


def test_the_endpoint_check_invokes_the_inference_component() -> None:
    # SageMaker refuses an invocation of an endpoint hosting components that names none (the emulator too).
    component = "test-endpoint-ic"
    reply = fixture_reply("sglang", "b_tool_call_stream")
    with SageMakerRuntime(reply, inference_components=(component,)) as runtime:
        target = Target(ENDPOINT, "http://127.0.0.1:9/chat", "us-east-1", inference_component_name=component)
        result = check_endpoint(target, runtime.client())
        assert result.ok, result.problem
        assert result.name.startswith(f"endpoint {ENDPOINT} (component {component}) answers")
        assert runtime.requests[0].headers["X-Amzn-SageMaker-Inference-Component"] == component
        unnamed = check_endpoint(Target(ENDPOINT, target.chat_url, "us-east-1"), runtime.client())
        assert not unnamed.ok


COGNITO_OUTPUTS = {
    "UserPoolId": "us-east-1_Example1",
    "MachineClientId": "4example5clientid6abcdefghi",
    "TokenUrl": "https://sagemakeragent-prod-123456789012.auth.us-east-1.amazoncognito.com/oauth2/token",
}


def test_a_cognito_stack_is_called_with_its_machine_clients_token(
    cloudformation: tuple[object, Stubber],
) -> None:
    client, stub = cloudformation
    stub.add_response(
        "describe_stacks",
        outputs(EndpointName=TARGET.endpoint_name, ChatUrl=TARGET.chat_url, **COGNITO_OUTPUTS),
        {"StackName": "SageMakerAgent-prod"},
    )
    target = target_from_stack(client, "SageMakerAgent-prod", "us-east-1")  # type: ignore[arg-type]
    assert target.machine_client == MachineClient(*COGNITO_OUTPUTS.values())
    assert not target.signed


@pytest.fixture
def cognito() -> Iterator[tuple[object, Stubber]]:
    yield from stubbed("cognito-idp")


# Cognito's client secrets are 24-128 characters (botocore's cognito-idp ClientSecretType).
SECRET = "s3cretOf24Characters1234"


def with_secret(stub: Stubber, machine: MachineClient) -> None:
    stub.add_response(
        "describe_user_pool_client",
        {
            "UserPoolClient": {
                "UserPoolId": machine.user_pool_id,
                "ClientId": machine.client_id,
                "ClientSecret": SECRET,
            }
        },
        {"UserPoolId": machine.user_pool_id, "ClientId": machine.client_id},
    )


def test_access_token_comes_from_client_credentials_with_the_api_scope(
    cognito: tuple[object, Stubber],
) -> None:
    client, stub = cognito
    token = {"access_token": "eyJ.token", "expires_in": 3600, "token_type": "Bearer"}
    with ScriptedServer(Reply([json.dumps(token).encode()], chunked=False)) as server:
        machine = MachineClient("us-east-1_Example1", "client1", f"{server.url}/oauth2/token")
        with_secret(stub, machine)
        assert access_token(client, machine) == "eyJ.token"  # type: ignore[arg-type]
    (request,) = server.received
    assert (request.method, request.path) == ("POST", "/oauth2/token")
    assert (
        request.headers["Authorization"] == "Basic " + base64.b64encode(f"client1:{SECRET}".encode()).decode()
    )
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert parse_qs(request.body.decode()) == {
        "grant_type": ["client_credentials"],
        "scope": [contract.COGNITO_API_SCOPE],
    }


def test_a_refused_token_request_is_one_clear_error(cognito: tuple[object, Stubber]) -> None:
    client, stub = cognito
    refusal = Reply([b'{"error": "invalid_client"}'], status=400, chunked=False)
    with ScriptedServer(refusal) as server:
        machine = MachineClient("us-east-1_Example1", "client1", f"{server.url}/oauth2/token")
        with_secret(stub, machine)
        with pytest.raises(
            RuntimeError, match=re.escape('refused client credentials: HTTP 400 {"error": "invalid_client"}')
        ):
            access_token(client, machine)  # type: ignore[arg-type]


def test_a_cognito_stack_without_its_machine_client_output_is_one_clear_error(
    cloudformation: tuple[object, Stubber],
) -> None:
    client, stub = cloudformation
    partial = {key: value for key, value in COGNITO_OUTPUTS.items() if key != "TokenUrl"}
    stub.add_response(
        "describe_stacks",
        outputs(EndpointName=TARGET.endpoint_name, ChatUrl=TARGET.chat_url, **partial),
        {"StackName": "SageMakerAgent-prod"},
    )
    with pytest.raises(LookupError, match="has no TokenUrl output"):
        target_from_stack(client, "SageMakerAgent-prod", "us-east-1")  # type: ignore[arg-type]


# --- How /chat is authenticated ----------------------------------------------------------------------------
GIVEN_TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2ln"


def chat_answer() -> Reply:
    events = [encode_event("text", {"delta": "Sun"}), encode_event("done", {"stop_reason": "end_turn"})]
    return Reply(events, content_type="text/event-stream")


class Session:
    """Stands in for a boto3 session: AWS credentials to sign with, and the clients a test allows."""

    def __init__(self, **clients: object) -> None:
        self.clients = clients
        self.boto = boto3.session.Session(
            aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret", region_name="us-east-1"
        )

    def client(self, service: str, **_: object) -> object:
        assert service in self.clients, f"smoke asked for a {service} client"
        return self.clients[service]

    def get_credentials(self) -> object:
        return self.boto.get_credentials()


# 127.0.0.2 is a loopback address, but not one smoke takes for the local stack: it authenticates there.
REMOTE_HOST = "127.0.0.2"


def test_a_given_token_is_sent_instead_of_a_signature() -> None:
    with ScriptedServer(chat_answer(), host=REMOTE_HOST) as api:
        target = Target("endpoint", f"{api.url}/chat", "us-east-1")
        assert target.signed
        events = [event.name for event in chat_events(target, Session(), GIVEN_TOKEN)]
    assert events == ["text", "done"]
    assert api.received[0].headers["Authorization"] == f"Bearer {GIVEN_TOKEN}"


def test_without_a_token_an_iam_api_gets_a_sigv4_signature() -> None:
    with ScriptedServer(chat_answer(), host=REMOTE_HOST) as api:
        list(chat_events(Target("endpoint", f"{api.url}/chat", "us-east-1"), Session()))
    authorization = api.received[0].headers["Authorization"]
    assert authorization.startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert "/us-east-1/execute-api/aws4_request" in authorization


def test_a_given_token_spares_the_machine_clients_credentials() -> None:
    machine = MachineClient("us-east-1_Example1", "client1", "https://login.example.com/oauth2/token")
    with ScriptedServer(chat_answer(), host=REMOTE_HOST) as api:
        target = Target("endpoint", f"{api.url}/chat", "us-east-1", machine_client=machine)
        # No cognito-idp client: smoke must not read the machine client's secret.
        list(chat_events(target, Session(), GIVEN_TOKEN))
    assert api.received[0].headers["Authorization"] == f"Bearer {GIVEN_TOKEN}"


def test_without_a_token_a_cognito_api_gets_the_machine_clients(cognito: tuple[object, Stubber]) -> None:
    client, stub = cognito
    issued = {"access_token": "eyJ.machine.token", "expires_in": 3600, "token_type": "Bearer"}
    with (
        ScriptedServer(Reply([json.dumps(issued).encode()], chunked=False)) as login,
        ScriptedServer(chat_answer(), host=REMOTE_HOST) as api,
    ):
        machine = MachineClient("us-east-1_Example1", "client1", f"{login.url}/oauth2/token")
        with_secret(stub, machine)
        target = Target("endpoint", f"{api.url}/chat", "us-east-1", machine_client=machine)
        list(chat_events(target, Session(**{"cognito-idp": client})))
    assert api.received[0].headers["Authorization"] == "Bearer eyJ.machine.token"
