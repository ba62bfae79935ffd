"""`/mcp`: the agent as an MCP server, called with the `mcp` SDK's own client over both protocols it speaks
(the stateless one, and the `initialize` handshake), against the real provider and the SageMaker-runtime
emulator, under real uvicorn."""

from __future__ import annotations

import json
from contextlib import ExitStack
from dataclasses import replace
from typing import Any

import anyio
import httpx
import mcp_types
import pytest
from mcp.client import Client
from mcp.shared.exceptions import MCPError

from agent_api import contract
from agent_api.app import create_app
from agent_api.settings import CognitoSettings, Settings
from agent_api.warming import WarmingPolicy
from local.tiny_model.script import PLAIN_TEXT as HELLO
from local.tiny_model.script import TOOL_RESULT_TEXT as AFTER_TOOL
from tests.agent_api.harness import FAST_RETRIES, Harness, HarnessFactory, serve, wait_until
from tests.support.mcp_client import MODES, connect, run
from tests.support.recordings import calculator_call_parts, fixture_parts
from tests.support.sagemaker_runtime import SageMakerRuntime, Stream, Throttle

CONTEXT = '{"identity": {"userArn": "arn:aws:iam::123456789012:user/%s"}}'
ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Example12"


def hello(pause_after: int | None = None) -> Stream:
    return Stream(fixture_parts("vllm/chat_stream_usage.txt"), pause_after=pause_after)


def tool_turn() -> list[Stream]:
    return [Stream(calculator_call_parts()), Stream(fixture_parts("vllm/tools_result_followup_stream.txt"))]


def url(app: Harness) -> str:
    return str(app.client.base_url)


# --- tools ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
def test_the_server_lists_one_tool_ask_with_its_schemas(
    harness: HarnessFactory, sessions_bucket: str, mode: str
) -> None:
    app = harness([], sessions_bucket=sessions_bucket, max_prompt_chars=500)
    listed = run(url(app), mode, lambda client: client.list_tools())
    [tool] = listed.tools
    assert tool.name == "ask"
    assert tool.input_schema["required"] == ["prompt"]
    assert tool.input_schema["properties"]["prompt"]["maxLength"] == 500
    assert set(tool.input_schema["properties"]) == {"prompt", "session_id"}
    assert {"answer", "session_id", "usage", "tool_calls"} <= set(tool.output_schema["required"])


def test_without_sessions_the_tool_takes_no_session_id(harness: HarnessFactory) -> None:
    [tool] = run(url(harness([])), "auto", lambda client: client.list_tools()).tools
    assert set(tool.input_schema["properties"]) == {"prompt"}


@pytest.mark.parametrize("mode", MODES)
def test_ask_returns_the_answer_and_its_structured_content(harness: HarnessFactory, mode: str) -> None:
    app = harness(tool_turn())
    result = run(url(app), mode, lambda client: client.call_tool("ask", {"prompt": "What is 6 * 7?"}))
    assert not result.is_error
    assert [block.text for block in result.content] == [AFTER_TOOL]
    structured = result.structured_content
    assert structured["answer"] == AFTER_TOOL
    assert (structured["stop_reason"], structured["session_id"]) == ("end_turn", None)
    assert structured["usage"]["output_tokens"] > 0
    [call] = structured["tool_calls"]
    assert (call["name"], call["input"], call["status"], call["content"]) == (
        "calculator",
        {"expression": "6 * 7"},
        "success",
        "42",
    )


@pytest.mark.parametrize("mode", MODES)
def test_a_session_id_continues_the_conversation_across_calls_and_clients(
    harness: HarnessFactory, sessions_bucket: str, mode: str
) -> None:
    app = harness([hello(), hello()], sessions_bucket=sessions_bucket)
    run(
        url(app),
        mode,
        lambda client: client.call_tool("ask", {"prompt": "My name is Ada.", "session_id": "c1"}),
    )
    second = run(
        url(app), mode, lambda client: client.call_tool("ask", {"prompt": "Who?", "session_id": "c1"})
    )
    assert second.structured_content["session_id"] == "c1"
    sent = str(app.runtime.bodies[1]["messages"])
    assert "My name is Ada." in sent and HELLO in sent and "Who?" in sent


def test_each_caller_has_sessions_of_its_own(harness: HarnessFactory, sessions_bucket: str) -> None:
    app = harness([hello(), hello()], sessions_bucket=sessions_bucket)
    arguments = {"prompt": "My name is Ada.", "session_id": "mine"}
    ada = {"x-amzn-request-context": CONTEXT % "ada"}
    run(url(app), "auto", lambda client: client.call_tool("ask", arguments), **ada)
    bob = {"x-amzn-request-context": CONTEXT % "bob"}
    run(url(app), "auto", lambda client: client.call_tool("ask", {**arguments, "prompt": "Who?"}), **bob)
    assert "My name is Ada." not in str(app.runtime.bodies[1]["messages"])


@pytest.mark.parametrize("mode", MODES)
def test_progress_notifications_carry_the_answer_as_it_streams_and_the_tools_called(
    harness: HarnessFactory, mode: str
) -> None:
    app = harness(tool_turn())
    notes: list[tuple[float, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        notes.append((progress, message))

    async def ask(client: Client) -> Any:
        return await client.call_tool("ask", {"prompt": "What is 6 * 7?"}, progress_callback=on_progress)

    run(url(app), mode, ask)
    messages = [message for _, message in notes]
    assert messages[:2] == ["calling calculator", "calculator: success"]
    assert "".join(message or "" for message in messages[2:]) == AFTER_TOOL
    progress = [value for value, _ in notes]
    assert progress == sorted(set(progress))  # it only increases


def test_progress_reports_a_model_scaled_to_zero_waking(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    with ExitStack() as stack:
        runtime = stack.enter_context(
            SageMakerRuntime(hello(), inference_components=("cold",), component_copies=0, warm_up_seconds=0.3)
        )
        monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", runtime.url)
        app = create_app(
            replace(settings, inference_component_name="cold"),
            retry_policy=FAST_RETRIES,
            sagemaker_client=runtime.control_client(),
            warming_policy=WarmingPolicy(budget_seconds=5, poll_seconds=0.05),
        )
        base_url = stack.enter_context(serve(app))
        notes: list[str | None] = []

        async def on_progress(progress: float, total: float | None, message: str | None) -> None:
            notes.append(message)

        async def ask(client: Client) -> Any:
            return await client.call_tool("ask", {"prompt": "Hi"}, progress_callback=on_progress)

        result = run(base_url, "auto", ask)
    assert result.structured_content["answer"] == HELLO
    assert notes[0] is not None and notes[0].startswith("the model is starting (waited ")


# --- errors -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("arguments", "code"),
    [
        ({"prompt": ""}, "invalid_field"),
        ({}, "missing_field"),
        ({"prompt": "Hi", "max_tokens": 5}, "unknown_field"),
        ({"prompt": "x" * 101}, "prompt_too_long"),
        ({"prompt": "Hi", "session_id": "s"}, "sessions_disabled"),
    ],
)
def test_bad_arguments_are_a_tool_error_naming_the_code(
    harness: HarnessFactory, mode: str, arguments: dict[str, Any], code: str
) -> None:
    app = harness([hello()], max_prompt_chars=100)
    result = run(url(app), mode, lambda client: client.call_tool("ask", arguments))
    assert result.is_error
    assert result.content[0].text.startswith(f"{code}: ")
    assert app.runtime.requests == []


@pytest.mark.parametrize("mode", MODES)
def test_an_unknown_tool_is_a_protocol_error(harness: HarnessFactory, mode: str) -> None:
    app = harness([hello()])

    async def call(client: Client) -> MCPError | None:
        try:
            await client.call_tool("shell", {"prompt": "ls"})
        except MCPError as error:
            return error
        return None

    error = run(url(app), mode, call)
    assert error is not None and error.code == mcp_types.INVALID_PARAMS


def test_a_failed_turn_is_a_tool_error_with_its_code(harness: HarnessFactory) -> None:
    app = harness([Throttle()])
    result = run(url(app), "auto", lambda client: client.call_tool("ask", {"prompt": "Hi"}))
    assert result.is_error
    assert result.content[0].text.startswith("model_throttled: ")


def test_a_session_answering_another_call_is_busy(harness: HarnessFactory, sessions_bucket: str) -> None:
    held = hello(pause_after=0)
    app = harness([held, hello()], sessions_bucket=sessions_bucket)
    results: dict[str, Any] = {}

    async def main() -> None:
        # The client closes only once the first call has ended (the task group waits for it).
        async with connect(url(app), "auto") as client, anyio.create_task_group() as group:

            async def first() -> None:
                results["first"] = await client.call_tool("ask", {"prompt": "Hi", "session_id": "s"})

            group.start_soon(first)
            await anyio.to_thread.run_sync(lambda: wait_until(lambda: bool(app.runtime.requests)))
            results["second"] = await client.call_tool("ask", {"prompt": "Again", "session_id": "s"})
            held.resume.set()

    anyio.run(main)
    assert results["second"].is_error
    assert results["second"].content[0].text.startswith("session_busy: ")
    assert results["first"].structured_content["answer"] == HELLO


# --- the transport ----------------------------------------------------------------------------------------
def test_get_and_delete_are_405_no_stream_and_no_session_to_end(harness: HarnessFactory) -> None:
    app = harness([])
    for method in ("GET", "DELETE"):
        answer = app.client.request(method, contract.MCP_PATH, headers={"Accept": "text/event-stream"})
        assert (answer.status_code, answer.headers["allow"]) == (405, "POST")
        assert answer.json()["jsonrpc"] == "2.0"


def test_the_handshake_assigns_no_session_so_any_instance_answers_any_request(
    harness: HarnessFactory, settings: Settings
) -> None:
    app = harness([hello()])
    initialize = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "t", "version": "1"},
        },
    }
    accept = {"Accept": "application/json, text/event-stream"}
    answer = app.client.post(contract.MCP_PATH, json=initialize, headers=accept)
    assert answer.status_code == 200
    assert "mcp-session-id" not in answer.headers
    # A second app (another instance) answers a call of the same client without having seen it before.
    other = create_app(settings)
    with serve(other) as base_url, httpx.Client(base_url=base_url, timeout=30) as client:
        call = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
        listed = client.post(
            contract.MCP_PATH, json=call, headers={**accept, "MCP-Protocol-Version": "2025-06-18"}
        )
    assert listed.status_code == 200
    assert '"name":"ask"' in listed.text.replace(" ", "")


# --- OAuth protected-resource metadata ---------------------------------------------------------------------
SIGN_IN = CognitoSettings(
    domain="https://agent.auth.us-east-1.amazoncognito.com",
    client_id="4example5clientid6abcdefghi",
    scope="openid email agent-api/invoke",
    issuer=ISSUER,
)


def test_under_cognito_the_metadata_names_the_user_pool_and_the_resource_as_called(
    harness: HarnessFactory,
) -> None:
    app = harness([], auth=contract.AUTH_COGNITO, cognito=SIGN_IN)
    context = json.dumps(
        {
            "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
            "path": f"/v1{contract.PROTECTED_RESOURCE_METADATA_PATH}",
        }
    )
    answer = app.client.get(
        contract.PROTECTED_RESOURCE_METADATA_PATH, headers={"x-amzn-request-context": context}
    )
    assert answer.status_code == 200
    assert answer.json() == {
        "resource": "https://abc123.execute-api.us-east-1.amazonaws.com/v1/mcp",
        "authorization_servers": [ISSUER],
        "scopes_supported": [contract.COGNITO_API_SCOPE],
        "bearer_methods_supported": ["header"],
        "resource_name": f"{contract.SERVICE_NAME} MCP server",
    }
    # Run by itself (no API Gateway), the resource is the app's own URL.
    local = app.client.get(contract.PROTECTED_RESOURCE_METADATA_PATH).json()
    assert local["resource"] == f"{url(app)}{contract.MCP_PATH}"


@pytest.mark.parametrize("auth", [contract.AUTH_NONE, contract.AUTH_IAM])
def test_without_cognito_there_is_no_metadata(harness: HarnessFactory, auth: str) -> None:
    answer = harness([], auth=auth).client.get(contract.PROTECTED_RESOURCE_METADATA_PATH)
    assert answer.status_code == 404
