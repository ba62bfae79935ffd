"""How the agent authenticates to MCP servers: bearer and client-credentials secrets from moto's Secrets
Manager, tokens from a local Cognito token endpoint, SigV4 with the function's credentials, each checked by
the server as a real one would (tests.support.mcp_servers)."""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import boto3
import httpx2
import pytest
from httpx_sse import ServerSentEvent

from agent_api.mcp_auth import ClientCredentialsAuth, SecretReader
from agent_api.mcp_servers import BearerAuth, McpServer, OAuthClientCredentials, SigV4Auth
from local.mcp_example import McpHttpServer
from tests.agent_api.harness import HarnessFactory, json_lines
from tests.support.fake_cognito import MACHINE_CLIENT_ID, MACHINE_CLIENT_SECRET, FakeCognito
from tests.support.mcp_servers import RequireBearer, RequireSigV4, serve_mcp, tool_server
from tests.support.recordings import fixture_parts, tool_call_parts
from tests.support.sagemaker_runtime import Stream

ECHO = "tools echoes: hi"


@pytest.fixture
def secrets(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], str]:
    """``secrets(value)`` stores a secret in moto's Secrets Manager (the app's); returns its name."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", moto_url)

    def store(value: str) -> str:
        name = f"mcp/{uuid.uuid4().hex[:12]}"
        boto3.client("secretsmanager").create_secret(Name=name, SecretString=value)
        return name

    return store


@pytest.fixture
def stack() -> Iterator[ExitStack]:
    with ExitStack() as servers:
        yield servers


def echo_turns(count: int) -> list[Stream]:
    """The model calling `echo` then answering, ``count`` times."""
    turn = [
        Stream(tool_call_parts("echo", {"text": "hi"})),
        Stream(fixture_parts("vllm/tools_result_followup_stream.txt")),
    ]
    return turn * count


def results(events: list[ServerSentEvent]) -> list[tuple[str, str]]:
    return [
        (event.json()["status"], event.json()["content"]) for event in events if event.event == "tool_result"
    ]


def warnings(events: list[ServerSentEvent]) -> list[str]:
    return [event.json()["message"] for event in events if event.event == "warning"]


def unavailable_reasons(logs: io.StringIO) -> list[str]:
    return [
        line["reason"]
        for line in json_lines(logs.getvalue())
        if line.get("message") == "MCP server unavailable"
    ]


def echo_server(stack: ExitStack, check: Callable[[Any], Any]) -> McpHttpServer:
    return stack.enter_context(serve_mcp(tool_server(tools=("echo",)), check=check))


def test_a_bearer_token_from_secrets_manager_is_sent_and_a_rotated_one_picked_up(
    harness: HarnessFactory, secrets: Callable[[str], str], stack: ExitStack
) -> None:
    accepted = {"token": "token-one"}
    checks: list[RequireBearer] = []

    def check(app: Any) -> RequireBearer:
        checks.append(RequireBearer(app, lambda token: token == accepted["token"]))
        return checks[-1]

    secret = secrets("token-one")
    server = echo_server(stack, check)
    app = harness(echo_turns(2), mcp_servers=(McpServer("tools", server.url, auth=BearerAuth(secret)),))
    assert results(app.chat({"prompt": "Echo hi"})) == [("success", ECHO)]

    # Rotated: the server takes only the new token; the app's next request is refused, reads the secret again.
    boto3.client("secretsmanager").put_secret_value(SecretId=secret, SecretString="token-two")
    accepted["token"] = "token-two"
    assert results(app.chat({"prompt": "Echo hi"})) == [("success", ECHO)]
    assert checks[0].tokens[0] == "token-one"
    assert checks[0].tokens[-1] == "token-two"


def test_a_refused_bearer_token_leaves_the_server_unavailable_and_says_why(
    harness: HarnessFactory, secrets: Callable[[str], str], stack: ExitStack, logs: io.StringIO
) -> None:
    server = echo_server(stack, lambda app: RequireBearer(app, lambda token: token == "the right one"))
    app = harness(
        echo_turns(1), mcp_servers=(McpServer("tools", server.url, auth=BearerAuth(secrets("wrong"))),)
    )

    events = app.chat({"prompt": "Echo hi"})

    assert warnings(events) == ["The MCP server 'tools' is unavailable, so this answer is without its tools."]
    [reason] = unavailable_reasons(logs)
    assert reason.startswith("the server refused the credentials (HTTP 401); ")
    assert "wrong" not in logs.getvalue()  # never the credential itself


def test_a_secret_that_cannot_be_read_is_named_in_the_log(
    harness: HarnessFactory, secrets: Callable[[str], str], stack: ExitStack, logs: io.StringIO
) -> None:
    server = echo_server(stack, lambda app: RequireBearer(app, lambda token: True))
    app = harness(
        echo_turns(1), mcp_servers=(McpServer("tools", server.url, auth=BearerAuth("mcp/no-such")),)
    )

    events = app.chat({"prompt": "Echo hi"})

    assert warnings(events)
    [reason] = unavailable_reasons(logs)
    assert "McpAuthError: cannot read secret 'mcp/no-such': ResourceNotFoundException" in reason


def oauth(
    cognito: FakeCognito, secret: str, scopes: tuple[str, ...] = ("tools/invoke",)
) -> OAuthClientCredentials:
    return OAuthClientCredentials(f"{cognito.url}/oauth2/token", MACHINE_CLIENT_ID, secret, scopes)


def test_a_client_credentials_token_is_fetched_once_kept_and_renewed_when_refused(
    harness: HarnessFactory, secrets: Callable[[str], str], stack: ExitStack
) -> None:
    cognito = stack.enter_context(FakeCognito())
    server = echo_server(stack, lambda app: RequireBearer(app, cognito.is_live))
    config = McpServer("tools", server.url, auth=oauth(cognito, secrets(MACHINE_CLIENT_SECRET)))
    app = harness(echo_turns(3), mcp_servers=(config,))

    assert results(app.chat({"prompt": "Echo hi"})) == [("success", ECHO)]
    assert results(app.chat({"prompt": "Echo hi"})) == [("success", ECHO)]
    assert len(cognito.token_requests) == 1
    assert cognito.token_requests[0] == {"grant_type": "client_credentials", "scope": "tools/invoke"}

    cognito.expire_tokens()  # as the authorization server would revoke them
    assert results(app.chat({"prompt": "Echo hi"})) == [("success", ECHO)]
    assert len(cognito.token_requests) == 2


def test_a_refused_client_secret_is_named_in_the_log(
    harness: HarnessFactory, secrets: Callable[[str], str], stack: ExitStack, logs: io.StringIO
) -> None:
    cognito = stack.enter_context(FakeCognito())
    server = echo_server(stack, lambda app: RequireBearer(app, cognito.is_live))
    app = harness(
        echo_turns(1), mcp_servers=(McpServer("tools", server.url, auth=oauth(cognito, secrets("not it"))),)
    )

    assert warnings(app.chat({"prompt": "Echo hi"}))
    [reason] = unavailable_reasons(logs)
    assert (
        f"McpAuthError: the token endpoint {cognito.url}/oauth2/token answered 400 invalid_client" in reason
    )


async def test_a_client_credentials_token_is_renewed_shortly_before_it_expires(
    secrets: Callable[[str], str], stack: ExitStack
) -> None:
    cognito = stack.enter_context(FakeCognito(machine_token_seconds=600))
    check: list[RequireBearer] = []
    server = echo_server(stack, lambda app: check.append(RequireBearer(app, cognito.is_live)) or check[-1])
    now = [1000.0]
    auth = ClientCredentialsAuth(
        oauth(cognito, secrets(MACHINE_CLIENT_SECRET)),
        SecretReader(lambda: boto3.client("secretsmanager")),
        lambda: now[0],
    )
    async with httpx2.AsyncClient(auth=auth) as client:
        for moment in (1000.0, 1539.0, 1541.0):  # renewed 60 s before the 600 s are up
            now[0] = moment
            await client.post(server.url, json={})

    assert len(cognito.token_requests) == 2
    first, second, third = check[0].tokens
    assert first == second != third


def test_sigv4_signs_with_the_functions_credentials(harness: HarnessFactory, stack: ExitStack) -> None:
    signed: list[RequireSigV4] = []

    def check(app: Any) -> RequireSigV4:
        signed.append(RequireSigV4(app, "bedrock-agentcore", "eu-west-1"))
        return signed[-1]

    server = echo_server(stack, check)
    app = harness(echo_turns(1), mcp_servers=(McpServer("gateway", server.url, auth=SigV4Auth("eu-west-1")),))

    assert results(app.chat({"prompt": "Echo hi"})) == [("success", ECHO)]
    assert set(signed[0].signed_headers) == {"host;x-amz-date"}
