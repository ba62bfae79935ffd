"""MCP on the local stack: `--mcp` wiring (a stand-in container, not marked e2e), and an MCP round trip on
real vLLM CPU, the tiny model calling the example MCP server's tool (marked e2e)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator

import pytest

from local.agent_environment import agent_environment
from local.mcp_example import McpHttpServer, example_app
from local.stack import LocalDeployment, build_parser, usage_text
from local.tiny_model.script import FORECAST_ARGUMENTS, FORECAST_TOOL, TOOL_RESULT_TEXT
from local.tool_sources import FORECAST_PROMPT, McpOption, parse_mcp_option
from tests.e2e.sse_chat import chat
from tests.support.openai_sdk import openai_client
from tests.support.recordings import fixture_parts, tool_call_parts
from tests.support.scripted_server import Reply, ScriptedServer

FORECAST = "day 1: sunny, high 21 °C; day 2: sunny, high 20 °C"


def test_mcp_options_are_read_and_checked_as_the_agent_api_will() -> None:
    parser = build_parser()
    args = parser.parse_args(["--mcp", "example", "--mcp", "docs=http://127.0.0.1:9000/mcp"])
    assert args.mcp == [McpOption("example"), McpOption("docs", "http://127.0.0.1:9000/mcp")]
    for text, problem in [
        ("docs", "expected NAME=URL, or 'example'"),
        ("docs=http://example.com/mcp", "url: got 'http://example.com/mcp'; expected an https:// URL"),
        ("-x=http://127.0.0.1:1/mcp", "name: got '-x'"),
    ]:
        with pytest.raises(argparse.ArgumentTypeError, match=problem):
            parse_mcp_option(text)


def test_two_servers_of_one_name_are_refused() -> None:
    with pytest.raises(ValueError, match="MCP server names must be unique, got a, a"):
        LocalDeployment(backend_url="http://127.0.0.1:9", mcp=[McpOption("a", "http://127.0.0.1:1/mcp")] * 2)


def test_the_agent_api_is_given_its_servers_and_moto_for_their_secrets() -> None:
    servers = [{"name": "docs", "url": "http://127.0.0.1:9000/mcp"}]
    environment = agent_environment(
        "http://127.0.0.1:1", "http://127.0.0.1:2", tools=None, mcp_servers=servers
    )
    assert json.loads(environment["AGENT_MCP_SERVERS"]) == servers
    assert environment["AWS_ENDPOINT_URL_SECRETS_MANAGER"] == "http://127.0.0.1:2"
    assert "AGENT_MCP_SERVERS" not in agent_environment(
        "http://127.0.0.1:1", "http://127.0.0.1:2", tools=None
    )


@pytest.fixture
def forecast_container() -> Iterator[str]:
    """A model container that calls the example MCP server's tool, then answers."""
    call = Reply(tool_call_parts(FORECAST_TOOL, FORECAST_ARGUMENTS), content_type="text/event-stream")
    answer = Reply(fixture_parts("vllm/tools_result_followup_stream.txt"), content_type="text/event-stream")
    with ScriptedServer(call, answer) as server:
        yield server.url


def test_the_stack_starts_the_example_server_and_the_agent_calls_it(forecast_container: str) -> None:
    with LocalDeployment(backend_url=forecast_container, mcp=[McpOption("example")]) as stack:
        [server] = stack.mcp_servers
        usage = usage_text(stack)
        result = chat(stack.agent_url, prompt=FORECAST_PROMPT)

    assert server["name"] == "example"
    assert f"MCP server example   {server['url']}" in usage
    assert FORECAST_PROMPT in usage
    [tool_result] = result.named("tool_result")
    assert (tool_result.data["name"], tool_result.data["content"]) == (FORECAST_TOOL, FORECAST)


# --- On real vLLM CPU: the tiny model calls the example server's tool ------------------------------------


@pytest.fixture(scope="module")
def mcp_stack(vllm_url: str) -> Iterator[LocalDeployment]:
    with LocalDeployment(backend_url=vllm_url, mcp=[McpOption("example")]) as stack:
        yield stack


@pytest.mark.e2e
def test_the_tiny_model_calls_the_example_mcp_tool_and_answers_from_its_result(
    mcp_stack: LocalDeployment,
) -> None:
    result = chat(mcp_stack.agent_url, prompt=FORECAST_PROMPT)

    [tool_use] = result.named("tool_use")
    [tool_result] = result.named("tool_result")
    assert (tool_use.data["name"], tool_use.data["input"]) == (FORECAST_TOOL, FORECAST_ARGUMENTS)
    assert (tool_result.data["status"], tool_result.data["content"]) == ("success", FORECAST)
    assert result.text == TOOL_RESULT_TEXT
    assert result.events[-1].name == "done"
    assert not result.named("warning")


@pytest.mark.e2e
def test_the_openai_door_runs_the_example_mcp_tool_on_the_tiny_model(mcp_stack: LocalDeployment) -> None:
    client = openai_client(mcp_stack.agent_url)
    completion = client.chat.completions.create(
        model="agent", messages=[{"role": "user", "content": FORECAST_PROMPT}]
    )
    events = completion.model_extra["agent_events"]  # type: ignore[index]
    assert [(event["type"], event["name"]) for event in events] == [
        ("tool_use", FORECAST_TOOL),
        ("tool_result", FORECAST_TOOL),
    ]
    assert completion.choices[0].message.content == TOOL_RESULT_TEXT


@pytest.mark.e2e
def test_an_mcp_server_gone_leaves_the_tiny_model_answering_with_a_warning(vllm_url: str) -> None:
    server = McpHttpServer(example_app)
    with LocalDeployment(backend_url=vllm_url, mcp=[McpOption("example", server.url)]) as stack:
        result = chat(stack.agent_url, prompt=FORECAST_PROMPT)

    [warning] = result.named("warning")
    assert warning.data["code"] == "tool_source_unavailable"
    assert "'example'" in warning.data["message"]
    assert result.events[-1].name == "done"
